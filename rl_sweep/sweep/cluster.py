"""What a sweep and a search share on Ray: the checks before Ray starts, Ray's start-up, Tune's run
settings and the run itself."""

from __future__ import annotations

import importlib
import logging
import os
import signal
import socket
import sys
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from rl_sweep.errors import ConfigError, PipelineError
from rl_sweep.run.config import TrainingConfig
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.storage import Storage

# The progress display replaces Tune's console output: Tune's newer output engine prints its banner
# whatever the verbosity, the classic one is silent at verbose=0. Tune also warns when
# num_to_keep forces frequent state snapshots, which are cheap for checkpoints this small.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")
# Tune copies its whole state (each trial's result log, parameters, events file, with folder markers on S3) to
# storage every 10 s by default: every 30 s makes a quarter fewer requests for a short sweep on S3. A driver
# killed outright then restores Tune's view of up to 30 s before (each run's own files in storage are current);
# on a local folder, Tune's state is saved at every other checkpoint anyway (num_to_keep=2). A resumed sweep keeps
# the period it started with: Tune restores it with its state.
os.environ.setdefault("TUNE_GLOBAL_CHECKPOINT_S", "30")

log = logging.getLogger("rl_sweep.sweep")

PACKAGE_DIR = Path(__file__).resolve().parent.parent
TRAINABLE_MODULE = "rl_sweep.sweep.trainable"  # what a trial's worker imports: Ray Tune, torch, SB3, Gymnasium
IDLE_WORKERS_KEPT_S = 60  # how long a local cluster's idle workers wait for a trial before Ray stops them

_tune_env_vars: tuple[Any, Any] | None = None  # Tune's own, while take_prestarted_workers has set them aside


def check_before_start(runs: Sequence[TrainingConfig], address: str | None) -> None:
    """Fail fast, before anything is written or Ray starts, on what would make a trial fail: the conda
    environment, hyperparameters the SB3 constructor does not take, an environment id that cannot be created,
    and a cluster address nothing answers at."""
    from rl_sweep.run.algorithms import check_settings
    from rl_sweep.run.environments import make_env
    from rl_sweep.run.seeding import check_conda_env

    for run in runs:
        check_settings(run.algo, run.settings, run.preset)
    for conda_env in {run.conda_env for run in runs}:
        check_conda_env(conda_env)
    for env_name in dict.fromkeys(run.env_name for run in runs):
        make_env(env_name, 0, env_kwargs=runs[0].env_kwargs).close()
    if address and address != "auto":
        _check_reachable(address)


CLAIM = ".claim"  # in a sweep's folder: who took its name, and when


def claim_name(options: SweepOptions, meanwhile: Callable[[], None] = lambda: None) -> None:
    """Take the sweep's name, or refuse one in use (exit 3): a sweep is never written over (continue one with
    --resume), and of two sweeps started at once with one name, one runs. See Storage.create_exclusive for
    what each kind of store guarantees; ``meanwhile`` runs while an object store settles (Ray's start-up), and
    the name is given back if it fails."""
    storage = options.storage
    if storage.exists(options.folder("sweep.json")):
        raise ConfigError(f"a sweep named {options.name!r} exists in {storage.uri('sweeps')}: continue it with "
                          f"--resume {options.name}, or choose another --name")
    claim = f"{uuid.uuid4().hex} {socket.gethostname()} {os.getpid()} {datetime.now(timezone.utc).isoformat()}"
    if not storage.create_exclusive(claim.encode(), options.folder(CLAIM), meanwhile=meanwhile):
        try:
            holder = storage.read_text(options.folder(CLAIM)).split()
            by = f"process {holder[2]} on {holder[1]} at {holder[3]}"
        except (FileNotFoundError, IndexError):
            by = "another sweep"
        raise ConfigError(f"a sweep named {options.name!r} is being started by {by}: choose another --name (if "
                          f"that process is gone, delete {storage.uri(options.folder(CLAIM))})")


def start_sweep(options: SweepOptions, resume: bool, address: str | None, dashboard: bool, verbose: bool) -> None:
    """What every sweep does before its trials: take its name (unless it resumes), start or attach to Ray
    (while the claim settles on an object store) and, once Ray runs, write ``sweep.json``. A sweep that cannot
    start gives its name back."""
    storage = options.storage

    def ray() -> None:
        start_ray(address, dashboard, verbose, storage, options.py_modules)

    if resume:
        ray()
        return
    claim_name(options, meanwhile=ray)
    try:
        storage.write_json(asdict(options), options.folder("sweep.json"))
    except BaseException:
        storage.remove(options.folder(CLAIM))
        raise


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
        # Ray stops a worker idle for a second while more are registered than CPUs are free, and a CPU that a
        # placement group holds is not free. Tune holds a trial's CPUs first, then starts its actor: an actor more
        # than a second later (a busy machine, 1 sweep in 10 here) found its worker stopped, and waited for a new one.
        kwargs["_system_config"] = {"preload_python_modules": [TRAINABLE_MODULE],
                                    "idle_worker_killing_time_threshold_ms": IDLE_WORKERS_KEPT_S * 1000}
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
              f"paste the output of `ray get-auth-token` (the token is in ~/.ray/auth_token).", flush=True)


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


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail at once, not after minutes of Ray's retries, when nothing answers at ``address`` (host:port)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except ValueError:
        raise ConfigError(f"--address {address}: give host:port or auto") from None
    except OSError as exc:
        raise PipelineError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); is its head "
                            "node started (ray start --head) and the port open?") from None


def fit(tuner: Any) -> Any:
    """``tuner.fit()``, with SIGINT's handler put back after it: Tune's own, which swallows a Ctrl-C to end its
    loop, would otherwise also swallow one while the report or a search's ranking is written."""
    handler = signal.getsignal(signal.SIGINT)
    try:
        return tuner.fit()
    finally:
        signal.signal(signal.SIGINT, handler)


def tune_run_config(storage: Storage, folder: str, max_failures: int, callbacks: Sequence[Any] = (),
                    title: str = ""):
    """Tune's run settings, the same for a sweep and a search: its state in ``folder`` of ``storage`` (Tune's
    own storage: a local folder, or a URI every node reaches), the sweep's progress display (its first line
    ``title``) instead of Tune's output, restarts from the last checkpoint, checkpoints kept."""
    from ray import tune

    from rl_sweep.sweep.progress import SweepProgress

    parent, _, name = folder.rpartition("/")
    return tune.RunConfig(
        name=name,
        storage_path=storage.tune_uri(parent),
        verbose=0,
        callbacks=[SweepProgress(title), *callbacks],
        failure_config=tune.FailureConfig(max_failures=max_failures),
        checkpoint_config=checkpoint_config(storage),
    )


def checkpoint_config(storage: Storage):
    """Tune's checkpoints. On a local disk one per step, each a copy of the run's zip, Tune keeping the last
    two. On remote storage each is only a name (the zip is in the run's folder there already) and the trial
    asks for one at most every ``BOOKMARK_PERIOD`` seconds (see :class:`~rl_sweep.sweep.trainable.RunTrainable`):
    each costs a dozen round trips to storage, and Tune uploads its whole state after every ``num_to_keep``
    checkpoints, so none is deleted there (Tune's state then names checkpoints that stay)."""
    from ray import tune

    if storage.is_local:
        return tune.CheckpointConfig(checkpoint_frequency=1, num_to_keep=2)
    return tune.CheckpointConfig(checkpoint_frequency=0, num_to_keep=None)


def tune_config(max_concurrent: int | None, scheduler: Any = None):
    """How Tune runs the trials: at most ``max_concurrent`` at once, each named after its run, actors reused
    (a new trial in the same process saves importing torch and SB3 again)."""
    from ray import tune

    from rl_sweep.sweep.options import trial_dirname, trial_name

    return tune.TuneConfig(max_concurrent_trials=max_concurrent, reuse_actors=True, scheduler=scheduler,
                           trial_name_creator=trial_name, trial_dirname_creator=trial_dirname)


def param_space(trials: Sequence[dict[str, Any]], cpus_per_trial: float, storage: Storage) -> dict[str, Any]:
    """Tune's parameter space: one trial per entry of ``trials`` (see :func:`~rl_sweep.sweep.options.trial_config`),
    each reserving ``cpus_per_trial`` and writing its files to ``storage``."""
    from ray import tune

    return {"run": tune.grid_search(list(trials)), "cpus_per_trial": cpus_per_trial, "storage": storage.location}
