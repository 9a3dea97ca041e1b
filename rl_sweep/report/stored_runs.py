"""A sweep's runs read from its storage: the files the report reads of each trial its summary lists, fetched
into a scratch folder on this machine when the storage is remote, then loaded (:mod:`~rl_sweep.report.runs`)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rl_sweep.files import names
from rl_sweep.files.status import NOT_NEEDED
from rl_sweep.report.runs import RunRecord, load_run
from rl_sweep.storage import Storage

RUN_FILES = (names.RESULTS_SUFFIX, names.METRICS_SUFFIX)  # what the report reads of a run


def fetch_runs(storage: Storage, summary: dict[str, Any], scratch: Path) -> tuple[list[RunRecord], dict[str, str]]:
    """The runs of the trials in the sweep summary ``summary``, each named and with the status and experiment
    folder its trial record gives, and each run's folder in ``storage`` by its experiment folder (for its final
    model). On remote storage, a run's files are copied under ``scratch/runs/``; a trial recorded without a folder
    (a summary written before sweeps kept their runs) is read from its experiment folder."""
    runs, folders = [], {}
    for index, trial in enumerate(summary["trials"]):
        if trial["status"] == NOT_NEEDED:  # a speculative trial the decision did not need: in no statistic
            continue
        # Numbered scratch folders: trial names hold environment ids (ALE/Pong-v5/ppo_seed42).
        local = (storage.fetch(Path(scratch, "runs", str(index)), trial["folder"], RUN_FILES)
                 if trial.get("folder")
                 else Path(trial["experiment_dir"]))  # a summary written before sweeps kept their runs
        run = load_run(local, status=trial["status"], name=trial["trial"], env_name=trial.get("env"),
                       variant=trial.get("variant"))
        run.experiment_dir = trial["experiment_dir"]
        if trial.get("folder"):
            folders[run.experiment_dir] = trial["folder"]
        runs.append(run)
    return runs, folders
