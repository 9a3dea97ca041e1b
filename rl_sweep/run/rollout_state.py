"""Exact resume: what a run was when its current rollout began, kept in every checkpoint, so that a resumed
run collects that rollout again step for step and goes on bit for bit as if it had never stopped.

SB3 changes the policy only between rollouts, so a checkpoint taken at step N, inside the rollout that began
at step R, holds the weights and optimizer the run had at R. What SB3's ``save`` leaves out is the rest of
the state at R: the random number generators (Python's, NumPy's, torch's), every environment's state,
VecNormalize's running statistics and returns, and the observations the rollout starts from. A Box2D world
cannot be saved, but an environment reset from the same generator state and given the same actions reaches
the same state again: each environment is kept as how its episode was reset and the actions since.

torch's generator is drawn from while a rollout is collected (to sample actions), so it is read as the
rollout starts. NumPy's and Python's global generators are not (each environment has a generator of its
own; SB3 draws from NumPy's only when it trains, to shuffle minibatches), so they are read when the
checkpoint is written, which keeps the hook that runs at every rollout cheap.
"""

from __future__ import annotations

import base64
import random
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm
from stable_baselines3.common.vec_env import VecNormalize

from rl_sweep.run.environments import ReplayableEnv, rms_from_dict, rms_to_dict

RolloutStart = dict[str, Any]  # JSON-ready; see capture()


def _replayable(env: gym.Env) -> ReplayableEnv:
    while not isinstance(env, ReplayableEnv):
        env = env.env
    return env


def capture(model: OnPolicyAlgorithm) -> RolloutStart:
    """The run's state as its rollout begins (called from the rollout-start hook). Episodes are kept by
    reference and only made into JSON when a checkpoint is saved (:func:`to_json`)."""
    env = model.get_env()
    start: RolloutStart = {
        "step": model.num_timesteps,
        "n_updates": model._n_updates,
        "episode_num": model._episode_num,
        "torch_rng": torch.get_rng_state(),
        "last_obs": np.copy(model._last_obs),
        "last_obs_dtype": str(model._last_obs.dtype),
        "last_episode_starts": np.copy(model._last_episode_starts),
        "episodes": [_replayable(e).episode() for e in env.unwrapped.envs],
        "normalization": None,
    }
    if isinstance(env, VecNormalize):
        start["normalization"] = {
            "obs_rms": rms_to_dict(env.obs_rms), "ret_rms": rms_to_dict(env.ret_rms), "returns": env.returns.tolist(),
        }
    return start


def to_json(start: RolloutStart) -> dict[str, Any]:
    """A captured rollout start as plain JSON (exact: floats written by repr read back the same), with NumPy's
    and Python's generators as they are now, which is as they were when the rollout started. One read from a
    checkpoint (a run that only finalises) is JSON already, and is kept as it is."""
    if isinstance(start["torch_rng"], str):
        return start
    version, internal, gauss = random.getstate()
    kind, keys, position, has_gauss, cached = np.random.get_state()
    return {
        **start,
        "python_rng": [version, list(internal), gauss],
        "numpy_rng": [kind, keys.tolist(), position, has_gauss, cached],
        "torch_rng": base64.b64encode(start["torch_rng"].numpy().tobytes()).decode(),
        "last_obs": start["last_obs"].tolist(),
        "last_episode_starts": start["last_episode_starts"].tolist(),
        "episodes": [{"reset": e["reset"], "actions": e["actions"][:e["count"]], "dtype": e["dtype"]}
                     for e in start["episodes"]],
    }


def restore(model: OnPolicyAlgorithm, start: dict[str, Any]) -> None:
    """Put a freshly loaded model and its new environments back where the run was when its rollout began:
    replay every environment's episode, then restore VecNormalize's state, SB3's counters and the random
    number generators (last: replaying and loading use them)."""
    env = model.get_env()
    for sub_env, episode in zip(env.unwrapped.envs, start["episodes"], strict=True):
        how = episode["reset"]
        if how["seed"] is None:
            sub_env.unwrapped.np_random.bit_generator.state = how["rng"]
        sub_env.reset(seed=how["seed"], options=how["options"])
        dtype = episode.get("dtype")  # absent in checkpoints written before it was kept
        for action in episode["actions"]:
            sub_env.step(np.asarray(action, dtype=dtype) if isinstance(action, list) else action)
    if start["normalization"] is not None:
        statistics = start["normalization"]
        env.obs_rms, env.ret_rms = rms_from_dict(statistics["obs_rms"]), rms_from_dict(statistics["ret_rms"])
        env.returns = np.asarray(statistics["returns"], dtype=env.returns.dtype)
    model.num_timesteps = start["step"]
    model._n_updates = start["n_updates"]
    model._episode_num = start["episode_num"]
    model._last_obs = np.asarray(start["last_obs"], dtype=start["last_obs_dtype"])
    model._last_episode_starts = np.asarray(start["last_episode_starts"], dtype=bool)
    version, internal, gauss = start["python_rng"]
    random.setstate((version, tuple(internal), gauss))
    kind, keys, position, has_gauss, cached = start["numpy_rng"]
    np.random.set_state((kind, np.asarray(keys, dtype=np.uint32), position, has_gauss, cached))
    torch.set_rng_state(torch.from_numpy(np.frombuffer(base64.b64decode(start["torch_rng"]), dtype=np.uint8).copy()))

