"""Checkpoint zips: Stable-Baselines3's own format plus ``rl_sweep.json``, the run's state.

SB3's ``model.save`` stores the weights, optimizer and ``num_timesteps``; the pipeline adds
what a resumed run needs to read as one continuous run (episode statistics, training time)
and what identifies the run (algorithm, environment, seed), and, for a preset that normalises,
``vec_normalize.json``: the running statistics of observations and returns.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rl_sweep.atomic import write_atomic
from rl_sweep.errors import ModelLoadError
from rl_sweep.run.algorithms import ALGORITHM_CLASSES


STATE_ENTRY = "rl_sweep.json"
NORMALIZATION_ENTRY = "vec_normalize.json"
_STEP_IN_NAME = re.compile(r"checkpoint_(\d+)\.zip$")


def checkpoint_name(step: int) -> str:
    """``checkpoint_{step}.zip``, the contract's name."""
    return f"checkpoint_{step}.zip"


def step_from_filename(path: Path) -> int | None:
    """The step a ``checkpoint_{N}.zip`` name claims, or None for any other name."""
    match = _STEP_IN_NAME.search(Path(path).name)
    return int(match.group(1)) if match else None


@dataclass
class RunState:
    """What the pipeline stores beside SB3's model so that a resumed run continues the same files."""

    algo: str
    env_name: str
    seed: int
    step: int
    training_time_seconds: float = 0.0
    episodes: dict[str, Any] = field(default_factory=dict)


class CheckpointList:
    """The checkpoints a run has written, oldest first, in its output folder.

    :param folder: the run's output folder.
    :param names: the checkpoints a resumed run keeps from before (see :meth:`existing`).
    """

    def __init__(self, folder: Path, names: list[str] | None = None) -> None:
        self.folder = folder
        self.names: list[str] = list(names or [])

    @classmethod
    def existing(cls, folder: Path, up_to_step: int) -> CheckpointList:
        """The ``checkpoint_{N}.zip`` in ``folder`` up to ``up_to_step``: what a resumed run continues."""
        found = [(step, path.name) for path in folder.glob("checkpoint_*.zip")
                 if (step := step_from_filename(path)) is not None and step <= up_to_step]
        return cls(folder, [name for _, name in sorted(found)])

    def path(self, step: int) -> Path:
        """Where the checkpoint of ``step`` goes."""
        return self.folder / checkpoint_name(step)

    def has(self, step: int) -> bool:
        """Whether the checkpoint of ``step`` was written."""
        return checkpoint_name(step) in self.names

    def add(self, step: int) -> None:
        """Note the checkpoint of ``step`` as written (once, however often it is rewritten)."""
        if not self.has(step):
            self.names.append(checkpoint_name(step))

    @property
    def latest(self) -> Path | None:
        """The newest checkpoint, or None before the first."""
        return self.folder / self.names[-1] if self.names else None


def save_checkpoint(model: OnPolicyAlgorithm, path: Path, state: RunState) -> None:
    """Save ``model`` and ``state`` to ``path`` atomically."""
    buffer = io.BytesIO()
    model.save(buffer)
    env = model.get_env()
    with zipfile.ZipFile(buffer, mode="a") as archive:
        archive.writestr(STATE_ENTRY, json.dumps(state.__dict__))
        if isinstance(env, VecNormalize):
            statistics = {name: _rms_to_dict(getattr(env, name)) for name in ("obs_rms", "ret_rms")}
            archive.writestr(NORMALIZATION_ENTRY, json.dumps(statistics))
    write_atomic(path, lambda f: f.write(buffer.getbuffer()))


def load_checkpoint(path: Path, algo: str, env: VecEnv) -> tuple[OnPolicyAlgorithm, RunState | None]:
    """Load a checkpoint to continue training ``algo`` on ``env``.

    Raises :class:`ModelLoadError` for a missing, damaged, foreign or mismatched file.
    The returned state is None for a plain SB3 zip, which carries no run state.
    """
    path = Path(path)
    if not path.is_file():
        raise ModelLoadError(f"checkpoint not found: {path}; check the --resume-from path")
    try:
        with zipfile.ZipFile(path) as archive:
            damaged = archive.testzip()
            names = archive.namelist()
            state_json = archive.read(STATE_ENTRY) if STATE_ENTRY in names else None
            statistics_json = archive.read(NORMALIZATION_ENTRY) if NORMALIZATION_ENTRY in names else None
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelLoadError(f"checkpoint {path} is not a readable zip ({exc}); it may be truncated") from exc
    if damaged is not None or "data" not in names:
        raise ModelLoadError(f"checkpoint {path} is damaged (bad entry: {damaged or 'data missing'})")
    state = RunState(**json.loads(state_json)) if state_json is not None else None
    statistics = json.loads(statistics_json) if statistics_json is not None else None
    if state is not None and state.algo != algo:
        raise ModelLoadError(
            f"checkpoint {path} was saved by {state.algo.upper()}, not {algo.upper()}; "
            f"resume it with --algo {state.algo}"
        )
    if (statistics is not None) != isinstance(env, VecNormalize):
        trained = "with" if statistics is not None else "without"
        raise ModelLoadError(f"checkpoint {path} was trained {trained} normalisation; resume it with a "
                             f"preset whose {algo} normalize is {str(statistics is not None).lower()}")
    if statistics is not None:
        for name, values in statistics.items():
            setattr(env, name, _rms_from_dict(values))
    try:
        model = ALGORITHM_CLASSES[algo].load(path, env=env, device="cpu")
    except Exception as exc:  # SB3 raises ValueError, KeyError, RuntimeError, pickle errors...
        raise ModelLoadError(f"checkpoint {path} cannot be loaded as {algo.upper()}: {exc}") from exc
    return model, state


def _rms_to_dict(rms: RunningMeanStd) -> dict[str, Any]:
    return {"mean": rms.mean.tolist(), "var": rms.var.tolist(), "count": rms.count}


def _rms_from_dict(values: dict[str, Any]) -> RunningMeanStd:
    rms = RunningMeanStd(shape=np.shape(values["mean"]))
    rms.mean = np.asarray(values["mean"], dtype=np.float64)
    rms.var = np.asarray(values["var"], dtype=np.float64)
    rms.count = values["count"]
    return rms
