"""What each trial of a sweep is to Tune, and the record it leaves: a trial's config (its run, resolved on the
driver, and the folder its files go to in storage), its name and folder in Tune's state, and the one function that
turns what Tune knows of a finished trial into its record in ``summary.json`` or ``search.json``
(:class:`~rl_sweep.files.sweep.TrialRecord`)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rl_sweep.errors import one_line
from rl_sweep.files.status import COMPLETED, FAILED, INCOMPLETE, STOPPED_EARLY, TrialStatus
from rl_sweep.files.sweep import TrialRecord
from rl_sweep.identity import experiment_id
from rl_sweep.run.config import TrainingConfig
from rl_sweep.storage import Storage
from rl_sweep.sweep import result_keys as keys


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


def trial_status(metrics: dict[str, Any], failed: bool) -> TrialStatus:
    """``completed`` (evaluated), ``failed``, ``stopped early`` (by ASHA: done, not evaluated) or
    ``incomplete`` (stopped by an interruption: resume it)."""
    if failed:
        return FAILED
    if keys.FINAL_REWARD_MEAN in metrics:
        return COMPLETED
    return STOPPED_EARLY if metrics.get(keys.DONE) else INCOMPLETE


def trial_record(config: dict[str, Any], metrics: dict[str, Any], error: BaseException | None) -> TrialRecord:
    """One trial as ``summary.json`` and ``search.json`` list it."""
    run = config.get("run", {})
    storage = Storage(config["storage"]) if run and "storage" in config else None
    return TrialRecord(
        trial=run_name(run) if run else None,
        env=run.get("env_name"),
        env_kwargs=run.get("env_kwargs") or {},
        algo=run.get("algo"),
        variant=run.get("variant") or run.get("algo"),
        seed=run.get("seed"),
        setting=run.get("setting"),
        overrides=run.get("overrides") or {},
        status=trial_status(metrics, error is not None),
        timesteps=metrics.get(keys.TIMESTEPS, 0),
        training_reward=metrics.get(keys.METRIC),
        final_reward_mean=metrics.get(keys.FINAL_REWARD_MEAN),
        final_reward_std=metrics.get(keys.FINAL_REWARD_STD),
        converged=metrics.get(keys.CONVERGED),
        wall_time_seconds=metrics.get(keys.TIME_TOTAL),
        ended=metrics.get(keys.REPORTED_AT, metrics.get(keys.TIMESTAMP)),
        experiment_dir=storage.uri(run["folder"]) if storage else run.get("output_dir"),
        folder=run.get("folder"),
        error=_first_line(error) if error is not None else None,
    )


def _first_line(error: BaseException) -> str:
    """The line of a trial's error that says what went wrong: Ray wraps it in lines of its own."""
    cause = getattr(error, "cause", None) or error
    return one_line(cause)


def trial_records(result_grid: Any, trials: Sequence[dict[str, Any]], storage: str) -> list[TrialRecord]:
    """The record of every trial of a finished Tune run (its ``ResultGrid``). A trial that never reported (it
    never started, or was stopped or failed while starting) has no result of its own in Tune's: it is found among
    ``trials``, the configs the run was given (see :func:`trial_config`), by its folder in Tune's state.

    Tune's result for such a trial is not its own where it was to reuse another trial's actor and ended while that
    actor was being reset: Tune 2.60 asks the actor for its metrics before the reset, so the result carries the
    config of the trial the actor ran before (docs/sweeps.md, "Faults and interruptions")."""
    by_folder = {run_dirname(trial): trial for trial in trials}
    records = []
    for result in result_grid:
        metrics, config = result.metrics or {}, result.config
        folder = Path(result.path).name
        if keys.TIMESTEPS not in metrics and (folder in by_folder or not config):  # never reported
            metrics, config = {}, {"run": by_folder.get(folder, {}), "storage": storage}
        records.append(trial_record(config, metrics, result.error))
    return records
