"""What a fixed number of seeds settles: a one-round AdaStop test (:mod:`rl_sweep.decision`) at the seeds the runs
have, for reports without a sweep's decision (a fixed-seed sweep, ``rl-report`` over folders).

Each environment is its own test, at ``n`` seeds per algorithm, ``n`` the fewest completed seeds of an algorithm
there: each algorithm's first ``n`` final evaluation rewards in seed order. ``rl-sweep --until-decided`` runs the
same test round after round, adding seeds until it decides.
"""

from __future__ import annotations

from typing import Any

from rl_sweep.decision import DecisionSettings, decide, decision_document
from rl_sweep.report.runs import RunRecord

MIN_TEST_SEEDS = 2  # a permutation test of one seed per algorithm has nothing to permute


def one_round_test(env: str, runs: list[RunRecord]) -> dict[str, Any]:
    """The one-round test of one environment's runs, as ``summary.json``'s ``decision`` would hold it, with the
    completed seeds per algorithm (``completed_seeds``); ``skipped`` (and no comparisons) when there are fewer than
    two algorithms with completed runs, or one of them has fewer than ``MIN_TEST_SEEDS``."""
    rewards: dict[str, list[float]] = {}
    for run in sorted((r for r in runs if r.completed), key=lambda r: r.seed or 0):
        rewards.setdefault(run.algo, []).append(run.final_reward)
    order = list(dict.fromkeys(r.algo for r in runs))  # the --algos order: who is "first" in a comparison
    rewards = {algo: rewards[algo] for algo in order if algo in rewards}
    n = min((len(values) for values in rewards.values()), default=0)
    settings = DecisionSettings(seeds_per_round=max(n, 1), max_rounds=1)
    completed = {algo: len(values) for algo, values in rewards.items()}
    if len(rewards) < 2 or n < MIN_TEST_SEEDS:
        return {**decision_document(settings, []), "rounds": 0, "completed_seeds": completed, "skipped": True}
    decision = decide(env, {algo: values[:n] for algo, values in rewards.items()}, settings)
    return {**decision_document(settings, [decision]), "completed_seeds": completed}


def one_round_decision(groups: dict[str, list[RunRecord]]) -> dict[str, Any]:
    """``comparison.json``'s ``decision`` of a report without a sweep's: the one-round test of each environment."""
    return {"one_round": True, "environments": {env: one_round_test(env, runs) for env, runs in groups.items()}}
