"""What a sweep or a search is made of, the trials it runs, and the record each trial leaves.

Everything here is plain data (no Ray): the options stored in ``sweep.json``, each trial's run
configuration resolved on the driver (so that a trial needs no preset file on its node) with the folder
its files go to in storage, and the one function that turns what Tune knows of a finished trial into
its record in ``summary.json`` or ``search.json``.

A sweep's files, under ``--results-dir`` (a local folder or a storage URI)::

    sweeps/{name}/sweep.json, summary.json, report.md, report.html, *.png
    sweeps/{name}/{algo}_seed{seed}/      each trial's contract files (a search: trials/{algo}_s{setting}_seed{seed}/)
    sweeps/{name}/tune/                   Ray Tune's experiment state and checkpoints (a search: tune_{algo}/)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_sweep.identity import experiment_id
from rl_sweep.presets import DEFAULT_PRESET
from rl_sweep.run.config import ALGORITHMS, TrainingConfig
from rl_sweep.storage import Storage, sweep_folder

METRIC = "episode_reward_mean"  # the training reward over the last 100 episodes, as the trainable reports it


@dataclass
class SweepOptions:
    """Everything a sweep is made of; stored in ``sweep.json`` so that ``--resume`` needs only the name."""

    algos: list[str] = field(default_factory=lambda: list(ALGORITHMS))
    seeds: int = 1
    seed_start: int = 42
    timesteps: int | None = None  # None: each algorithm's preset default
    preset: str = DEFAULT_PRESET
    checkpoint_interval: int | None = None  # None: each algorithm's preset default
    env_name: str = "LunarLander-v3"
    eval_episodes: int = 10
    conda_env: str = "rocm"
    results_dir: str = "results"  # a local folder (absolute) or a storage URI
    name: str = ""
    max_failures: int = 2
    cpus_per_trial: float = 1.0
    max_concurrent: int | None = None
    search: int = 0  # >0: a hyperparameter search of this many settings per algorithm, each on `seeds` seeds
    early_stopping: bool = True  # a search's ASHA
    command: str = ""

    @property
    def storage(self) -> Storage:
        return Storage(self.results_dir)

    def folder(self, *parts: str) -> str:
        """A path under the sweep's folder, ``sweeps/{name}/...``, as storage names it."""
        return "/".join([sweep_folder(self.name), *parts])

    def run_config(self, algo: str, seed: int, folder: str,
                   overrides: dict[str, Any] | None = None) -> TrainingConfig:
        """One trial's run, validated, its preset resolved here (on the driver). Its output folder is
        ``folder`` on a local storage; a trial on remote storage writes to a staging folder of its own node
        (see :class:`~rl_sweep.sweep.trainable.RunTrainable`)."""
        storage = self.storage
        output_dir = storage.local_path(folder) if storage.is_local else Path(folder)
        return TrainingConfig(algo=algo, seed=seed, env_name=self.env_name, total_timesteps=self.timesteps,
                              checkpoint_interval=self.checkpoint_interval, eval_episodes=self.eval_episodes,
                              conda_env=self.conda_env, output_dir=output_dir, preset=self.preset,
                              overrides=overrides)

    def sweep_runs(self) -> list[TrainingConfig]:
        """The runs of a seed sweep: every algorithm on every seed, each in ``sweeps/{name}/{algo}_seed{seed}``."""
        return [self.run_config(algo, seed, self.folder(experiment_id(algo, seed)))
                for algo in self.algos for seed in range(self.seed_start, self.seed_start + self.seeds)]


def trial_config(run: TrainingConfig, folder: str, setting: int | None = None) -> dict[str, Any]:
    """What a Tune trial's config holds: the run (every field, its settings resolved), the folder its files
    go to in storage and, for a search trial, the index of its setting."""
    values = run.to_dict()
    values["folder"] = folder
    if setting is not None:
        values["setting"] = setting
    return values


def trial_name(trial: Any) -> str:
    """A Tune trial's name in the live table and its folder in Tune's state: its run's name."""
    return run_name(trial.config["run"])


def run_name(run: dict[str, Any]) -> str:
    """The experiment id of a trial's run; a search trial's carries its setting (its seeds repeat)."""
    return experiment_id(run["algo"], run["seed"], run.get("setting"))


def trial_status(metrics: dict[str, Any], failed: bool) -> str:
    """``completed`` (evaluated), ``failed``, ``stopped early`` (by ASHA: done, not evaluated) or
    ``incomplete`` (stopped by an interruption: resume it)."""
    if failed:
        return "failed"
    if "final_reward_mean" in metrics:
        return "completed"
    return "stopped early" if metrics.get("done") else "incomplete"


def trial_record(config: dict[str, Any], metrics: dict[str, Any], error: BaseException | None) -> dict[str, Any]:
    """One trial as ``summary.json`` and ``search.json`` list it."""
    run = config.get("run", {})
    storage = Storage(config["storage"]) if run and "storage" in config else None
    return {
        "trial": run_name(run) if run else None,
        "algo": run.get("algo"),
        "seed": run.get("seed"),
        "setting": run.get("setting"),
        "overrides": run.get("overrides") or {},
        "status": trial_status(metrics, error is not None),
        "timesteps": metrics.get("timesteps_total", 0),
        "training_reward": metrics.get(METRIC),
        "final_reward_mean": metrics.get("final_reward_mean"),
        "final_reward_std": metrics.get("final_reward_std"),
        "converged": metrics.get("converged"),
        "wall_time_seconds": metrics.get("time_total_s"),
        "experiment_dir": storage.uri(run["folder"]) if storage else run.get("output_dir"),
        "folder": run.get("folder"),
        "error": _first_line(error) if error is not None else None,
    }


def _first_line(error: BaseException) -> str:
    """The line of a trial's error that says what went wrong: Ray wraps it in lines of its own."""
    from rl_sweep.cli import one_line

    cause = getattr(error, "cause", None) or error
    return one_line(cause)



def trial_records(result_grid: Any) -> list[dict[str, Any]]:
    """The record of every trial of a finished Tune run (its ``ResultGrid``)."""
    return [trial_record(result.config or {}, result.metrics or {}, result.error) for result in result_grid]
