"""The comparison report: rliable statistics on known numbers, missing runs, one seed, the CLI."""

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from rl_sweep.report.runs import load_run as load_trial
from rl_sweep.report.document import write_report as _write_report

from conftest import cli_env, load_json

def write_report(trials, out_dir):
    """Fewer bootstrap replicates than the default: intervals a little rougher, tests much faster."""
    return _write_report(trials, out_dir, reps=500)


PPO_FINALS = [100.0, 200.0, 300.0, 400.0]
A2C_FINALS = [0.0, 50.0, 60.0, 500.0]


def make_experiment(root: Path, algo: str, seed: int, final: float, slope: float = 1.0) -> Path:
    """An experiment folder as rl-train writes it, with a straight-line training curve."""
    out = root / f"{algo}_seed{seed}"
    out.mkdir(parents=True)
    name = f"{algo}_seed{seed}"
    steps = list(range(100, 1001, 100))
    series = [{"timestep": s, "episode": s // 50, "reward": None if s == 100 else slope * s - 400,
               "episode_length": 50.0, "loss": 1.0, "timestamp": "2026-11-25T00:00:00Z"} for s in steps]
    (out / f"{name}_metrics.json").write_text(json.dumps({"training_metrics": {
        "metadata": {"experiment_id": name, "algorithm": algo.upper(), "environment": "LunarLander-v3",
                     "seed": seed, "recording_interval": 100},
        "time_series": series, "aggregated": {}}}))
    (out / f"{name}_results.json").write_text(json.dumps({"experiment_results": {
        "metadata": {"experiment_id": name, "algorithm": algo.upper(), "environment": "LunarLander-v3",
                     "seed": seed, "total_timesteps": 1000, "target_timesteps": 1000, "status": "completed"},
        "model": {"checkpoint_interval": 500},
        "metrics": {"final_reward_mean": final, "final_reward_std": 1.0, "total_timesteps": 1000,
                    "training_time_seconds": 2.0, "steps_per_second": 500.0, "eval_episodes": 10},
        "environment": {"name": "LunarLander-v3", "reward_threshold": 200.0}}}))
    return out


@pytest.fixture
def four_seeds(tmp_path):
    folders = [make_experiment(tmp_path / "exp", "ppo", i, f, slope=1.0) for i, f in enumerate(PPO_FINALS)]
    folders += [make_experiment(tmp_path / "exp", "a2c", i, f, slope=0.5) for i, f in enumerate(A2C_FINALS)]
    return folders


def test_statistics_on_known_numbers(four_seeds, tmp_path):
    report = write_report([load_trial(f) for f in four_seeds], tmp_path / "report")
    ppo, a2c = report["algorithms"]["ppo"], report["algorithms"]["a2c"]
    assert ppo["mean"] == pytest.approx(250.0)
    assert ppo["std"] == pytest.approx(np.std(PPO_FINALS, ddof=1))
    assert ppo["median"] == pytest.approx(250.0)
    assert ppo["iqm"] == pytest.approx(250.0)          # middle two of four: (200 + 300) / 2
    assert a2c["iqm"] == pytest.approx(55.0)           # (50 + 60) / 2
    assert ppo["optimality_gap"] == pytest.approx(25.0)  # 200 - mean(100, 200, 200, 200)
    assert ppo["seeds_reaching_threshold"] == 3 and a2c["seeds_reaching_threshold"] == 1
    # Training curve reward = slope * step - 400: PPO crosses 200 at step 600, A2C (slope 0.5) never.
    assert ppo["median_steps_to_threshold"] == 600.0 and a2c["median_steps_to_threshold"] is None
    assert ppo["auc_mean"] == pytest.approx((200 - 400 + 1000 - 400) / 2)  # mean of a line from step 200
    # 12 of the 16 (PPO, A2C) pairs have PPO ahead.
    assert report["probability_of_improvement"]["ppo>a2c"]["point"] == pytest.approx(12 / 16)
    for key in ("iqm", "mean", "median"):
        low, high = ppo[f"{key}_ci"]
        assert low <= ppo[key] <= high
    low, high = report["probability_of_improvement"]["ppo>a2c"]["ci"]
    assert 0.0 <= low <= 0.75 <= high <= 1.0


def test_report_files_are_written_and_html_is_self_contained(four_seeds, tmp_path):
    out = tmp_path / "report"
    report = write_report([load_trial(f) for f in four_seeds], out)
    for name in ("learning_curves.png", "final_performance.png", "report.md", "report.html"):
        assert (out / name).stat().st_size > 0
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and 'src="learning_curves.png"' not in page
    markdown = (out / "report.md").read_text()
    assert "P(PPO > A2C)" in markdown and "IQM [95% CI]" in markdown
    assert report["command"].startswith("rl-sweep --algos ppo a2c --seeds 4 --seed-start 0 --timesteps 1000")
    assert set(report["versions"]) >= {"stable-baselines3", "rliable", "torch"}


def test_same_runs_give_the_same_report(four_seeds, tmp_path):
    trials = [load_trial(f) for f in four_seeds]
    first = write_report(trials, tmp_path / "a")
    second = write_report(trials, tmp_path / "b")
    for report in (first, second):
        del report["generated"]
    assert first == second


def test_missing_run_is_listed_not_dropped(four_seeds, tmp_path):
    missing = tmp_path / "exp" / "ppo_seed9"
    missing.mkdir()
    report = write_report([load_trial(f) for f in [*four_seeds, missing]], tmp_path / "report")
    assert report["algorithms"]["ppo"]["seeds"] == 5
    assert report["algorithms"]["ppo"]["seeds_completed"] == 4
    assert report["algorithms"]["ppo"]["not_completed"] == {"ppo_seed9": "missing"}
    assert any("ppo_seed9 missing" in line for line in report["verdict"])
    assert "| ppo_seed9 | missing |" in (tmp_path / "report/report.md").read_text()


def test_one_seed_says_too_few_to_tell_and_prints_no_intervals(tmp_path):
    folders = [make_experiment(tmp_path / "exp", "ppo", 1, 150.0), make_experiment(tmp_path / "exp", "a2c", 1, 90.0)]
    report = write_report([load_trial(f) for f in folders], tmp_path / "report")
    assert "iqm_ci" not in report["algorithms"]["ppo"]
    assert report["probability_of_improvement"]["ppo>a2c"]["ci"] is None
    assert any(line.startswith("Too few seeds to tell") for line in report["verdict"])
    assert (tmp_path / "report/final_performance.png").exists()


def test_rl_report_cli_on_folders_and_its_argument_errors(four_seeds, tmp_path):
    def rl_report(*args):
        return subprocess.run([sys.executable, "-m", "rl_sweep.report", *map(str, args)], cwd=tmp_path,
                              env=cli_env(), capture_output=True, text=True, timeout=300)

    result = rl_report(*four_seeds, "--out", tmp_path / "cli")
    assert result.returncode == 0, result.stderr
    assert load_json(tmp_path / "cli/summary.json")["report"]["algorithms"]["ppo"]["iqm"] == pytest.approx(250.0)
    assert rl_report().returncode == 3
    assert rl_report("--sweep", "nope").returncode == 2
