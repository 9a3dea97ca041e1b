"""A run's folder holds one run: earlier runs moved aside whole, a resume that takes only its own run's files,
and one process at a time (real subprocesses, real signals)."""

import signal
import time
from pathlib import Path

import pytest

from conftest import contract_tree, load_json, run_cli, start_cli, timesteps

QUICK = ["--eval-episodes", "1"]


def contents(folder: Path, logs: bool = True) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and (logs or p.parent.name != "logs")}


def earlier(folder: Path) -> list[Path]:
    return sorted(folder.parent.glob(f"earlier_*_{folder.name}"))


def test_a_new_run_moves_the_earlier_run_aside_whole_and_writes_only_its_own_files(tmp_path):
    out = tmp_path / "D"
    first = run_cli(["--algo", "a2c", "--timesteps", "200", "--checkpoint-interval", "100", "--output-dir", "D",
                     *QUICK], tmp_path)
    assert first.returncode == 0, first.stderr
    before = contents(out)
    second = run_cli(["--algo", "a2c", "--env", "CartPole-v1", "--timesteps", "100", "--checkpoint-interval", "100",
                      "--output-dir", "D", *QUICK], tmp_path)
    assert second.returncode == 0, second.stderr
    [aside] = earlier(out)
    assert contents(aside) == before  # the earlier run, whole and unchanged
    assert f"moved them, whole, to {aside}" in second.stderr
    assert {p.name for p in out.iterdir()} == contract_tree("a2c_seed42", [100])
    results = load_json(out / "a2c_seed42_results.json")["experiment_results"]
    assert results["environment"]["name"] == "CartPole-v1" and results["model"]["checkpoints"] == ["checkpoint_100.zip"]
    assert results["metadata"]["run_id"] == load_json(out / "a2c_seed42_metrics.json")["training_metrics"][
        "metadata"]["run_id"] != load_json(aside / "a2c_seed42_results.json")["experiment_results"]["metadata"]["run_id"]


def test_a_resume_takes_only_the_checkpoints_and_metrics_of_the_run_it_resumes(tmp_path):
    out = tmp_path / "D"
    a2c = ["--algo", "a2c", "--output-dir", "D", *QUICK]
    assert run_cli([*a2c, "--timesteps", "400", "--checkpoint-interval", "100"], tmp_path).returncode == 0
    assert run_cli([*a2c, "--timesteps", "300", "--checkpoint-interval", "50"], tmp_path).returncode == 0
    [first] = earlier(out)  # the 400-step run
    second = contents(out, logs=False)  # the 50-interval run's own files
    resumed = run_cli([*a2c, "--timesteps", "400", "--checkpoint-interval", "100",
                       "--resume-from", str(first / "checkpoint_200.zip")], tmp_path)
    assert resumed.returncode == 1, resumed.stderr  # its series before step 200 is not in D: a warning
    assert "time series starts at step 200" in resumed.stderr
    [_, moved] = earlier(out)
    assert contents(moved) == second  # the other run's files, moved aside whole, never spliced (logs stay)
    results = load_json(out / "a2c_seed42_results.json")["experiment_results"]
    assert results["model"]["checkpoints"] == ["checkpoint_300.zip", "checkpoint_400.zip"]  # its own only
    assert timesteps(out, "a2c_seed42") == [300, 400]
    assert results["metadata"]["run_id"] == load_json(first / "a2c_seed42_results.json")[
        "experiment_results"]["metadata"]["run_id"]


def test_a_resume_from_an_earlier_checkpoint_moves_the_abandoned_future_aside(tmp_path):
    out = tmp_path / "D"
    a2c = ["--algo", "a2c", "--checkpoint-interval", "100", "--output-dir", "D", *QUICK]
    # 250 steps: its last checkpoint is off the interval, as one saved at an interruption is
    assert run_cli([*a2c, "--timesteps", "250"], tmp_path).returncode == 0
    resumed = run_cli([*a2c, "--timesteps", "300", "--resume-from", "D/checkpoint_100.zip"], tmp_path)
    assert resumed.returncode == 0, resumed.stderr
    [aside] = earlier(out)
    assert sorted(p.name for p in aside.iterdir()) == ["checkpoint_200.zip", "checkpoint_250.zip"]
    again = run_cli([*a2c, "--timesteps", "300", "--resume-from", "D/checkpoint_300.zip"], tmp_path)  # finalise
    assert again.returncode == 0, again.stderr
    results = load_json(out / "a2c_seed42_results.json")["experiment_results"]
    assert results["model"]["checkpoints"] == ["checkpoint_100.zip", "checkpoint_200.zip", "checkpoint_300.zip"]
    assert {p.name for p in out.iterdir()} == contract_tree("a2c_seed42", [100, 200, 300])


def test_a_second_process_writing_the_same_folder_exits_3_and_a_killed_ones_lock_is_taken_over(tmp_path):
    out = tmp_path / "D"
    writer = start_cli(["--algo", "ppo", "--timesteps", "200000", "--output-dir", "D"], tmp_path)
    deadline = time.monotonic() + 120
    while not (out / "checkpoint_1000.zip").exists():
        assert writer.poll() is None and time.monotonic() < deadline
        time.sleep(0.1)
    second = run_cli(["--algo", "ppo", "--timesteps", "1000", "--output-dir", "D"], tmp_path, timeout=60)
    assert second.returncode == 3, second.stderr
    [line] = [line for line in second.stderr.splitlines() if line.strip()]
    assert "is being written by process" in line and str(writer.pid) in line
    assert not earlier(out)  # nothing of the running run was touched
    writer.send_signal(signal.SIGKILL)
    writer.wait(timeout=30)
    assert (out / ".rl_sweep.lock").exists()  # left behind by the killed process
    after = run_cli(["--algo", "ppo", "--timesteps", "3100", "--output-dir", "D", *QUICK,
                     "--resume-from", "D/checkpoint_1000.zip"], tmp_path)
    assert after.returncode == 0, after.stderr
    assert not (out / ".rl_sweep.lock").exists()


def test_a_name_claim_is_given_back_when_what_runs_meanwhile_fails_and_a_taken_one_is_left_alone(tmp_path):
    """Storage.create_exclusive: the claim is removed again if what runs while it settles (Ray's start) fails;
    a claim another sweep holds is neither taken nor removed."""
    from rl_sweep.storage import Storage

    storage = Storage(str(tmp_path))

    def fail() -> None:
        raise RuntimeError("Ray did not start")

    with pytest.raises(RuntimeError):
        storage.create_exclusive(b"mine", "sweeps/a/.claim", meanwhile=fail)
    assert not storage.exists("sweeps/a/.claim")
    assert storage.create_exclusive(b"theirs", "sweeps/a/.claim")
    assert not storage.create_exclusive(b"mine", "sweeps/a/.claim", meanwhile=fail)
    assert storage.read_text("sweeps/a/.claim") == "theirs"
