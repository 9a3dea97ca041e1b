"""Every file name the layers hand each other, in one place: a run's contract files and checkpoints, a sweep's
records, the report's documents. Nothing outside :mod:`rl_sweep.files` spells one.

A run's folder (the contract)::

    {experiment_id}_results.json, {experiment_id}_metrics.json, {experiment_id}_model.zip,
    checkpoint_{step}.zip, logs/training_{timestamp}.log, logs/metrics_{timestamp}.csv

A sweep's folder, ``sweeps/{name}/`` under its results location::

    sweep.json, .claim, summary.json (search.json and best.yaml for a search), report.md, report.html,
    comparison.json, tune/ (tune_round{k}/ with --until-decided --no-speculate, tune_{algo}/ for a search),
    trials/ (a search's), tuning.json and tuning/[{env}/]{variant}/ (--tune's first phase: its trials, tune/ and
    best.yaml)
"""

from __future__ import annotations

import re
from pathlib import Path

RESULTS_SUFFIX = "_results.json"
METRICS_SUFFIX = "_metrics.json"
MODEL_SUFFIX = "_model.zip"
RESULTS_GLOB = f"*{RESULTS_SUFFIX}"  # a run's results file, whatever its experiment id
CHECKPOINT_GLOB = "checkpoint_*.zip"
LOGS = "logs"  # a run's log folder
_CHECKPOINT = re.compile(r"checkpoint_(\d+)\.zip$")


def results_file(experiment_id: str) -> str:
    """The contract's results JSON of run ``experiment_id``."""
    return f"{experiment_id}{RESULTS_SUFFIX}"


def metrics_file(experiment_id: str) -> str:
    """The contract's metrics JSON of run ``experiment_id``."""
    return f"{experiment_id}{METRICS_SUFFIX}"


def model_file(experiment_id: str) -> str:
    """The final model of run ``experiment_id``."""
    return f"{experiment_id}{MODEL_SUFFIX}"


def checkpoint_file(step: int | str) -> str:
    """The checkpoint zip of a run at ``step``, the contract's name."""
    return f"checkpoint_{step}.zip"


def checkpoint_step(path: str | Path) -> int | None:
    """The step a checkpoint's name claims, or None for any other name."""
    match = _CHECKPOINT.search(Path(path).name)
    return int(match.group(1)) if match else None


def is_document(name: str) -> bool:
    """Whether ``name`` is a run's results or metrics JSON."""
    return name.endswith((RESULTS_SUFFIX, METRICS_SUFFIX))


def is_run_file(name: str) -> bool:
    """Whether ``name`` is one of the files a run writes in its folder (its logs aside)."""
    return checkpoint_step(name) is not None or is_document(name) or name.endswith(MODEL_SUFFIX)


def training_log(stamp: str) -> str:
    """A run's log of one session (a resumed run starts another), in its folder."""
    return f"{LOGS}/training_{stamp}.log"


def metrics_csv(stamp: str) -> str:
    """A run's metrics CSV of one session, in its folder."""
    return f"{LOGS}/metrics_{stamp}.csv"


def run_folder_listing(experiment_id: str = "{algo}_seed{seed}") -> str:
    """A run's files, as a command's help lists them."""
    return (f"{model_file(experiment_id)}, {results_file(experiment_id)}, {metrics_file(experiment_id)},\n"
            f"  {checkpoint_file('{step}')}, {training_log('{timestamp}')}, {metrics_csv('{timestamp}')}")


# A sweep's folder
SWEEP = "sweep.json"  # the sweep's options (SweepOptions): what --resume reads
CLAIM = ".claim"  # who took the sweep's name, and when
SUMMARY = "summary.json"  # every trial's record, the decision, the report's numbers
SEARCH = "search.json"  # a search's settings, best first, and its trials
BEST_PRESET = "best.yaml"  # a search's best settings, a preset for --config
TRIALS = "trials"  # a search's trial folders
TUNING = "tuning"  # --tune's first phase: tuning/[{env}/]{variant}/ holds its trials, tune/ and best.yaml
TUNING_DOC = "tuning.json"  # --tune's settings tried, best first, and the chosen ones: what --resume reads
TUNE = "tune"  # Ray Tune's state of a seed sweep
REPLAYS = "replays"  # beside the report: replays/{run}.mp4, replays/{env folder}/..., replays/{variant}/...


def tune_round(k: int) -> str:
    """Ray Tune's state of round ``k`` of ``--until-decided``."""
    return f"tune_round{k}"


def tune_search(algo: str) -> str:
    """Ray Tune's state of one algorithm's search."""
    return f"tune_{algo}"


# The report's documents, in a sweep's folder or rl-report's --output-dir
REPORT_MD = "report.md"
REPORT_HTML = "report.html"
COMPARISON = "comparison.json"  # every number the report shows
