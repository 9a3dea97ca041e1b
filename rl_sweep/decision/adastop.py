"""Deciding a comparison: AdaStop (Mathieu et al., "AdaStop: adaptive statistical testing for sound comparisons
of deep RL agents", TMLR 2024), through the ``adastop`` package's ``MultipleAgentsComparator``.

AdaStop is a group-sequential permutation test: rounds of ``seeds_per_round`` runs per variant (an algorithm, or an
algorithm with its settings), at most ``max_rounds`` of them, family-wise error at most ``alpha`` over every pair it
compares (all of them, or each against a baseline); it stops as soon as every comparison is decided.
The comparator is never stored: :func:`decide` runs it again, seeded, over the final evaluation rewards the
rounds have produced, so a resumed sweep reaches the decision an uninterrupted one does, and anyone can
recompute it from ``summary.json``. Every decision the tool makes is made here: the sweep's rounds (whether to run
another), and the report's one-round tests at a fixed number of seeds.

adastop 0.1.3 takes its threshold from the permutation distribution of the signed mean difference but compares it
with the absolute difference: given ``alpha``, its family-wise error is about twice ``alpha``. With three algorithms
or more it also permutes each pair apart, with the same index sets, which is not the joint permutation distribution
of the pairs' largest difference: given ``alpha / 2``, three algorithms still measured 0.062 at 0.05. So
:func:`decide` gives it ``alpha / (2 x pairs)`` (``comparator_alpha``): each pair's own permutation distribution is
exact, and a union bound over the pairs and both signs keeps the family-wise error at most ``alpha``, as
``benchmarks/calibration.py`` measures (docs/adastop.md has the measurements and a reproduction).
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from rl_sweep.identity import label

METHOD = "AdaStop"


@dataclass(frozen=True)
class DecisionSettings:
    """How the test runs: its rounds, its level, its permutations (AdaStop's B) and its seed."""

    seeds_per_round: int = 5
    max_rounds: int = 4
    alpha: float = 0.05
    permutations: int = 10_000
    comparator_seed: int = 0

    def comparator_alpha(self, pairs: int) -> float:
        """The level adastop's comparator is given when it compares ``pairs`` pairs: ``alpha`` shared by both signs
        of every pair. Two variants: ``alpha / 2``; three, every pair: ``alpha / 6``; three against a baseline:
        ``alpha / 4``."""
        return self.alpha / (2 * pairs)


def pairs_of(variants: Sequence[str], baseline: str | None = None) -> list[tuple[int, int]]:
    """The pairs a decision compares, as indices into ``variants``: every pair, or each variant against ``baseline``
    (fewer comparisons, so each is tested at a higher level: a more powerful test)."""
    if baseline is None:
        return list(itertools.combinations(range(len(variants)), 2))
    base = list(variants).index(baseline)
    return [(i, base) for i in range(len(variants)) if i != base]


@dataclass
class DecidedComparison:
    """One pair, ``first`` against ``second`` (the ``--variants`` order; the baseline second): ``larger``, ``smaller`` or ``equal`` from
    the first's side, and the round that decided it (``equal``: not shown different after ``round`` rounds)."""

    env: str
    first: str
    second: str
    decision: str
    round: int


@dataclass
class EnvironmentDecision:
    """The test on one environment after the rounds it has run."""

    env: str
    rounds: int
    comparisons: list[DecidedComparison] = field(default_factory=list)
    needed: list[str] = field(default_factory=list)  # variants the next round trains; [] once decided

    @property
    def finished(self) -> bool:
        return not self.needed


def decide(env: str, rewards: dict[str, list[float]], settings: DecisionSettings, baseline: str | None = None
           ) -> EnvironmentDecision:
    """AdaStop over the rounds ``rewards`` holds: each variant's final evaluation rewards in seed order, in the
    ``--variants`` order. Round k takes the first k x ``seeds_per_round`` rewards of every variant still compared.
    Every pair is compared, or each variant against ``baseline`` (:func:`pairs_of`).

    The same lines recompute a sweep's decision from its ``summary.json`` (see README, "Deciding").
    """
    import numpy as np
    from adastop import MultipleAgentsComparator

    n = settings.seeds_per_round
    algos = list(rewards)
    pairs = pairs_of(algos, baseline)
    comparator = MultipleAgentsComparator(n=n, K=settings.max_rounds, B=settings.permutations,
                                          comparisons=np.array(pairs), alpha=settings.comparator_alpha(len(pairs)),
                                          seed=settings.comparator_seed)
    needed, rounds, decided_in = list(algos), 0, {}
    for k in range(settings.max_rounds):
        if any(len(rewards[algo]) < (k + 1) * n for algo in needed):
            break  # round k + 1 has not run (yet)
        comparator.partial_compare({algo: np.asarray(values[:(k + 1) * n], dtype=float)
                                    for algo, values in rewards.items()}, verbose=False)
        rounds = k + 1
        for key, decision in comparator.decisions.items():
            if decision != "continue":
                decided_in.setdefault(key, rounds)
        needed = [] if comparator.is_finished else \
            [algos[i] for i in sorted({int(i) for i in np.ravel(comparator.current_comparisons)})]
        if not needed:
            break
    result = EnvironmentDecision(env, rounds, needed=needed)
    if rounds:
        for pair in comparator.comparisons:
            key = str(pair)
            if key in decided_in:
                result.comparisons.append(DecidedComparison(env, algos[pair[0]], algos[pair[1]],
                                                            comparator.decisions[key], decided_in[key]))
    return result


def decision_document(settings: DecisionSettings, decisions: list[EnvironmentDecision], variants: Sequence[str],
                      baseline: str | None = None) -> dict[str, Any]:
    """``summary.json``'s ``decision`` of comparing ``variants`` (every pair, or each against ``baseline``) on each
    environment."""
    pairs = max(len(pairs_of(variants, baseline)), 1)  # a test skipped for want of variants: as of one pair
    return {"method": METHOD, "alpha": settings.alpha, "comparator_alpha": settings.comparator_alpha(pairs),
            "pairs": pairs, "baseline": baseline,
            "seeds_per_round": settings.seeds_per_round,
            "max_rounds": settings.max_rounds, "permutations": settings.permutations,
            "comparator_seed": settings.comparator_seed,
            "rounds": max((d.rounds for d in decisions), default=0),
            "comparisons": [asdict(c) for d in decisions for c in d.comparisons]}


def level(document: dict[str, Any]) -> str:
    """The test and the level it holds: "AdaStop, family-wise error at most 5%" (with "over 3 comparisons" when it
    compares more than one pair). A ``decision`` written by rl-sweep 0.1 (no ``comparator_alpha``) gave the
    comparator ``alpha`` itself, and says so."""
    alpha = document["alpha"]
    if "comparator_alpha" in document:
        pairs = document.get("pairs", 1)
        over = f" over {pairs} comparisons{' with ' + label(document['baseline']) if document.get('baseline') else ''}"
        return f"{document['method']}, family-wise error at most {alpha:.0%}{over if pairs > 1 else ''}"
    return (f"{document['method']} as rl-sweep 0.1 ran it, family-wise error about twice the {alpha:.0%} it stated "
            "or more (docs/adastop.md)")


def sentence(comparison: dict[str, Any], document: dict[str, Any]) -> str:
    """One comparison in words: "PPO is better than A2C on LunarLander-v3 (AdaStop, family-wise error at most
    5%, decided after 2 rounds of 5 seeds each)"."""
    first, second = label(comparison["first"]), label(comparison["second"])
    rounds = comparison["round"]
    seeds = document["seeds_per_round"]
    plural = "s" if rounds > 1 else ""
    if comparison["decision"] == "equal":
        return (f"{first} and {second} are not shown different on {comparison['env']} after {rounds} round{plural} "
                f"of {seeds} seeds each ({level(document)})")
    better, worse = (first, second) if comparison["decision"] == "larger" else (second, first)
    return (f"{better} is better than {worse} on {comparison['env']} ({level(document)}, decided after {rounds} "
            f"round{plural} of {seeds} seeds each)")


def grouped(comparisons: list[dict[str, Any]], document: dict[str, Any]) -> str:
    """One environment's comparisons in words, grouped: "PPO@tuned is better than PPO and A2C@tuned; PPO and A2C@tuned
    are not shown different on CartPole-v1 (AdaStop, family-wise error at most 5% over 3 comparisons, decided after 1
    to 2 rounds of 5 seeds each)". One comparison reads as :func:`sentence` says it."""
    if len(comparisons) == 1:
        return sentence(comparisons[0], document)
    wins: dict[str, list[str]] = {}
    clauses = []
    for comparison in comparisons:
        first, second = comparison["first"], comparison["second"]
        if comparison["decision"] == "equal":
            clauses.append(f"{label(first)} and {label(second)} are not shown different")
            continue
        better, worse = (first, second) if comparison["decision"] == "larger" else (second, first)
        wins.setdefault(better, []).append(label(worse))
    if not wins:  # no pair shown different: one clause for all
        names = list(dict.fromkeys(label(v) for c in comparisons for v in (c["first"], c["second"])))
        clauses = [f"no pair of {and_list(names)} is shown different"]
    clauses = [f"{label(better)} is better than {and_list(worse)}" for better, worse in wins.items()] + clauses
    rounds = sorted({c["round"] for c in comparisons})
    span = f"{rounds[0]} to {rounds[-1]}" if len(rounds) > 1 else str(rounds[0])
    return (f"{'; '.join(clauses)} on {comparisons[0]['env']} ({level(document)}, decided after {span} "
            f"round{'s' if rounds[-1] > 1 else ''} of {document['seeds_per_round']} seeds each)")


def and_list(items: list[str]) -> str:
    """``a``, ``a and b``, ``a, b and c``."""
    return ", ".join(items[:-1]) + " and " + items[-1] if len(items) > 1 else items[0]
