"""Comparing algorithms across seeds: the statistics of Agarwal et al. (2021) through ``rliable``.

Final performance is each run's deterministic evaluation (``final_reward_mean``); learning speed
comes from the training curve of the metrics JSON. Confidence intervals are 95% stratified
bootstrap intervals (percentile), seeded so that the same runs always give the same report, and are only
computed with at least ``MIN_INTERVAL_SEEDS`` completed runs per algorithm: below that, their measured coverage
falls under 90% (``benchmarks/calibration.py``). What is better than what is never read from an interval: a test
says it (:mod:`~rl_sweep.decision.one_round`, or the sweep's decision). The same statistics across environments:
:mod:`~rl_sweep.report.across`.
"""

from __future__ import annotations

import itertools
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from rliable import library as rly
from rliable import metrics as rl_metrics
from scipy.stats import trim_mean

from rl_sweep.report.normalisation import BEST_SEEN, THRESHOLD
from rl_sweep.decision.one_round import UNNAMED, one_round
from rl_sweep.report.runs import RunRecord

# The fewest seeds at which every interval the report shows covers its estimate's true value at least 90% of the
# time, on normal and on bimodal RL-like scores (benchmarks/calibration.py; docs/calibration.md). The percentile
# bootstrap covers 74% at 3 seeds and 85 to 91% at 5.
MIN_INTERVAL_SEEDS = 10
REPS = 5000
CURVE_REPS = 2000
CONFIDENCE = 0.95

Interval = list[float]  # [low, high]


@dataclass
class AlgorithmStatistics:
    """One algorithm's runs: final performance (of completed runs) and learning speed.

    The ``*_ci`` intervals are None below ``MIN_INTERVAL_SEEDS`` completed runs; every figure is None without one.
    """

    seeds: int
    seeds_completed: int
    not_completed: dict[str, str]  # run name -> status
    final_rewards: dict[str, float]  # run name -> final evaluation reward
    mean: float | None = None
    std: float | None = None  # None with one seed
    median: float | None = None
    iqm: float | None = None
    optimality_gap: float | None = None  # below the comparison's optimality_gap_reference
    iqm_ci: Interval | None = None
    mean_ci: Interval | None = None
    median_ci: Interval | None = None
    optimality_gap_ci: Interval | None = None
    steps_to_threshold: dict[str, float | None] = field(default_factory=dict)
    seeds_reaching_threshold_in_training: int = 0
    seeds_reaching_threshold: int | None = None
    # The median over seeds, those that never reach the threshold counted as beyond the budget: None unless more
    # than half of them reach it.
    median_steps_to_threshold: float | None = None
    auc_mean: float | None = None
    auc_ci: Interval | None = None
    final_training_reward_mean: float | None = None
    training_time_mean: float | None = None
    steps_per_second_mean: float | None = None


@dataclass
class Improvement:
    """P(X > Y) over final rewards, with its 95% CI when both algorithms have enough seeds."""

    point: float | None
    ci: Interval | None


@dataclass
class Comparison:
    """Every statistic of the report: per algorithm, and per pair of algorithms (``"x>y"``).

    :param optimality_gap_reference: what every algorithm's optimality gap is measured below: the reward threshold,
        or without one the best final score seen across all algorithms (``optimality_gap_reference_source``).
    :param learning_speed_test: the one-round test of the areas under the learning curves
        (:func:`~rl_sweep.decision.one_round.one_round`), which alone says which algorithm learned faster; None when
        the seeds were not a fixed sample.
    """

    environment: str | None
    reward_threshold: float | None
    min_seeds_for_intervals: int
    confidence: float
    bootstrap_replicates: int
    algorithms: dict[str, AlgorithmStatistics]
    probability_of_improvement: dict[str, Improvement]
    eval_episodes: list[int] = field(default_factory=list)  # the runs' evaluation episodes, each count once
    optimality_gap_reference: float | None = None
    optimality_gap_reference_source: str | None = None
    learning_speed_test: dict[str, Any] | None = None

    def to_json(self) -> dict[str, Any]:
        """The numbers as ``summary.json`` holds them; an interval that was not computed is left out."""
        return without_missing_intervals(asdict(self))


def without_missing_intervals(document: dict[str, Any]) -> dict[str, Any]:
    """``document`` without the intervals of its ``algorithms`` that were not computed."""
    for stats in document["algorithms"].values():
        for key in [k for k, v in stats.items() if k.endswith("_ci") and v is None]:
            del stats[key]
    return document


@dataclass
class Curve:
    """Training curves of one algorithm on the steps every seed recorded: their IQM, each seed's, and the
    IQM's 95% bootstrap band (``MIN_INTERVAL_SEEDS`` seeds or more)."""

    steps: np.ndarray
    iqm: np.ndarray
    seeds: np.ndarray
    low: np.ndarray | None = None
    high: np.ndarray | None = None


def steps_to_threshold(run: RunRecord) -> float | None:
    """First step at which the training curve (mean of recent episodes) reaches the threshold."""
    if run.threshold is None:
        return None
    reached = np.flatnonzero(np.nan_to_num(run.curve_rewards, nan=-np.inf) >= run.threshold)
    return float(run.curve_steps[reached[0]]) if reached.size else None


def final_training_return(run: RunRecord) -> float | None:
    """The training curve's last value: the stochastic policy's mean return over its last 100 training episodes."""
    if not run.curve_rewards.size or np.isnan(run.curve_rewards[-1]):
        return None
    return float(run.curve_rewards[-1])


def learning_curve_area(run: RunRecord) -> float | None:
    """Area under the training curve divided by its length: the mean training reward over the run."""
    valid = ~np.isnan(run.curve_rewards)
    steps, rewards = run.curve_steps[valid], run.curve_rewards[valid]
    if steps.size < 2:
        return None
    return float(np.trapezoid(rewards, steps) / (steps[-1] - steps[0]))


@contextmanager
def seeded_bootstrap() -> Iterator[None]:
    """rliable's bootstraps, seeded: the same runs give the same report."""
    # rliable's StratifiedBootstrap draws from NumPy's global RNG whatever random_state says, so the
    # global state is seeded here and put back afterwards.
    global_state = np.random.get_state()
    np.random.seed(0)
    try:
        with warnings.catch_warnings():
            # rliable passes arch a RandomState, which arch 7 deprecates in favour of a Generator.
            warnings.simplefilter("ignore", FutureWarning)
            yield
    finally:
        np.random.set_state(global_state)


def _bootstrap(score_dict: dict[str, Any], func, reps: int) -> dict[str, np.ndarray]:
    """rliable's stratified-bootstrap 95% intervals, seeded."""
    with seeded_bootstrap():
        _, intervals = rly.get_interval_estimates(score_dict, func, reps=reps, confidence_interval_size=CONFIDENCE,
                                                  random_state=np.random.RandomState(0))
    return intervals


def bootstrap_intervals(scores: np.ndarray, func, reps: int) -> list[Interval]:
    """The seeded 95% stratified-bootstrap interval of each statistic ``func`` gives of a (runs x tasks) matrix."""
    return _bootstrap({"x": scores}, func, reps)["x"].reshape(2, -1).T.tolist()


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def aggregates(gamma: float) -> Callable[[np.ndarray], np.ndarray]:
    """IQM, mean, median and optimality gap (below ``gamma``) of a (runs x tasks) score matrix, as rliable defines
    them across tasks (its median: the median over tasks of each task's mean)."""
    return lambda s: np.array([rl_metrics.aggregate_iqm(s), rl_metrics.aggregate_mean(s),
                               rl_metrics.aggregate_median(s), rl_metrics.aggregate_optimality_gap(s, gamma=gamma)])


def seed_aggregates(gamma: float) -> Callable[[np.ndarray], np.ndarray]:
    """IQM, mean, median and optimality gap (below ``gamma``) of one environment's (runs x 1) scores: the median is
    the seeds' median. (rliable's ``aggregate_median`` of one task is the median of one mean: the mean.)"""
    return lambda s: np.array([rl_metrics.aggregate_iqm(s), rl_metrics.aggregate_mean(s), np.median(s),
                               rl_metrics.aggregate_optimality_gap(s, gamma=gamma)])


def median_steps(steps: list[float | None]) -> float | None:
    """The median of the steps at which seeds reach the threshold, a seed that never does counted as beyond the
    budget; None unless more than half of them reach it."""
    if not steps:
        return None
    median = float(np.median([np.inf if v is None else v for v in steps]))
    return median if np.isfinite(median) else None


def algorithm_statistics(runs: list[RunRecord], threshold: float | None, reps: int = REPS,
                         gap_reference: float | None = None) -> AlgorithmStatistics:
    """Final-performance and learning-speed statistics of one algorithm's completed seeds.

    :param threshold: the environment's reward threshold (None: it has none).
    :param gap_reference: what the optimality gap is measured below: ``threshold``, or without one the best final
        score seen across all algorithms (the gap's interval then is not computed: its reference is itself drawn
        from the runs). None: the threshold, else this algorithm's best.
    """
    done = [r for r in runs if r.completed]
    stats = AlgorithmStatistics(seeds=len(runs), seeds_completed=len(done),
                                not_completed={r.name: r.status for r in runs if not r.completed},
                                final_rewards={r.name: r.final_reward for r in done})
    if not done:
        return stats
    finals = np.array([r.final_reward for r in done], dtype=float)
    scores = finals.reshape(-1, 1)
    gap_reference = gap_reference if gap_reference is not None else (
        threshold if threshold is not None else float(np.max(finals)))
    stats.mean = float(finals.mean())
    stats.std = float(finals.std(ddof=1)) if len(done) > 1 else None
    stats.median = float(np.median(finals))
    stats.iqm = float(rl_metrics.aggregate_iqm(scores))
    stats.optimality_gap = float(rl_metrics.aggregate_optimality_gap(scores, gamma=gap_reference))
    if len(done) >= MIN_INTERVAL_SEEDS:
        intervals = bootstrap_intervals(scores, seed_aggregates(gap_reference), reps)
        stats.iqm_ci, stats.mean_ci, stats.median_ci, gap_ci = intervals
        stats.optimality_gap_ci = gap_ci if threshold is not None else None
    stats.steps_to_threshold = {r.name: steps_to_threshold(r) for r in done}
    reached = [v for v in stats.steps_to_threshold.values() if v is not None]
    stats.seeds_reaching_threshold_in_training = len(reached)
    stats.seeds_reaching_threshold = int(np.sum(finals >= threshold)) if threshold is not None else None
    stats.median_steps_to_threshold = median_steps(list(stats.steps_to_threshold.values()))
    areas = [a for r in done if (a := learning_curve_area(r)) is not None]
    stats.auc_mean = _mean(areas)
    stats.final_training_reward_mean = _mean([v for r in done if (v := final_training_return(r)) is not None])
    if len(areas) >= MIN_INTERVAL_SEEDS:
        [stats.auc_ci] = bootstrap_intervals(np.array(areas).reshape(-1, 1),
                                   lambda s: np.array([rl_metrics.aggregate_mean(s)]), reps)
    stats.training_time_mean = _mean([r.training_time for r in done if r.training_time is not None])
    stats.steps_per_second_mean = _mean([r.steps_per_second for r in done if r.steps_per_second])
    return stats


def probability_of_improvement(x: list[RunRecord], y: list[RunRecord], reps: int = REPS) -> Improvement:
    """P(X > Y) over final rewards (Mann-Whitney), with a 95% CI when both have enough seeds."""
    sx = np.array([r.final_reward for r in x if r.completed], dtype=float).reshape(-1, 1)
    sy = np.array([r.final_reward for r in y if r.completed], dtype=float).reshape(-1, 1)
    return improvement_of_scores(sx, sy, reps)


def improvement_of_scores(sx: np.ndarray, sy: np.ndarray, reps: int) -> Improvement:
    """P(X > Y) on each task (column) of two score matrices, averaged over tasks; a 95% CI with
    ``MIN_INTERVAL_SEEDS`` runs or more of each. A description of the difference, never the verdict on it."""
    if not len(sx) or not len(sy):
        return Improvement(None, None)
    point = float(rl_metrics.probability_of_improvement(sx, sy))
    if min(len(sx), len(sy)) < MIN_INTERVAL_SEEDS:
        return Improvement(point, None)
    return Improvement(point, improvement_interval(sx, sy, reps))


def improvement_interval(sx: np.ndarray, sy: np.ndarray, reps: int) -> Interval:
    """The seeded 95% stratified-bootstrap interval of P(X > Y) of two score matrices."""
    intervals = _bootstrap({"p": (sx, sy)}, rl_metrics.probability_of_improvement, reps)
    return [float(v) for v in np.ravel(intervals["p"])]


def aggregate_curve(runs: list[RunRecord], reps: int = CURVE_REPS) -> Curve | None:
    """IQM of the training curves across seeds, with a 95% bootstrap band (``MIN_INTERVAL_SEEDS`` seeds or more).

    Steps are those every seed recorded, from the first at which every seed has a reward.
    """
    done = [r for r in runs if r.completed and r.curve_steps.size]
    if not done:
        return None
    common = set(done[0].curve_steps.tolist())
    for r in done[1:]:
        common &= set(r.curve_steps.tolist())
    steps = np.array(sorted(common))
    curves = np.array([[r.curve_rewards[np.searchsorted(r.curve_steps, s)] for s in steps] for r in done])
    valid = ~np.isnan(curves).any(axis=0)
    steps, curves = steps[valid], curves[:, valid]
    if not steps.size:
        return None
    curve = Curve(steps=steps, iqm=trim_mean(curves, 0.25, axis=0), seeds=curves)
    if len(done) >= MIN_INTERVAL_SEEDS:
        func = lambda s: trim_mean(s[:, 0, :], 0.25, axis=0)  # noqa: E731
        curve.low, curve.high = _bootstrap({"c": curves[:, None, :]}, func, reps)["c"]
    return curve


def compare(runs: list[RunRecord], environment: str | None, reps: int = REPS, fixed_seeds: bool = True
            ) -> Comparison:
    """Every statistic of the report on the runs of one ``environment``, per algorithm and per pair of algorithms.

    :param environment: the environment's name in the report (None: the runs do not say it).
    :param reps: bootstrap replicates of each confidence interval.
    :param fixed_seeds: whether the number of seeds was fixed in advance; not when an ``--until-decided`` sweep chose
        it from their results, and then no test is run on them (its own decision is theirs).
    """
    algos = list(dict.fromkeys(r.variant for r in runs))
    thresholds = {r.threshold for r in runs if r.threshold is not None}
    threshold = thresholds.pop() if len(thresholds) == 1 else None
    by_algo = {a: [r for r in runs if r.variant == a] for a in algos}
    finals = [r.final_reward for r in runs if r.completed]
    reference = threshold if threshold is not None else (max(finals) if finals else None)
    areas = {a: [area for r in sorted(by_algo[a], key=lambda r: r.seed or 0)
                 if r.completed and (area := learning_curve_area(r)) is not None] for a in algos}
    return Comparison(
        environment=environment,
        reward_threshold=threshold,
        min_seeds_for_intervals=MIN_INTERVAL_SEEDS,
        confidence=CONFIDENCE,
        bootstrap_replicates=reps,
        algorithms={a: algorithm_statistics(by_algo[a], threshold, reps, reference) for a in algos},
        probability_of_improvement={
            f"{x}>{y}": probability_of_improvement(by_algo[x], by_algo[y], reps)
            for x, y in itertools.combinations(algos, 2)  # P(Y > X) is 1 - P(X > Y)
        },
        eval_episodes=sorted({r.eval_episodes for r in runs if r.eval_episodes}),
        optimality_gap_reference=reference,
        optimality_gap_reference_source=None if reference is None else THRESHOLD if threshold is not None else BEST_SEEN,
        learning_speed_test=one_round(environment or UNNAMED, areas) if fixed_seeds else None,
    )
