"""Logging set-up: the run's DEBUG log file, and the console at INFO or DEBUG."""

from __future__ import annotations

import logging
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

LOGGER = "rl_sweep"
FILE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
CONSOLE_FORMAT = "%(asctime)s %(levelname)-7s %(message)s"


def utc_now() -> str:
    """The current time as the JSON files write it: ``2026-01-15T10:00:00Z``."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def file_stamp() -> str:
    """A timestamp for log file names, unique for runs started in the same second."""
    return datetime.now(timezone.utc).strftime("%Y%m%d_%H%M%S_%f")


# ``extra`` of a log line that a progress bar on a terminal shows instead (the per-checkpoint lines)
PROGRESS_LINE = {"progress_line": True}


class ConsoleHandler(logging.StreamHandler):
    """The console: stderr as it is when a record comes, so that a live display that redirects stderr prints the
    line above itself; with ``bar_shown``, the lines the bar stands for (``PROGRESS_LINE``) are left to the log
    file."""

    bar_shown = False

    @property  # type: ignore[override]
    def stream(self):
        return sys.stderr

    @stream.setter
    def stream(self, _value) -> None:
        pass

    def filter(self, record: logging.LogRecord) -> bool:
        if self.bar_shown and getattr(record, "progress_line", False):
            return False
        return bool(super().filter(record))


def configure_console(verbose: bool) -> ConsoleHandler:
    """Send the package's records to stderr, at DEBUG with ``verbose`` and INFO otherwise."""
    root = logging.getLogger(LOGGER)
    root.setLevel(logging.DEBUG)
    for handler in [h for h in root.handlers if isinstance(h, ConsoleHandler)]:
        root.removeHandler(handler)
    console = ConsoleHandler()
    console.setLevel(logging.DEBUG if verbose else logging.INFO)
    console.setFormatter(logging.Formatter(CONSOLE_FORMAT, datefmt="%H:%M:%S"))
    root.addHandler(console)
    return console


def attach_file_log(path: Path) -> logging.Handler:
    """Log everything the package says, at DEBUG, to ``path``; returns the handler to detach later."""
    root = logging.getLogger(LOGGER)
    root.setLevel(logging.DEBUG)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter(FILE_FORMAT))
    root.addHandler(handler)
    return handler


def detach_file_log(handler: logging.Handler) -> None:
    """Stop logging to a file attached by :func:`attach_file_log`."""
    logging.getLogger(LOGGER).removeHandler(handler)
    handler.close()
