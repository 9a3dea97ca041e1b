"""A compact live table of a sweep's trials, in place of Tune's full console output."""

from __future__ import annotations

import math
import time
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial


def _fmt(value: Any, width: int, precision: int) -> str:
    return f"{'-':>{width}}" if value is None or math.isnan(value) else f"{value:{width}.{precision}f}"


def trial_table(trials: list[Trial]) -> str:
    """One line per started trial: name, state, step, reward, steps/s (pending ones are only counted)."""
    shown = sorted((t for t in trials if t.status != Trial.PENDING), key=str)
    width = max([16, *(len(str(t)) for t in shown)])
    lines = [f"{'trial':<{width}} {'state':<11} {'step':>17} {'reward':>9} {'steps/s':>8}"]
    for trial in shown:
        result = trial.last_result or {}
        step = f"{result.get('timesteps_total', 0)}/{trial.config.get('total_timesteps')}"
        lines.append(
            f"{str(trial):<{width}} {trial.status:<11} {step:>17} "
            f"{_fmt(result.get('episode_reward_mean'), 9, 1)} {_fmt(result.get('steps_per_second'), 8, 0)}"
        )
    return "\n".join(lines)


class LiveTable(Callback):
    """Print the trial table every ``interval`` seconds while the sweep runs, and on every trial end."""

    def __init__(self, interval: float = 15.0) -> None:
        self.interval = interval
        self._started = time.monotonic()
        self._last = 0.0

    def _print(self, trials: list[Trial]) -> None:
        counts: dict[str, int] = {}
        for trial in trials:
            counts[trial.status] = counts.get(trial.status, 0) + 1
        elapsed = int(time.monotonic() - self._started)
        header = ", ".join(f"{n} {state.lower()}" for state, n in sorted(counts.items()))
        print(f"\n[{elapsed // 60:02d}:{elapsed % 60:02d}] {header}\n{trial_table(trials)}",
              flush=True)
        self._last = time.monotonic()

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        if time.monotonic() - self._last >= self.interval:
            self._print(trials)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._print(trials)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._print(trials)
