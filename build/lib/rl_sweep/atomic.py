"""Atomic file writes: a temporary file in the same folder, flushed to disk, then renamed."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import IO, Any

from rl_sweep.errors import DiskFullError, is_disk_full

_UMASK = os.umask(0)
os.umask(_UMASK)


def write_atomic(path: Path, write: Callable[[IO[bytes]], None]) -> None:
    """Write ``path`` through ``write(file)`` so that no reader ever sees a partial file.

    On any failure the temporary file is removed and ``path`` keeps its previous content.
    A full disk is raised as :class:`DiskFullError`.
    """
    path = Path(path)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as tmp:
            os.fchmod(tmp.fileno(), 0o666 & ~_UMASK)  # mkstemp's 0600 is for the temporary name only
            write(tmp)
            tmp.flush()
            os.fsync(tmp.fileno())
        os.replace(tmp_name, path)
    except BaseException as exc:
        try:
            os.unlink(tmp_name)
        except FileNotFoundError:
            pass
        if is_disk_full(exc):
            raise DiskFullError(f"disk full while writing {path}: {exc.strerror}") from exc
        raise


def finite_or_none(value: Any) -> Any:
    """Replace NaN and infinities, recursively, by None: JSON has no place for them."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {key: finite_or_none(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [finite_or_none(item) for item in value]
    return value


def write_json_atomic(path: Path, document: Any) -> None:
    """Write ``document`` as strict JSON (never NaN or Infinity), atomically."""
    data = json.dumps(finite_or_none(document), indent=2, allow_nan=False).encode() + b"\n"
    write_atomic(path, lambda f: f.write(data))
