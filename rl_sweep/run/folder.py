"""A run's folder holds one run: a lock while a process writes it, and an earlier run's files moved aside
whole, never overwritten or mixed in.

Every file a run writes carries its identity, the run id (checkpoint and model zips in their
``rl_sweep.json``, the results and metrics JSON in ``metadata.run_id``). A fresh run into a folder that
holds run files moves them, and the earlier logs/, into a sibling folder ``earlier_{UTC time}_{folder}``; a resumed run moves
only the files of other runs, and keeps its own. Files that are no run's are left alone.
"""

from __future__ import annotations

import fcntl
import logging
import os
import shutil
from pathlib import Path
from typing import IO

from rl_sweep.errors import ConfigError, PipelineError
from rl_sweep.files import names
from rl_sweep.files.names import checkpoint_step
from rl_sweep.files.results import run_id_of
from rl_sweep.identity import earlier_name
from rl_sweep.run.checkpoints import read_state

log = logging.getLogger(__name__)

LOCK_NAME = ".rl_sweep.lock"
Owner = str | None  # a run id; None for files written before runs had one


class FolderLock:
    """An exclusive lock on a run's folder, held while this process writes it (``flock``: a killed holder's
    lock is released by the kernel, so a lock file left behind is taken over, not obeyed)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_NAME
        self._file: IO[str] | None = None

    def acquire(self) -> None:
        """Take the lock; a ConfigError (exit code 3) when another live process holds it."""
        while True:
            lock = open(self.path, "a+")
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                lock.seek(0)
                holder = lock.read().strip() or "another process"
                lock.close()
                raise ConfigError(f"{self.path.parent} is being written by {holder}: wait for it to end, "
                                  "or give another --output-dir") from None
            if _same_file(lock, self.path):
                break
            lock.close()  # its holder removed that file as it let go: lock the one now there
        lock.seek(0)
        if lock.read().strip():
            log.debug("took over the lock of %s, left by a process that has ended", self.path.parent)
        lock.truncate(0)
        lock.write(f"process {os.getpid()} on {os.uname().nodename}\n")
        lock.flush()
        self._file = lock

    def release(self) -> None:
        """Remove the lock file and let go of the lock; safe to call twice."""
        if self._file is not None:
            self.path.unlink(missing_ok=True)
            self._file.close()
            self._file = None


def _same_file(handle: IO[str], path: Path) -> bool:
    try:
        return os.fstat(handle.fileno()).st_ino == os.stat(path).st_ino
    except FileNotFoundError:
        return False


def owner_of(path: Path) -> Owner | bool:
    """The run id a run file names; None for one written before run ids; False for a file that is not a
    run's (a log, or something unreadable)."""
    if path.suffix == ".zip":
        state = read_state(path)
        return False if state is None else state.run_id
    if names.is_document(path.name):
        try:
            return run_id_of(path)
        except (ValueError, KeyError, TypeError, AttributeError, StopIteration, OSError):
            return False
    return False


def is_run_file(path: Path) -> bool:
    """Whether ``path`` is one of the files a run writes in its folder (by its name)."""
    return path.is_file() and names.is_run_file(path.name)


def _later(path: Path, step: int | None) -> bool:
    """Whether ``path`` is a checkpoint of a step after ``step``."""
    saved_at = checkpoint_step(path)
    return step is not None and saved_at is not None and saved_at > step


def set_aside(folder: Path, keep: set[Owner], resumed_at: int | None = None) -> Path | None:
    """Move out of ``folder`` the run files that are not of a run in ``keep`` into a new sibling folder; a fresh
    run keeps none, and its predecessor's ``logs/`` go too. A run resumed at step ``resumed_at`` also moves its
    own checkpoints of later steps: the future it abandons (one saved at an interruption, off the interval,
    would otherwise stay among its checkpoints). Files that are no run's are left alone. Return the sibling
    folder, or None when nothing moved."""
    folder = folder.resolve()  # "." has no name to put the sibling beside
    if not folder.is_dir():
        return None
    fresh = not keep
    moving = [path for path in folder.iterdir()
              if (fresh and path.name == names.LOGS and path.is_dir())
              or (is_run_file(path) and (fresh or owner_of(path) not in (*keep, False)
                                         or _later(path, resumed_at)))]
    if not moving:
        return None
    aside = folder.with_name(earlier_name(folder.name))
    try:
        aside.mkdir()
        for path in moving:
            shutil.move(str(path), aside / path.name)
    except OSError as exc:
        raise PipelineError(f"cannot move the earlier files of {folder} aside to {aside}: {exc}") from exc
    return aside
