"""The contract's PPO and A2C settings, and how a model is made from them."""

from __future__ import annotations

from typing import Any

from stable_baselines3 import A2C, PPO
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecEnv

ALGORITHM_CLASSES: dict[str, type[OnPolicyAlgorithm]] = {"ppo": PPO, "a2c": A2C}

HYPERPARAMETERS: dict[str, dict[str, Any]] = {
    "ppo": {
        "learning_rate": 0.0003,
        "n_steps": 2048,
        "batch_size": 64,
        "n_epochs": 10,
        "gamma": 0.99,
        "gae_lambda": 0.95,
    },
    "a2c": {
        "learning_rate": 0.0007,
        "n_steps": 5,
        "gamma": 0.99,
        "gae_lambda": 1.0,
    },
}

POLICY = "MlpPolicy"


def create_model(algo: str, env: VecEnv, seed: int) -> OnPolicyAlgorithm:
    """A new model with the contract's hyperparameters.

    ``verbose=0``: progress goes through the pipeline's logging rather than SB3's stdout tables.
    """
    return ALGORITHM_CLASSES[algo](
        POLICY, env, verbose=0, seed=seed, tensorboard_log=None, **HYPERPARAMETERS[algo]
    )


def training_loss(algo: str, model: OnPolicyAlgorithm) -> float | None:
    """The loss of the latest gradient update, or None before the first one.

    PPO logs its total loss; A2C logs only the parts, so its total is rebuilt with its own weights.
    """
    logged = model.logger.name_to_value
    if algo == "ppo":
        return logged.get("train/loss")
    if "train/policy_loss" not in logged:
        return None
    return (
        logged["train/policy_loss"]
        + model.ent_coef * logged["train/entropy_loss"]
        + model.vf_coef * logged["train/value_loss"]
    )
