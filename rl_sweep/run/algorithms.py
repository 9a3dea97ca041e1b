"""PPO and A2C: how a model is made from a preset, and what its training loss is."""

from __future__ import annotations

from typing import Any

from stable_baselines3 import A2C, PPO
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecEnv

from rl_sweep.presets import AlgoSettings

ALGORITHM_CLASSES: dict[str, type[OnPolicyAlgorithm]] = {"ppo": PPO, "a2c": A2C}

POLICY = "MlpPolicy"


def model_kwargs(settings: AlgoSettings) -> dict[str, Any]:
    """Keyword arguments for the SB3 constructor; ``"lin_<v>"`` becomes a linear schedule from v to 0."""
    kwargs = {key: _schedule(value) for key, value in settings.hyperparameters.items()}
    if settings.policy_kwargs:
        kwargs["policy_kwargs"] = dict(settings.policy_kwargs)
    return kwargs


def _schedule(value: Any) -> Any:
    if isinstance(value, str) and value.startswith("lin_"):
        return LinearSchedule(start=float(value[4:]), end=0.0, end_fraction=1.0)
    return value


def create_model(algo: str, env: VecEnv, seed: int, settings: AlgoSettings) -> OnPolicyAlgorithm:
    """A new model with a preset's hyperparameters (the contract's by default).

    ``verbose=0``: progress goes through the pipeline's logging rather than SB3's stdout tables.
    """
    return ALGORITHM_CLASSES[algo](POLICY, env, verbose=0, seed=seed, tensorboard_log=None,
                                   **model_kwargs(settings))


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
