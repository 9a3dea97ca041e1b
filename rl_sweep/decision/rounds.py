"""``rl-sweep --until-decided``'s rounds, as the test sees them: round k trains seeds ``seed_start + (k - 1) x N`` to
``seed_start + k x N - 1`` of every variant still in an undecided comparison, on every environment not yet decided
(each environment is its own test). After a round the test is run again, from scratch and seeded, over every
round's final evaluations, and says which variants the next round needs. :mod:`rl_sweep.sweep.rounds` runs the
rounds on Ray Tune."""

from __future__ import annotations

from collections.abc import Sequence

from rl_sweep.decision.adastop import DecisionSettings, EnvironmentDecision, decide, decision_document, sentence
from rl_sweep.files.sweep import DecisionDocument, TrialRecord, variant_of


def round_seeds(k: int, seed_start: int, settings: DecisionSettings) -> range:
    """The seeds of round ``k`` (from 1): ``seeds_per_round`` of them, after the earlier rounds'."""
    first = seed_start + (k - 1) * settings.seeds_per_round
    return range(first, first + settings.seeds_per_round)


def rewards_of(records: Sequence[TrialRecord], env: str, variants: Sequence[str]) -> dict[str, list[float]]:
    """Each variant's final evaluation rewards on ``env``, in seed order: what AdaStop compares."""
    ordered = sorted((t for t in records if t["env"] == env and t["final_reward_mean"] is not None),
                     key=lambda t: t["seed"])
    return {variant: [t["final_reward_mean"] for t in ordered if variant_of(t) == variant] for variant in variants}


def after_round(k: int, records: Sequence[TrialRecord], needed: dict[str, list[str]], variants: Sequence[str],
                settings: DecisionSettings, decisions: dict[str, EnvironmentDecision], baseline: str | None = None,
                quiet: bool = False) -> dict[str, list[str]]:
    """The test after round ``k`` on every environment of ``needed``, over every round's ``records``: updates
    ``decisions``, prints each comparison round ``k`` decided (unless ``quiet``), and returns what round ``k + 1``
    needs (each environment still undecided, with the variants its test still compares)."""
    for env in needed:
        decisions[env] = decide(env, rewards_of(records, env, variants), settings, baseline)
        document = decision_document(settings, [decisions[env]], variants, baseline)
        for comparison in document["comparisons"]:
            if comparison["round"] == k and not quiet:
                print(f"  {sentence(comparison, document)}", flush=True)
    return {env: decisions[env].needed for env in needed if decisions[env].needed}


def final_document(settings: DecisionSettings, decisions: dict[str, EnvironmentDecision], envs: Sequence[str],
                   variants: Sequence[str], baseline: str | None = None) -> DecisionDocument:
    """``summary.json``'s ``decision``: every environment's, in the sweep's order."""
    return decision_document(settings, [decisions[env] for env in envs if env in decisions], variants, baseline)
