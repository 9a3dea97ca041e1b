"""PPO and A2C: how a model is made from a preset, and what its training loss is."""

from __future__ import annotations

import collections.abc
import inspect
import types
import typing
from typing import Any

from stable_baselines3 import A2C, PPO
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.utils import LinearSchedule
from stable_baselines3.common.vec_env import VecEnv

from rl_sweep.errors import ConfigError
from rl_sweep.presets import AlgoSettings

ALGORITHM_CLASSES: dict[str, type[OnPolicyAlgorithm]] = {"ppo": PPO, "a2c": A2C}

POLICY = "MlpPolicy"

# Constructor arguments the pipeline sets itself, which a preset may not.
RESERVED = frozenset({"self", "policy", "env", "seed", "verbose", "tensorboard_log", "device", "_init_setup_model",
                      "policy_kwargs"})
_TYPE_NAMES = {bool: "true or false", int: "an integer", float: "a number", type(None): "null",
               dict: "a mapping", collections.abc.Callable: "lin_<number>"}


def check_settings(algo: str, settings: AlgoSettings, source: str) -> None:
    """Fail before anything is written, with a ConfigError naming ``source`` (the preset), ``algo`` and the key,
    for a hyperparameter the SB3 constructor does not take or a value of a type it does not accept."""
    cls = ALGORITHM_CLASSES[algo]
    parameters = inspect.signature(cls.__init__).parameters
    for key, value in settings.hyperparameters.items():
        where = f"{source}: {algo} hyperparameter {key}"
        if key not in parameters or key in RESERVED:
            raise ConfigError(f"{where} is not an argument of {cls.__name__} "
                              "(see the SB3 documentation of its constructor)")
        try:
            value = _schedule(value)
        except ValueError:
            raise ConfigError(f"{where}: {value!r} is not lin_<number>") from None
        annotation = parameters[key].annotation
        if not _accepts(annotation, value):
            raise ConfigError(f"{where}: {value!r} is not {' or '.join(_names(annotation))}")


def _alternatives(annotation: Any) -> list[Any]:
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        return [alternative for arg in typing.get_args(annotation) for alternative in _alternatives(arg)]
    return [typing.get_origin(annotation) or annotation]


def _accepts(annotation: Any, value: Any) -> bool:
    for kind in _alternatives(annotation):
        if kind is inspect.Parameter.empty or kind is Any:
            return True
        if kind is bool:
            ok = isinstance(value, bool)
        elif kind is float:
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        elif kind in (int, dict, str, type(None)):
            ok = isinstance(value, kind) and not (kind is int and isinstance(value, bool))
        elif kind is collections.abc.Callable:
            ok = callable(value)
        else:  # a class (buffer classes, devices): nothing a YAML preset can name
            ok = False
        if ok:
            return True
    return False


def _names(annotation: Any) -> list[str]:
    return [_TYPE_NAMES.get(kind, getattr(kind, "__name__", str(kind))) for kind in _alternatives(annotation)]


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


def create_model(algo: str, env: VecEnv, seed: int | None, settings: AlgoSettings) -> OnPolicyAlgorithm:
    """A new model with a preset's hyperparameters (the contract's by default).

    ``verbose=0``: progress goes through the pipeline's logging rather than SB3's stdout tables.
    """
    return ALGORITHM_CLASSES[algo](POLICY, env, verbose=0, seed=seed, tensorboard_log=None,
                                   **model_kwargs(settings))


def training_loss(algo: str, model: OnPolicyAlgorithm) -> float | None:
    """The loss of the latest gradient update, or None before the first one.

    PPO logs its total loss; A2C logs only the parts, so its total is rebuilt with its own weights.
    """
    if getattr(model, "_logger", None) is None:  # SB3 makes its logger when learning starts
        return None
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
