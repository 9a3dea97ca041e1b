"""Run one ``model.learn`` call in checkpoint-sized steps under the caller's control.

Stable-Baselines3 collects whole rollouts (PPO: 2048 steps) and drops a rollout that a callback
stops early, so a run cannot be made of many short ``learn`` calls without changing what it
learns. Instead ``learn`` runs once, in a worker thread, and this callback pauses it at every
step the caller asks for. Exactly one of the two threads runs at any time, so a run is as
deterministic as a plain ``learn`` call, whatever the checkpoint interval.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Callable
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.logger import Logger
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from rl_sweep.run.rollout_state import RolloutStart, capture

StepObserver = Callable[[int, list[dict[str, Any]]], None]


class Stepper(BaseCallback):
    """Advance ``model`` to ``total_timesteps`` environment steps, exactly, in steps of the caller's choosing.

    :param model: the model to train; training continues from its ``num_timesteps``.
    :param total_timesteps: the step at which training ends.
    :param observe: called in the worker after every environment step with the step and the infos.
    :param stop: once set, the worker pauses at its next step (set it from a signal handler).
    :param rollout_start: what a resumed run was at the start of its rollout (:mod:`rl_sweep.run.rollout_state`).
    :param replay_until: the step a resumed run had reached: the steps up to it are collected again.
    """

    def __init__(self, model: OnPolicyAlgorithm, total_timesteps: int, observe: StepObserver,
                 stop: threading.Event, rollout_start: RolloutStart | None = None, replay_until: int = 0) -> None:
        super().__init__()
        # The run as its current rollout began, for checkpoints (exact resume); a resumed run re-collects the
        # steps up to ``replay_until`` without observing them or pausing, as they were made before.
        self.rollout_start = rollout_start
        self._replay_until = replay_until
        self._model = model
        self._total = total_timesteps
        self._observe = observe
        self._target = 0
        self._events: queue.Queue[tuple[str, BaseException | None]] = queue.Queue()
        self._resume: queue.Queue[bool] = queue.Queue()
        self._stop = stop
        self._thread: threading.Thread | None = None
        self.finished = False

    def advance(self, target: int) -> int:
        """Train until step ``target``, the end of training or a stop request; return the step reached."""
        self._target = target
        if self._thread is None:
            self._thread = threading.Thread(target=self._learn, name="sb3-learn", daemon=True)
            self._thread.start()
        else:
            self._resume.put(True)
        kind, error = self._events.get()
        if error is not None:
            self.finished = True
            raise error
        self.finished = kind == "finished"
        return self._model.num_timesteps

    def close(self) -> None:
        """End the worker thread; a partly collected rollout is discarded, as SB3 does."""
        if self._thread is None:
            return
        if not self.finished:
            self._resume.put(False)
            self._events.get()
            self.finished = True
        self._thread.join()

    def _learn(self) -> None:
        try:
            remaining = self._total - self._model.num_timesteps
            # SB3 would make this call a logger of its own, and an empty folder for it in the temporary folder (one
            # per run, left behind): the logger it makes, with no outputs and no folder.
            self._model.set_logger(Logger(folder=None, output_formats=[]))
            self._model.learn(remaining, callback=self, reset_num_timesteps=False)
        except BaseException as exc:  # handed to the caller's thread, which re-raises it
            self._events.put(("error", exc))
        else:
            start = self.rollout_start
            if start is not None and self._model.num_timesteps - start["step"] == \
                    self._model.n_steps * self._model.n_envs:
                self.rollout_start = capture(self._model)  # the last rollout was trained: the next starts here
            self._events.put(("finished", None))

    def _on_rollout_start(self) -> None:
        self.rollout_start = capture(self._model)

    def _on_step(self) -> bool:
        step = self.num_timesteps
        if step <= self._replay_until:
            return True
        self._observe(step, self.locals["infos"])
        if step >= self._total:
            # Stop at exactly the last step; a rollout that completes there is still trained on.
            return self.locals["n_steps"] + 1 == self.locals["n_rollout_steps"]
        if step >= self._target or self._stop.is_set():
            self._events.put(("paused", None))
            return self._resume.get()
        return True
