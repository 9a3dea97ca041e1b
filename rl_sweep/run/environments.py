"""Gymnasium environments as the pipeline uses them: monitored, vectorised, seeded, normalised when a
preset asks."""

from __future__ import annotations

import importlib
import logging
import re
import warnings
from pathlib import Path
from typing import Any

import gymnasium as gym

import numpy as np
from stable_baselines3.common.monitor import Monitor
from stable_baselines3.common.running_mean_std import RunningMeanStd
from stable_baselines3.common.vec_env import DummyVecEnv, VecEnv, VecNormalize, sync_envs_normalization

from rl_sweep.errors import EnvCreationError
from rl_sweep.identity import split_env_id
from rl_sweep.presets import AlgoSettings

log = logging.getLogger(__name__)

# An evaluation episode of an environment without a time limit of its own ends here.
EVAL_TIME_LIMIT = 10_000


def make_env(env_name: str, seed: int, n_envs: int = 1, env_kwargs: dict[str, Any] | None = None,
             time_limit: int | None = None) -> VecEnv:
    """``n_envs`` monitored ``env_name`` (made with ``env_kwargs``) in one DummyVecEnv; environment i first
    resets with ``seed + i``. ``time_limit``: the episode length at which an environment without a time
    limit of its own is cut.

    Raises :class:`EnvCreationError` for an unknown id, a missing dependency (Box2D), an argument the
    environment does not take or a value it refuses.
    """
    env_kwargs = dict(env_kwargs or {})
    if time_limit is not None and not has_time_limit(env_name, env_kwargs):
        env_kwargs["max_episode_steps"] = time_limit
    failure: Exception | None = None
    with warnings.catch_warnings(record=True) as caught:
        try:
            gym_envs = [gym.make(env_name, **env_kwargs) for _ in range(n_envs)]
        except Exception as exc:  # gymnasium raises NameNotFound, DependencyNotInstalled, ImportError, TypeError...
            failure = exc
    said = gymnasium_warnings(caught)
    if failure is not None:
        for text in said:  # an id out of date, say: the error says what to use instead
            log.debug("while creating %s: %s", env_name, text)
        arguments = f" with {format_kwargs(env_kwargs)}" if env_kwargs else ""
        raise EnvCreationError(f"cannot create environment {env_name!r}{arguments}: "
                               f"{type(failure).__name__}: {failure}") from failure
    for text in said:
        if text not in _warned:
            _warned.add(text)
            log.warning("%s: %s", env_name, text)
    # ReplayableEnv remembers each episode's reset and actions, so that a resumed run can rebuild it.
    vec_env = DummyVecEnv([lambda e=e: Monitor(ReplayableEnv(e)) for e in gym_envs])
    vec_env.seed(seed)
    return vec_env


_warned: set[str] = set()  # what make_env has warned of in this process: once is enough
GYMNASIUM = Path(gym.__file__).parent


def gymnasium_warnings(caught: list[warnings.WarningMessage]) -> list[str]:
    """What Gymnasium warned of among ``caught``, each once, as one plain line (without its colour codes and
    ``WARN:``). The others (a module it imported, say) go back to Python's warnings, to be shown or not as they
    would have been."""
    texts = []
    for warning in caught:
        if Path(warning.filename).is_relative_to(GYMNASIUM):
            text = " ".join(re.sub(r"\x1b\[[0-9;]*m", "", str(warning.message)).split())
            texts.append(text.removeprefix("WARN: "))
        else:
            warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
    return list(dict.fromkeys(texts))


def has_time_limit(env_name: str, env_kwargs: dict[str, Any] | None = None) -> bool:
    """Whether episodes of ``env_name`` end at a time limit: its registration's, or ``max_episode_steps``
    given as an argument."""
    if (env_kwargs or {}).get("max_episode_steps") is not None:
        return True
    module, env_id = split_env_id(env_name)
    try:
        if module:
            importlib.import_module(module)
        return gym.spec(env_id).max_episode_steps is not None
    except Exception:  # an id gym.make refuses too; make_env says why
        return False


def format_kwargs(env_kwargs: dict[str, Any]) -> str:
    """``continuous=True gravity=-9.8``: environment arguments as the command line gives them."""
    return " ".join(f"{key}={value}" for key, value in env_kwargs.items())


def make_training_env(env_name: str, seed: int, settings: AlgoSettings,
                      env_kwargs: dict[str, Any] | None = None) -> VecEnv:
    """The environments a run trains on: ``settings.n_envs`` of them, in a ``VecNormalize`` when the preset
    normalises (returns discounted with the algorithm's gamma, 0.99 unless set, as in SB3)."""
    env = make_env(env_name, seed, settings.n_envs, env_kwargs)
    if settings.normalize:
        env = VecNormalize(env, gamma=settings.hyperparameters.get("gamma", 0.99))
    return env


def make_eval_env(env_name: str, seed: int, training_env: VecEnv | None,
                  env_kwargs: dict[str, Any] | None = None) -> VecEnv:
    """One environment to evaluate on, its episodes cut at ``EVAL_TIME_LIMIT`` steps when it has no time
    limit; normalised with ``training_env``'s frozen statistics when that is a ``VecNormalize``, rewards
    left raw."""
    env = make_env(env_name, seed, env_kwargs=env_kwargs, time_limit=EVAL_TIME_LIMIT)
    if isinstance(training_env, VecNormalize):
        env = VecNormalize(env, training=False, norm_reward=False)
        sync_envs_normalization(training_env, env)
    return env


def describe_space(space: gym.Space) -> str:
    """``Box(8,)`` or ``Discrete(4)``, as the results JSON shows spaces."""
    if isinstance(space, gym.spaces.Discrete):
        return f"Discrete({space.n})"
    if isinstance(space, gym.spaces.Box):
        return f"Box{space.shape}"
    return str(space)


def reward_threshold(env: VecEnv) -> float | None:
    """The environment spec's reward threshold (200 for LunarLander-v3), if it has one."""
    env = env.unwrapped
    spec = env.envs[0].unwrapped.spec if isinstance(env, DummyVecEnv) else None
    return None if spec is None else spec.reward_threshold


def rms_to_dict(rms: RunningMeanStd) -> dict[str, Any]:
    """VecNormalize's running mean and variance as JSON (exact: floats written by repr read back the same)."""
    return {"mean": rms.mean.tolist(), "var": rms.var.tolist(), "count": rms.count}


def rms_from_dict(values: dict[str, Any]) -> RunningMeanStd:
    """The inverse of :func:`rms_to_dict`."""
    rms = RunningMeanStd(shape=np.shape(values["mean"]))
    rms.mean = np.asarray(values["mean"], dtype=np.float64)
    rms.var = np.asarray(values["var"], dtype=np.float64)
    rms.count = values["count"]
    return rms


class ReplayableEnv(gym.Wrapper):
    """An environment that remembers how to rebuild its episode: how it was reset (a seed, or its generator's
    state before the reset) and the actions taken since, with their NumPy dtype (see :mod:`rl_sweep.run.rollout_state`):
    a continuous action replayed as float64 where it was float32 would move the environment elsewhere."""

    def __init__(self, env: gym.Env) -> None:
        super().__init__(env)
        self.reset_with: dict[str, Any] = {}
        self.actions: list[Any] = []
        self.action_dtype: str | None = None  # of array actions (continuous ones); None for plain integers

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        rng = None if seed is not None else self.env.unwrapped.np_random.bit_generator.state
        self.reset_with = {"seed": seed, "rng": rng, "options": options}
        self.actions = []  # a new list: a snapshot keeps the previous episode's
        return self.env.reset(seed=seed, options=options)

    def step(self, action: Any):
        if isinstance(action, (np.ndarray, np.generic)):
            self.action_dtype = str(action.dtype)
            self.actions.append(action.tolist())
        else:
            self.actions.append(action)
        return self.env.step(action)

    def episode(self) -> dict[str, Any]:
        """This episode so far, without copying: its actions list is only ever appended to, so the first
        ``count`` of them are the ones taken so far."""
        return {"reset": self.reset_with, "actions": self.actions, "count": len(self.actions),
                "dtype": self.action_dtype}
