"""What a fixed number of seeds settles: a one-round AdaStop test (:mod:`rl_sweep.decision.adastop`) at the seeds
the runs have, for reports without a sweep's decision (a fixed-seed sweep, ``rl-report`` over folders), and for every other
"better" the report says (learning speed, the common budget, across environments).

Each test is at ``n`` seeds per algorithm, ``n`` the fewest an algorithm has: each algorithm's first ``n`` values in
seed order. ``rl-sweep --until-decided`` runs the same test round after round, adding seeds until it decides. Seeds
that such a sweep chose to run by looking at the results are not a fixed sample: no one-round test is run on them.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from rl_sweep.decision.adastop import DecisionSettings, decide, decision_document

if TYPE_CHECKING:  # the report's runs: their algorithm, seed, final reward and whether they completed
    from rl_sweep.report.runs import RunRecord

UNNAMED = "the environment"  # an environment the runs do not name, wherever the report names it


def min_test_seeds(variants: int, settings: DecisionSettings = DecisionSettings(), baseline: bool = False) -> int:
    """The fewest seeds per variant at which a one-round test of ``variants`` (every pair, or each against a
    ``baseline``) can reject at all: the most extreme of the C(2n, n) splits of a pair must fit within the
    comparator's level. Two variants: 4 (at 3 against 3 the most extreme of 20 splits has a two-sided p-value of
    2/20 = 0.10); three or four: 5; five: 6."""
    variants = max(variants, 2)
    pairs = variants - 1 if baseline else variants * (variants - 1) // 2
    n = 2
    while math.comb(2 * n, n) * settings.comparator_alpha(pairs) < 1:
        n += 1
    return n


def one_round(env: str, values: dict[str, list[float]], baseline: str | None = None) -> dict[str, Any]:
    """The one-round test of ``values`` (per variant, in seed order, in the order to name them; every pair, or each
    against ``baseline``), as ``summary.json``'s ``decision`` would hold it, with each variant's count
    (``completed_seeds``); ``skipped`` (and no comparisons) with fewer than two variants (or no baseline's runs), or
    one with fewer values than :func:`min_test_seeds`."""
    values = {variant: found for variant, found in values.items() if found}
    n = min((len(found) for found in values.values()), default=0)
    settings = DecisionSettings(seeds_per_round=max(n, 1), max_rounds=1)
    counts = {variant: len(found) for variant, found in values.items()}
    if baseline is not None and baseline not in values:  # no test against it: none of every pair instead
        return {**decision_document(settings, [], list(values)), "rounds": 0, "completed_seeds": counts,
                "skipped": True, "baseline": baseline, "baseline_missing": True}
    if len(values) < 2 or n < min_test_seeds(len(values), baseline=baseline is not None):
        return {**decision_document(settings, [], list(values), baseline), "rounds": 0, "completed_seeds": counts,
                "skipped": True}
    decision = decide(env, {variant: found[:n] for variant, found in values.items()}, settings, baseline)
    return {**decision_document(settings, [decision], list(values), baseline), "completed_seeds": counts}


def one_round_test(env: str, runs: list[RunRecord], baseline: str | None = None) -> dict[str, Any]:
    """The one-round test of one environment's runs: their final evaluation rewards (:func:`one_round`)."""
    rewards: dict[str, list[float]] = {v: [] for v in dict.fromkeys(r.variant for r in runs)}  # --variants order
    for run in sorted((r for r in runs if r.completed), key=lambda r: r.seed or 0):
        rewards[run.variant].append(run.final_reward)
    return one_round(env, rewards, baseline)


def one_round_decision(groups: dict[str, list[RunRecord]], adaptive: str | None = None,
                       baseline: str | None = None) -> dict[str, Any]:
    """``comparison.json``'s ``decision`` of a report without a sweep's: the one-round test of each environment.

    :param adaptive: the ``--until-decided`` sweep the runs come from, if they do: then no test is run (``adaptive``
        names the sweep, whose own decision is in its summary and report).
    :param baseline: a fixed-seed sweep's ``--baseline``: each variant is tested against it only.
    """
    if adaptive:
        return {"one_round": True, "adaptive": adaptive, "environments": {}}
    return {"one_round": True, "environments": {env: one_round_test(env, runs, baseline)
                                                for env, runs in groups.items()}}


def fixed_sample(decision: dict[str, Any]) -> bool:
    """Whether the report's runs are a fixed sample of seeds: not when ``decision`` is an ``--until-decided``
    sweep's (whose test chose how many seeds to run from their results), nor when they come from one."""
    return bool(decision.get("one_round")) and not decision.get("adaptive")


def pair_decision(document: dict[str, Any], env: str, x: str, y: str) -> str | None:
    """What ``document`` (a decision) decided of ``x`` against ``y`` on ``env``, from ``x``'s side: ``larger``,
    ``smaller`` or ``equal``; None when it holds no such comparison."""
    flipped = {"larger": "smaller", "smaller": "larger"}
    for comparison in document.get("comparisons", []):
        if comparison["env"] != env:
            continue
        if (comparison["first"], comparison["second"]) == (x, y):
            return comparison["decision"]
        if (comparison["first"], comparison["second"]) == (y, x):
            return flipped.get(comparison["decision"], comparison["decision"])
    return None
