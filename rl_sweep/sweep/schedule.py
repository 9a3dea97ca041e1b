"""When a sweep's trials run, and how busy they kept the CPUs. Neither changes what a trial computes.

**Longest first.** Tune starts a sweep's trials in the order it is given them, as CPUs free up. Given in order of
expected cost, longest first, a sweep ends within 4/3 of the shortest possible time (Graham's longest-processing-time
rule); in grid order nothing bounds it, and the last minutes can run one long trial on one CPU while the others idle.
A trial's expected cost is its steps times the seconds per step its (environment, algorithm) took in the trials that
have finished (the earlier rounds of ``--until-decided``); before any has, every step counts the same, so the largest
budgets start first.

**A round's tail, balanced.** Longest first, a round of whole trials still ends unevenly: on 2 CPUs, 5 A2C trials
of about 280 s and 5 PPO ones of about 125 s split no better than 1,060 s against 965 s, and one CPU idles for the
difference while the round's last trial runs (``--until-decided`` waits for the whole round). A trial can be split,
though: Tune pauses it at a step (saving its checkpoint, from which it resumes to the same bits) and starts another
in its place. :func:`pause_now` says when that ends the round sooner: the classic wrap-around schedule (McNaughton,
1959), whose makespan is the work over the CPUs whenever no trial is longer than that, found one pause at a time on
a forecast of when each CPU frees (:func:`makespan`, from each trial's own seconds per step so far). Only at the
round's tail, when no more trials wait than there are CPUs: earlier, a forecast of trials not yet started is too
rough to split on (simulated on the tuned decision's measured trial times, pausing throughout chased that noise into
up to 8 pauses and a later end than not pausing; at the tail, one pause took the span from 1.053 of its ideal to
1.007-1.019).

**Utilisation.** From each trial's wall time and the sweep's: the CPU-seconds of the trials the sweep needed, divided
by its CPUs times the time from its first trial's start to its last trial's end.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence

from rl_sweep.files.status import COMPLETED, NOT_NEEDED
from rl_sweep.files.sweep import TrialRecord, Utilisation, variant_of
from rl_sweep.run.config import TrainingConfig

Named = tuple[str, TrainingConfig]  # a trial's name and its run


Kind = tuple[str | None, str | None]  # a trial's (environment, variant): trials of a kind cost the same per step


def per_step(samples: Iterable[tuple[Kind, int, float]]) -> dict[Kind, float]:
    """Each kind's seconds per step, over its samples (each its kind, steps and their seconds)."""
    seconds: dict[Kind, float] = {}
    steps: dict[Kind, int] = {}
    for kind, done, took in samples:
        seconds[kind] = seconds.get(kind, 0.0) + took
        steps[kind] = steps.get(kind, 0) + done
    return {kind: seconds[kind] / steps[kind] for kind in seconds}


def seconds_per_step(finished: Iterable[TrialRecord]) -> dict[Kind, float]:
    """Each (environment, variant)'s measured seconds per step, over its completed trials."""
    return per_step(((trial["env"], variant_of(trial)), trial["timesteps"], trial["wall_time_seconds"])
                    for trial in finished
                    if trial["status"] == COMPLETED and trial["wall_time_seconds"] and trial["timesteps"])


def longest_first(runs: Sequence[Named], finished: Iterable[TrialRecord] = ()) -> list[Named]:
    """``runs`` (each a trial's name and run) in order of expected cost, longest first; runs of equal cost keep
    their order (grid order: environment, variant, seed)."""
    measured = seconds_per_step(finished)
    unknown = sum(measured.values()) / len(measured) if measured else 1.0  # a variant not yet measured

    def cost(named: Named) -> float:
        run = named[1]
        return run.total_timesteps * measured.get((run.env_name, run.variant), unknown)

    return sorted(runs, key=cost, reverse=True)


# What pausing a trial and resuming it costs, in seconds of one CPU: Tune saves its checkpoint, a process takes the
# next trial (Tune reuses actors) and the paused one loads its checkpoint again later.
SWITCH_SECONDS = 5.0
# The least a pause must bring the round's forecast end forward by: what a forecast of trials' times can be off.
GAIN_SECONDS = 10.0


def makespan(running: Sequence[float], queued: Sequence[float], slots: int) -> float:
    """How long, from now, until the last of these trials ends: ``running`` (each its seconds left) go on, and
    ``queued`` (each its seconds) start in order, each on the first of ``slots`` to free (list scheduling)."""
    free = [*running, *[0.0] * max(0, slots - len(running))]
    heapq.heapify(free)
    for seconds in queued:
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free, default=0.0)


def pause_now(left: float, others: Sequence[float], queued: Sequence[float], slots: int, step: float,
              switch: float = SWITCH_SECONDS, gain: float = GAIN_SECONDS) -> bool:
    """Whether a running trial, ``left`` seconds from its end, should pause now: then the first of ``queued`` (the
    round's trials waiting, each its seconds, in the order they start) starts in its place and the paused trial
    resumes on the next slot to free, before the rest of ``queued``. Yes when that ends the round at least ``gain``
    seconds sooner than going on, counting ``switch`` seconds for the pause, and no later than pausing one step
    (``step`` seconds) on: the forecast ends of the two slots then cross, which is when a wrap-around schedule
    splits a trial. ``others``: the other running trials' seconds left."""
    if not queued:
        return False
    going_on = makespan([left, *others], queued, slots)

    def paused_after(wait: float) -> float:
        return wait + makespan([queued[0], *(max(0.0, other - wait) for other in others)],
                               [max(0.0, left - wait) + switch, *queued[1:]], slots)

    now = paused_after(0.0)
    return now + gain <= going_on and now <= paused_after(step)


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

