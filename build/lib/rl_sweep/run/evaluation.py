"""Evaluation of a trained model on a separately seeded environment."""

from __future__ import annotations

from typing import TypedDict

import numpy as np
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from rl_sweep.run.environments import make_eval_env

# Evaluation episodes start from seeds no training environment of a sweep uses.
EVAL_SEED_OFFSET = 1_000_000


class Evaluation(TypedDict):
    """Deterministic-policy returns and lengths over the evaluation episodes."""

    reward_mean: float
    reward_std: float
    episode_length_mean: float
    episodes: int


def evaluate(model: OnPolicyAlgorithm, env_name: str, seed: int, episodes: int) -> Evaluation:
    """Run ``episodes`` episodes of the deterministic policy on a fresh environment (normalised as the
    model's training environment is)."""
    env = make_eval_env(env_name, seed + EVAL_SEED_OFFSET, model.get_env())
    try:
        returns, lengths = evaluate_policy(
            model, env, n_eval_episodes=episodes, deterministic=True, return_episode_rewards=True
        )
    finally:
        env.close()
    return Evaluation(
        reward_mean=float(np.mean(returns)),
        reward_std=float(np.std(returns)),
        episode_length_mean=float(np.mean(lengths)),
        episodes=episodes,
    )
