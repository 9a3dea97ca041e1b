"""A sweep folder written by rl-sweep 0.1, the release before the files' home (tests/data/sweep_rl_sweep_0.1.tar.gz),
resumes and reports with today's code.

The folder is an interrupted ``rl-sweep --algos ppo a2c --seeds 1 --env CartPole-v1 --timesteps 600
--checkpoint-interval 300 --eval-episodes 2 --no-replays --max-concurrent 1 --name old``, made by commit 5f4578b with
``--results-dir /tmp/rl-sweep-0.1/results`` and Ctrl-C after its first trial ended: ppo_seed42 completed, a2c_seed42
stopped after its run's checkpoint at step 300, before Tune took one of it (the report files it wrote are left out of
the archive). Tune's state and
each trial's config hold that folder's path, so the test unpacks it there.
"""

from __future__ import annotations

import json
import shutil
import tarfile
from pathlib import Path

from conftest import REPO, fewer_bootstrap_replicates, load_json

from rl_sweep.errors import ExitCode
from rl_sweep.report.cli import report_sweep
from rl_sweep.storage import Storage
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.runner import run_sweep

ARCHIVE = REPO / "tests" / "data" / "sweep_rl_sweep_0.1.tar.gz"
ROOT = Path("/tmp/rl-sweep-0.1")


def test_a_sweep_written_by_rl_sweep_0_1_resumes_and_reports(ray_cluster):
    root = ROOT
    shutil.rmtree(root, ignore_errors=True)
    root.mkdir(parents=True)
    with tarfile.open(ARCHIVE) as archive:
        archive.extractall(root, filter="data")
    folder = root / "results" / "sweeps" / "old"
    ppo_results = folder / "ppo_seed42" / "ppo_seed42_results.json"
    before = ppo_results.read_bytes()
    # rl-report --sweep old over the folder as rl-sweep 0.1 left it (its summary.json, its trials' files), in this
    # process (the command adds its parsing, tested in tests/test_report.py)
    with fewer_bootstrap_replicates():
        report_sweep(Storage(str(root / "results")), "sweeps/old", None, replays=False)
    assert (folder / "report.html").is_file() and load_json(folder / "summary.json")["report"]["lead"]
    options = SweepOptions.from_json(json.loads((folder / "sweep.json").read_text()))  # as rl-sweep --resume old

    with fewer_bootstrap_replicates():
        code, summary = run_sweep(options, resume=True)

    assert code == ExitCode.OK, summary
    assert [(t["trial"], t["status"]) for t in summary["trials"]] == [("ppo_seed42", "completed"),
                                                                        ("a2c_seed42", "completed")]
    assert ppo_results.read_bytes() == before  # the finished trial is not run again
    a2c = load_json(folder / "a2c_seed42" / "a2c_seed42_results.json")["experiment_results"]
    assert (a2c["metadata"]["status"], a2c["metadata"]["total_timesteps"]) == ("completed", 600)
    assert (folder / "report.html").is_file() and summary["report"]["lead"]

    shutil.rmtree(root, ignore_errors=True)
