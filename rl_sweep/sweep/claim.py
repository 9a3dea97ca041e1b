"""A sweep's name, taken once: the claim that keeps two sweeps from one folder, and ``sweep.json``, written once Ray
runs, which is what ``--resume`` reads."""

from __future__ import annotations

import os
import socket
import uuid
from collections.abc import Callable
from datetime import datetime, timezone

from rl_sweep.errors import ConfigError
from rl_sweep.files import names
from rl_sweep.sweep import signals
from rl_sweep.sweep.cluster import start_ray
from rl_sweep.sweep.options import SweepOptions


def claim_name(options: SweepOptions, meanwhile: Callable[[], None] = lambda: None) -> None:
    """Take the sweep's name, or refuse one in use (exit 3): a sweep is never written over (continue one with
    --resume), and of two sweeps started at once with one name, one runs. See Storage.create_exclusive for
    what each kind of store guarantees; ``meanwhile`` runs while an object store settles (Ray's start-up), and
    the name is given back if it fails."""
    storage = options.storage
    if storage.exists(options.folder(names.SWEEP)):
        raise ConfigError(f"a sweep named {options.name!r} exists in {storage.uri('sweeps')}: continue it with "
                          f"--resume {options.name}, or choose another --name")
    claim = f"{uuid.uuid4().hex} {socket.gethostname()} {os.getpid()} {datetime.now(timezone.utc).isoformat()}"
    if not storage.create_exclusive(claim.encode(), options.folder(names.CLAIM), meanwhile=meanwhile):
        try:
            holder = storage.read_text(options.folder(names.CLAIM)).split()
            by = f"process {holder[2]} on {holder[1]} at {holder[3]}"
        except (FileNotFoundError, IndexError):
            by = "another sweep"
        raise ConfigError(f"a sweep named {options.name!r} is being started by {by}: choose another --name (if "
                          f"that process is gone, delete {storage.uri(options.folder(names.CLAIM))})")


def start_sweep(options: SweepOptions, resume: bool, address: str | None, dashboard: bool, verbose: bool) -> None:
    """What every sweep does before its trials: take its name (unless it resumes), start or attach to Ray
    (while the claim settles on an object store) and, once Ray runs, write ``sweep.json``. A sweep that cannot
    start gives its name back."""
    storage = options.storage
    signals.forget()
    signals.witness()  # Python's own SIGINT handler, until Tune's run puts its own (the display wraps that one)

    def ray() -> None:
        start_ray(address, dashboard, verbose, storage, options.cluster.py_modules)

    if resume:
        ray()
        signals.stop_on_sigterm()
        return
    claim_name(options, meanwhile=ray)
    signals.stop_on_sigterm()
    try:
        storage.write_json(options.to_json(), options.folder(names.SWEEP))
    except BaseException:
        storage.remove(options.folder(names.CLAIM))
        raise
