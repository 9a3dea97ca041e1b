"""rl-sweep: contract runs as Ray Tune trials on a real local Ray cluster: a seed sweep's trials, its summary and
report, a killed worker restored, several environments, the local cluster's workers, a sweep interrupted and
resumed. The trainable alone: tests/test_trainable.py; --search: tests/test_search.py; the command's arguments and
a sweep on a terminal: tests/test_sweep_cli.py; the live display: tests/test_progress.py."""

import json
import os
import re
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from conftest import (CTRL_C, assert_identical, cli_env, contract_tree, load_json, options, run_on_terminal,
                      start_cli, timesteps)
from ray import tune

from rl_sweep.errors import ExitCode
from rl_sweep.run.cli import run_training
from rl_sweep.run.config import TrainingConfig
from rl_sweep.sweep.runner import run_sweep


def test_sweep_writes_every_trials_contract_files_and_a_summary(ray_cluster, quick_report, tmp_path, capsys):
    code, summary = run_sweep(options(tmp_path, seeds=2))
    assert code == ExitCode.OK
    # The console ends with what the report's test says at these seeds.
    assert capsys.readouterr().out.rstrip().endswith(
        "No one-round AdaStop test on LunarLander-v3: PPO has 2 completed seeds, A2C has 2 completed seeds, and it needs "
        "at least 4 of each algorithm.")
    assert sorted(t["trial"] for t in summary["trials"]) == ["a2c_seed42", "a2c_seed43", "ppo_seed42", "ppo_seed43"]
    for trial in summary["trials"]:
        out = Path(trial["experiment_dir"])
        assert out == tmp_path / "results/sweeps/test" / trial["trial"]  # one folder per sweep
        assert trial["status"] == "completed" and trial["timesteps"] == 2000
        for name in ("model.zip", "results.json", "metrics.json"):
            assert (out / f"{trial['trial']}_{name}").exists()
        assert {p.name for p in out.iterdir()} == contract_tree(trial["trial"], [1000, 2000])
        results = load_json(out / f"{trial['trial']}_results.json")["experiment_results"]
        assert results["metrics"]["final_reward_mean"] == trial["final_reward_mean"]
    sweep_dir = tmp_path / "results/sweeps/test"
    assert load_json(sweep_dir / "summary.json") == json.loads(json.dumps(summary))
    for name in ("report.md", "report.html", "learning_curves.png", "final_performance.png"):
        assert (sweep_dir / name).exists()
    report = summary["report"]
    assert report["algorithms"]["ppo"]["seeds_completed"] == 2
    assert report["command"] == "rl-sweep (test)"
    # TensorBoard (tensorboard --logdir results/sweeps/test): Tune's event files hold every trial's series
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    for trial in summary["trials"]:
        events = EventAccumulator(str(sweep_dir / "tune" / trial["trial"]))
        events.Reload()
        tags = set(events.Tags()["scalars"])
        assert {"ray/tune/episode_reward_mean", "ray/tune/steps_per_second"} <= tags
        assert ("ray/tune/loss" in tags) == (trial["algo"] == "a2c")  # PPO's first update is at 2,048 steps
        rewards = events.Scalars("ray/tune/episode_reward_mean")
        assert [e.step for e in rewards] == [1000, 2000]  # by environment step
        last = json.loads((sweep_dir / "tune" / trial["trial"] / "result.json").read_text().splitlines()[-1])
        assert rewards[-1].value == pytest.approx(last["episode_reward_mean"])
    assert any("cannot be decided at 2 seeds" in line for line in report["verdict"])


def test_trial_and_cli_run_with_the_same_arguments_give_the_same_metrics(ray_cluster, quick_report, ppo_5000,
                                                                         tmp_path):
    """The trial against rl-train --algo ppo --seed 42 --timesteps 5000 --eval-episodes 3 (tests/conftest.py)."""
    code, _ = run_sweep(options(tmp_path, algos=["ppo"], timesteps=5000, eval_episodes=3))
    assert code == ExitCode.OK

    def metrics(out):
        results = load_json(out / "ppo_seed42_results.json")["experiment_results"]["metrics"]
        series = [{k: v for k, v in e.items() if k != "timestamp"}
                  for e in load_json(out / "ppo_seed42_metrics.json")["training_metrics"]["time_series"]]
        return results["final_reward_mean"], series

    assert metrics(tmp_path / "results/sweeps/test/ppo_seed42") == metrics(ppo_5000.output_dir)


class KillOnce(tune.Callback):
    """Kill a trial's worker process (SIGKILL, by its PID) once it has reported ``at_step``."""

    def __init__(self, trial_name: str, at_step: int) -> None:
        self.trial_name, self.at_step, self.killed_pid = trial_name, at_step, None

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if self.killed_pid is None and str(trial) == self.trial_name and result["timesteps_total"] >= self.at_step:
            self.killed_pid = result["pid"]
            os.kill(self.killed_pid, signal.SIGKILL)


def test_killed_worker_is_restored_from_its_checkpoint_and_completes(ray_cluster, quick_report, tmp_path):
    killer = KillOnce("a2c_seed42", at_step=1000)
    code, summary = run_sweep(options(tmp_path, algos=["a2c"], checkpoint_interval=500), callbacks=[killer])
    assert killer.killed_pid is not None
    assert code == ExitCode.OK
    [trial] = summary["trials"]
    assert trial["status"] == "completed" and trial["timesteps"] == 2000
    out = tmp_path / "results/sweeps/test/a2c_seed42"
    results = load_json(out / "a2c_seed42_results.json")["experiment_results"]
    assert results["metadata"]["status"] == "completed"
    assert results["metadata"]["resumed_from"] is not None  # restored from a Tune checkpoint
    assert timesteps(out, "a2c_seed42") == list(range(100, 2001, 100))  # continuous, no duplicates
    assert results["model"]["checkpoints"] == [f"checkpoint_{n}.zip" for n in range(500, 2001, 500)]
    # and it ends exactly where the same run left alone ends (a trial and rl-train give the same numbers)
    reference = TrainingConfig(algo="a2c", total_timesteps=2000, checkpoint_interval=500, eval_episodes=2,
                               output_dir=tmp_path / "reference")
    assert run_training(reference) == ExitCode.OK
    assert_identical(tmp_path / "reference", out, "a2c_seed42", [1500, 2000])


class SignalOnce(tune.Callback):
    """Send this process (the sweep's driver) ``signum`` once a trial has reported ``at_step``."""

    def __init__(self, signum: int, at_step: int) -> None:
        self.signum, self.at_step, self.sent = signum, at_step, False

    def on_trial_result(self, iteration, trials, trial, result, **info):
        if not self.sent and result["timesteps_total"] >= self.at_step:
            self.sent = True
            os.kill(os.getpid(), self.signum)


@pytest.mark.parametrize("signum, says", [(signal.SIGUSR1, "SIGUSR1 (Tune's signal to stop a run)"),
                                          (signal.SIGTERM, "SIGTERM (a request to stop, from kill or a job scheduler)")])
def test_an_interruption_is_named_by_its_signal_and_is_never_made_of_unfinished_trials_alone(ray_cluster, quick_report,
                                                                                            tmp_path, caplog, signum,
                                                                                            says):
    """Tune ends its run on SIGUSR1 as on Ctrl-C, and the sweep on SIGTERM too: exit 7, the warning naming the signal
    (a sweep exits 7 on nothing else: tests/test_records.py, trials unfinished with no signal are a failure)."""
    code, summary = run_sweep(options(tmp_path, algos=["a2c"], checkpoint_interval=500),
                              callbacks=[SignalOnce(signum, at_step=500)])
    assert code == ExitCode.INTERRUPTED and summary["status"] == "interrupted", summary
    [warning] = [r.getMessage() for r in caplog.records if "sweep interrupted" in r.getMessage()]
    assert warning.startswith(f"sweep interrupted by {says}; trials not completed: a2c_seed42. Continue with: ")
    # rl-sweep, or its path when the shell's PATH would not find this one (make sweep runs .venv/bin/rl-sweep)
    assert "rl-sweep --resume test" in warning


def test_a_sweep_across_environments_gives_each_its_folder_and_the_report_aggregates(ray_cluster, quick_report,
                                                                                    tmp_path):
    module_id = "gymnasium.envs.classic_control:CartPole-v1"  # an id with ':' in it
    code, summary = run_sweep(options(tmp_path, envs=[module_id, "Acrobot-v1"], timesteps=1000, seeds=1))
    assert code == ExitCode.OK
    sweep = tmp_path / "results/sweeps/test"
    folders = {"gymnasium.envs.classic_control-CartPole-v1": module_id, "Acrobot-v1": "Acrobot-v1"}
    assert {p.name for p in sweep.iterdir() if p.is_dir()} == {*folders, "tune"}
    assert [(t["env"], t["algo"]) for t in summary["trials"]] == [
        (module_id, "ppo"), (module_id, "a2c"), ("Acrobot-v1", "ppo"), ("Acrobot-v1", "a2c")]
    for trial in summary["trials"]:
        folder, name = trial["trial"].split("/")
        assert folders[folder] == trial["env"]  # the id as given, its folder a safe name
        out = Path(trial["experiment_dir"])
        assert out == sweep / folder / name
        assert {p.name for p in out.iterdir()} == contract_tree(name, [1000])
        assert load_json(out / f"{name}_results.json")["experiment_results"]["metadata"]["environment"] == trial["env"]
    report = (sweep / "report.md").read_text()
    assert "Across environments" in report and (sweep / "performance_profiles.png").exists()


LOCAL_CLUSTER_PROBE = """
import os, sys, time
import ray
from ray import tune
from ray.util.placement_group import placement_group, remove_placement_group
from rl_sweep.storage import Storage
from rl_sweep.sweep.cluster import start_ray, stop_ray

def idle_workers(raylet):
    found = set()
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            title = open(f"/proc/{pid}/cmdline", "rb").read().split(b"\\0")[0].strip()
            parent = int(open(f"/proc/{pid}/stat").read().rpartition(")")[2].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        if title == b"ray::IDLE" and parent == raylet:
            found.add(int(pid))
    return found

class Probe(tune.Trainable):  # sent by value: what it finds imported, the worker imported before it came
    def step(self):
        return {"pid": os.getpid(), "sb3": "stable_baselines3" in sys.modules, "done": True}

start_ray(None, dashboard=False, verbose=False, storage=Storage(sys.argv[1]))
node = ray._private.worker._global_node
[raylet] = [info.process.pid for info in node.all_processes["raylet"]]
for _ in range(600):  # the workers this cluster starts with, one per CPU
    prestarted = idle_workers(raylet)
    if len(prestarted) == int(ray.cluster_resources()["CPU"]):
        break
    time.sleep(0.1)
# Tune holds a trial's CPUs (a placement group) before it starts the trial's actor, on a slow machine seconds before
held = placement_group([{"CPU": ray.cluster_resources()["CPU"]}])
ray.get(held.ready())
time.sleep(2.5)
remove_placement_group(held)
[result] = tune.Tuner(Probe, run_config=tune.RunConfig(storage_path=sys.argv[1], verbose=0)).fit()
processes = [info.process for kind in node.all_processes.values() for info in kind]
stop_ray()
left = [process.pid for process in processes if process.poll() is None]
print(result.metrics["pid"] in prestarted, result.metrics["sb3"], left)
"""


def test_a_local_cluster_runs_trials_in_the_workers_it_starts_with_their_imports_done_and_stops_whole(tmp_path):
    result = subprocess.run([sys.executable, "-c", LOCAL_CLUSTER_PROBE, str(tmp_path)], env=cli_env(),
                            capture_output=True, text=True, timeout=180)
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[-2] == "True True []", result.stdout


def _dashboard_status(url: str, token: str | None) -> int:
    request = urllib.request.Request(f"{url}/api/v0/actors?detail=1")
    if token:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_interrupted_sweep_resumes_without_rerunning_finished_trials(tmp_path, request):
    """The real command on a terminal: dashboard on 127.0.0.1 behind the token, Ctrl-C; then --resume off one."""
    command = [sys.executable, "-m", "rl_sweep.sweep", "--algos", "a2c", "ppo", "--seeds", "1", "--timesteps", "3000",
               "--eval-episodes", "1", "--max-concurrent", "1", "--name", "interrupted", "--no-replays"]
    experiments = tmp_path / "results/sweeps/interrupted"
    dashboard: list[int] = []
    reference: list[subprocess.Popen] = []

    def ctrl_c_once_ppo_is_under_way(console: str) -> bytes:  # a2c done, ppo under way
        if reference or not (experiments / "ppo_seed42/checkpoint_1000.zip").exists():
            return b""
        url = re.search(r"Ray dashboard: (\S+)", console)[1]
        token = (Path.home() / ".ray/auth_token").read_text().strip()
        dashboard.extend([url.startswith("http://127.0.0.1:"), _dashboard_status(url, None),
                          _dashboard_status(url, token)])
        # The same run left alone, by rl-train, while the sweep stops and resumes: it reads nothing of the sweep's.
        reference.append(start_cli(["--algo", "ppo", "--timesteps", "3000", "--eval-episodes", "1",
                                    "--output-dir", "ref"], tmp_path))
        request.addfinalizer(reference[0].kill)  # nothing once it has ended
        return CTRL_C

    code, console = run_on_terminal(command, tmp_path, typing=ctrl_c_once_ppo_is_under_way)
    assert code == ExitCode.INTERRUPTED, console
    assert dashboard == [True, 401, 200]
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console).replace("\r", "\n")  # a redraw's line starts at \r
    assert "rl-sweep --resume interrupted" in plain
    assert "sweep interrupted by SIGINT (Ctrl-C, or ^C written to its terminal)" in plain  # the ^C byte typed
    # The last frame says the sweep was interrupted, ppo's steps as they were; Tune's own lines stay out.
    *_, last = re.findall(r"^interrupted .* steps +elapsed .*$", plain, re.MULTILINE)
    assert last.split()[-1] == "interrupted" and "100%" not in last, last
    *_, counts = re.findall(r"trials: .*$", plain, re.MULTILINE)
    assert counts.strip() == "trials: 0 pending, 0 running, 1 completed, 0 failed, 1 interrupted"
    for tunes in ("Tuner.restore", "Failed to fetch metrics", "Trials did not complete", "Stop signal received"):
        assert tunes not in plain, plain

    summary = load_json(tmp_path / "results/sweeps/interrupted/summary.json")
    assert {t["trial"]: t["status"] for t in summary["trials"]} == {"a2c_seed42": "completed",
                                                                    "ppo_seed42": "incomplete"}
    finished = (experiments / "a2c_seed42/a2c_seed42_results.json").read_text()

    resumed = subprocess.run([sys.executable, "-m", "rl_sweep.sweep", "--resume", "interrupted", "--no-dashboard"],
                             cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    # Off a terminal: plain lines, each one message: a trial's end, and the progress of all trials with an ETA after
    # it and every 30 s; the last once.
    assert "\x1b" not in resumed.stdout + resumed.stderr and "authentication_token_setup" not in resumed.stderr
    assert "Failed to fetch metrics" not in resumed.stderr  # nor Tune's lines on resuming
    lines = resumed.stdout.splitlines()
    ended = next(i for i, line in enumerate(lines) if line.startswith("ppo_seed42 completed: 3,000 steps"))
    assert "ETA" not in lines[ended] and lines[ended].endswith("(greedy policy)")
    assert re.fullmatch(r"\[\d+:\d\d\] 100% of 6,000 steps, ETA 0:00; trials: 0 pending, 0 running, 2 completed, "
                        r"0 failed", lines[ended + 1]), lines
    assert sum("% of 6,000 steps" in line for line in lines[ended + 1:]) == 1, lines
    assert (experiments / "a2c_seed42/a2c_seed42_results.json").read_text() == finished  # not rerun
    assert timesteps(experiments / "ppo_seed42", "ppo_seed42") == list(range(100, 3001, 100))
    _, reference_log = reference[0].communicate(timeout=300)
    assert reference[0].returncode == 0, reference_log
    assert_identical(tmp_path / "ref", experiments / "ppo_seed42", "ppo_seed42", [3000])  # as if never stopped
    summary = load_json(tmp_path / "results/sweeps/interrupted/summary.json")
    assert {t["status"] for t in summary["trials"]} == {"completed"}
