"""Equal budgets: how many steps each algorithm's runs trained on an environment and, when those differ, the
comparison at the common budget (the shorter runs' steps) from the training curves.

Final evaluations of unequal budgets set a policy trained longer against one trained less: they say which run
trained longer as much as which algorithm is better. The training curves put every run at the same step.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from rliable import metrics as rl_metrics

from rl_sweep.decision.one_round import UNNAMED, one_round
from rl_sweep.report.runs import RunRecord
from rl_sweep.report.statistics import (
    MIN_INTERVAL_SEEDS, REPS, Improvement, Interval, bootstrap_intervals, improvement_of_scores, without_missing_intervals,
)


def budget(run: RunRecord) -> int:
    """The steps a run was set to train; the steps it trained when its files do not say. The target, not what it
    trained: SB3 rounds a run up to whole rollouts, which differ between algorithms at the same target."""
    return int(run.config.get("timesteps") or run.timesteps)


def budgets(runs: list[RunRecord]) -> dict[str, list[int]]:
    """Per algorithm with completed runs, the distinct budgets of those runs, smallest first."""
    found: dict[str, set[int]] = {}
    for run in runs:
        if run.completed:
            found.setdefault(run.variant, set()).add(budget(run))
    return {algo: sorted(steps) for algo, steps in found.items()}


def training_return_at(run: RunRecord, step: float) -> float | None:
    """The training return (the curve's mean of recent episodes) at the last point of the run's training curve
    recorded at or before ``step``; None when the curve has no reward by then."""
    recorded = (run.curve_steps <= step) & ~np.isnan(run.curve_rewards)
    return float(run.curve_rewards[recorded][-1]) if recorded.any() else None


@dataclass
class BudgetStatistics:
    """One algorithm at the common budget: each completed run's training return there (a run whose curve has no
    reward by then is left out), their IQM, and its 95% bootstrap CI with ``MIN_INTERVAL_SEEDS`` runs or more."""

    training_returns: dict[str, float]  # run name -> training return at the common budget
    iqm: float | None = None
    iqm_ci: Interval | None = None


@dataclass
class CommonBudget:
    """The comparison at the common budget, when the runs' budgets differ: per algorithm, and per pair of
    algorithms (``"x>y"``, P(X > Y) of the training returns there).

    :param step: the common budget, the smallest budget of a completed run.
    :param budgets: per algorithm, the distinct budgets of its completed runs.
    :param test: the one-round test of the training returns there (:func:`~rl_sweep.decision.one_round.one_round`);
        None when the seeds were not a fixed sample.
    """

    step: int
    budgets: dict[str, list[int]]
    algorithms: dict[str, BudgetStatistics]
    probability_of_improvement: dict[str, Improvement]
    test: dict[str, Any] | None

    def to_json(self) -> dict[str, Any]:
        """The numbers as ``comparison.json`` holds them; an interval that was not computed is left out."""
        return without_missing_intervals(asdict(self))


def _statistics(returns: dict[str, float], reps: int) -> BudgetStatistics:
    stats = BudgetStatistics(returns)
    if returns:
        scores = np.array(list(returns.values()), dtype=float).reshape(-1, 1)
        stats.iqm = float(rl_metrics.aggregate_iqm(scores))
        if len(returns) >= MIN_INTERVAL_SEEDS:
            [stats.iqm_ci] = bootstrap_intervals(scores, lambda s: np.array([rl_metrics.aggregate_iqm(s)]), reps)
    return stats


def common_budget(runs: list[RunRecord], reps: int = REPS, env: str = UNNAMED, fixed_seeds: bool = True
                  ) -> CommonBudget | None:
    """The comparison at the common budget of one environment's runs; None when their budgets are equal.

    :param reps: bootstrap replicates of each confidence interval.
    :param env: the environment's name in the report.
    :param fixed_seeds: whether the number of seeds was fixed in advance (else no test is run).
    """
    by_algo = budgets(runs)
    every = sorted({steps for found in by_algo.values() for steps in found})
    if len(every) < 2:
        return None
    step = every[0]
    returns = {algo: {r.name: value for r in sorted(runs, key=lambda r: r.seed or 0)
                      if r.variant == algo and r.completed and (value := training_return_at(r, step)) is not None}
               for algo in by_algo}
    scores = {algo: np.array(list(found.values()), dtype=float).reshape(-1, 1) for algo, found in returns.items()}
    return CommonBudget(
        step=step,
        budgets=by_algo,
        algorithms={algo: _statistics(found, reps) for algo, found in returns.items()},
        probability_of_improvement={f"{x}>{y}": improvement_of_scores(scores[x], scores[y], reps)
                                    for x, y in itertools.combinations(by_algo, 2)},
        test=one_round(env, {algo: list(found.values()) for algo, found in returns.items()}) if fixed_seeds else None,
    )
