"""Contract: the CLI end to end, its files, logs, resumption and reproducibility (real subprocesses)."""

import re
import shutil
import sys
from pathlib import Path

from stable_baselines3 import PPO

from conftest import load_json, run_cli, run_on_terminal, timesteps

OPTIONS = ["--algo", "--env", "--seed", "--timesteps", "--checkpoint-interval", "--output-dir",
           "--resume-from", "--verbose", "--eval-episodes", "--conda-env"]


def test_help_lists_every_option_and_exit_code():
    result = run_cli(["--help"], Path.cwd())
    assert result.returncode == 0
    for option in OPTIONS:
        assert option in result.stdout
    for code in range(8):
        assert f"\n  {code}  " in result.stdout


def test_console_script_rl_train_is_installed():
    script = Path(sys.executable).parent / "rl-train"
    assert script.exists(), "pip install -e . provides the rl-train console script"


def test_full_training_workflow(tmp_path):
    """Contract integration test, at the default output dir relative to the current directory."""
    temporary = tmp_path / "tmp"
    temporary.mkdir()
    result = run_cli(["--algo", "ppo", "--seed", "42", "--timesteps", "10000", "--eval-episodes", "3"], tmp_path,
                     TMPDIR=str(temporary))
    assert result.returncode == 0, result.stderr
    assert not list(temporary.glob("SB3-*")), "SB3's logger leaves no folder of its own behind"

    output_dir = tmp_path / "results/experiments/ppo_seed42/"
    assert (output_dir / "ppo_seed42_model.zip").exists()
    assert (output_dir / "ppo_seed42_results.json").exists()
    assert (output_dir / "ppo_seed42_metrics.json").exists()
    assert [p.name for p in sorted(output_dir.glob("checkpoint_*.zip"), key=lambda p: int(p.stem[11:]))] == \
        [f"checkpoint_{n}.zip" for n in range(1000, 10001, 1000)]
    assert len(list((output_dir / "logs").glob("training_*.log"))) == 1
    [csv] = (output_dir / "logs").glob("metrics_*.csv")
    assert len(csv.read_text().splitlines()) == 1 + 100  # header + one row every 100 steps

    results = load_json(output_dir / "ppo_seed42_results.json")["experiment_results"]
    assert results["metrics"]["total_timesteps"] == 10000
    assert results["metadata"]["total_timesteps"] == 10000
    assert results["metadata"]["status"] == "completed"
    assert results["metadata"]["conda_environment"] is None
    assert results["model"]["checkpoints"][-1] == "checkpoint_10000.zip"
    assert results["environment"] == {"name": "LunarLander-v3", "observation_space": "Box(8,)",
                                      "action_space": "Discrete(4)", "reward_threshold": 200.0, "kwargs": {}}
    metrics = results["metrics"]
    assert metrics["eval_episodes"] == 3
    assert metrics["converged"] == (metrics["final_reward_mean"] >= 200.0)
    assert metrics["training_time_seconds"] > 0 and metrics["total_episodes"] > 0


def test_final_metrics_come_from_deterministic_evaluation(ppo_5000):
    """final_reward_mean is the evaluation's, not the training episodes' mean."""
    metrics = load_json(ppo_5000.output_dir / "ppo_seed42_results.json")["experiment_results"]["metrics"]
    assert metrics["final_reward_mean"] != metrics["training_reward_mean"]
    assert metrics["eval_episodes"] == 3


def test_console_shows_progress_at_info_and_log_file_holds_debug(ppo_5000):
    console = ppo_5000.result.stderr
    assert "step 1000/5000" in console and "steps/s" in console and "saved checkpoint_1000.zip" in console
    assert "finished" in console
    assert " DEBUG " not in console
    [log_file] = (ppo_5000.output_dir / "logs").glob("training_*.log")
    text = log_file.read_text()
    assert " DEBUG " in text and "episode 1 ended" in text and "saved checkpoint_5000.zip" in text


def test_on_a_terminal_a_progress_bar_with_an_eta_replaces_the_checkpoint_lines(tmp_path):
    code, console = run_on_terminal([sys.executable, "-m", "rl_sweep.train", "--algo", "a2c", "--env", "CartPole-v1",
                                     "--timesteps", "3000", "--eval-episodes", "1"], tmp_path)
    assert code == 0, console
    assert console.count("\r\x1b[2K") > 2 and "3,000/3,000 steps" in console  # one line, redrawn in place
    assert re.search(r"ETA \x1b\[[0-9;]*m\d+:\d\d", console)
    assert "step 1000/3000" not in console and "finished" in console
    [log_file] = (tmp_path / "results/experiments/a2c_seed42/logs").glob("training_*.log")
    assert "step 1000/3000" in log_file.read_text()  # the log file keeps them


def test_verbose_shows_debug_on_the_console(tmp_path):
    result = run_cli(["--algo", "a2c", "--timesteps", "200", "--checkpoint-interval", "100",
                      "--eval-episodes", "1", "--verbose"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert " DEBUG " in result.stderr


def test_checkpoint_resumption(ppo_5000, tmp_path):
    """Contract integration test: resume to 10000 steps, in the same folder, as one continuous run."""
    shutil.copytree(ppo_5000.output_dir, tmp_path / "results/experiments/ppo_seed42")
    result = run_cli([
        "--algo", "ppo", "--timesteps", "10000", "--eval-episodes", "2",
        "--resume-from", "results/experiments/ppo_seed42/checkpoint_5000.zip",
    ], tmp_path)
    assert result.returncode == 0, result.stderr

    output_dir = tmp_path / "results/experiments/ppo_seed42"
    results = load_json(output_dir / "ppo_seed42_results.json")["experiment_results"]
    assert results["metadata"]["total_timesteps"] == 10000
    assert results["metadata"]["resumed_from"].endswith("checkpoint_5000.zip")
    assert results["model"]["checkpoints"] == [f"checkpoint_{n}.zip" for n in range(1000, 10001, 1000)]
    assert timesteps(output_dir, "ppo_seed42") == list(range(100, 10001, 100))
    assert PPO.load(output_dir / "ppo_seed42_model.zip").num_timesteps == 10000
    before = load_json(ppo_5000.output_dir / "ppo_seed42_metrics.json")["training_metrics"]["time_series"]
    after = load_json(output_dir / "ppo_seed42_metrics.json")["training_metrics"]["time_series"]
    assert after[:50] == before  # the first half is the original run's, untouched
    assert after[50]["episode"] >= before[-1]["episode"]


def test_resume_from_an_earlier_checkpoint_drops_the_later_steps(ppo_5000, tmp_path):
    shutil.copytree(ppo_5000.output_dir, tmp_path / "run")
    # 4100 steps: the rollout the resumed run starts at 2000 completes (at 4048) and is trained on.
    result = run_cli(["--algo", "ppo", "--timesteps", "4100", "--eval-episodes", "1",
                      "--output-dir", "run", "--resume-from", "run/checkpoint_2000.zip"], tmp_path)
    assert result.returncode == 0, result.stderr
    assert timesteps(tmp_path / "run", "ppo_seed42") == list(range(100, 4101, 100))


def test_resume_that_already_reaches_timesteps_just_finalises(ppo_5000, tmp_path):
    shutil.copytree(ppo_5000.output_dir, tmp_path / "run")
    result = run_cli(["--algo", "ppo", "--timesteps", "5000", "--eval-episodes", "1",
                      "--output-dir", "run", "--resume-from", "run/checkpoint_5000.zip"], tmp_path)
    assert result.returncode == 0, result.stderr
    results = load_json(tmp_path / "run/ppo_seed42_results.json")["experiment_results"]
    assert results["metadata"]["total_timesteps"] == 5000
    assert timesteps(tmp_path / "run", "ppo_seed42") == list(range(100, 5001, 100))


def test_training_reproducibility(ppo_5000, tmp_path):
    """Contract reproducibility test: same seed, same numbers."""
    result = run_cli(["--algo", "ppo", "--seed", "42", "--timesteps", "5000", "--eval-episodes", "3"], tmp_path)
    assert result.returncode == 0, result.stderr
    results_1 = load_json(ppo_5000.output_dir / "ppo_seed42_results.json")
    results_2 = load_json(tmp_path / "results/experiments/ppo_seed42/ppo_seed42_results.json")
    reward_1 = results_1["experiment_results"]["metrics"]["final_reward_mean"]
    reward_2 = results_2["experiment_results"]["metrics"]["final_reward_mean"]
    assert abs(reward_1 - reward_2) < 0.01

    def series(path):
        return [{k: v for k, v in e.items() if k != "timestamp"}
                for e in load_json(path)["training_metrics"]["time_series"]]

    assert series(ppo_5000.output_dir / "ppo_seed42_metrics.json") == \
        series(tmp_path / "results/experiments/ppo_seed42/ppo_seed42_metrics.json")
