"""``RunTrainable``: one contract training run as a Ray Tune class trainable.

A thin adapter over the same :class:`~rl_sweep.run.engine.TrainingRun` that ``rl-train`` drives:
``step()`` trains one checkpoint interval, ``save_checkpoint``/``load_checkpoint`` hand Tune the
run's checkpoint zips, and a restored trial continues writing the same experiment folder.

On local storage (a folder every node sees) the run writes its folder directly. On remote storage
(``s3://...``) it writes a staging folder on its own node, mirrored to its folder in storage after
every step, while the next step trains; Tune's checkpoint then only names the zip, which is in storage
before Tune saves, and is taken now and then (``BOOKMARK_PERIOD``) rather than at every step. A trial
restored on another node first pulls that folder back, then resumes from the named zip.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from ray import tune
from ray.tune import PlacementGroupFactory
from ray.tune.result import SHOULD_CHECKPOINT

from rl_sweep.errors import ConfigError
from rl_sweep.files.names import CHECKPOINT_GLOB, checkpoint_step
from rl_sweep.files.status import FAILED
from rl_sweep.run.config import TrainingConfig
from rl_sweep.run.engine import TrainingRun
from rl_sweep.storage import Storage
from rl_sweep.sweep import result_keys as keys
from rl_sweep.sweep.mirror import FolderMirror


# On remote storage a trial asks Tune for a checkpoint at its first step, its last, and otherwise at most this often
# (seconds): a trial restored after its node died trains again at most this long, where a Tune checkpoint at
# every step (about every second at the contract's interval) would cost a dozen round trips to storage each.
BOOKMARK_PERIOD = 10.0

# On remote storage a Tune checkpoint is an empty file named after the run's checkpoint zip plus this suffix: the
# zip itself is in the run's folder in storage, uploaded before Tune saves (one copy, not two, per checkpoint).
IN_STORAGE = ".in-storage"


class RunTrainable(tune.Trainable):
    """Ray Tune trainable of one training run. Its config holds the run's :class:`TrainingConfig` field names
    (``algo``, ``seed``, ``total_timesteps``, ``checkpoint_interval``, ``output_dir``, ...) at its top, or, as
    a sweep gives it, under ``run`` with the folder the run's files go to in ``storage`` (see
    :func:`~rl_sweep.sweep.records.trial_config`); beside them ``cpus_per_trial`` (default 1), the CPUs each
    trial reserves.
    """

    @classmethod
    def default_resource_request(cls, config: dict[str, Any]) -> PlacementGroupFactory:
        return PlacementGroupFactory([{"CPU": config.get("cpus_per_trial", 1)}])

    def __repr__(self) -> str:
        # Ray's dashboard names each trial's actor by this.
        config = getattr(self, "training_config", None)
        return f"RunTrainable({config.experiment_id})" if config else "RunTrainable"

    def setup(self, config: dict[str, Any]) -> None:
        run = config["run"] if isinstance(config.get("run"), dict) else config
        if "algo" not in run:
            raise ConfigError(f"RunTrainable's config has no run: give TrainingConfig's fields (algo, seed, "
                              f"total_timesteps, ...) at its top or under 'run'; it has {sorted(config) or 'nothing'}")
        self.training_config = TrainingConfig.from_dict(run)
        self.mirror: FolderMirror | None = None
        self._bookmarked: float | None = None  # when this trial last asked Tune for a checkpoint (remote storage)
        self.location = str(self.training_config.output_dir)  # where the run's files end up
        storage = Storage(config["storage"]) if "storage" in config else None
        if storage is not None and not storage.is_local:
            staging = Path(tempfile.mkdtemp(prefix=f"rl_sweep_{self.training_config.experiment_id}_"))
            self.mirror = FolderMirror(storage, staging, run["folder"])
            self.location = storage.uri(run["folder"])
            self.training_config = dataclasses.replace(self.training_config, output_dir=staging,
                                                       location=storage.uri(f"{run['folder']}/"))  # a folder: /
        # Created on the first step, or by load_checkpoint: a restored trial never starts afresh first.
        self.run: TrainingRun | None = None

    def step(self) -> dict[str, Any]:
        if self.run is None:
            self.run = TrainingRun(self.training_config)
        report = self.run.step()
        result: dict[str, Any] = {
            keys.TIMESTEPS: report.step,
            keys.EPISODES: report.episodes,
            # NaN until an episode ends: schedulers such as ASHA need a number.
            keys.METRIC: float("nan") if report.reward is None else report.reward,
            keys.LOSS: report.loss,
            keys.STEPS_PER_SECOND: report.steps_per_second,
            keys.EXPERIMENT_DIR: self.location,
            keys.REPORTED_AT: time.time(),
        }
        if report.done:
            metrics = self.run.finish()["experiment_results"]["metrics"]
            result.update({key: metrics[key] for key in keys.FINAL})
            result[keys.DONE] = True
        if self.mirror is not None:
            try:  # storage takes this step's files while the next one trains (the last step's before it ends)
                self.mirror.push(final=report.done, background=True)
            except BaseException:
                self.run.abort(FAILED)  # the run's files did not reach storage: the trial failed
                raise
            result[keys.STORAGE_BYTES] = self.mirror.bytes_uploaded
            if report.done or self._bookmarked is None or time.monotonic() - self._bookmarked >= BOOKMARK_PERIOD:
                result[SHOULD_CHECKPOINT] = True
                self._bookmarked = time.monotonic()
        return result

    def save_checkpoint(self, checkpoint_dir: str) -> None:
        latest = self.run.latest_checkpoint if self.run else None
        if latest is None:
            return
        if self.mirror is None:
            shutil.copy2(latest, Path(checkpoint_dir) / latest.name)
        else:  # the zip is in storage once step()'s push ends: Tune keeps only its name, not a second copy
            self.mirror.wait()
            (Path(checkpoint_dir) / f"{latest.name}{IN_STORAGE}").touch()

    def load_checkpoint(self, checkpoint: str | dict | None) -> None:
        names = (sorted((path.name.removesuffix(IN_STORAGE) for path in Path(checkpoint).glob(f"{CHECKPOINT_GLOB}*")),
                        key=checkpoint_step) if isinstance(checkpoint, (str, os.PathLike)) else [])
        self.cleanup()
        if self.mirror is not None:
            self.mirror.pull()
        if names:
            found = Path(checkpoint) / names[-1]
            if not found.exists():  # in the folder pulled from storage
                found = Path(self.training_config.output_dir) / names[-1]
            self.run = TrainingRun(dataclasses.replace(self.training_config, resume_from=found))
            if self.mirror is not None:  # what the resume set aside (an abandoned future), storage sets aside too
                self.mirror.push()

    def reset_config(self, new_config: dict[str, Any]) -> bool:
        """Take the next trial in this process (Tune's ``reuse_actors``): saves re-importing torch and SB3."""
        self.cleanup()
        self.setup(new_config)
        return True

    def cleanup(self) -> None:
        # A run closed unfinished records itself as interrupted (or failed, if a step raised).
        try:
            if self.run is not None:
                self.run.close()
                self.run = None
                if self.mirror is not None:
                    self.mirror.push(final=True)
        finally:
            if self.mirror is not None:  # storage holds the files now (or the trial failed); the node keeps no copy
                staging = self.mirror.local
                # with what a resume set aside beside it, which storage has set aside too
                for folder in (staging, *staging.parent.glob(f"earlier_*_{staging.name}")):
                    shutil.rmtree(folder, ignore_errors=True)
