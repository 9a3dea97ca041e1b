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


def configure_console(verbose: bool) -> None:
    """Send the package's records to stderr, at DEBUG with ``verbose`` and INFO otherwise."""
    root = logging.getLogger(LOGGER)
    root.setLevel(logging.DEBUG)
    for handler in [h for h in root.handlers if getattr(h, "rl_sweep_console", False)]:
        root.removeHandler(handler)
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.DEBUG if verbose else logging.INFO)
    handler.setFormatter(logging.Formatter(CONSOLE_FORMAT, datefmt="%H:%M:%S"))
    handler.rl_sweep_console = True  # type: ignore[attr-defined]
    root.addHandler(handler)


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
