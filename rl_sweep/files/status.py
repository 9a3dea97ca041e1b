"""Every status a run, a trial or a sweep records, named once: the results JSON's ``status``, each trial's in
``summary.json`` and ``search.json``, the sweep's, and what the report finds of a run's folder."""

from __future__ import annotations

from typing import Literal

COMPLETED = "completed"  # a run that trained and was evaluated; a trial that did; a sweep whose every trial did
INTERRUPTED = "interrupted"  # a run stopped by a signal (resume it); a sweep with trials not completed, none failed
FAILED = "failed"  # a run that raised; a trial that failed after its restarts; a sweep with a failed trial
INCOMPLETE = "incomplete"  # a trial stopped unfinished by an interruption: --resume continues it
STOPPED_EARLY = "stopped early"  # a search trial ASHA stopped: done, not evaluated
NOT_NEEDED = "not needed"  # a speculative --until-decided trial the decision did not need: set aside, in no statistic
MISSING = "missing"  # a run's folder without results, as the report finds it
UNREADABLE = "unreadable"  # a run's folder whose results are not the contract's JSON

RunStatus = Literal["completed", "interrupted", "failed"]
TrialStatus = Literal["completed", "failed", "incomplete", "stopped early", "not needed"]
SweepStatus = Literal["completed", "interrupted", "failed"]
