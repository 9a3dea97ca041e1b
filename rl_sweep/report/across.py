"""Comparing algorithms across environments, each one a task of rliable's (runs x tasks) score matrices: the
statistics of :mod:`~rl_sweep.report.statistics` on scores normalised per environment
(:mod:`~rl_sweep.report.normalisation`), and performance profiles."""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from rliable import library as rly
from rliable import metrics as rl_metrics

from rl_sweep.report.normalisation import Normalisation
from rl_sweep.decision.one_round import one_round
from rl_sweep.report.runs import RunRecord
from rl_sweep.report.statistics import (
    CONFIDENCE, CURVE_REPS, MIN_INTERVAL_SEEDS, REPS, Improvement, Interval, aggregates, bootstrap_intervals,
    improvement_of_scores, seeded_bootstrap, without_missing_intervals,
)


@dataclass
class AggregateStatistics:
    """One algorithm across environments, on normalised scores: rliable's aggregates of its (seeds x
    environments) matrix, intervals only with ``MIN_INTERVAL_SEEDS`` seeds or more.

    :param seeds: the completed runs of each environment that enter, the first in seed order: as many as
        every environment has.
    """

    seeds: int
    iqm: float | None = None
    mean: float | None = None
    median: float | None = None
    optimality_gap: float | None = None
    iqm_ci: Interval | None = None
    mean_ci: Interval | None = None
    median_ci: Interval | None = None
    optimality_gap_ci: Interval | None = None


@dataclass
class AcrossEnvironments:
    """The comparison across environments, each one a task: per algorithm, and per pair (``"x>y"``, P(X > Y)
    on each environment averaged over environments).

    :param environments: the tasks, in the score matrices' column order.
    :param left_out: the environments that are not tasks, and why.
    :param normalisation: each environment's 0 (random policy) and 1 (reward threshold or best score seen).
    :param normalised_iqm: per task and algorithm, the IQM of all its completed runs' normalised scores.
    :param algorithms: those with a completed run on every task.
    :param test: the one-round test of each algorithm's runs across environments, a run's score being its mean
        normalised score over the environments (row i: the i-th seed of each), which alone says which is better;
        None when the seeds were not a fixed sample.
    """

    environments: list[str]
    left_out: dict[str, str]
    normalisation: dict[str, Normalisation]
    normalised_iqm: dict[str, dict[str, float | None]]
    min_seeds_for_intervals: int
    confidence: float
    bootstrap_replicates: int
    algorithms: dict[str, AggregateStatistics]
    probability_of_improvement: dict[str, Improvement]
    test: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """The numbers as ``summary.json`` holds them; an interval that was not computed is left out."""
        return without_missing_intervals(asdict(self))


ACROSS = "across environments"  # the test's environment name


@dataclass
class Profile:
    """A performance profile: the fraction of runs (all seeds on all tasks) whose normalised score is above
    each ``tau``, with its 95% bootstrap band (``MIN_INTERVAL_SEEDS`` seeds or more)."""

    taus: np.ndarray
    fraction: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None


def normalised_scores(by_env: dict[str, list[RunRecord]],
                      normalisation: dict[str, Normalisation]) -> dict[str, np.ndarray]:
    """Per algorithm, its (seeds x environments) matrix of normalised final scores, one column for each
    environment of ``normalisation``: the completed runs of each environment in seed order, the first n of
    them, n the smallest count across environments (rliable needs as many runs in every column). An
    algorithm without a completed run on one of the environments has none."""
    envs = list(normalisation)
    algos = list(dict.fromkeys(r.variant for env in envs for r in by_env[env]))
    scores = {}
    for algo in algos:
        columns = []
        for env in envs:
            done = sorted((r for r in by_env[env] if r.variant == algo and r.completed), key=lambda r: r.seed or 0)
            columns.append([normalisation[env].normalise(r.final_reward) for r in done])
        if seeds := min(len(column) for column in columns):
            scores[algo] = np.array([column[:seeds] for column in columns], dtype=float).T
    return scores


def compare_across(by_env: dict[str, list[RunRecord]], normalisation: dict[str, Normalisation | None],
                   unmeasured: dict[str, str] | None = None, reps: int = REPS, fixed_seeds: bool = True
                   ) -> AcrossEnvironments:
    """Every statistic across environments, on normalised scores (the optimality gap below 1), per algorithm
    and per pair of algorithms. An environment without a normalisation (no completed run, or ``unmeasured``),
    or whose 1 is not above its 0, is no task.

    :param normalisation: how each environment's scores are normalised.
    :param unmeasured: the environments whose normalisation could not be measured, and why.
    :param fixed_seeds: whether the number of seeds was fixed in advance (else no test is run).
    """
    unmeasured = unmeasured or {}
    left_out = {env: unmeasured.get(env, "no completed run") if n is None
                else "its reference is not above the random score"
                for env, n in normalisation.items() if n is None or n.reference <= n.random_score}
    tasks = {env: n for env, n in normalisation.items() if n is not None and env not in left_out}
    scores = normalised_scores(by_env, tasks)
    algorithms = {}
    for algo, matrix in scores.items():
        stats = AggregateStatistics(seeds=len(matrix))
        stats.iqm, stats.mean, stats.median, stats.optimality_gap = aggregates(1.0)(matrix).tolist()
        if len(matrix) >= MIN_INTERVAL_SEEDS:
            stats.iqm_ci, stats.mean_ci, stats.median_ci, stats.optimality_gap_ci = bootstrap_intervals(
                matrix, aggregates(1.0), reps)
        algorithms[algo] = stats
    return AcrossEnvironments(
        environments=list(tasks),
        left_out=left_out,
        normalisation={env: n for env, n in normalisation.items() if n is not None},
        normalised_iqm={env: {algo: _normalised_iqm([r for r in by_env[env] if r.variant == algo], n)
                              for algo in dict.fromkeys(r.variant for r in by_env[env])}
                        for env, n in tasks.items()},
        min_seeds_for_intervals=MIN_INTERVAL_SEEDS,
        confidence=CONFIDENCE,
        bootstrap_replicates=reps,
        algorithms=algorithms,
        probability_of_improvement={f"{x}>{y}": improvement_of_scores(scores[x], scores[y], reps)
                                    for x, y in itertools.combinations(scores, 2)},
        test=(one_round(ACROSS, {algo: matrix.mean(axis=1).tolist() for algo, matrix in scores.items()})
              if fixed_seeds else None),
    )


def _normalised_iqm(runs: list[RunRecord], normalisation: Normalisation) -> float | None:
    finals = [normalisation.normalise(r.final_reward) for r in runs if r.completed]
    return float(rl_metrics.aggregate_iqm(np.array(finals).reshape(-1, 1))) if finals else None


def score_profiles(scores: dict[str, np.ndarray], reps: int = CURVE_REPS) -> dict[str, Profile]:
    """rliable's performance profiles of normalised score matrices, from below the lowest score (and 0) to
    above the highest (and 1); a band only for algorithms with ``MIN_INTERVAL_SEEDS`` seeds or more."""
    every = np.concatenate([m.ravel() for m in scores.values()])
    taus = np.linspace(min(0.0, every.min()), max(1.0, every.max()) * 1.05, 101)
    with seeded_bootstrap():
        fractions, bands = rly.create_performance_profile(scores, taus, reps=reps,
                                                          confidence_interval_size=CONFIDENCE)
    return {algo: Profile(taus, fractions[algo], *(bands[algo] if len(matrix) >= MIN_INTERVAL_SEEDS else (None, None)))
            for algo, matrix in scores.items()}
