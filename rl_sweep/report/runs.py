"""Runs as the report sees them, read from the contract files of their experiment folders."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from rl_sweep.errors import ConfigError
from rl_sweep.files import names
from rl_sweep.files.metrics import read_curve
from rl_sweep.files.results import read_results
from rl_sweep.files.status import COMPLETED, MISSING, UNREADABLE
from rl_sweep.identity import label, parse_experiment_id
from rl_sweep.presets import AlgoSettings
from rl_sweep.run.config import ALGORITHMS


@dataclass
class RunRecord:
    """One (variant, seed) run: its final evaluation, its training curve and how it was configured. The report
    compares variants (``variant``): an algorithm on its preset (``ppo``) or a named one (``ppo@tuned``)."""

    name: str
    algo: str
    seed: int | None
    status: str  # completed, interrupted, failed, incomplete, missing or unreadable
    experiment_dir: str
    final_reward: float | None = None
    timesteps: int = 0
    training_time: float | None = None
    steps_per_second: float | None = None
    threshold: float | None = None
    env_name: str | None = None  # the id as the user gave it: ALE/Pong-v5, mypkg.envs:Corridor-v0
    env_kwargs: dict[str, Any] = field(default_factory=dict)
    eval_episodes: int | None = None
    eval_cut_at_time_limit: int = 0  # evaluation episodes cut at the evaluation's step limit
    curve_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    curve_rewards: np.ndarray = field(default_factory=lambda: np.zeros(0))
    config: dict[str, Any] = field(default_factory=dict)
    model_file: str | None = None  # the final model's name in the run's folder; None when none was saved
    # What the model was trained with, as its results record it: the safe loader rebuilds the model from it.
    settings: AlgoSettings | None = None
    variant: str = ""  # "": the algorithm

    def __post_init__(self) -> None:
        self.variant = self.variant or self.algo

    @property
    def named(self) -> bool:
        """A named variant (``ppo@tuned``), not its algorithm on the sweep's preset (``Variant.plain``: the names
        ``ppo`` and ``a2c`` are kept for those)."""
        return self.variant != self.algo

    @property
    def completed(self) -> bool:
        return self.status == COMPLETED and self.final_reward is not None


def load_run(experiment_dir: Path, status: str | None = None, name: str | None = None,
             env_name: str | None = None, variant: str | None = None) -> RunRecord:
    """Read a run's results and metrics JSON; a folder without them is a ``missing`` run, one whose files are
    not the contract's JSON an ``unreadable`` one: both are listed in the report, never dropped.

    :param status: what the sweep knows of the run (a failed trial may still have files).
    :param name: the run's name when the folder does not say it; a sweep's trial name
        (``CartPole-v1/ppo_seed42``) without its environment part, which ``env_name`` gives.
    :param env_name: the run's environment when the folder does not say it.
    :param variant: the run's variant when the folder does not say it (None: its algorithm).
    """
    experiment_dir = Path(experiment_dir)
    name = (name or experiment_dir.name).rpartition("/")[2]
    results_files = sorted(experiment_dir.glob(names.RESULTS_GLOB))
    if not results_files:
        algo, seed = parse_experiment_id(name)
        return RunRecord(name, algo, seed, status or MISSING, str(experiment_dir), env_name=env_name,
                         variant=variant or algo)
    try:
        return _read_run(experiment_dir, results_files[0], status)
    except (ValueError, KeyError, TypeError, AttributeError, OSError):  # not JSON, or not the contract's shape
        algo, seed = parse_experiment_id(name)
        return RunRecord(name, algo, seed, UNREADABLE, str(experiment_dir), env_name=env_name,
                         variant=variant or algo)


def algorithm_order(found: Iterable[str], preferred: Sequence[str] | None = None) -> list[str]:
    """The order the report names variants in, everywhere: ``preferred`` (a sweep's ``--variants`` or ``--algos``),
    else ppo, a2c; any other after those, alphabetically. Never the order the folders were found in."""
    first = list(preferred or ALGORITHMS)
    found = set(found)
    return [a for a in first if a in found] + sorted(found - set(first))


def arguments_of(run: RunRecord) -> str:
    """A run's environment arguments as one value, whatever their order: two runs with the same value were made
    with the same arguments."""
    return json.dumps(run.env_kwargs, sort_keys=True)


def environment_names(runs: Iterable[RunRecord]) -> Callable[[RunRecord], str | None]:
    """How the report names each run's environment: by its id, and by its arguments too where the runs of one id
    were made with different ones (``CartPole-v1`` and ``CartPole-v1 sutton_barto_reward=True``), which are then
    compared apart, never as one environment. A run whose folder does not say its arguments goes by its id."""
    from rl_sweep.run.environments import format_kwargs

    variants: dict[str, dict[str, str]] = {}  # per id, each set of arguments (arguments_of) and its name
    for run in runs:
        if run.env_name and run.config:
            variants.setdefault(run.env_name, {}).setdefault(
                arguments_of(run), f"{run.env_name} {format_kwargs(run.env_kwargs)}".rstrip())

    def name(run: RunRecord) -> str | None:
        named = variants.get(run.env_name or "", {})
        if len(named) <= 1 or not run.config:
            return run.env_name
        return named[arguments_of(run)]

    return name


def in_report_order(runs: list[RunRecord], preferred: Sequence[str] | None = None) -> list[RunRecord]:
    """The runs by environment (in the order environments first appear, named as :func:`environment_names` names
    them), algorithm (:func:`algorithm_order`) and seed: every table, figure and sentence of the report then
    follows that order."""
    name = environment_names(runs)
    envs = list(dict.fromkeys(name(r) for r in runs))
    variants = algorithm_order((r.variant for r in runs), preferred)
    return sorted(runs, key=lambda r: (envs.index(name(r)), variants.index(r.variant), r.seed is None, r.seed or 0))


def by_environment(runs: list[RunRecord]) -> dict[str | None, list[RunRecord]]:
    """Runs grouped by environment (named as :func:`environment_names` names them), in the order environments
    first appear. A run that does not say its environment (a folder without results) joins the only one there
    is; beside several it is under None."""
    name = environment_names(runs)
    known = list(dict.fromkeys(name(r) for r in runs if r.env_name))
    if len(known) <= 1:
        return {known[0] if known else None: list(runs)}
    groups: dict[str | None, list[RunRecord]] = {env: [r for r in runs if name(r) == env] for env in known}
    if unknown := [r for r in runs if not r.env_name]:
        groups[None] = unknown
    return groups


def one_folder_per_seed(runs: list[RunRecord], experiments: list[Path]) -> None:
    """Refuse (exit 3) two folders of one variant's seed on one environment, or one folder given twice: the
    statistics would count the seed twice."""
    name = environment_names(runs)
    seen: dict[tuple[str | None, str, int], Path] = {}
    for run, path in zip(runs, experiments):
        if run.seed is None:
            continue
        key = (name(run), run.variant, run.seed)
        if key in seen:
            which = (f"{path} is given twice" if path.resolve() == seen[key].resolve()
                     else f"{seen[key]} and {path} are both {label(run.variant)} seed {run.seed}")
            raise ConfigError(f"{which}{f' on {key[0]}' if key[0] else ''}: a seed counts once in the statistics; "
                              "give each run once")
        seen[key] = path


def _read_run(experiment_dir: Path, results_file: Path, status: str | None) -> RunRecord:
    results = read_results(results_file)
    run = RunRecord(
        name=results.experiment_id, algo=results.algo, variant=results.variant, seed=results.seed, status=status or results.status,
        experiment_dir=str(experiment_dir), final_reward=results.final_reward, timesteps=results.timesteps,
        training_time=results.training_time, steps_per_second=results.steps_per_second,
        threshold=results.threshold, env_name=results.env_name, env_kwargs=results.env_kwargs,
        eval_episodes=results.eval_episodes, eval_cut_at_time_limit=results.eval_cut_at_time_limit,
        config={"timesteps": results.target_timesteps, "checkpoint_interval": results.checkpoint_interval,
                "preset": results.preset},
        model_file=results.model_file, settings=results.settings,
    )
    metrics_file = experiment_dir / names.metrics_file(run.name)
    if metrics_file.exists():
        run.curve_steps, run.curve_rewards = read_curve(metrics_file)
    return run
