"""rl-sweep: contract runs as Ray Tune trials on a real local Ray cluster."""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import pytest
import ray
from conftest import CTRL_C, cli_env, contract_tree, load_json, run_on_terminal, start_cli, timesteps
from ray import tune

import rl_sweep
from rl_sweep.errors import ExitCode
from rl_sweep.run.cli import run_training
from rl_sweep.run.config import TrainingConfig
from test_exact_resume import assert_identical
from rl_sweep.presets import load_settings
from rl_sweep.sweep.progress import SweepProgress, render
from rl_sweep.sweep.search import run_search
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.runner import run_sweep


def options(tmp_path: Path, **overrides) -> SweepOptions:
    values = {"algos": ["ppo", "a2c"], "seeds": 1, "timesteps": 2000, "eval_episodes": 2,
              "results_dir": str(tmp_path / "results"), "name": "test", "command": "rl-sweep (test)",
              "replays": False}  # replays: tests/test_replays.py, and the sweep on a terminal below
    values.update(overrides)
    return SweepOptions.from_json(values)


def test_trainable_saves_and_restores_as_tune_restores_a_trial(ray_cluster, tmp_path):
    """Ray's validate_save_restore, with the stop Tune makes before it restores a trial in another process:
    two live trainables of one trial would write one folder, which the run's folder lock refuses."""
    config = {"run": {"algo": "a2c", "seed": 1, "total_timesteps": 1000, "checkpoint_interval": 100,
                      "eval_episodes": 1, "output_dir": str(tmp_path / "a2c_seed1")}}
    trainable = ray.remote(rl_sweep.RunTrainable)
    first, second = trainable.remote(config=config), trainable.remote(config=config)
    for _ in range(3):
        ray.get(first.train.remote())
    checkpoint = ray.get(first.save.remote())
    ray.get(first.stop.remote())
    ray.get(second.restore.remote(checkpoint))
    assert ray.get(second.train.remote())["training_iteration"] == 4
    assert ray.get(second.train.remote())["training_iteration"] == 5
    ray.get(second.stop.remote())
    assert timesteps(tmp_path / "a2c_seed1", "a2c_seed1") == list(range(100, 501, 100))


def test_trainable_takes_training_config_fields_at_the_top_of_its_config(ray_cluster, tmp_path):
    """The shape rl_sweep.RunTrainable was first exported with, through Tune's own save, stop and restore."""
    config = {"algo": "a2c", "seed": 3, "total_timesteps": 600, "checkpoint_interval": 200, "eval_episodes": 1,
              "output_dir": str(tmp_path / "a2c_seed3"), "cpus_per_trial": 1}
    trainable = ray.remote(rl_sweep.RunTrainable)
    first, second = trainable.remote(config=config), trainable.remote(config=config)  # two workers start at once
    ray.get(first.train.remote())
    checkpoint = ray.get(first.save.remote())
    ray.get(first.stop.remote())
    ray.get(second.restore.remote(checkpoint))
    results = [ray.get(second.train.remote()) for _ in range(2)]
    assert results[-1]["done"] and results[-1]["timesteps_total"] == 600
    ray.get(second.stop.remote())
    assert timesteps(tmp_path / "a2c_seed3", "a2c_seed3") == list(range(100, 601, 100))


def test_trainable_refuses_a_config_without_a_run_in_one_line(ray_cluster):
    trainable = ray.remote(rl_sweep.RunTrainable)
    with pytest.raises(Exception, match="has no run: give TrainingConfig's fields"):
        ray.get(trainable.remote(config={"seed": 1}).train.remote())


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


SPACE = """\
a2c:
  timesteps: 2000
  hyperparameters: {n_steps: 5, learning_rate: 0.0007}
  search:
    n_steps: [5, 10]
    learning_rate: {loguniform: [0.0001, 0.001]}
"""


def test_search_scores_each_setting_on_the_same_seeds_and_writes_the_best_as_a_preset(ray_cluster, tmp_path):
    preset = tmp_path / "space.yaml"
    preset.write_text(SPACE)
    code, summary = run_search(options(tmp_path, algos=["a2c"], preset=str(preset), search=3, seeds=2,
                                       checkpoint_interval=250))
    assert code == ExitCode.OK
    settings, trials = summary["settings"]["a2c"], summary["trials"]["a2c"]
    assert len(settings) == 3 and len(trials) == 6
    seeds = settings[0]["seeds"]
    assert len(set(seeds)) == 2 and all(seed >= 1000 for seed in seeds)  # never a sweep's seed
    assert all(s["seeds"] == seeds for s in settings)  # every setting on the same seeds
    assert len({t["experiment_dir"] for t in trials}) == 6
    # The preset's own values are one setting; the others are samples of the space.
    assert sum(s["overrides"] == {"n_steps": 5, "learning_rate": 0.0007} for s in settings) == 1
    for t in trials:
        [setting] = [s for s in settings if s["setting"] == t["setting"]]
        assert t["overrides"] == setting["overrides"]
        assert t["overrides"]["n_steps"] in (5, 10) and 0.0001 <= t["overrides"]["learning_rate"] <= 0.001
        results = load_json(Path(t["experiment_dir"]) / f"a2c_seed{t['seed']}_results.json")["experiment_results"]
        assert results["hyperparameters"] == t["overrides"]  # each trial ran with its setting
        assert t["status"] in ("completed", "stopped early")
    completed = [s for s in settings if s["status"] == "completed"]
    assert completed and settings[:len(completed)] == completed  # completed first, best first
    for s in completed:
        finals = [t["final_reward_mean"] for t in trials if t["setting"] == s["setting"]]
        assert s["final_rewards"] == finals and s["final_reward_mean"] == pytest.approx(sum(finals) / 2)
    means = [s["final_reward_mean"] for s in completed]
    assert means == sorted(means, reverse=True)
    sweep_dir = tmp_path / "results/sweeps/test"
    assert load_json(sweep_dir / "search.json")["settings"] == summary["settings"]
    best = load_settings(str(sweep_dir / "best.yaml"), "a2c")
    assert best.hyperparameters == completed[0]["overrides"]
    assert (best.timesteps, best.checkpoint_interval) == (2000, 250)  # what the search ran with


def test_search_without_early_stopping_trains_every_trial_to_the_end(ray_cluster, tmp_path):
    preset = tmp_path / "space.yaml"
    preset.write_text(SPACE)
    code, summary = run_search(options(tmp_path, algos=["a2c"], preset=str(preset), search=4, timesteps=1000,
                                       checkpoint_interval=250, early_stopping=False))
    assert code == ExitCode.OK
    trials = summary["trials"]["a2c"]
    assert len(trials) == 4
    assert all(t["status"] == "completed" and t["timesteps"] == 1000 for t in trials)


def test_search_needs_a_search_space_exit_3_before_starting_ray(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rl_sweep.sweep", "--search", "2", "--preset", "contract"],
                            cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 3
    assert "has no search space" in result.stderr and "Traceback" not in result.stderr


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


class SweepsAtOnce:
    """Two rl-sweep commands started at once in one folder: each one's exit code, and its stdout and stderr."""

    def __init__(self, cwd: Path, processes: list[subprocess.Popen], outputs: list[tuple[str, str]]) -> None:
        self.cwd, self.codes, self.outputs = cwd, [process.returncode for process in processes], outputs

    def ended(self, code: int) -> list[tuple[str, str]]:
        """The stdout and stderr of each that exited with ``code``."""
        return [output for ended, output in zip(self.codes, self.outputs) if ended == code]


ON_TERMINAL = [sys.executable, "-m", "rl_sweep.sweep", "--algos", "ppo", "a2c", "--seeds", "1", "--env", "CartPole-v1",
               "--timesteps", "3000", "--eval-episodes", "1", "--name", "tty", "--no-dashboard"]


@pytest.fixture(scope="module")
def on_terminal(tmp_path_factory):
    """The sweep of test_a_sweep_on_a_terminal_redraws_one_display_in_place_with_an_eta, on a pseudo-terminal whose
    window size was never set (0 x 0, as tools that open one leave it), in the background: its folder, and the future
    of its exit code and console."""
    cwd = tmp_path_factory.mktemp("tty")
    with ThreadPoolExecutor(1) as background:
        yield cwd, background.submit(run_on_terminal, ON_TERMINAL, cwd, rows=0, columns=0)


@pytest.fixture(scope="module")
def mine_twice(on_terminal, tmp_path_factory) -> SweepsAtOnce:
    """The same sweep of a user's environment, named 'mine', started twice at once in one folder (one sweep for two
    tests), while the sweep on a terminal runs: returned once that one has ended too. Each is a whole local Ray
    cluster, whose start-up and report overlap the other's trials."""
    from test_environments import CORRIDOR, user_env

    cwd = tmp_path_factory.mktemp("mine")
    command = [sys.executable, "-m", "rl_sweep.sweep", "--algos", "a2c", "--seeds", "1", "--env", CORRIDOR,
               "--env-kwargs", "length=4", "--timesteps", "400", "--eval-episodes", "1", "--name", "mine",
               "--no-dashboard"]
    both = [subprocess.Popen(command, cwd=cwd, env=cli_env(**user_env()), stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    sweeps = SweepsAtOnce(cwd, both, [process.communicate(timeout=300) for process in both])
    wait([on_terminal[1]])  # its outcome is its test's
    return sweeps


def test_a_users_environment_runs_in_a_local_sweep(mine_twice):
    """As a user runs it: their package on PYTHONPATH, which the local cluster's workers inherit."""
    from test_environments import CORRIDOR

    assert ExitCode.OK in mine_twice.codes, mine_twice.outputs
    [trial] = load_json(mine_twice.cwd / "results/sweeps/mine/summary.json")["trials"]
    assert trial["env"] == CORRIDOR and trial["env_kwargs"] == {"length": 4} and trial["status"] == "completed"


def test_two_sweeps_started_at_once_with_one_name_one_runs_and_the_other_exits_3(mine_twice):
    assert sorted(mine_twice.codes) == [0, 3], mine_twice.outputs
    [(_, refused)] = mine_twice.ended(ExitCode.BAD_ARGUMENTS)
    lines = [line for line in refused.splitlines() if line.strip()]
    assert len(lines) == 1 and "a sweep named 'mine'" in lines[0], refused
    assert load_json(mine_twice.cwd / "results/sweeps/mine/summary.json")["status"] == "completed"


@pytest.mark.parametrize("args, says", [
    (["--env", "CartPole-v1", "--env", "Acrobot-v1"], "--envs"),
    (["--env", "CartPole-v1", "--envs", "Acrobot-v1"], "not both"),
    (["--envs", "CartPole-v1", "Acrobot-v1", "--search", "2"], "one environment"),
    (["--envs", "CartPole-v1", "CartPole-v1"], "twice"),
    (["--envs", "ALE/Pong-v5", "ALE:Pong-v5"], "share the folder"),
])
def test_sweep_cli_refuses_environment_options_that_do_not_fit_with_exit_3(tmp_path, args, says):
    result = subprocess.run([sys.executable, "-m", "rl_sweep.sweep", *args], cwd=tmp_path, env=cli_env(),
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    assert says in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()


def test_sweep_cli_refuses_env_kwargs_the_environment_does_not_take_with_exit_5(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rl_sweep.sweep", "--env-kwargs", "nope=1"], cwd=tmp_path,
                            env=cli_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 5, result.stderr
    assert "nope" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()


def test_sweep_cli_rejects_bad_arguments_with_exit_3(tmp_path):
    for args in (["--algos", "dqn"], ["--seeds", "0"], ["--bogus"]):
        result = subprocess.run([sys.executable, "-m", "rl_sweep.sweep", *args], cwd=tmp_path, env=cli_env(),
                                capture_output=True, text=True, timeout=60)
        assert result.returncode == 3, result.stderr


def test_sweep_cli_trains_5_seeds_per_algorithm_unless_told_and_its_help_says_so(tmp_path, monkeypatch):
    from rl_sweep.sweep.cli import build_parser, options_from_args

    monkeypatch.chdir(tmp_path)

    def seeds(*argv: str) -> int:
        return options_from_args(build_parser().parse_args(argv), argv).seeds

    assert (seeds(), seeds("--seeds", "1"), seeds("--search", "4")) == (5, 1, 1)  # a search: 1 per setting
    assert "per algorithm (default: 5); with --search, per setting (default: 1)" in \
        " ".join(build_parser().format_help().split())


def test_sweep_cli_rejects_unknown_environment_with_exit_5_before_starting_ray(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rl_sweep.sweep", "--env", "NoSuchEnv-v0"], cwd=tmp_path,
                            env=cli_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 5
    assert "NoSuchEnv-v0" in result.stderr and "Traceback" not in result.stderr


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


class FakeTrial:
    """What the progress display reads of a Tune trial. A terminated one has its evaluation in its last result
    unless ``interrupted`` (Tune stopped it unfinished)."""

    def __init__(self, name: str, status: str, step: int = 0, reward: float = float("nan"),
                 interrupted: bool = False) -> None:
        self.name, self.status, self.config = name, status, {"run": {"total_timesteps": 800}}
        self.last_result = {"timesteps_total": step, "episode_reward_mean": reward, "steps_per_second": 900.0}
        if status == "TERMINATED" and not interrupted:
            self.finish()

    def finish(self) -> None:
        self.status = "TERMINATED"
        self.last_result.update(timesteps_total=800, final_reward_mean=100.0, final_reward_std=1.0, done=True)

    def __str__(self) -> str:
        return self.name


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_counts_steps_of_all_trials_and_estimates_the_time_left_from_the_rate():
    clock = Clock()
    progress = SweepProgress("t", terminal=False, clock=clock)
    progress.setup()
    trials = [FakeTrial("a2c_seed1", "RUNNING", 200, -50.25), FakeTrial("a2c_seed2", "TERMINATED", 800, 120.0),
              FakeTrial("a2c_seed3", "PENDING"), FakeTrial("a2c_seed4", "ERROR", 100)]
    first = progress.snapshot(trials)  # as on resuming: steps trained before are not this session's rate
    assert (first.done, first.total, first.eta) == (200 + 800 + 0 + 800, 3200, None)  # a failed trial takes no more
    assert "56% of 3,200 steps, ETA --:--; trials: 1 pending, 1 running, 1 completed, 1 failed" in first.line()
    clock.now += 5
    trials[0].last_result["timesteps_total"] = 300
    assert progress.snapshot(trials).eta is None  # too soon to tell
    clock.now += 15
    trials[0].last_result["timesteps_total"] = 600  # 400 steps in 20 s
    assert progress.snapshot(trials).eta == pytest.approx((3200 - 2200) / 20)
    trials[3].status = "ERROR"  # a failure is no progress: the rate stays
    assert progress.snapshot(trials).eta == pytest.approx((3200 - 2200) / 20)


def test_off_a_terminal_each_line_is_one_message_and_the_last_is_not_repeated(capsys):
    clock = Clock()
    progress = SweepProgress("t", terminal=False, clock=clock)
    progress.setup()
    trials = [FakeTrial("a2c_seed1", "RUNNING", 400, 10.0), FakeTrial("a2c_seed2", "RUNNING", 500, 12.0)]
    for trial in trials:
        clock.now += 1
        trial.finish()
        progress.on_trial_complete(0, trials, trial)
    progress.on_experiment_end(trials)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["a2c_seed1", "[0:01]", "a2c_seed2", "[0:02]"], lines
    assert lines[0] == "a2c_seed1 completed: 800 steps, evaluation return 100.0 ± 1.0 (greedy policy)"
    assert lines[-1] == "[0:02] 100% of 1,600 steps, ETA 0:00; trials: 0 pending, 0 running, 2 completed, 0 failed"


def test_an_interrupted_sweeps_last_frame_and_line_say_so_with_the_steps_as_they_were(capsys):
    from rich.console import Console

    trials = [FakeTrial("a2c_seed1", "TERMINATED", 800, 50.0),
              FakeTrial("a2c_seed2", "TERMINATED", 300, 20.0, interrupted=True),  # Tune stopped it on Ctrl-C
              FakeTrial("a2c_seed3", "PENDING")]
    progress = SweepProgress("t", terminal=False, clock=Clock())
    progress.setup()
    progress.on_experiment_end(trials)
    [line] = capsys.readouterr().out.splitlines()
    assert line == "[0:00]  46% of 2,400 steps, interrupted; trials: 1 pending, 0 running, 1 completed, 0 failed, " \
                   "1 interrupted"
    console = Console(width=120, height=24, record=True, file=open(os.devnull, "w"))
    console.print(render(progress.snapshot(trials, ended=True), "t", 24))
    overall, counts, *_ = console.export_text().splitlines()
    assert "1,100/2,400 steps" in overall and overall.split()[-1] == "interrupted" and "ETA" not in overall
    assert counts == "trials: 1 pending, 0 running, 1 completed, 0 failed, 1 interrupted"


def test_progress_display_stays_one_screen_tall_whatever_the_number_of_trials():
    from rich.console import Console

    progress = SweepProgress("many", terminal=False)
    progress.setup()
    trials = [FakeTrial(f"ppo_seed{seed}", "RUNNING", 400, 1.0) for seed in range(60)]
    console = Console(width=100, height=24, record=True, file=open(os.devnull, "w"))
    console.print(render(progress.snapshot(trials), "many", 24))
    lines = console.export_text().splitlines()
    assert len(lines) <= 24 and "training return" in lines[2] and "more running" in lines[-1]


def test_progress_display_pickles_without_its_terminal_as_tune_stores_it():
    import pickle

    progress = SweepProgress("t", terminal=True)
    progress.setup()  # a live display, which holds the terminal and cannot be pickled
    try:
        restored = pickle.loads(pickle.dumps(progress))
    finally:
        progress.close()
    assert (restored.title, restored.terminal, restored._live) == ("t", True, None)
    progress.close()  # twice: nothing


def test_a_sweep_on_a_terminal_redraws_one_display_in_place_with_an_eta(on_terminal):
    """A terminal that says nothing of its size is still a terminal, and ends like any other: exit 0."""
    tmp_path, background = on_terminal
    code, console = background.result()
    assert code == 0, console
    assert "Sweep tty: 2 trial(s) on CartPole-v1 (ppo 3,000 steps, a2c 3,000 steps), preset contract" in console
    redraws = re.findall(r"(?:\x1b\[2K\x1b\[1A)+", console)  # Rich moves up over the last frame to redraw it
    # one screen at most: Rich takes a terminal without a size for 80 x 25
    assert len(redraws) > 3 and max(len(r) for r in redraws) // len("\x1b[2K\x1b[1A") < 25
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", console)
    assert "ETA --:--" in plain and "training return" in plain and "6,000/6,000 steps" in plain
    assert "ppo_seed42 completed: 3,000 steps, evaluation return" in plain and "Sweep tty: completed" in plain
    assert "authentication_token_setup" not in plain  # Ray's start-up lines only with --verbose
    html = (tmp_path / "results/sweeps/tty/report.html").read_text()
    for run in ("ppo_seed42", "a2c_seed42"):  # a sweep's report plays each algorithm's runs
        assert (tmp_path / f"results/sweeps/tty/replays/{run}.mp4").stat().st_size > 0
        assert f'src="replays/{run}.mp4"' in html
