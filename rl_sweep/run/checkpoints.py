"""Checkpoint zips: Stable-Baselines3's own format plus ``rl_sweep.json``, the run's state.

SB3's ``model.save`` stores the weights, optimizer and ``num_timesteps``; the pipeline adds
what a resumed run needs to read as one continuous run (episode statistics, training time)
and what identifies the run (algorithm, environment, seed, run id), for a preset that normalises
``vec_normalize.json`` (the running statistics of observations and returns), and
``manifest.json``: the SHA-256 of every other entry, and the run's identity.

Loading never unpickles. SB3 stores some of a model's attributes (its policy class, spaces,
schedules) cloudpickled in the ``data`` entry, and its ``load`` would run whatever code such an
entry holds; here every one of them is rebuilt from what the run knows (its preset and its
environment) and handed to SB3 as ``custom_objects``, so cloudpickle is never reached. The weights
are tensors, which SB3 reads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv, VecNormalize

from rl_sweep.atomic import write_atomic
from rl_sweep.errors import ModelLoadError
from rl_sweep.files.names import CHECKPOINT_GLOB, checkpoint_file, checkpoint_step
from rl_sweep.presets import AlgoSettings
from rl_sweep.run.algorithms import ALGORITHM_CLASSES, create_model
from rl_sweep.run.environments import rms_from_dict, rms_to_dict
from rl_sweep.run.rollout_state import RolloutStart, to_json


STATE_ENTRY = "rl_sweep.json"
MANIFEST_ENTRY = "manifest.json"
EXACT_ENTRY = "rollout_start.json"  # the state at the start of the current rollout: see rl_sweep.run.rollout_state
NORMALIZATION_ENTRY = "vec_normalize.json"


@dataclass
class RunState:
    """What the pipeline stores beside SB3's model so that a resumed run continues the same files."""

    algo: str
    env_name: str
    seed: int
    step: int
    training_time_seconds: float = 0.0
    episodes: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None  # the run's identity; None in checkpoints written before runs had one
    loss: float | None = None  # the latest update's loss, which the time series repeats until the next
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # the environment's arguments ({} in older zips)
    numerics: dict[str, Any] | None = None  # MKL's code path and torch's threads; None in older zips


@dataclass
class CheckpointContents:
    """What a checkpoint zip holds beside SB3's entries, read without loading the model."""

    path: Path
    state: RunState | None  # None for a plain SB3 zip
    normalization: dict[str, Any] | None  # VecNormalize's statistics, for a preset that normalises
    has_manifest: bool  # False for zips written before manifests, and plain SB3 zips
    pickled: dict[str, dict[str, Any]]  # the cloudpickled attributes of SB3's data, by name: never unpickled
    rollout_start: dict[str, Any] | None = field(repr=False)  # for an exact resume; None in older zips
    raw: bytes = field(repr=False)  # the zip as it was checked


def read_state(path: Path) -> RunState | None:
    """The run state of a zip in a run's folder, or None when it has none or cannot be read."""
    try:
        with zipfile.ZipFile(path) as archive:
            return RunState(**json.loads(archive.read(STATE_ENTRY)))
    except (KeyError, ValueError, TypeError, OSError, zipfile.BadZipFile, EOFError):
        return None


class CheckpointList:
    """The checkpoints a run has written, oldest first, in its output folder.

    :param folder: the run's output folder.
    :param names: the checkpoints a resumed run keeps from before (see :meth:`existing`).
    """

    def __init__(self, folder: Path, names: list[str] | None = None) -> None:
        self.folder = folder
        self.names: list[str] = list(names or [])

    @classmethod
    def existing(cls, folder: Path, up_to_step: int, run_id: str | None) -> CheckpointList:
        """The checkpoints of run ``run_id`` in ``folder`` up to ``up_to_step``: what a resumed run
        continues (another run's checkpoints are not its own)."""
        found = [(step, path.name) for path in folder.glob(CHECKPOINT_GLOB)
                 if (step := checkpoint_step(path)) is not None and step <= up_to_step
                 and (state := read_state(path)) is not None and state.run_id == run_id]
        return cls(folder, [name for _, name in sorted(found)])

    def path(self, step: int) -> Path:
        """Where the checkpoint of ``step`` goes."""
        return self.folder / checkpoint_file(step)

    def has(self, step: int) -> bool:
        """Whether the checkpoint of ``step`` was written."""
        return checkpoint_file(step) in self.names

    def add(self, step: int) -> None:
        """Note the checkpoint of ``step`` as written (once, however often it is rewritten)."""
        if not self.has(step):
            self.names.append(checkpoint_file(step))

    @property
    def latest(self) -> Path | None:
        """The newest checkpoint, or None before the first."""
        return self.folder / self.names[-1] if self.names else None


def save_checkpoint(model: OnPolicyAlgorithm, path: Path, state: RunState,
                    rollout_start: RolloutStart | None = None) -> None:
    """Save ``model``, ``state`` and, for an exact resume, the state at the start of the current rollout
    (:mod:`rl_sweep.run.rollout_state`) to ``path`` atomically."""
    buffer = io.BytesIO()
    model.save(buffer)
    env = model.get_env()
    with zipfile.ZipFile(buffer, mode="a") as archive:
        archive.writestr(STATE_ENTRY, json.dumps(state.__dict__))
        if rollout_start is not None:
            archive.writestr(EXACT_ENTRY, json.dumps(to_json(rollout_start)))
        if isinstance(env, VecNormalize):
            statistics = {name: rms_to_dict(getattr(env, name)) for name in ("obs_rms", "ret_rms")}
            archive.writestr(NORMALIZATION_ENTRY, json.dumps(statistics))
        identity = {key: getattr(state, key) for key in ("run_id", "algo", "env_name", "seed", "step")}
        archive.writestr(MANIFEST_ENTRY, json.dumps({"run": identity, "sha256": _digests(archive)}))
    write_atomic(path, lambda f: f.write(buffer.getbuffer()))


def _digests(archive: zipfile.ZipFile) -> dict[str, str]:
    """The SHA-256 of every entry but the manifest."""
    return {name: hashlib.sha256(archive.read(name)).hexdigest()
            for name in archive.namelist() if name != MANIFEST_ENTRY}


def inspect_checkpoint(path: Path, algo: str) -> CheckpointContents:
    """Check a checkpoint to resume ``algo`` from, before anything is written or loaded.

    Raises :class:`ModelLoadError` for a missing, damaged or foreign file, or one of the other algorithm.
    """
    path = Path(path)
    if path.is_dir():
        raise ModelLoadError(f"--resume-from {path} is a folder: give a checkpoint zip in it, such as "
                             f"{path / checkpoint_file(1000)}")
    if not path.is_file():
        raise ModelLoadError(f"checkpoint not found: {path}; check the --resume-from path")
    try:
        raw = path.read_bytes()  # checked and loaded from these bytes: the file may change meanwhile
        with zipfile.ZipFile(io.BytesIO(raw)) as archive:
            damaged = archive.testzip()
            names = archive.namelist()
            if damaged is None and "data" in names:
                entries = {name: archive.read(name) for name in names}
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelLoadError(f"checkpoint {path} is not a readable zip ({exc}); it may be truncated") from exc
    if damaged is not None or "data" not in names:
        raise ModelLoadError(f"checkpoint {path} is damaged (bad entry: {damaged or 'data missing'})")
    if MANIFEST_ENTRY in entries:
        _verify(path, entries)
    try:
        data = json.loads(entries["data"])
        state = RunState(**json.loads(entries[STATE_ENTRY])) if STATE_ENTRY in entries else None
        statistics = json.loads(entries[NORMALIZATION_ENTRY]) if NORMALIZATION_ENTRY in entries else None
        rollout_start = json.loads(entries[EXACT_ENTRY]) if EXACT_ENTRY in entries else None
    except (ValueError, TypeError) as exc:
        raise ModelLoadError(f"checkpoint {path} is damaged: an entry is not the JSON it should be ({exc})") from exc
    if state is not None and state.algo != algo:
        raise ModelLoadError(
            f"checkpoint {path} was saved by {state.algo.upper()}, not {algo.upper()}; "
            f"resume it with --algo {state.algo}"
        )
    pickled = {key: value for key, value in data.items() if isinstance(value, dict) and ":serialized:" in value}
    return CheckpointContents(path, state, statistics, MANIFEST_ENTRY in entries, pickled, rollout_start, raw)


def _verify(path: Path, entries: dict[str, bytes]) -> None:
    """Refuse a zip whose entries are not those its manifest lists, with the same SHA-256."""
    try:
        listed = json.loads(entries[MANIFEST_ENTRY])["sha256"]
    except (ValueError, KeyError, TypeError) as exc:
        raise ModelLoadError(f"checkpoint {path} has an unreadable manifest ({exc})") from exc
    present = set(entries) - {MANIFEST_ENTRY}
    if set(listed) != present:
        odd = sorted(set(listed) ^ present)
        raise ModelLoadError(f"checkpoint {path} was altered: entries {', '.join(odd)} are not those of its manifest")
    for name, digest in listed.items():
        if hashlib.sha256(entries[name]).hexdigest() != digest:
            raise ModelLoadError(f"checkpoint {path} is damaged or was altered: its entry {name} does not match "
                                 "the SHA-256 in its manifest")


def load_checkpoint(checkpoint: CheckpointContents, algo: str, env: VecEnv, settings: AlgoSettings) -> OnPolicyAlgorithm:
    """Load an inspected checkpoint (:func:`inspect_checkpoint`) to continue training ``algo`` on ``env`` with
    ``settings``, without unpickling anything: SB3's pickled attributes are rebuilt from ``settings`` and ``env``.

    Raises :class:`ModelLoadError` for a checkpoint whose normalisation, or observation and action spaces,
    do not match ``env``, or that holds a pickled attribute the run cannot rebuild.
    """
    path, statistics = checkpoint.path, checkpoint.normalization
    if (statistics is not None) != isinstance(env, VecNormalize):
        trained = "with" if statistics is not None else "without"
        raise ModelLoadError(f"checkpoint {path} was trained {trained} normalisation; resume it with a "
                             f"preset whose {algo} normalize is {str(statistics is not None).lower()}")
    _check_spaces(checkpoint, env)
    # A model made from the run's own settings holds every attribute SB3 pickles; SB3's load takes them
    # as they are (custom_objects) instead of unpickling the file's. Making it reseeds nothing that
    # matters: the engine seeds the loaded model afterwards.
    fresh = create_model(algo, env, None, settings)
    unknown = sorted(key for key in checkpoint.pickled if not hasattr(fresh, key))
    if unknown:
        raise ModelLoadError(f"checkpoint {path} holds pickled data {unknown[0]!r} that a {algo.upper()} run does not "
                             "have; refused: loading it would run code from the file")
    custom_objects = {key: getattr(fresh, key) for key in checkpoint.pickled}
    if statistics is not None:
        for name, values in statistics.items():
            setattr(env, name, rms_from_dict(values))
    try:
        model = ALGORITHM_CLASSES[algo].load(io.BytesIO(checkpoint.raw), env=env, device="cpu",
                                             custom_objects=custom_objects)
    except Exception as exc:  # SB3 raises ValueError, KeyError, RuntimeError...
        raise ModelLoadError(f"checkpoint {path} cannot be loaded as {algo.upper()}: {exc}") from exc
    return model


def _check_spaces(checkpoint: CheckpointContents, env: VecEnv) -> None:
    """Compare the spaces the checkpoint was trained on with ``env``'s, by what SB3 writes of them in plain
    JSON beside the pickle (type, shape, number of actions)."""
    for name, space in (("observation", env.observation_space), ("action", env.action_space)):
        stored = checkpoint.pickled.get(f"{name}_space", {})
        ours = {":type:": str(type(space)), "_shape": list(space.shape or [])}
        if hasattr(space, "n"):
            ours["n"] = str(space.n)
        theirs = {key: stored.get(key) for key in ours}
        if stored and theirs != ours:
            raise ModelLoadError(f"checkpoint {checkpoint.path} was trained with the {name} space "
                                 f"{_space_text(theirs)}, not {_space_text(ours)}: another environment")


def _space_text(space: dict[str, Any]) -> str:
    kind = str(space.get(":type:", "")).rsplit(".", 1)[-1].rstrip("'>")
    return f"{kind}({space['n']})" if space.get("n") is not None else f"{kind}{tuple(space.get('_shape') or ())}"
