"""Contract: exit codes 1 to 7, each from a real failure, and interruption by real signals."""

import resource
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from stable_baselines3 import PPO

from conftest import cli_env, load_json, run_cli, start_cli, timesteps


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if "ERROR" in line or "error:" in line]


@pytest.mark.parametrize("args", [
    [],                                               # --algo missing
    ["--algo", "dqn"],
    ["--algo", "ppo", "--timesteps", "0"],
    ["--algo", "ppo", "--checkpoint-interval", "-1"],
    ["--algo", "ppo", "--timesteps", "ten"],
    ["--algo", "ppo", "--no-such-option"],
])
def test_invalid_arguments_exit_3(tmp_path, args):
    result = run_cli(args, tmp_path)
    assert result.returncode == 3
    assert len(error_lines(result.stderr)) == 1
    assert not (tmp_path / "results").exists()


def test_conda_mismatch_exits_4_before_anything_is_written(tmp_path):
    result = run_cli(["--algo", "ppo"], tmp_path, CONDA_DEFAULT_ENV="base")
    assert result.returncode == 4
    assert "'base'" in result.stderr and "'rocm'" in result.stderr
    assert not (tmp_path / "results").exists()


def test_matching_conda_env_is_recorded(tmp_path):
    result = run_cli(["--algo", "a2c", "--timesteps", "100", "--checkpoint-interval", "100",
                      "--eval-episodes", "1", "--conda-env", "lab"], tmp_path, CONDA_DEFAULT_ENV="lab")
    assert result.returncode == 0, result.stderr
    results = load_json(tmp_path / "results/experiments/a2c_seed42/a2c_seed42_results.json")
    assert results["experiment_results"]["metadata"]["conda_environment"] == "lab"


def test_unknown_environment_exits_5_with_one_line_and_no_traceback(tmp_path):
    result = run_cli(["--algo", "ppo", "--env", "NoSuchEnv-v0"], tmp_path)
    assert result.returncode == 5
    [line] = error_lines(result.stderr)
    assert "NoSuchEnv-v0" in line
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("tool", ["train", "sweep"])
def test_a_deprecated_environment_exits_5_with_one_line(tmp_path, tool):
    """Gymnasium warns that the id is out of date before it refuses it: the refusal says all of it."""
    args = ["--algo", "ppo"] if tool == "train" else ["--no-dashboard"]
    result = subprocess.run([sys.executable, "-m", f"rl_sweep.{tool}", *args, "--env", "LunarLander-v2"], cwd=tmp_path,
                            env=cli_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 5, result.stderr
    [line] = result.stderr.splitlines()
    assert "LunarLander-v2" in line and "LunarLander-v3" in line and "\x1b" not in line
    assert not (tmp_path / "results").exists()


def test_verbose_shows_the_traceback(tmp_path):
    result = run_cli(["--algo", "ppo", "--env", "NoSuchEnv-v0", "--verbose"], tmp_path)
    assert result.returncode == 5
    assert "Traceback" in result.stderr


@pytest.fixture(scope="module")
def cartpole_checkpoint(tmp_path_factory) -> Path:
    cwd = tmp_path_factory.mktemp("cartpole")
    result = run_cli(["--algo", "ppo", "--env", "CartPole-v1", "--timesteps", "200",
                      "--checkpoint-interval", "200", "--eval-episodes", "1", "--output-dir", "cp"], cwd)
    assert result.returncode == 1, result.stderr  # 200 steps: no PPO update yet, which is a warning
    assert "the policy was never updated" in result.stderr
    return cwd / "cp" / "checkpoint_200.zip"


def _truncated(source: Path, target: Path) -> Path:
    target.write_bytes(source.read_bytes()[: source.stat().st_size // 2])
    return target


@pytest.mark.parametrize("case", ["missing", "not_a_zip", "truncated", "other_algorithm", "other_spaces"])
def test_unusable_checkpoint_exits_6(tmp_path, ppo_5000, cartpole_checkpoint, case):
    good = ppo_5000.output_dir / "checkpoint_1000.zip"
    algo = "ppo"
    if case == "missing":
        path = tmp_path / "checkpoint_1000.zip"
    elif case == "not_a_zip":
        path = tmp_path / "checkpoint_1000.zip"
        path.write_text("not a checkpoint")
    elif case == "truncated":
        path = _truncated(good, tmp_path / "checkpoint_1000.zip")
    elif case == "other_algorithm":
        path, algo = good, "a2c"
    else:
        path = cartpole_checkpoint
    result = run_cli(["--algo", algo, "--resume-from", str(path), "--output-dir", "out"], tmp_path)
    assert result.returncode == 6, result.stderr
    assert len(error_lines(result.stderr)) == 1
    assert "Traceback" not in result.stderr


def test_checkpoint_save_failure_warns_goes_on_and_exits_1(tmp_path):
    out = tmp_path / "out"
    (out / "checkpoint_200.zip").mkdir(parents=True)  # a directory where the checkpoint should go
    result = run_cli(["--algo", "a2c", "--timesteps", "300", "--checkpoint-interval", "100",
                      "--eval-episodes", "1", "--output-dir", "out"], tmp_path)
    assert result.returncode == 1, result.stderr
    assert "checkpoint_200.zip could not be saved" in result.stderr
    results = load_json(out / "a2c_seed42_results.json")["experiment_results"]
    assert results["metadata"]["status"] == "completed"
    assert results["model"]["checkpoints"] == ["checkpoint_100.zip", "checkpoint_300.zip"]
    assert results["metadata"]["warnings"]


def test_resume_with_mismatched_filename_warns_and_exits_1(tmp_path, ppo_5000):
    shutil.copy(ppo_5000.output_dir / "checkpoint_1000.zip", tmp_path / "checkpoint_3000.zip")
    result = run_cli(["--algo", "ppo", "--timesteps", "1100", "--checkpoint-interval", "100",
                      "--eval-episodes", "1", "--resume-from", "checkpoint_3000.zip", "--output-dir", "out"],
                     tmp_path)
    assert result.returncode == 1, result.stderr
    assert "says step 3000 but it holds step 1000" in result.stderr
    assert PPO.load(tmp_path / "out/ppo_seed42_model.zip").num_timesteps == 1100


def test_disk_full_exits_2_and_leaves_no_damaged_file(tmp_path):
    """A file-size limit makes writes fail like a full disk: the first checkpoint after PPO's first
    update (optimizer state included) no longer fits."""
    limit = 100_000

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    result = subprocess.run(
        [sys.executable, "-m", "rl_sweep.train", "--algo", "ppo", "--timesteps", "5000",
         "--output-dir", "out"],
        cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=300,
        preexec_fn=limit_file_size,
    )
    assert result.returncode == 2, result.stderr
    assert "disk full" in result.stderr
    out = tmp_path / "out"
    assert not list(out.glob(".*.tmp")), "no temporary file is left behind"
    for checkpoint in out.glob("checkpoint_*.zip"):
        assert zipfile.ZipFile(checkpoint).testzip() is None
        assert PPO.load(checkpoint) is not None
    assert not (out / "checkpoint_3000.zip").exists()
    for document in out.glob("*.json"):
        load_json(document)
    assert load_json(out / "ppo_seed42_results.json")["experiment_results"]["metadata"]["status"] == "failed"


def wait_for(path: Path, process: subprocess.Popen, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, f"{path} never appeared"
        time.sleep(0.1)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_signal_saves_checkpoint_exits_7_and_resumes(tmp_path, signum):
    process = start_cli(["--algo", "ppo", "--timesteps", "200000", "--output-dir", "out"], tmp_path)
    out = tmp_path / "out"
    wait_for(out / "checkpoint_2000.zip", process)
    process.send_signal(signum)
    sent = time.monotonic()
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 7, stderr
    assert time.monotonic() - sent < 15, "exits within seconds"

    results = load_json(out / "ppo_seed42_results.json")["experiment_results"]
    assert results["metadata"]["status"] == "interrupted"
    step = results["metadata"]["total_timesteps"]
    assert step >= 2000
    checkpoint = out / f"checkpoint_{step}.zip"
    assert PPO.load(checkpoint).num_timesteps == step
    assert timesteps(out, "ppo_seed42")[-1] == step // 100 * 100

    # A resumed PPO run starts a new 2048-step rollout: 2100 more steps complete it, so the policy is updated.
    resumed = run_cli(["--algo", "ppo", "--timesteps", str(step + 2100), "--eval-episodes", "1",
                       "--output-dir", "out", "--resume-from", str(checkpoint)], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    assert timesteps(out, "ppo_seed42") == list(range(100, step + 2101, 100))
    final = load_json(out / "ppo_seed42_results.json")["experiment_results"]
    assert final["metadata"]["status"] == "completed"
    assert final["metadata"]["total_timesteps"] == step + 2100
