"""Any Gymnasium environment: environment arguments, a user's own environment through Gymnasium's module:id
form, continuous actions with exact resume, presets per environment, and evaluation that ends (real
environments, real SB3 training, rl-train as a subprocess where the command line is what is tested)."""

import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import CORRIDOR, assert_identical, cli_env, load_json, problem_lines, run_cli, start_cli, user_env
from rl_sweep.errors import ExitCode
from rl_sweep.presets import load_settings
from rl_sweep.run.checkpoints import read_state
from rl_sweep.run.cli import run_training
from rl_sweep.run.config import TrainingConfig
from rl_sweep.run.environments import EVAL_TIME_LIMIT

TREADMILL = "rl_sweep_test_envs:Treadmill-v0"

# Small rollouts, so that a few thousand steps hold several updates and a resume lands inside a rollout.
SMALL = """\
ppo:
  timesteps: 2000
  n_envs: 2
  hyperparameters: {n_steps: 256, batch_size: 64, n_epochs: 2}
a2c:
  timesteps: 1000
  n_envs: 2
  hyperparameters: {n_steps: 5}
"""


def results(folder: Path, experiment_id: str = "ppo_seed42") -> dict:
    return load_json(folder / f"{experiment_id}_results.json")["experiment_results"]


def test_env_kwargs_reach_the_environment_the_results_and_every_checkpoint(tmp_path):
    result = run_cli(["--algo", "a2c", "--env-kwargs", "continuous=true", "enable_wind=true", "gravity=-9.5",
                      "--timesteps", "1000", "--checkpoint-interval", "500", "--eval-episodes", "1",
                      "--output-dir", "out"], tmp_path)
    assert result.returncode == 0, result.stderr
    environment = results(tmp_path / "out", "a2c_seed42")["environment"]
    kwargs = {"continuous": True, "enable_wind": True, "gravity": -9.5}
    assert environment["kwargs"] == kwargs
    assert environment["action_space"] == "Box(2,)"  # continuous=true did reach gym.make
    for step in (500, 1000):
        assert read_state(tmp_path / f"out/checkpoint_{step}.zip").env_kwargs == kwargs


def test_a_run_without_env_kwargs_records_none():
    assert TrainingConfig("ppo").env_kwargs == {}


def test_a_resume_with_other_env_kwargs_goes_on_with_a_warning_naming_them(tmp_path):
    base = ["--algo", "a2c", "--timesteps", "400", "--checkpoint-interval", "200", "--eval-episodes", "1",
            "--output-dir", "out"]
    first = run_cli([*base, "--env-kwargs", "enable_wind=true"], tmp_path)
    assert first.returncode == 0, first.stderr
    resumed = run_cli([*base, "--timesteps", "600", "--env-kwargs", "enable_wind=true", "wind_power=5.0",
                       "--resume-from", "out/checkpoint_400.zip"], tmp_path)
    assert resumed.returncode == 1, resumed.stderr
    run = results(tmp_path / "out", "a2c_seed42")
    [warning] = [w for w in run["metadata"]["warnings"] if "environment arguments" in w]
    assert "changed: wind_power" in warning
    assert run["environment"]["kwargs"] == {"enable_wind": True, "wind_power": 5.0}


@pytest.mark.parametrize("kwargs, says", [(["nope=1"], "unexpected keyword argument 'nope'"),
                                          (["gravity=5.0"], "gravity")])
def test_an_argument_the_environment_refuses_exits_5_before_anything_is_written(tmp_path, kwargs, says):
    result = run_cli(["--algo", "ppo", "--env-kwargs", *kwargs], tmp_path)
    assert result.returncode == 5
    [line] = problem_lines(result.stderr)
    assert says in line and "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("args", [["--env-kwargs", "gravity"], ["--env-kwargs", "a=1", "a=2"],
                                  ["--env", "CartPole-v1", "--env", "Acrobot-v1"]])
def test_malformed_environment_options_exit_3(tmp_path, args):
    result = run_cli(["--algo", "ppo", *args], tmp_path)
    assert result.returncode == 3, result.stderr
    assert len(problem_lines(result.stderr)) == 1


def test_a_users_own_environment_trains_through_the_module_id_form(tmp_path):
    result = run_cli(["--algo", "a2c", "--env", CORRIDOR, "--env-kwargs", "length=4", "--timesteps", "500",
                      "--checkpoint-interval", "250", "--eval-episodes", "2", "--output-dir", "out"], tmp_path,
                     **user_env())
    assert result.returncode in (0, 1), result.stderr  # 1: the untrained policy may miss the threshold
    run = results(tmp_path / "out", "a2c_seed42")
    assert run["metadata"]["status"] == "completed"
    assert run["environment"]["name"] == CORRIDOR and run["environment"]["kwargs"] == {"length": 4}


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
@pytest.mark.parametrize("env, kwargs", [("LunarLander-v3", {"continuous": True, "enable_wind": True}),
                                         ("Pendulum-v1", {})])
def test_continuous_actions_train_checkpoint_and_resume_bitwise_identical(tmp_path, algo, env, kwargs):
    (tmp_path / "small.yaml").write_text(SMALL)
    config = {"algo": algo, "env_name": env, "env_kwargs": kwargs, "preset": str(tmp_path / "small.yaml"),
              "checkpoint_interval": 250, "eval_episodes": 2}
    assert run_training(TrainingConfig(**config, output_dir=tmp_path / "A")) == ExitCode.OK
    total = TrainingConfig(**config).total_timesteps
    assert results(tmp_path / "A", f"{algo}_seed42")["environment"]["action_space"].startswith("Box")
    shutil.copytree(tmp_path / "A", tmp_path / "B")
    resumed = TrainingConfig(**config, output_dir=tmp_path / "B", resume_from=tmp_path / "B/checkpoint_750.zip")
    assert run_training(resumed) == ExitCode.OK
    assert_identical(tmp_path / "A", tmp_path / "B", f"{algo}_seed42", [total])


def test_presets_hold_settings_per_environment():
    assert load_settings("tuned", "ppo", "LunarLander-v3").timesteps == 600_000
    assert load_settings("tuned", "ppo", "CartPole-v1").hyperparameters["n_steps"] == 32
    assert load_settings("tuned", "a2c", "Acrobot-v1").normalize is True
    # the module:id form finds the settings of its id; the contract preset serves every environment
    assert load_settings("tuned", "ppo", "gymnasium.envs.classic_control:CartPole-v1").timesteps == 100_000
    assert load_settings("contract", "ppo", "Pendulum-v1") == load_settings("contract", "ppo")


def test_a_preset_with_a_default_serves_any_other_environment(tmp_path):
    preset = tmp_path / "mine.yaml"
    preset.write_text("ppo:\n  CartPole-v1: {timesteps: 100}\n  default: {timesteps: 200}\n")
    assert load_settings(str(preset), "ppo", "CartPole-v1").timesteps == 100
    assert load_settings(str(preset), "ppo", "Acrobot-v1").timesteps == 200


@pytest.mark.parametrize("command", ["train", "sweep"])
def test_a_preset_without_settings_for_the_environment_exits_3_naming_what_it_has(tmp_path, command):
    args = ["--preset", "tuned", "--env", "Pendulum-v1"]
    result = subprocess.run([sys.executable, "-m", f"rl_sweep.{command}", *args,
                             *(["--algo", "ppo"] if command == "train" else [])],
                            cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 3, result.stderr
    [line] = problem_lines(result.stderr)
    assert "tuned" in line and "Pendulum-v1" in line and "CartPole-v1" in line and "Acrobot-v1" in line
    assert not (tmp_path / "results").exists()


def test_an_environment_without_a_time_limit_is_evaluated_to_the_limit_with_a_warning(tmp_path):
    result = run_cli(["--algo", "a2c", "--env", TREADMILL, "--timesteps", "200", "--checkpoint-interval", "100",
                      "--eval-episodes", "1", "--output-dir", "out"], tmp_path, **user_env())
    assert result.returncode == 1, result.stderr
    run = results(tmp_path / "out", "a2c_seed42")
    assert run["metrics"]["eval_cut_at_time_limit"] == 1
    assert run["metrics"]["episode_length_mean"] == EVAL_TIME_LIMIT
    assert any(TREADMILL in w and "no time limit" in w for w in run["metadata"]["warnings"])


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_a_signal_during_evaluation_stops_the_run_with_exit_7_its_checkpoint_saved(tmp_path, signum):
    # Ten episodes of 10,000 steps: the evaluation lasts long enough to be interrupted on any machine.
    process = start_cli(["--algo", "a2c", "--env", TREADMILL, "--timesteps", "200", "--checkpoint-interval", "100",
                         "--eval-episodes", "10", "--output-dir", "out"], tmp_path, **user_env())
    out = tmp_path / "out"
    deadline = time.monotonic() + 120
    while not (out / "a2c_seed42_model.zip").exists():  # saved just before the evaluation starts
        assert process.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    process.send_signal(signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 7, stderr
    run = results(out, "a2c_seed42")
    assert run["metadata"]["status"] == "interrupted" and run["metrics"]["final_reward_mean"] is None
    assert read_state(out / "checkpoint_200.zip").step == 200


def test_the_random_policy_samples_one_action_per_environment_whatever_the_observation():
    """The normalisation's random policy, as SB3's evaluate_policy calls it: one flag per environment in
    episode_start; a dict observation (two keys here, of one environment) is not a count of environments."""
    import gymnasium as gym
    import numpy as np

    from rl_sweep.run.evaluation import UniformRandom

    policy = UniformRandom(gym.spaces.Discrete(4), seed=0)
    observation = {"position": np.zeros((1, 2)), "velocity": np.zeros((1, 2))}
    actions, _ = policy.predict(observation, episode_start=np.ones(1, dtype=bool))
    assert actions.shape == (1,)
    actions, _ = policy.predict(np.zeros((3, 8)), episode_start=np.ones(3, dtype=bool))
    assert actions.shape == (3,) and all(0 <= a < 4 for a in actions)
