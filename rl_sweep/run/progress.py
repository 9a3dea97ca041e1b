"""``rl-train``'s progress bar on a terminal: steps done out of the run's total, the recent training return, the
speed, the elapsed time and an ETA, in place of the per-checkpoint lines (which the log file keeps). Off a
terminal the console prints those lines, as without a bar."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from rl_sweep.logs import ConsoleHandler
from rl_sweep.text import number

if TYPE_CHECKING:  # the engine imports torch and SB3: only for the type
    from rl_sweep.run.engine import StepReport


@contextmanager
def progress_bar(console: ConsoleHandler, description: str, total: int, step: int) -> Iterator[Any]:
    """A callable that moves the bar to a :class:`~rl_sweep.run.engine.StepReport`; on a terminal (stderr, where
    the console goes) a Rich bar that starts at ``step``, elsewhere nothing."""
    from rich.console import Console

    if not Console(file=sys.stderr).is_interactive:  # a pipe, a file, TERM=dumb: the checkpoint lines instead
        yield lambda report: None
        return
    from rich.progress import BarColumn, Progress, TaskProgressColumn, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    bar = Progress(TextColumn("{task.description}"), BarColumn(bar_width=None), TaskProgressColumn(),
                   TextColumn("{task.completed:,.0f}/{task.total:,.0f} steps, training return {task.fields[reward]}, "
                              "{task.fields[speed]} steps/s,"),
                   TimeElapsedColumn(), TextColumn("ETA"), TimeRemainingColumn(compact=True),
                   console=Console(file=sys.stderr), redirect_stderr=True, redirect_stdout=sys.stdout.isatty(),
                   expand=True)
    task = bar.add_task(description, total=total, completed=step, reward="-", speed="-")

    def update(report: StepReport) -> None:
        bar.update(task, completed=report.step, reward=number(report.reward, 1, "-"),
                   speed=number(report.steps_per_second, 0, "-"))

    console.bar_shown = True
    try:
        with bar:
            yield update
    finally:
        console.bar_shown = False
