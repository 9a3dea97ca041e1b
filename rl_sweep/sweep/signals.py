"""Which interrupt signals reached a sweep's driver. A sweep ends as interrupted (exit code 7) only when one did,
and says which: trials Tune left unfinished without one are a failure, never mistaken for an interruption.

Tune ends its run on SIGINT (Ctrl-C, or a ^C byte written to the sweep's terminal, which the kernel turns into a
SIGINT for the terminal's foreground processes) and on SIGUSR1, with handlers of its own, installed when its run
starts; rl-sweep keeps Tune's lines quiet (``rl_sweep.sweep.cluster``), so nothing else would name the signal.
:func:`witness` wraps whatever handles them, Python's own before Tune's run and Tune's during it, so that each
arrival is recorded before the handler runs; :func:`stop_on_sigterm` makes SIGTERM stop a sweep as SIGINT does."""

from __future__ import annotations

import signal
from typing import Any

WATCHED = (signal.SIGINT, signal.SIGUSR1)
HOW = {"SIGINT": "Ctrl-C, or ^C written to its terminal", "SIGUSR1": "Tune's signal to stop a run",
       "SIGTERM": "a request to stop, from kill or a job scheduler"}
_received: list[str] = []


def witness() -> None:
    """Record each later arrival of a watched signal, then let its current handler act; a handler already wrapped,
    or none (ignored, or the default action), is left alone."""
    for signum in WATCHED:
        handler = signal.getsignal(signum)
        if callable(handler) and not getattr(handler, "witnessed", False):
            signal.signal(signum, _recording(handler))


def _recording(handler: Any) -> Any:
    def record(signum: int, frame: Any) -> Any:
        _received.append(signal.Signals(signum).name)
        return handler(signum, frame)

    record.witnessed = True  # type: ignore[attr-defined]
    record.handler = handler  # type: ignore[attr-defined]
    return record


def stop_on_sigterm() -> None:
    """SIGTERM stops the sweep as Ctrl-C does, recorded as itself: handed to what handles SIGINT at that moment (Tune's
    handler during its run, which ends the run; Python's outside it, a KeyboardInterrupt). Once Ray runs: the handler
    ``ray.init`` puts in place would end the driver at once, with exit code 15 and no summary."""
    def stop(signum: int, frame: Any) -> Any:
        _received.append(signal.Signals(signum).name)
        handler = signal.getsignal(signal.SIGINT)
        handler = getattr(handler, "handler", handler)  # not recorded as a SIGINT too
        # SIGINT ignored (a background job of a shell without job control): stop as Python's own handler does.
        return (handler if callable(handler) else signal.default_int_handler)(signal.SIGINT, frame)

    signal.signal(signal.SIGTERM, stop)


def received() -> list[str]:
    """The watched signals that arrived since the sweep started, in order."""
    return list(_received)


def forget() -> None:
    """A sweep starts: none has arrived yet (a test's process runs several sweeps)."""
    _received.clear()


def described() -> str:
    """``SIGINT (Ctrl-C, or ^C written to its terminal)``: what interrupted the sweep."""
    return ", ".join(f"{name} ({HOW[name]})" for name in dict.fromkeys(_received))
