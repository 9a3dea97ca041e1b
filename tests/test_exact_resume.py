"""Exact resume: a run stopped anywhere and resumed ends bitwise identical to one that never stopped
(real SB3 training, real subprocesses and signals; tensors compared with torch.equal)."""

import random
import shutil
import signal
import time

import pytest

from conftest import assert_identical, load_json, run_cli, start_cli, without_entries
from rl_sweep.errors import ExitCode
from rl_sweep.run.cli import run_training
from rl_sweep.run.config import TrainingConfig

NORMALISED = """\
a2c:
  timesteps: 3000
  n_envs: 4
  normalize: true
  hyperparameters: {n_steps: 5, gamma: 0.995}
ppo:
  timesteps: 4000
  n_envs: 4
  normalize: true
  hyperparameters: {n_steps: 256, batch_size: 64, n_epochs: 4}
"""


@pytest.mark.parametrize("algo, preset, at", [("ppo", "contract", 3000), ("a2c", "normalised", 1500),
                                              ("ppo", "normalised", 1500)])
def test_resuming_an_earlier_checkpoint_of_a_finished_run_ends_identical(tmp_path, algo, preset, at):
    if preset == "normalised":
        (tmp_path / "normalised.yaml").write_text(NORMALISED)
        preset = str(tmp_path / "normalised.yaml")
    # The contract's PPO over 6,000 steps: three rollouts of 2,048, the resume inside the second.
    config = {"algo": algo, "preset": preset, "checkpoint_interval": 500, "eval_episodes": 2,
              **({"total_timesteps": 6000} if preset == "contract" else {})}
    assert run_training(TrainingConfig(**config, output_dir=tmp_path / "A")) == ExitCode.OK
    total = TrainingConfig(**config).total_timesteps
    shutil.copytree(tmp_path / "A", tmp_path / "B")
    resumed = TrainingConfig(**config, output_dir=tmp_path / "B", resume_from=tmp_path / f"B/checkpoint_{at}.zip")
    assert run_training(resumed) == ExitCode.OK
    assert_identical(tmp_path / "A", tmp_path / "B", f"{algo}_seed42", [total])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_run_stopped_at_a_random_moment_and_resumed_ends_identical(tmp_path, signum):
    args = ["--algo", "ppo", "--timesteps", "6000", "--eval-episodes", "2"]
    reference = start_cli([*args, "--output-dir", "reference"], tmp_path)  # beside the run: a CPU each
    process = start_cli([*args, "--output-dir", "run"], tmp_path)
    deadline = time.monotonic() + 120
    while not (tmp_path / "run/checkpoint_1000.zip").exists():
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    time.sleep(random.uniform(0.0, 1.0))  # somewhere in PPO's first or second rollout
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 7, stderr
    step = load_json(tmp_path / "run/ppo_seed42_results.json")["experiment_results"]["metadata"]["total_timesteps"]
    assert step < 6000
    resumed = run_cli([*args, "--output-dir", "run", "--resume-from", f"run/checkpoint_{step}.zip"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    _, stderr = reference.communicate(timeout=300)
    assert reference.returncode == 0, stderr
    assert_identical(tmp_path / "reference", tmp_path / "run", "ppo_seed42", [5000, 6000])


def test_a_checkpoint_without_its_rollouts_state_resumes_with_a_warning(tmp_path):
    assert run_training(TrainingConfig(algo="a2c", total_timesteps=300, checkpoint_interval=100, eval_episodes=1,
                                       output_dir=tmp_path / "A")) == ExitCode.OK
    without_entries(tmp_path / "A/checkpoint_100.zip", tmp_path / "older.zip", ("rollout_start.json", "manifest.json"))
    result = run_cli(["--algo", "a2c", "--timesteps", "300", "--checkpoint-interval", "100", "--eval-episodes", "1",
                      "--output-dir", "A", "--resume-from", str(tmp_path / "older.zip")], tmp_path)
    assert result.returncode == 1, result.stderr
    assert "not as it would have without the interruption" in result.stderr
