"""Evaluation of a trained model on a separately seeded environment, and of a uniform random policy under
the same protocol (the report's zero for normalised scores)."""

from __future__ import annotations

import threading
from typing import Any, TypedDict

import gymnasium as gym
import numpy as np
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from rl_sweep.errors import Interrupted
from rl_sweep.run.environments import EVAL_TIME_LIMIT, has_time_limit, make_eval_env

# Evaluation episodes start from seeds no training environment of a sweep uses.
EVAL_SEED_OFFSET = 1_000_000


class Evaluation(TypedDict):
    """Deterministic-policy returns and lengths over the evaluation episodes."""

    reward_mean: float
    reward_std: float
    episode_length_mean: float
    episodes: int
    # Episodes cut at EVAL_TIME_LIMIT steps because the environment has no time limit of its own.
    cut_at_time_limit: int


class UniformRandom:
    """A policy that samples every action uniformly from the action space, seeded: what SB3's
    ``evaluate_policy`` takes in place of a model."""

    def __init__(self, action_space: gym.Space, seed: int) -> None:
        self.action_space = action_space
        self.action_space.seed(seed)

    def predict(self, observation: Any, state: Any = None, episode_start: Any = None,
                deterministic: bool = False) -> tuple[np.ndarray, None]:
        # One action per environment: evaluate_policy passes a flag per environment in episode_start (a dict
        # observation's length is its number of keys).
        count = len(episode_start) if episode_start is not None else len(observation)
        return np.array([self.action_space.sample() for _ in range(count)]), None


def evaluate(model: OnPolicyAlgorithm, env_name: str, seed: int, episodes: int,
             env_kwargs: dict[str, Any] | None = None, stop: threading.Event | None = None) -> Evaluation:
    """Run ``episodes`` episodes of the deterministic policy on a fresh environment (normalised as the
    model's training environment is). Raises :class:`Interrupted` as soon as ``stop`` is set."""
    return _evaluate(model, env_name, seed, episodes, env_kwargs, stop, model.get_env())


def evaluate_random(env_name: str, seed: int, episodes: int, env_kwargs: dict[str, Any] | None = None) -> Evaluation:
    """A uniform random policy under the evaluation's protocol: the same environment, seeds and episodes as
    :func:`evaluate` gives the run of ``seed``."""
    return _evaluate(None, env_name, seed, episodes, env_kwargs, None, None)


def evaluation_env(env_name: str, seed: int, training_env: Any, env_kwargs: dict[str, Any] | None = None) -> Any:
    """The environment the run of ``seed`` is evaluated on (a replay plays its first episode): seeded apart from
    every training environment, normalised as ``training_env`` is."""
    return make_eval_env(env_name, seed + EVAL_SEED_OFFSET, training_env, env_kwargs)


def _evaluate(model: OnPolicyAlgorithm | None, env_name: str, seed: int, episodes: int,
              env_kwargs: dict[str, Any] | None, stop: threading.Event | None, training_env: Any) -> Evaluation:
    env = evaluation_env(env_name, seed, training_env, env_kwargs)
    policy = model if model is not None else UniformRandom(env.action_space, seed + EVAL_SEED_OFFSET)

    def check_stop(_locals: dict[str, Any], _globals: dict[str, Any]) -> None:
        if stop is not None and stop.is_set():
            raise Interrupted("evaluation")

    try:
        returns, lengths = evaluate_policy(
            policy, env, n_eval_episodes=episodes, deterministic=True, return_episode_rewards=True,
            callback=check_stop,
        )
    finally:
        env.close()
    return Evaluation(
        reward_mean=float(np.mean(returns)),
        reward_std=float(np.std(returns)),
        episode_length_mean=float(np.mean(lengths)),
        episodes=episodes,
        cut_at_time_limit=0 if has_time_limit(env_name, env_kwargs)
        else sum(1 for length in lengths if length >= EVAL_TIME_LIMIT),
    )
