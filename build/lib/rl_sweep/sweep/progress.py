"""A compact live table of a sweep's trials, in place of Tune's full console output."""

from __future__ import annotations

import time
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from rl_sweep.sweep.options import METRIC
from rl_sweep.text import number


def trial_table(trials: list[Trial]) -> str:
    """One line per started trial: name, state, step, reward, steps/s (pending ones are only counted)."""
    shown = sorted((t for t in trials if t.status != Trial.PENDING), key=str)
    width = max([16, *(len(str(t)) for t in shown)])
    lines = [f"{'trial':<{width}} {'state':<11} {'step':>17} {'reward':>9} {'steps/s':>8}"]
    for trial in shown:
        result = trial.last_result or {}
        step = f"{result.get('timesteps_total', 0)}/{trial.config['run']['total_timesteps']}"
        lines.append(
            f"{str(trial):<{width}} {trial.status:<11} {step:>17} "
            f"{number(result.get(METRIC), 1, '-', 9)} {number(result.get('steps_per_second'), 0, '-', 8)}"
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
