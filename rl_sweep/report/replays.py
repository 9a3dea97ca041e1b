"""Replays: what the final policy of an algorithm's best, median and worst seed (by final evaluation return) does,
as a video beside the report.

A replay is one evaluation episode. The run's final model is loaded with the run layer's safe loader (nothing is
unpickled) and plays its greedy (deterministic) policy on the run layer's evaluation environment, seeded as the
run's evaluation seeds its first episode: with one evaluation episode, a replay's return is the run's final
evaluation return. A frame is rendered (``render_mode="rgb_array"``) before each action, so a video holds one frame
per step of the episode, up to ``MAX_FRAMES``; beyond that the episode plays on unrecorded, for its return. Videos
are H.264 MP4 in yuv420p (what browsers play), through imageio's ffmpeg; where no video encoder works, animated
GIFs (Pillow).

A replay that cannot be made (a run without its final model, an environment that cannot render, pygame missing)
is a warning line in the report, never a failure of it.
"""

from __future__ import annotations

import itertools
import os
import tempfile
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rl_sweep.errors import EnvCreationError, one_line
from rl_sweep.files import names
from rl_sweep.identity import label
from rl_sweep.presets import DEFAULT_PRESET, load_settings
from rl_sweep.report.runs import RunRecord
from rl_sweep.run.checkpoints import inspect_checkpoint, load_checkpoint
from rl_sweep.run.environments import make_training_env
from rl_sweep.run.evaluation import evaluation_env
from rl_sweep.storage import Storage

FOLDER = names.REPLAYS
MAX_FRAMES = 1000  # LunarLander-v3's time limit (CartPole-v1's is 500)
DEFAULT_FPS = 30  # for an environment whose metadata gives no render_fps
RANKS = ("best", "median", "worst")

ModelSource = Callable[[RunRecord], Path]
"""Where a run's final model is on this machine; raises :class:`ReplayError` when it cannot be reached."""


class ReplayError(Exception):
    """Why a run has no replay, in words that finish the sentence "No replay of {run}: ..."."""


@dataclass
class Replay:
    """The replay of one run, shown as the ``ranks`` it holds among its algorithm's ``of_seeds`` completed seeds.

    :param path: the video, relative to the report's folder.
    :param episode_return: the episode's return as the evaluation counts it.
    :param steps: the episode's length; ``frames``, one a step, stop at ``MAX_FRAMES``.
    """

    path: str
    run: str
    algo: str
    variant: str
    env: str | None
    seed: int | None
    ranks: list[str]
    of_seeds: int
    final_reward: float
    episode_return: float
    steps: int
    frames: int

    def to_json(self) -> list[dict[str, Any]]:
        """One entry per rank: a run that is both best and median is listed as each, with one file."""
        return [{"rank": rank, "path": self.path, "run": self.run, "algo": self.algo, "variant": self.variant,
                 "env": self.env,
                 "seed": self.seed, "return": self.episode_return, "steps": self.steps, "frames": self.frames,
                 "final_reward_mean": self.final_reward} for rank in self.ranks]

    @property
    def caption(self) -> str:
        shown = f", the first {self.frames:,} shown" if self.frames < self.steps else ""
        return (f"{label(self.variant)} seed {self.seed}: the {ranks_text(self.ranks)} of {self.of_seeds} seed"
                f"{'s' if self.of_seeds > 1 else ''} by final evaluation return ({self.final_reward:.1f}). "
                f"This episode: return {self.episode_return:.1f} in {self.steps:,} steps{shown}.")


def ranks_text(ranks: list[str]) -> str:
    """``best``, ``best and median``, ``best, median and worst``."""
    return ", ".join(ranks[:-1]) + " and " + ranks[-1] if len(ranks) > 1 else ranks[0]


@dataclass
class Replays:
    """One environment's replays, and a line for each that could not be made."""

    rendered: list[Replay] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def to_json(self) -> dict[str, Any]:
        return {"rendered": [entry for replay in self.rendered for entry in replay.to_json()],
                "warnings": self.warnings}


@dataclass(frozen=True)
class Encoder:
    """How replays are written: H.264 MP4 (``.mp4``), or an animated GIF (``.gif``) where no video encoder works,
    and then ``why``."""

    suffix: str
    why: str | None = None

    @classmethod
    def find(cls) -> Encoder:
        """MP4 when imageio's ffmpeg can write a two-frame H.264 clip; GIF otherwise."""
        try:
            with tempfile.TemporaryDirectory(prefix="rl_sweep_encoder_") as scratch:
                with _mp4_writer(Path(scratch, "probe.mp4"), DEFAULT_FPS) as writer:
                    for _ in range(2):
                        writer.append_data(np.zeros((16, 16, 3), dtype=np.uint8))
        except Exception as exc:  # no imageio_ffmpeg, no ffmpeg binary, or one without libx264
            return cls(".gif", one_line(exc))
        return cls(".mp4")

    def writer(self, path: Path, fps: float) -> Any:
        """A writer of frames to ``path`` (``append_data(frame)``, ``close()``)."""
        return _mp4_writer(path, fps) if self.suffix == ".mp4" else _GifWriter(path, fps)


def _mp4_writer(path: Path, fps: float) -> Any:
    import imageio.v2 as imageio
    import imageio_ffmpeg  # noqa: F401  imageio's ffmpeg plugin needs it: its absence means no MP4

    # macro_block_size 2: yuv420p needs even sides; imageio's default 16 would rescale 600x400 frames. x264's
    # veryfast preset encodes these flat frames in half the time of its default, to files no larger.
    return imageio.get_writer(path, format="FFMPEG", fps=fps, codec="libx264", pixelformat="yuv420p",
                              macro_block_size=2, ffmpeg_log_level="error", output_params=["-preset", "veryfast"])


class _GifWriter:
    """Frames to an animated GIF, at half size: Pillow holds every frame until it writes the file."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path, self.fps = path, fps
        self.frames: list[np.ndarray] = []

    def append_data(self, frame: np.ndarray) -> None:
        self.frames.append(frame[::2, ::2])

    def close(self) -> None:
        import imageio.v3 as imageio

        if self.frames:
            imageio.imwrite(self.path, np.stack(self.frames), plugin="pillow", duration=1000 / self.fps, loop=0)


def chosen_seeds(runs: list[RunRecord]) -> list[tuple[RunRecord, list[str]]]:
    """Per variant, in the runs' order, its best, median and worst completed run by final evaluation return,
    each once with the ranks it holds. Ties go to the lower seed; of an even number of runs the median is the
    better of the middle two."""
    chosen = []
    for variant in dict.fromkeys(r.variant for r in runs):
        done = sorted((r for r in runs if r.variant == variant and r.completed),
                      key=lambda r: (-r.final_reward, r.seed or 0))
        if not done:
            continue
        ranks: dict[int, list[str]] = {}
        for rank, index in zip(RANKS, (0, (len(done) - 1) // 2, len(done) - 1)):
            ranks.setdefault(index, []).append(rank)
        chosen += [(done[index], held) for index, held in ranks.items()]
    return chosen


def render_replays(runs: list[RunRecord], out_dir: Path, subfolder: str, models: ModelSource,
                   encoder: Callable[[], Encoder]) -> Replays:
    """The replays of one environment's runs (:func:`chosen_seeds`), written to
    ``out_dir/replays/{subfolder}/{run}.mp4`` (or ``.gif``).

    :param subfolder: the environment's folder in a report of several environments; "" in one of one.
    :param models: where each run's final model is.
    :param encoder: the encoder to write with, asked for once there is a model to play.
    """
    found = Replays()
    for run, ranks in chosen_seeds(runs):
        target = None
        try:
            model = models(run)
            codec = encoder()
            # Two variants of one algorithm have runs of one name: a named variant's replays have a folder of its own.
            relative = "/".join([FOLDER, *([subfolder] if subfolder else []),
                                 *([run.variant] if run.named else []), f"{run.name}{codec.suffix}"])
            target = out_dir / relative
            episode_return, steps, frames = play(run, model, target, codec)
        except Exception as exc:  # any failure of one replay is a line in the report
            if target is not None:
                target.unlink(missing_ok=True)
            reason = str(exc) if isinstance(exc, ReplayError) else one_line(exc)
            found.warnings.append(f"No replay of {run.name} (the {ranks_text(ranks)} {label(run.variant)} seed): "
                                  f"{reason.rstrip('.')}.")
            continue
        seeds = sum(1 for r in runs if r.variant == run.variant and r.completed)
        found.rendered.append(Replay(relative, run.name, run.algo, run.variant, run.env_name, run.seed, ranks, seeds,
                                     run.final_reward, episode_return, steps, frames))
    if found.rendered and (why := encoder().why):
        found.warnings.append(f"Replays are animated GIFs: no H.264 video encoder works here ({why}).")
    return found


def play(run: RunRecord, model_path: Path, path: Path, encoder: Encoder) -> tuple[float, int, int]:
    """Play ``run``'s final model (at ``model_path``) on its evaluation's first episode, recording it to ``path``;
    return the episode's return, its steps and the frames recorded."""
    settings = run.settings or load_settings(run.config.get("preset", DEFAULT_PRESET), run.algo, run.env_name)
    training_env = make_training_env(run.env_name, run.seed, settings, run.env_kwargs)
    env = None
    try:
        # The training environment carries what the model saw: the loader puts its normalisation statistics there.
        model = load_checkpoint(inspect_checkpoint(model_path, run.algo), run.algo, training_env, settings)
        # The evaluation's own environment; rendering does not touch the environment's generator.
        try:
            with warnings.catch_warnings():  # Gymnasium's warning of a render mode the environment lacks: ours says it
                warnings.simplefilter("ignore", UserWarning)
                env = evaluation_env(run.env_name, run.seed, model.get_env(),
                                     {**run.env_kwargs, "render_mode": "rgb_array"})
        except EnvCreationError as exc:
            raise ReplayError(f"{run.env_name} cannot render frames (render_mode='rgb_array'): {exc}") from exc
        return _record(model, env, path, encoder)
    finally:
        training_env.close()
        if env is not None:
            env.close()


def _record(model: Any, env: Any, path: Path, encoder: Encoder) -> tuple[float, int, int]:
    """One episode of ``model``'s deterministic policy on ``env``, as SB3's ``evaluate_policy`` plays it, with a
    frame before each action."""
    # rgb_array frames need no display; without one, pygame's default video driver complains on every replay.
    os.environ.setdefault("SDL_VIDEODRIVER", "dummy")
    fps = env.unwrapped.envs[0].metadata.get("render_fps") or DEFAULT_FPS
    observation = env.reset()
    writer = None
    episode_return, steps, frames = 0.0, 0, 0
    try:
        while True:
            if frames < MAX_FRAMES:
                frame = _frame(env)
                if writer is None:
                    path.parent.mkdir(parents=True, exist_ok=True)
                    writer = encoder.writer(path, fps)
                writer.append_data(frame)
                frames += 1
            action, _ = model.predict(observation, deterministic=True)
            observation, rewards, dones, infos = env.step(action)
            episode_return += float(rewards[0])
            steps += 1
            if dones[0]:
                # evaluate_policy counts the Monitor's return (rounded to 6 decimals): the same number here.
                return float(infos[0].get("episode", {}).get("r", episode_return)), steps, frames
    finally:
        if writer is not None:
            writer.close()


def _frame(env: Any) -> np.ndarray:
    [frame] = env.get_images()
    if not isinstance(frame, np.ndarray) or frame.ndim != 3:
        raise ReplayError("the environment renders no rgb_array frames")
    return frame


def local_model(run: RunRecord) -> Path:
    """A run's final model in the folder its files were read from."""
    if not run.model_file:
        raise ReplayError("its results name no final model")
    path = Path(run.experiment_dir) / run.model_file
    if not path.is_file():
        raise ReplayError(f"its final model {path} is missing")
    return path


def stored_model(storage: Storage, folders: dict[str, str], scratch: Path) -> ModelSource:
    """The final models of a sweep's runs, copied from ``storage`` into ``scratch`` when a replay needs one.

    :param folders: each run's folder in storage, by its ``experiment_dir``; a run not there is read locally.
    """

    copies = itertools.count()

    def fetch(run: RunRecord) -> Path:
        folder = folders.get(run.experiment_dir)
        if folder is None:
            return local_model(run)
        if not run.model_file:
            raise ReplayError("its results name no final model")
        local = storage.fetch(scratch / str(next(copies)), folder, (run.model_file,))
        if not (local / run.model_file).is_file():
            raise ReplayError(f"its final model is not in {storage.uri(folder)}")
        return local / run.model_file

    return fetch
