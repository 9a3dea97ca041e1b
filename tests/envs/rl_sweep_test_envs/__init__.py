"""A user's own environments, as a package of theirs would register them: used through Gymnasium's
``module:id`` form (``--env rl_sweep_test_envs:Corridor-v0``), with this folder on PYTHONPATH or shipped
to a cluster with ``--py-modules``."""

from __future__ import annotations

import os
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium import spaces


class Corridor(gym.Env):
    """Walk right along a corridor of ``length`` cells: -0.1 a step, +1 at the far end."""

    def __init__(self, length: int = 8) -> None:
        self.length = length
        self.observation_space = spaces.Box(0.0, 1.0, shape=(1,), dtype=np.float32)
        self.action_space = spaces.Discrete(2)
        self.position = 0

    def _observation(self) -> np.ndarray:
        return np.array([self.position / self.length], dtype=np.float32)

    def reset(self, *, seed: int | None = None, options: dict[str, Any] | None = None):
        super().reset(seed=seed)
        self.position = int(self.np_random.integers(0, self.length // 2))
        return self._observation(), {}

    def step(self, action: int):
        self.position = max(0, self.position + (1 if action == 1 else -1))
        reached = self.position >= self.length
        return self._observation(), 1.0 if reached else -0.1, reached, False, {}


class Treadmill(Corridor):
    """A corridor that never ends: no step terminates, and it is registered without a time limit."""

    def step(self, action: int):
        observation, reward, _, truncated, info = super().step(action)
        self.position %= self.length
        return observation, reward, False, truncated, info


class Fragile(Corridor):
    """A corridor whose 101st step fails, once: in the first process to take the token, the file that the
    environment variable RL_SWEEP_TEST_FAIL_ONCE names (a trial that fails, then succeeds when run again)."""

    steps = 0

    def step(self, action: int):
        self.steps += 1
        token = os.environ.get("RL_SWEEP_TEST_FAIL_ONCE")
        if token and self.steps > 100:
            try:
                os.remove(token)
            except FileNotFoundError:
                pass
            else:
                raise RuntimeError("the failure RL_SWEEP_TEST_FAIL_ONCE asked for")
        return super().step(action)


gym.register("Corridor-v0", entry_point=Corridor, max_episode_steps=50, reward_threshold=0.0)
gym.register("Treadmill-v0", entry_point=Treadmill)
gym.register("Fragile-v0", entry_point=Fragile, max_episode_steps=50)
