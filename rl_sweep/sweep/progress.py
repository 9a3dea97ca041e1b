"""The console while a sweep runs: one display of the sweep's progress, in place of Tune's own output.

On a terminal it is one Rich display redrawn in place, at most one screen tall whatever the number of trials:
the environment steps of all trials done out of their total, as a bar and a percentage with the elapsed time and
an ETA from the measured rate; how many trials are pending, running, completed and failed; and a row per running
trial (its bar, step, recent training return, steps/s). Off a terminal (a pipe, CI, ``ray job submit``) it prints
plain lines with no escape codes, each one message: a trial's end, or the progress with the percentage and the ETA
(every 30 seconds, after each trial's end, and once at the sweep's end). An interrupted sweep's last frame or line
says so, and counts the trials it stopped as interrupted, their steps as they were.

The display is a Tune callback, and Tune pickles its callbacks with the experiment's state (a ``--resume`` gets
the stored one back): everything that holds a terminal is made in :meth:`SweepProgress.setup`, and left out of
the pickle.
"""

from __future__ import annotations

import atexit
import sys
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ray.tune import Callback
from ray.tune.experiment import Trial

from rl_sweep.files import names
from rl_sweep.files.status import COMPLETED, FAILED, INCOMPLETE, INTERRUPTED, NOT_NEEDED
from rl_sweep.sweep import result_keys as keys
from rl_sweep.sweep import signals
from rl_sweep.sweep.records import trial_status
from rl_sweep.text import duration, number

PENDING, RUNNING = "pending", "running"
STATES = {Trial.PENDING: PENDING, Trial.PAUSED: PENDING, Trial.RUNNING: RUNNING,
          Trial.TERMINATED: COMPLETED, Trial.ERROR: FAILED}  # Tune's trial states, as the display counts them
COUNTED = (PENDING, RUNNING, COMPLETED, FAILED)
FINISHED = (COMPLETED, FAILED, NOT_NEEDED)
STOPPED = "stopped unfinished"  # Tune's run ended with trials unfinished though no interrupt signal arrived
# INTERRUPTED: a trial Tune stopped unfinished, the sweep interrupted; NOT_NEEDED: a speculative trial the decision
# made unnecessary, stopped (rl_sweep.sweep.speculation adds its Tune id here). Each counted where there are any.
NOT_NEEDED_IDS: set[str] = set()
TRAINING_RETURN = "training return"  # the stochastic policy's recent episodes; the summary gives evaluation returns


@dataclass(frozen=True)
class TrialRow:
    """What the display shows of one trial."""

    name: str
    state: str  # one of COUNTED
    step: int  # the steps it has trained
    total: int
    reward: float | None  # the training return of its recent episodes (stochastic policy)
    speed: float | None  # steps per second

    @classmethod
    def of(cls, trial: Trial, state: str | None = None) -> TrialRow:
        """``state``: the trial's, where Tune has not set it yet (in the callback of its end). Tune marks the
        trials it stops on an interruption terminated, like finished ones: their last result tells them apart."""
        result = trial.last_result or {}
        state = state or STATES.get(trial.status, PENDING)
        if trial.trial_id in NOT_NEEDED_IDS and state != FAILED:
            state = NOT_NEEDED
        elif state == COMPLETED and trial_status(result, failed=False) == INCOMPLETE:
            state = INTERRUPTED
        return cls(str(trial), state, int(result.get(keys.TIMESTEPS) or 0), int(trial.config["run"]["total_timesteps"]),
                   result.get(keys.METRIC), result.get(keys.STEPS_PER_SECOND))

    @property
    def accounted(self) -> int:
        """Its steps toward the sweep's total: a finished trial's whole budget (a failed one takes no more)."""
        return self.total if self.state in FINISHED else self.step


class Rate:
    """Environment steps per second over the last ``window`` seconds, from the steps trained (so a trial that
    fails, or a restored one that has not trained yet, does not count as progress), once ``settle`` seconds have
    passed since the first steps were seen."""

    def __init__(self, window: float = 120.0, settle: float = 10.0) -> None:
        self.window, self.settle = window, settle
        self._samples: deque[tuple[float, int]] = deque()  # (time, steps trained since first seen)
        self._first: dict[str, int] = {}  # each trial's steps when first seen: a restored trial's are not new

    def add(self, now: float, rows: list[TrialRow]) -> None:
        new = sum(row.step - self._first.setdefault(row.name, row.step) for row in rows)
        if not self._samples or new != self._samples[-1][1]:
            self._samples.append((now, new))
        while len(self._samples) > 2 and now - self._samples[1][0] > self.window:
            self._samples.popleft()

    def per_second(self, now: float) -> float | None:
        if len(self._samples) < 2:
            return None
        (since, first), (_, last) = self._samples[0], self._samples[-1]
        if now - since < self.settle or last <= first:
            return None
        return (last - first) / (now - since)


@dataclass(frozen=True)
class Snapshot:
    """The sweep at one moment: every trial's row, the time since the display started and the ETA; ``ended``: at
    the end of Tune's run, where a trial not finished means the sweep was interrupted."""

    rows: list[TrialRow]
    elapsed: float
    eta: float | None  # seconds; None until a rate is measured
    ended: bool = False
    signalled: bool = False  # an interrupt signal reached the sweep (rl_sweep.sweep.signals)

    @property
    def done(self) -> int:
        return sum(row.accounted for row in self.rows)

    @property
    def total(self) -> int:
        return sum(row.total for row in self.rows)

    @property
    def fraction(self) -> float:
        return self.done / self.total if self.total else 1.0

    @property
    def unfinished(self) -> bool:
        return self.ended and any(row.state not in FINISHED for row in self.rows)

    @property
    def interrupted(self) -> bool:
        """Tune's run ended on an interrupt signal, with trials unfinished."""
        return self.unfinished and self.signalled

    def count(self, state: str) -> int:
        return sum(row.state == state for row in self.rows)

    def counts(self) -> str:
        """``trials: 1 pending, 2 running, 0 completed, 0 failed`` (and how many were interrupted, if any)."""
        states = [*COUNTED, *(state for state in (INTERRUPTED, NOT_NEEDED) if self.count(state))]
        named = {INTERRUPTED: INTERRUPTED if self.signalled or not self.ended else "unfinished"}
        return "trials: " + ", ".join(f"{self.count(state)} {named.get(state, state)}" for state in states)

    def outlook(self) -> str:
        """``ETA 1:05``, ``interrupted``, or ``stopped unfinished`` (no interrupt signal arrived: a failure)."""
        return INTERRUPTED if self.interrupted else STOPPED if self.unfinished else f"ETA {duration(self.eta)}"

    def progress(self) -> str:
        """Percentage, steps, ETA (or that the sweep was interrupted) and the trials' states."""
        return f"{100 * self.fraction:3.0f}% of {self.total:,} steps, {self.outlook()}; {self.counts()}"

    def line(self) -> str:
        """The plain line: the elapsed time and the progress."""
        return f"[{duration(self.elapsed)}] {self.progress()}"


def trial_end_line(trial: Trial, state: str) -> str:
    """One line when a trial ends (``state``: completed or failed): its evaluation return (greedy policy), or that
    it failed."""
    result = trial.last_result or {}
    steps = result.get(keys.TIMESTEPS, 0)
    if state == FAILED:
        return f"{trial} failed at step {steps:,} (its error is in {names.SUMMARY})"
    if trial.trial_id in NOT_NEEDED_IDS:
        return f"{trial} not needed: the decision came first (stopped at step {steps:,}, set aside)"
    if result.get(keys.FINAL_REWARD_MEAN) is None:  # a search trial stopped early by ASHA: never evaluated
        return f"{trial} stopped at step {steps:,}"
    return (f"{trial} completed: {steps:,} steps, evaluation return {number(result.get(keys.FINAL_REWARD_MEAN))} "
            f"± {number(result.get(keys.FINAL_REWARD_STD))} (greedy policy)")


class SweepProgress(Callback):
    """The sweep's live display (see the module's docstring).

    :param title: what the display's first line calls the sweep (its name, a round).
    :param interval: seconds between plain lines off a terminal.
    :param terminal: force the terminal (True) or plain (False) rendering; None: a terminal when stdout is an
        interactive one (not ``TERM=dumb``).
    :param clock: seconds, monotonic (tests give their own).
    :param waiting: the trials a searcher has planned but not yet given Tune, each as its name and steps
        (--until-decided's current round): counted as pending, so that the steps' total and the ETA include them.
    """

    REDRAW = 0.5  # seconds between redraws on a terminal

    def __init__(self, title: str = "", interval: float = 30.0, terminal: bool | None = None,
                 clock: Callable[[], float] = time.monotonic,
                 waiting: Callable[[], list[tuple[str, int]]] | None = None) -> None:
        self.title, self.interval, self.terminal, self.clock, self.waiting = title, interval, terminal, clock, waiting
        self._live: Any = None  # rich.live.Live, on a terminal
        self._rate = Rate()
        self._started = self._last_line = self._last_draw = 0.0
        self._last_progress: str | None = None  # the last plain line's progress (Snapshot.progress)

    def __getstate__(self) -> dict[str, Any]:
        return {"title": self.title, "interval": self.interval, "terminal": self.terminal, "waiting": self.waiting}

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Stored by an earlier version, perhaps: only what it shares with this one.
        self.__init__(title=state.get("title", ""), interval=state.get("interval", 30.0),  # type: ignore[misc]
                      terminal=state.get("terminal"), waiting=state.get("waiting"))

    # Tune's hooks -------------------------------------------------------------------------------------------

    def setup(self, **info: Any) -> None:
        signals.witness()  # Tune's run has put its SIGINT and SIGUSR1 handlers in place by now
        self._started = self.clock()
        self._rate = Rate()
        from rich.console import Console

        console = Console(file=sys.stdout)
        if console.is_interactive if self.terminal is None else self.terminal:
            from rich.live import Live

            self._live = Live(console=Console(file=sys.stdout, force_terminal=True), auto_refresh=False,
                              redirect_stdout=True, redirect_stderr=sys.stderr.isatty(), vertical_overflow="crop")
            self._live.start()
            atexit.register(self.close)  # a second Ctrl-C ends Tune's loop without on_experiment_end

    def on_step_end(self, iteration: int, trials: list[Trial], **info: Any) -> None:
        snapshot = self.snapshot(trials)  # every step: the rate samples each report
        now = self.clock()
        if self._live is not None:
            if now - self._last_draw >= self.REDRAW:
                self._draw(snapshot)
        elif now - self._last_line >= self.interval:
            self._print_progress(snapshot)

    def on_trial_complete(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._trial_ended(trials, trial, COMPLETED)

    def on_trial_error(self, iteration: int, trials: list[Trial], trial: Trial, **info: Any) -> None:
        self._trial_ended(trials, trial, FAILED)

    def on_experiment_end(self, trials: list[Trial], **info: Any) -> None:
        snapshot = self.snapshot(trials, ended=True)
        if self._live is not None:
            self._draw(snapshot)
            self.close()
        elif snapshot.progress() != self._last_progress:  # else the line after the last trial's end said it
            self._print_progress(snapshot)

    def close(self) -> None:
        """Stop the terminal display (the cursor shown, stdout and stderr back); again, nothing."""
        live, self._live = self._live, None
        if live is not None:
            live.stop()

    # What it shows ------------------------------------------------------------------------------------------

    def snapshot(self, trials: list[Trial], just_ended: Trial | None = None, state: str | None = None,
                 ended: bool = False) -> Snapshot:
        """The sweep now (``just_ended``: a trial that has just ended, in ``state``; ``ended``: Tune's run has),
        with the ETA from the rate."""
        rows = [TrialRow.of(trial, state if trial is just_ended else None) for trial in trials]
        if self.waiting is not None:
            rows += [TrialRow(name, PENDING, 0, steps, None, None) for name, steps in self.waiting()]
        now = self.clock()
        self._rate.add(now, rows)
        done, total = sum(row.accounted for row in rows), sum(row.total for row in rows)
        rate = self._rate.per_second(now)
        eta = 0.0 if done >= total else None if rate is None else (total - done) / rate
        return Snapshot(rows, now - self._started, eta, ended, bool(signals.received()))

    def _trial_ended(self, trials: list[Trial], trial: Trial, state: str) -> None:
        snapshot = self.snapshot(trials, trial, state)
        if self._live is not None:
            self._live.console.print(trial_end_line(trial, state), highlight=False, markup=False)
            self._draw(snapshot)
        else:
            print(trial_end_line(trial, state), flush=True)
            self._print_progress(snapshot)

    def _print_progress(self, snapshot: Snapshot) -> None:
        print(snapshot.line(), flush=True)
        self._last_progress = snapshot.progress()
        self._last_line = self.clock()

    def _draw(self, snapshot: Snapshot) -> None:
        self._live.update(render(snapshot, self.title, self._live.console.size.height), refresh=True)
        self._last_draw = self.clock()


LiveTable = SweepProgress  # the name sweeps interrupted before 2026-12-01 stored in their Tune state


def render(snapshot: Snapshot, title: str, height: int) -> Any:
    """The terminal display of ``snapshot``, at most ``height`` lines."""
    from rich.console import Group
    from rich.progress_bar import ProgressBar
    from rich.table import Table
    from rich.text import Text

    overall = Table.grid(padding=(0, 1))
    overall.add_row(Text(title, style="bold"), ProgressBar(total=snapshot.total or 1, completed=snapshot.done,
                                                           width=40),
                    f"{100 * snapshot.fraction:3.0f}%", f"{snapshot.done:,}/{snapshot.total:,} steps",
                    f"elapsed {duration(snapshot.elapsed)}",
                    Text(snapshot.outlook(), style="bold red" if snapshot.interrupted else ""))
    counts = Text(snapshot.counts())
    running = [row for row in snapshot.rows if row.state == RUNNING]
    room = max(height - 5, 1)  # the two lines above, the table's header, and one for "... more"
    table = Table(box=None, padding=(0, 1), show_edge=False)
    for column, justify in (("trial", "left"), ("progress", "left"), ("step", "right"),
                            (TRAINING_RETURN, "right"), ("steps/s", "right")):
        table.add_column(column, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for row in running[:room]:
        table.add_row(Text(row.name), ProgressBar(total=row.total, completed=row.step, width=20),
                      f"{row.step:,}/{row.total:,}", number(row.reward, 1, "-"), number(row.speed, 0, "-"))
    parts: list[Any] = [overall, counts]
    if running:
        parts.append(table)
    if len(running) > room:
        parts.append(Text(f"... and {len(running) - room} more running"))
    return Group(*parts)
