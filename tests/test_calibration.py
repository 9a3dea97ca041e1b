"""The decision holds its stated level: null comparisons (every algorithm's rewards from one distribution) through
rl_sweep.decision.decide, the one entry point of every decision, each false decision counted. A rate is bounded at
alpha plus 3 binomial standard errors. adastop 0.1.3 given alpha itself decides at about twice alpha
(docs/adastop.md): 0.097 where these allow 0.071. The whole table, with the verdict's sentences and the intervals'
coverage: benchmarks/calibration.py."""

import math

import numpy as np
import pytest

from rl_sweep.decision import DecisionSettings, decide


def normal(rng: np.random.Generator, size: int) -> np.ndarray:
    return rng.normal(0.0, 1.0, size)


def bimodal(rng: np.random.Generator, size: int) -> np.ndarray:
    """RL-like final returns: 70% of seeds near 250, 30% failing near -100."""
    return np.where(rng.random(size) < 0.3, rng.normal(-100.0, 50.0, size), rng.normal(250.0, 25.0, size))


@pytest.mark.parametrize("scores, n, rounds, algos, comparisons, baseline", [
    (normal, 5, 1, 2, 1000, None),
    (bimodal, 5, 1, 2, 600, None),
    (normal, 5, 1, 3, 200, None),
    (bimodal, 5, 4, 2, 150, None),
    (normal, 5, 1, 4, 200, "a3"),  # four variants, each against a baseline (--baseline): 3 comparisons
])
def test_the_decision_calls_equal_algorithms_different_at_most_alpha_of_the_time(scores, n, rounds, algos,
                                                                                 comparisons, baseline):
    settings = DecisionSettings(seeds_per_round=n, max_rounds=rounds)
    rng = np.random.default_rng(2026)
    false = 0
    for _ in range(comparisons):
        rewards = {f"a{i}": scores(rng, n * rounds).tolist() for i in range(algos)}
        false += any(c.decision != "equal" for c in decide("env", rewards, settings, baseline).comparisons)
    bound = settings.alpha + 3 * math.sqrt(settings.alpha * (1 - settings.alpha) / comparisons)
    assert false / comparisons <= bound, f"{false} false decisions in {comparisons}: {false / comparisons:.3f}"


def test_the_decision_still_finds_a_real_difference():
    """Half the level must not mean no power: two standard deviations apart, 5 seeds each, one round."""
    rng = np.random.default_rng(7)
    found = sum(decide("env", {"a": (normal(rng, 5) + 2).tolist(), "b": normal(rng, 5).tolist()},
                       DecisionSettings(seeds_per_round=5, max_rounds=1)).comparisons[0].decision == "larger"
                for _ in range(200))
    assert found / 200 >= 0.7
