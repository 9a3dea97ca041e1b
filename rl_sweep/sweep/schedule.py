"""When a sweep's trials run, and how busy they kept the CPUs. Neither changes what a trial computes.

**Longest first.** Tune starts a sweep's trials in the order it is given them, as CPUs free up. Given in order of
expected cost, longest first, a sweep ends within 4/3 of the shortest possible time (Graham's longest-processing-time
rule); in grid order nothing bounds it, and the last minutes can run one long trial on one CPU while the others idle.
A trial's expected cost is its steps times the seconds per step its (environment, algorithm) took in the trials that
have finished (the earlier rounds of ``--until-decided``); before any has, every step counts the same, so the largest
budgets start first.

**Utilisation.** From each trial's wall time and the sweep's: the CPU-seconds of the trials the sweep needed, divided
by its CPUs times the time from its first trial's start to its last trial's end.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from rl_sweep.files.status import COMPLETED, NOT_NEEDED
from rl_sweep.files.sweep import TrialRecord, Utilisation, variant_of
from rl_sweep.run.config import TrainingConfig

Named = tuple[str, TrainingConfig]  # a trial's name and its run


def seconds_per_step(finished: Iterable[TrialRecord]) -> dict[tuple[str | None, str | None], float]:
    """Each (environment, variant)'s measured seconds per step, over its completed trials."""
    seconds: dict[tuple[str | None, str | None], float] = {}
    steps: dict[tuple[str | None, str | None], int] = {}
    for trial in finished:
        if trial["status"] == COMPLETED and trial["wall_time_seconds"] and trial["timesteps"]:
            key = (trial["env"], variant_of(trial))
            seconds[key] = seconds.get(key, 0.0) + trial["wall_time_seconds"]
            steps[key] = steps.get(key, 0) + trial["timesteps"]
    return {key: seconds[key] / steps[key] for key in seconds}


def longest_first(runs: Sequence[Named], finished: Iterable[TrialRecord] = ()) -> list[Named]:
    """``runs`` (each a trial's name and run) in order of expected cost, longest first; runs of equal cost keep
    their order (grid order: environment, variant, seed)."""
    measured = seconds_per_step(finished)
    unknown = sum(measured.values()) / len(measured) if measured else 1.0  # a variant not yet measured

    def cost(named: Named) -> float:
        run = named[1]
        return run.total_timesteps * measured.get((run.env_name, run.variant), unknown)

    return sorted(runs, key=cost, reverse=True)


def utilisation(trials: Sequence[TrialRecord], cpus: float, cpus_per_trial: float) -> Utilisation | None:
    """How busy the trials the sweep needed kept ``cpus``, from the first trial's start to the last one's end (a
    speculative trial that was not needed counts as waste); None when no trial says when it ran (none started, or
    records written before they did)."""
    timed = [t for t in trials if t.get("ended") and t["wall_time_seconds"]]
    if not timed or not cpus:
        return None
    start = min(t["ended"] - t["wall_time_seconds"] for t in timed)
    wall = max(t["ended"] for t in timed) - start
    busy = sum(t["wall_time_seconds"] for t in timed if t["status"] != NOT_NEEDED) * cpus_per_trial
    wasted = sum(t["wall_time_seconds"] for t in timed if t["status"] == NOT_NEEDED) * cpus_per_trial
    return Utilisation(cpus=cpus, wall_seconds=wall, trial_cpu_seconds=busy, not_needed_cpu_seconds=wasted,
                       value=busy / (cpus * wall) if wall else 0.0)

