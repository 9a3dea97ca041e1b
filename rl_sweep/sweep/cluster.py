"""Ray for a sweep: a local cluster sized to this machine started (and stopped) by this process, or an existing
cluster attached to; and the imports a sweep starts in the background while Ray starts."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rl_sweep.cli import invoked_as
from rl_sweep.storage import Storage

log = logging.getLogger("rl_sweep.sweep")

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TRAINABLE_MODULE = "rl_sweep.sweep.trainable"  # what a trial's worker imports: Ray Tune, torch, SB3, Gymnasium
IDLE_WORKERS_KEPT_S = 60  # how long a local cluster's idle workers wait for a trial before Ray stops them

_tune_env_vars: tuple[Any, Any] | None = None  # Tune's own, while take_prestarted_workers has set them aside


def start_ray(address: str | None, dashboard: bool, verbose: bool, storage: Storage,
              py_modules: Sequence[str] = ()) -> None:
    """Start a local Ray cluster sized to this machine, or attach to ``address``, unless Ray runs already;
    print where the dashboard is. ``py_modules``: folders of the user's packages, shipped to every worker
    through Ray's ``runtime_env`` (this package is shipped too on a cluster)."""
    import ray

    if ray.is_initialized():
        return
    if address and storage.is_local:
        log.warning("--results-dir %s is a local folder: on a cluster of several machines every node must see it "
                    "(a shared filesystem); otherwise use cloud storage (s3://..., gs://...)", storage.location)
    kwargs: dict[str, Any] = {
        "log_to_driver": verbose,
        # Ray's start-up lines (token authentication on, and the like) only with --verbose; its warnings after.
        "logging_level": logging.INFO if verbose else logging.ERROR,
    }
    shipped = [*([str(PACKAGE_DIR)] if address else []), *py_modules]
    if shipped:
        # Ship these packages to the cluster's workers; their dependencies must be installed there.
        kwargs["runtime_env"] = {"py_modules": shipped}
    if address:
        kwargs["address"] = address
    else:
        kwargs.update(include_dashboard=dashboard, dashboard_host="127.0.0.1")
    # On a cluster this process starts (not one RAY_ADDRESS names) whose trials need no runtime environment, the
    # workers it starts with import what a trial runs while Ray and Tune set up, and the trials take them.
    prestarted = not address and not os.environ.get("RAY_ADDRESS") and not shipped
    if prestarted:
        kwargs["_system_config"] = prestarted_workers()
    prefetch("ray.tune")  # while Ray starts: Tune's set-up need not wait for its imports
    url = ray.init(**kwargs).dashboard_url
    if prestarted:
        take_prestarted_workers()
    if not verbose:
        logging.getLogger("ray").setLevel(logging.WARNING)
        # Tune's own lines are for Tune's users, and the progress display and the summary say what they say: a
        # trial's error and traceback, and on Ctrl-C that trials did not complete, "Resume experiment with:
        # Tuner.restore(...)" (rl-sweep's is --resume NAME) and what it could not read of trials never started.
        logging.getLogger("ray.tune").setLevel(logging.CRITICAL)
    if url:
        print(f"Ray dashboard: http://{url}\n  Token authentication is on: when the page asks for a token, "
              f"paste the output of `{invoked_as('ray')} get-auth-token` (the token is in ~/.ray/auth_token).",
              flush=True)


def prestarted_workers() -> dict[str, Any]:
    """The ``_system_config`` of a local cluster whose workers import what a trial runs as they start (one per CPU),
    for :func:`take_prestarted_workers` to give to the trials."""
    # Ray stops a worker idle for a second while more are registered than CPUs are free, and a CPU that a placement
    # group holds is not free. Tune holds a trial's CPUs first, then starts its actor: an actor more than a second
    # later (a busy machine, 1 sweep in 10 here) found its worker stopped, and waited for a new one.
    return {"preload_python_modules": [TRAINABLE_MODULE],
            "idle_worker_killing_time_threshold_ms": IDLE_WORKERS_KEPT_S * 1000}


def take_prestarted_workers() -> None:
    """Let Tune's trials run in the Python workers a local cluster starts with, one per CPU. Tune gives each
    trial's actor a runtime environment of environment variables (``PL_DISABLE_FORK`` for PyTorch Lightning,
    AWS credentials copied from here), and Ray runs an actor with a runtime environment only in a worker started
    for it: a new process per trial, which imports Ray, Tune, torch and SB3 after the trial is scheduled, while
    the prestarted ones idle. On a local cluster the workers are this process's descendants and inherit its
    environment as it was at ``ray.init``, so the copy adds nothing (nor does PL_DISABLE_FORK: nothing a trial
    runs uses Lightning). :func:`stop_ray` gives Tune its own back, for a cluster attached to later."""
    from ray.tune.execution import class_cache

    global _tune_env_vars
    if _tune_env_vars is None:
        _tune_env_vars = class_cache.DEFAULT_ENV_VARS, class_cache.ENV_VARS_TO_PROPAGATE
    class_cache.DEFAULT_ENV_VARS, class_cache.ENV_VARS_TO_PROPAGATE = {}, frozenset()


def stop_ray() -> None:
    """Stop the local Ray cluster this process started (or leave the cluster it attached to) now, rather than at
    the interpreter's exit, where Ray first waits half a second for late error messages. The sweep's files are
    written by then: a failure here is only logged. (Leaving a local cluster to end with its driver, as Ray's
    fate sharing would, leaves its dashboard and runtime-env agents running: they are stopped here.)"""
    if "ray" not in sys.modules:
        return
    import ray

    global _tune_env_vars
    if _tune_env_vars is not None:
        from ray.tune.execution import class_cache

        class_cache.DEFAULT_ENV_VARS, class_cache.ENV_VARS_TO_PROPAGATE = _tune_env_vars
        _tune_env_vars = None
    if not ray.is_initialized():
        return
    try:
        # Ray stops each of its processes with SIGTERM and gives it a second; its autoscaler monitor, which has
        # nothing to save on a local cluster, takes the whole second: it is killed at once first. (Attached to a
        # cluster, the node holds no processes; a ray:// client has none.)
        node = ray._private.worker._global_node
        if node is not None:
            node.kill_monitor(check_alive=False)
    except Exception:
        log.debug("stopping Ray's monitor failed", exc_info=True)
    try:
        ray.shutdown()
    except Exception:
        log.debug("stopping Ray failed", exc_info=True)


def prefetch(*modules: str) -> None:
    """Import ``modules`` in the background, one after the other (the report layer: rliable, matplotlib and scipy
    take seconds), so that what needs them later need not wait."""
    def run() -> None:
        for module in modules:
            try:
                importlib.import_module(module)
            except Exception:  # what needs it imports it again, and says what fails
                log.debug("importing %s in the background failed", module, exc_info=True)

    threading.Thread(target=run, name=f"import {', '.join(modules)}", daemon=True).start()
