"""Ray Tune for every sweep: one Tuner, built here for a seed sweep, each round of ``--until-decided`` and each
algorithm's search, with its run settings (state in the sweep's storage, the live display in place of Tune's
output, restarts, checkpoints), and ``fit``."""

from __future__ import annotations

import os
import signal
from collections.abc import Sequence
from typing import Any

from rl_sweep.storage import Storage
from rl_sweep.sweep.cluster import prefetch
from rl_sweep.sweep.options import SweepOptions

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


def build_tuner(options: SweepOptions, trials: Sequence[dict[str, Any]], folder: str, *, restore: bool = False,
                scheduler: Any = None, searcher: Any = None, callbacks: Sequence[Any] = (), title: str | None = None,
                report: bool = True, progress: Any = None):
    """The Tuner of ``trials`` (see :func:`~rl_sweep.sweep.records.trial_config`), its state in ``folder`` of the
    sweep's storage; with ``restore``, restored from there (its finished trials are not run again, and its
    progress display is the one stored). ``scheduler``: Tune's (a search's ASHA); ``searcher``: a Tune searcher that
    suggests the trials instead of ``trials`` (--until-decided's rounds); ``title``: the display's name for it
    (default: the sweep's name), or ``progress``, the display itself; ``report``: the trials end in the report,
    whose imports start now."""
    from ray import tune

    from rl_sweep.sweep.trainable import RunTrainable

    storage = options.storage
    if report:
        # While the trials run, so that the report need not wait for its imports; a replay loads a model, and the
        # first optimizer a process makes imports torch's compiler (torch._dynamo, 1.5 s).
        prefetch("rl_sweep.report.document", *(["torch._dynamo"] if options.report.replays else []))
    if restore:
        return tune.Tuner.restore(storage.tune_uri(folder), RunTrainable, resume_errored=True)
    cluster = options.cluster
    return tune.Tuner(
        RunTrainable,
        param_space=param_space(trials, cluster.cpus_per_trial, storage, grid=searcher is None),
        tune_config=tune_config(cluster.max_concurrent, scheduler, searcher),
        run_config=tune_run_config(storage, folder, cluster.max_failures, callbacks, title or options.name, progress),
    )


def fit(tuner: Any) -> Any:
    """``tuner.fit()``, with the SIGINT and SIGUSR1 handlers put back after it: Tune's own, which swallow the signal
    to end its loop, would otherwise also swallow one while the report, a search's ranking or the next Tune run is
    under way."""
    handlers = {signum: signal.getsignal(signum) for signum in (signal.SIGINT, signal.SIGUSR1)}
    try:
        return tuner.fit()
    finally:
        for signum, handler in handlers.items():
            signal.signal(signum, handler)


def tune_run_config(storage: Storage, folder: str, max_failures: int, callbacks: Sequence[Any] = (),
                    title: str = "", progress: Any = None):
    """Tune's run settings, the same for a sweep and a search: its state in ``folder`` of ``storage`` (Tune's
    own storage: a local folder, or a URI every node reaches), the sweep's progress display (``progress``, or one
    whose first line is ``title``) instead of Tune's output, restarts from the last checkpoint, checkpoints kept."""
    from ray import tune

    from rl_sweep.sweep.progress import SweepProgress

    parent, _, name = folder.rpartition("/")
    return tune.RunConfig(
        name=name,
        storage_path=storage.tune_uri(parent),
        verbose=0,
        callbacks=[progress or SweepProgress(title), *callbacks],
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


def tune_config(max_concurrent: int | None, scheduler: Any = None, searcher: Any = None):
    """How Tune runs the trials: at most ``max_concurrent`` at once, each named after its run, actors reused
    (a new trial in the same process saves importing torch and SB3 again); a ``searcher``'s trials until it says
    it has no more."""
    from ray import tune

    from rl_sweep.sweep.records import trial_dirname, trial_name

    # A searcher's generator limits how many trials run at once itself (Tune ignores the limit given with one).
    return tune.TuneConfig(max_concurrent_trials=None if searcher is not None else max_concurrent, reuse_actors=True,
                           scheduler=scheduler,
                           search_alg=searcher, num_samples=-1 if searcher is not None else 1,
                           trial_name_creator=trial_name, trial_dirname_creator=trial_dirname)


def param_space(trials: Sequence[dict[str, Any]], cpus_per_trial: float, storage: Storage, grid: bool = True
                ) -> dict[str, Any]:
    """Tune's parameter space: one trial per entry of ``trials`` (see :func:`~rl_sweep.sweep.records.trial_config`),
    each reserving ``cpus_per_trial`` and writing its files to ``storage``; without ``grid``, only the latter two
    (a searcher suggests each trial's run)."""
    from ray import tune

    space: dict[str, Any] = {"cpus_per_trial": cpus_per_trial, "storage": storage.location}
    if grid:
        space["run"] = tune.grid_search(list(trials))
    return space
