"""Deciding a comparison: AdaStop (Mathieu et al., "AdaStop: adaptive statistical testing for sound comparisons
of deep RL agents", TMLR 2024), through the ``adastop`` package's ``MultipleAgentsComparator``.

AdaStop is a group-sequential permutation test: rounds of ``seeds_per_round`` runs per algorithm, at most
``max_rounds`` of them, family-wise error at most ``alpha``; it stops as soon as every comparison is decided.
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

from dataclasses import asdict, dataclass, field
from typing import Any

METHOD = "AdaStop"


@dataclass(frozen=True)
class DecisionSettings:
    """How the test runs: its rounds, its level, its permutations (AdaStop's B) and its seed."""

    seeds_per_round: int = 5
    max_rounds: int = 4
    alpha: float = 0.05
    permutations: int = 10_000
    comparator_seed: int = 0

    def comparator_alpha(self, algorithms: int) -> float:
        """The level adastop's comparator is given when it compares ``algorithms`` (every pair of them): ``alpha``
        shared by both signs of every pair. Two algorithms: ``alpha / 2``; three: ``alpha / 6``."""
        return self.alpha / (algorithms * (algorithms - 1))


@dataclass
class DecidedComparison:
    """One pair, ``first`` against ``second`` (the ``--algos`` order): ``larger``, ``smaller`` or ``equal`` from
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
    needed: list[str] = field(default_factory=list)  # algorithms the next round trains; [] once decided

    @property
    def finished(self) -> bool:
        return not self.needed


def decide(env: str, rewards: dict[str, list[float]], settings: DecisionSettings) -> EnvironmentDecision:
    """AdaStop over the rounds ``rewards`` holds: each algorithm's final evaluation rewards in seed order, in the
    ``--algos`` order. Round k takes the first k x ``seeds_per_round`` rewards of every algorithm still compared.

    The same lines recompute a sweep's decision from its ``summary.json`` (see README, "Deciding").
    """
    import numpy as np
    from adastop import MultipleAgentsComparator

    n = settings.seeds_per_round
    algos = list(rewards)
    comparator = MultipleAgentsComparator(n=n, K=settings.max_rounds, B=settings.permutations,
                                          alpha=settings.comparator_alpha(len(algos)), seed=settings.comparator_seed)
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


def decision_document(settings: DecisionSettings, decisions: list[EnvironmentDecision], algorithms: int
                      ) -> dict[str, Any]:
    """``summary.json``'s ``decision`` of comparing ``algorithms`` (every pair of them) on each environment."""
    return {"method": METHOD, "alpha": settings.alpha, "comparator_alpha": settings.comparator_alpha(algorithms),
            "seeds_per_round": settings.seeds_per_round,
            "max_rounds": settings.max_rounds, "permutations": settings.permutations,
            "comparator_seed": settings.comparator_seed,
            "rounds": max((d.rounds for d in decisions), default=0),
            "comparisons": [asdict(c) for d in decisions for c in d.comparisons]}


def level(document: dict[str, Any]) -> str:
    """The test and the level it holds: "AdaStop, family-wise error at most 5%". A ``decision`` written by rl-sweep
    0.1 (no ``comparator_alpha``) gave the comparator ``alpha`` itself, and says so."""
    alpha = document["alpha"]
    if "comparator_alpha" in document:
        return f"{document['method']}, family-wise error at most {alpha:.0%}"
    return (f"{document['method']} as rl-sweep 0.1 ran it, family-wise error about twice the {alpha:.0%} it stated "
            "or more (docs/adastop.md)")


def sentence(comparison: dict[str, Any], document: dict[str, Any]) -> str:
    """One comparison in words: "PPO is better than A2C on LunarLander-v3 (AdaStop, family-wise error at most
    5%, decided after 2 rounds of 5 seeds each)"."""
    first, second = comparison["first"].upper(), comparison["second"].upper()
    rounds = comparison["round"]
    seeds = document["seeds_per_round"]
    plural = "s" if rounds > 1 else ""
    if comparison["decision"] == "equal":
        return (f"{first} and {second} are not shown different on {comparison['env']} after {rounds} round{plural} "
                f"of {seeds} seeds each ({level(document)})")
    better, worse = (first, second) if comparison["decision"] == "larger" else (second, first)
    return (f"{better} is better than {worse} on {comparison['env']} ({level(document)}, decided after {rounds} "
            f"round{plural} of {seeds} seeds each)")
