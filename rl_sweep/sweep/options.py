"""What a sweep or a search is made of, the trials it runs, and the record each trial leaves.

Everything here is plain data (no Ray): the options stored in ``sweep.json``, each trial's run
configuration resolved on the driver (so that a trial needs no preset file on its node) with the folder
its files go to in storage, and the one function that turns what Tune knows of a finished trial into
its record in ``summary.json`` or ``search.json``.

A sweep's files, under ``--results-dir`` (a local folder or a storage URI)::

    sweeps/{name}/sweep.json, summary.json, report.md, report.html, *.png
    sweeps/{name}/{algo}_seed{seed}/      each trial's contract files (a search: trials/{algo}_s{setting}_seed{seed}/)
    sweeps/{name}/{env}/{algo}_seed{seed}/  the same, for a sweep of several environments ({env}: env_folder)
    sweeps/{name}/tune/                   Ray Tune's experiment state and checkpoints (a search: tune_{algo}/)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rl_sweep.decision import DecisionSettings
from rl_sweep.errors import ConfigError
from rl_sweep.identity import env_folder, experiment_id
from rl_sweep.presets import DEFAULT_ENV, DEFAULT_PRESET
from rl_sweep.run.config import ALGORITHMS, TrainingConfig
from rl_sweep.storage import Storage, sweep_folder

METRIC = "episode_reward_mean"  # the training reward over the last 100 episodes, as the trainable reports it
SEEDS = 5  # seeds per algorithm unless --seeds says: one run against one run decides nothing
SEARCH_SEEDS = 1  # seeds per setting of a search unless --seeds says: a cheap ranking, its best checked on SEEDS


@dataclass
class SweepOptions:
    """Everything a sweep is made of; stored in ``sweep.json`` so that ``--resume`` needs only the name."""

    algos: list[str] = field(default_factory=lambda: list(ALGORITHMS))
    seeds: int = SEEDS
    seed_start: int = 42
    timesteps: int | None = None  # None: each algorithm's preset default
    preset: str = DEFAULT_PRESET
    checkpoint_interval: int | None = None  # None: each algorithm's preset default
    envs: list[str] = field(default_factory=lambda: [DEFAULT_ENV])
    env_kwargs: dict[str, Any] = field(default_factory=dict)  # given to every environment
    eval_episodes: int = 10
    fast_numerics: bool = False
    conda_env: str = "rocm"
    results_dir: str = "results"  # a local folder (absolute) or a storage URI
    name: str = ""
    max_failures: int = 2
    cpus_per_trial: float = 1.0
    max_concurrent: int | None = None
    search: int = 0  # >0: a hyperparameter search of this many settings per algorithm, each on `seeds` seeds
    early_stopping: bool = True  # a search's ASHA
    py_modules: list[str] = field(default_factory=list)  # folders of the user's packages, shipped to a cluster
    until_decided: bool = False  # rounds of seeds until AdaStop decides (rl_sweep.sweep.rounds)
    seeds_per_round: int = 5
    max_rounds: int = 4
    alpha: float = 0.05
    permutations: int = 10_000
    comparator_seed: int = 0
    replays: bool = True  # the report's replays of the best, median and worst seed (--no-replays: none)
    command: str = ""

    def __post_init__(self) -> None:
        folders: dict[str, str] = {}
        for env in self.envs:
            other = folders.setdefault(env_folder(env), env)
            if other != env:
                raise ConfigError(f"--envs {other} and {env} would share the folder {env_folder(env)}: "
                                  "run them in separate sweeps")
        if len(folders) < len(self.envs):
            raise ConfigError(f"--envs names an environment twice: {' '.join(self.envs)}")
        if self.search and len(self.envs) > 1:
            raise ConfigError("--search takes one environment (--env ID), not several")
        if self.until_decided:
            if self.search:
                raise ConfigError("--until-decided decides a comparison of algorithms; it does not take --search")
            if len(self.algos) < 2:
                raise ConfigError("--until-decided compares algorithms: give two or more with --algos")
            if self.seeds_per_round < 2:
                raise ConfigError(f"--seeds-per-round must be 2 or more, not {self.seeds_per_round}")
            if self.max_rounds < 1:
                raise ConfigError(f"--max-rounds must be 1 or more, not {self.max_rounds}")
            if not 0 < self.alpha < 1:
                raise ConfigError(f"--alpha must be between 0 and 1, not {self.alpha}")

    @property
    def decision_settings(self) -> DecisionSettings:
        """How ``--until-decided`` runs its test."""
        return DecisionSettings(self.seeds_per_round, self.max_rounds, self.alpha, self.permutations,
                                self.comparator_seed)

    @classmethod
    def from_json(cls, values: dict[str, Any]) -> SweepOptions:
        """The options a ``sweep.json`` holds; one written before sweeps had several environments names its
        one environment ``env_name``."""
        values = dict(values)
        if "env_name" in values:
            values["envs"] = [values.pop("env_name")]
        return cls(**values)

    @property
    def env_name(self) -> str:
        """The environment of a sweep of one (a search's)."""
        return self.envs[0]

    @property
    def storage(self) -> Storage:
        return Storage(self.results_dir)

    def folder(self, *parts: str) -> str:
        """A path under the sweep's folder, ``sweeps/{name}/...``, as storage names it."""
        return "/".join([sweep_folder(self.name), *parts])

    def run_config(self, algo: str, seed: int, folder: str, overrides: dict[str, Any] | None = None,
                   env_name: str | None = None) -> TrainingConfig:
        """One trial's run, validated, its preset resolved here (on the driver) for its environment (the
        sweep's first by default). Its output folder is ``folder`` on a local storage; a trial on remote
        storage writes to a staging folder of its own node (see :class:`~rl_sweep.sweep.trainable.RunTrainable`)."""
        storage = self.storage
        output_dir = storage.local_path(folder) if storage.is_local else Path(folder)
        return TrainingConfig(algo=algo, seed=seed, env_name=env_name or self.env_name, env_kwargs=self.env_kwargs,
                              total_timesteps=self.timesteps, checkpoint_interval=self.checkpoint_interval,
                              eval_episodes=self.eval_episodes, conda_env=self.conda_env, output_dir=output_dir,
                              preset=self.preset, overrides=overrides, fast_numerics=self.fast_numerics)

    def trial_name(self, env_name: str, algo: str, seed: int) -> str:
        """A seed-sweep trial's name and folder under the sweep's: ``{algo}_seed{seed}``, and
        ``{env}/{algo}_seed{seed}`` in a sweep of several environments."""
        name = experiment_id(algo, seed)
        return name if len(self.envs) == 1 else f"{env_folder(env_name)}/{name}"

    def sweep_runs(self) -> list[tuple[str, TrainingConfig]]:
        """The trials of a seed sweep, each as its name and run: every environment, algorithm and seed."""
        seeds = range(self.seed_start, self.seed_start + self.seeds)
        return self._runs({env: self.algos for env in self.envs}, seeds)

    def round_runs(self, k: int, needed: dict[str, list[str]]) -> list[tuple[str, TrainingConfig]]:
        """The trials of round ``k`` (from 1) of ``--until-decided``: the round's ``seeds_per_round`` seeds, after
        the earlier rounds', of the algorithms each environment still ``needed``."""
        first = self.seed_start + (k - 1) * self.seeds_per_round
        return self._runs(needed, range(first, first + self.seeds_per_round))

    def _runs(self, algos_by_env: dict[str, list[str]], seeds: range) -> list[tuple[str, TrainingConfig]]:
        trials = []
        for env, algos in algos_by_env.items():
            for algo in algos:
                for seed in seeds:
                    name = self.trial_name(env, algo, seed)
                    trials.append((name, self.run_config(algo, seed, self.folder(name), env_name=env)))
        return trials


def trial_config(run: TrainingConfig, folder: str, setting: int | None = None,
                 name: str | None = None) -> dict[str, Any]:
    """What a Tune trial's config holds: the run (every field, its settings resolved), the folder its files
    go to in storage, its name (the run's experiment id unless given) and, for a search trial, the index of
    its setting."""
    values = run.to_dict()
    values["folder"] = folder
    values["name"] = name or experiment_id(run.algo, run.seed, setting)
    if setting is not None:
        values["setting"] = setting
    return values


def trial_name(trial: Any) -> str:
    """A Tune trial's name in the progress display: its run's name (``CartPole-v1/ppo_seed42`` in a sweep of
    several environments)."""
    return run_name(trial.config["run"])


def trial_dirname(trial: Any) -> str:
    """A Tune trial's folder in Tune's state: its name, one folder deep."""
    return run_dirname(trial.config["run"])


def run_dirname(run: dict[str, Any]) -> str:
    """The folder in Tune's state of the trial of ``run``."""
    return run_name(run).replace("/", "_")


def run_name(run: dict[str, Any]) -> str:
    """The name of a trial's run; a search trial's carries its setting (its seeds repeat). Trials of sweeps
    written before trials carried their name are named by their experiment id."""
    return run.get("name") or experiment_id(run["algo"], run["seed"], run.get("setting"))


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
        "env": run.get("env_name"),
        "env_kwargs": run.get("env_kwargs") or {},
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
    from rl_sweep.errors import one_line

    cause = getattr(error, "cause", None) or error
    return one_line(cause)



def trial_records(result_grid: Any, trials: Sequence[dict[str, Any]], storage: str) -> list[dict[str, Any]]:
    """The record of every trial of a finished Tune run (its ``ResultGrid``). A trial that never started (the
    run was interrupted first) has no config in Tune's results: it is found among ``trials``, the configs
    the run was given (see :func:`trial_config`), by its folder in Tune's state."""
    by_folder = {run_dirname(trial): trial for trial in trials}
    records = []
    for result in result_grid:
        config = result.config or {"run": by_folder.get(Path(result.path).name, {}), "storage": storage}
        records.append(trial_record(config, result.metrics or {}, result.error))
    return records
