"""Shared helpers and fixtures: the CLI as a real subprocess, JSON loading, a user's environment package, runs
compared bitwise, an in-process sweep's options, real CartPole-v1 runs trained once per session, one local Ray
cluster for the session. Test modules import helpers from here, never from one another."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from rl_sweep.sweep.options import SweepOptions

REPO = Path(__file__).resolve().parents[1]


def cli_env(**extra: str) -> dict[str, str]:
    """The environment for a CLI subprocess, as a user's shell has it: no conda env active unless a test sets
    one, and none of the numerics this process was pinned to on importing rl_sweep."""
    env = {k: v for k, v in os.environ.items() if k not in ("CONDA_DEFAULT_ENV", "MKL_CBWR", "RL_SWEEP_SET_MKL_CBWR")}
    env["PYTHONPATH"] = str(REPO)
    env.update(extra)
    return env


def run_cli(args: list[str], cwd: Path, timeout: float = 300, **env: str) -> subprocess.CompletedProcess:
    """``python -m rl_sweep.train ARGS`` in ``cwd``, as a user would run it."""
    return subprocess.run(
        [sys.executable, "-m", "rl_sweep.train", *args],
        cwd=cwd, env=cli_env(**env), capture_output=True, text=True, timeout=timeout,
    )


def start_cli(args: list[str], cwd: Path, **env: str) -> subprocess.Popen:
    """Start the CLI without waiting, for signal tests."""
    return subprocess.Popen(
        [sys.executable, "-m", "rl_sweep.train", *args],
        cwd=cwd, env=cli_env(**env), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def run_on_terminal(command: list[str], cwd: Path, timeout: float = 300, rows: int = 24, columns: int = 100,
                    typing: Callable[[str], bytes] = lambda _output: b"", **env: str) -> tuple[int, str]:
    """Run ``command`` with a pseudo-terminal of ``rows`` x ``columns`` (0 x 0: no size set, as some terminals and
    tools leave it) as its controlling terminal, stdin, stdout and stderr, as in a user's terminal; its exit code
    and everything it wrote (escape codes included). ``typing`` is given what the command has written so far, every
    read and every second, and returns what a user types then: ``CTRL_C`` makes the terminal send SIGINT to the
    command's process group, as a user's Ctrl-C does."""
    import fcntl
    import pty
    import select
    import struct
    import termios
    import time

    leader, follower = pty.openpty()
    fcntl.ioctl(follower, termios.TIOCSWINSZ, struct.pack("HHHH", rows, columns, 0, 0))
    environment = {k: v for k, v in cli_env(TERM="xterm-256color", **env).items() if k not in ("LINES", "COLUMNS")}
    # A session of its own, with the terminal as its controlling terminal: as a shell starts a command
    process = subprocess.Popen(command, cwd=cwd, env=environment, stdin=follower, stdout=follower, stderr=follower,
                               close_fds=True, start_new_session=True,
                               preexec_fn=functools.partial(fcntl.ioctl, 0, termios.TIOCSCTTY, 0))
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([leader], [], [], 1.0)[0]:
                try:
                    data = os.read(leader, 65536)
                except OSError:  # EIO: the command closed the terminal
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
            keys = typing(b"".join(chunks).decode(errors="replace"))
            if keys:
                os.write(leader, keys)
        return process.wait(timeout=max(deadline - time.monotonic(), 1)), b"".join(chunks).decode(errors="replace")
    finally:
        if process.poll() is None:
            process.kill()
        os.close(leader)


CTRL_C = b"\x03"


def load_json(path: Path) -> Any:
    return json.loads(Path(path).read_text())


def timesteps(output_dir: Path, experiment_id: str) -> list[int]:
    """The time series' steps in a run's metrics JSON."""
    metrics = load_json(output_dir / f"{experiment_id}_metrics.json")
    return [entry["timestep"] for entry in metrics["training_metrics"]["time_series"]]


def without_entries(source: Path, target: Path, names: tuple[str, ...]) -> Path:
    """A copy of checkpoint ``source`` without some entries: a checkpoint written before they existed."""
    import zipfile

    with zipfile.ZipFile(source) as original, zipfile.ZipFile(target, "w", zipfile.ZIP_DEFLATED) as older:
        for name in original.namelist():
            if name not in names:
                older.writestr(name, original.read(name))
    return target


def contract_tree(experiment_id: str, checkpoints: list[int]) -> set[str]:
    """The names in a finished run's folder: exactly the contract's tree."""
    return {f"{experiment_id}_model.zip", f"{experiment_id}_results.json", f"{experiment_id}_metrics.json",
            *(f"checkpoint_{step}.zip" for step in checkpoints), "logs"}


class FinishedRun:
    """A CLI run that has ended: its process result and its output directory."""

    def __init__(self, result: subprocess.CompletedProcess, output_dir: Path) -> None:
        self.result = result
        self.output_dir = output_dir


@pytest.fixture(scope="session")
def ppo_5000(tmp_path_factory: pytest.TempPathFactory) -> FinishedRun:
    """One PPO run of 5000 steps (checkpoints every 1000), shared by tests that only read it."""
    cwd = tmp_path_factory.mktemp("ppo5000")
    result = run_cli(["--algo", "ppo", "--seed", "42", "--timesteps", "5000", "--eval-episodes", "3"], cwd)
    assert result.returncode == 0, result.stderr
    return FinishedRun(result, cwd / "results" / "experiments" / "ppo_seed42")


@pytest.fixture(scope="session")
def ray_cluster():
    """One local Ray cluster for every in-process sweep test (2 CPUs, like CI), its workers started with a trial's
    imports done, as rl-sweep starts its own: each Tune run's trials need not wait for torch and SB3 to import."""
    import ray

    from rl_sweep.sweep.cluster import prestarted_workers, stop_ray, take_prestarted_workers

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, _system_config=prestarted_workers())
    take_prestarted_workers()
    yield
    stop_ray()


REPORT_REPS = 500  # bootstrap replicates of an in-process sweep's report: rl-sweep's own 5,000 take seconds more


@contextlib.contextmanager
def fewer_bootstrap_replicates(reps: int = REPORT_REPS) -> Iterator[None]:
    """While it lasts, a sweep run in this process writes its report with ``reps`` bootstrap replicates: intervals
    a little rougher, seconds faster. What the report's statistics are is tested in tests/test_report.py; a sweep
    started as a command (a subprocess) still writes its report as a user's does."""
    from rl_sweep.report import document

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(document, "write_sweep_report", functools.partial(document.write_sweep_report, reps=reps))
        yield


@pytest.fixture
def quick_report() -> Iterator[None]:
    """:func:`fewer_bootstrap_replicates` for one test."""
    with fewer_bootstrap_replicates():
        yield


# rl-sweep --tune's preset in tests (test_tuning, test_cluster): three settings per variant, its own learning rate
# and the two others its space holds. 1,000 steps of CartPole-v1 (PPO updating every 128) leave the scores apart.
TUNING_PRESET = """\
ppo:
  timesteps: 1000
  checkpoint_interval: 500
  hyperparameters: {n_steps: 128, batch_size: 64, n_epochs: 2, learning_rate: 0.0003}
  search:
    learning_rate: [0.0003, 0.003, 0.03]
a2c:
  timesteps: 1000
  checkpoint_interval: 500
  hyperparameters: {n_steps: 8, learning_rate: 0.0007}
  search:
    learning_rate: [0.0007, 0.007, 0.07]
"""


# -- a user's own environment package (tests/envs), as a user installs it --

USER_ENVS = str(REPO / "tests" / "envs")  # the package rl_sweep_test_envs: Corridor-v0, Treadmill-v0, Fragile-v0
CORRIDOR = "rl_sweep_test_envs:Corridor-v0"  # no render_mode: it cannot render


def user_env(**extra: str) -> dict[str, str]:
    """Settings for a subprocess that can import the user's environment package."""
    return {"PYTHONPATH": f"{REPO}:{USER_ENVS}", **extra}


def problem_lines(stderr: str) -> list[str]:
    """What a failure says: every line but argparse's usage (its first line and the indented rest), INFO lines
    and the no-conda WARNING."""
    return [line for line in stderr.splitlines() if line.strip() and not line.startswith(("usage:", " "))
            and " INFO " not in line and "no conda environment is active" not in line]


# -- two runs compared bitwise (exact resume, pinned numerics, a sweep's trial against rl-train) --

def tensors(path: Path, entry: str):
    import io
    import zipfile

    import torch

    return torch.load(io.BytesIO(zipfile.ZipFile(path).read(entry)), weights_only=True)


def same(a, b) -> bool:
    """Equal, with every tensor torch.equal: no tolerance."""
    import torch

    if isinstance(a, torch.Tensor):
        return isinstance(b, torch.Tensor) and torch.equal(a, b)
    if isinstance(a, dict):
        return isinstance(b, dict) and a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b))
    return a == b


def assert_identical(reference: Path, resumed: Path, experiment_id: str, checkpoints: list[int]) -> None:
    """Final policy and optimizer, final evaluation, time series (but timestamps) and later checkpoints."""
    for name in [f"{experiment_id}_model.zip", *(f"checkpoint_{step}.zip" for step in checkpoints)]:
        for entry in ("policy.pth", "policy.optimizer.pth"):
            assert same(tensors(reference / name, entry), tensors(resumed / name, entry)), (name, entry)

    def series(folder):
        return [{k: v for k, v in e.items() if k != "timestamp"}
                for e in load_json(folder / f"{experiment_id}_metrics.json")["training_metrics"]["time_series"]]

    assert series(reference) == series(resumed)
    metrics = [load_json(folder / f"{experiment_id}_results.json")["experiment_results"]["metrics"]
               for folder in (reference, resumed)]
    for key in ("final_reward_mean", "final_reward_std", "episode_length_mean", "total_episodes"):
        assert metrics[0][key] == metrics[1][key], key


# -- an in-process sweep (tests/test_sweep.py, tests/test_search.py) --

def options(tmp_path: Path, **overrides) -> SweepOptions:
    from rl_sweep.sweep.options import SweepOptions

    values = {"algos": ["ppo", "a2c"], "seeds": 1, "timesteps": 2000, "eval_episodes": 2,
              "results_dir": str(tmp_path / "results"), "name": "test", "command": "rl-sweep (test)",
              "replays": False}  # replays: tests/test_replays.py, and the sweep on a terminal (tests/test_sweep_cli.py)
    values.update(overrides)
    return SweepOptions.from_json(values)


# -- real CartPole-v1 runs (tests/test_replays.py, tests/test_report.py) --

CARTPOLE = "CartPole-v1"
ALGOS, SEEDS = ("ppo", "a2c"), (0, 1, 2)
SMALL = {"ppo": {"n_steps": 64}, "a2c": {}}  # PPO updates every 64 steps, as A2C every 5: a few hundred steps learn


def train(folder: Path, algo: str, seed: int, env: str = CARTPOLE, timesteps: int = 512) -> Path:
    """A real run in process, evaluated on one episode: its replay is that episode."""
    from rl_sweep.errors import ExitCode
    from rl_sweep.run.cli import run_training
    from rl_sweep.run.config import TrainingConfig

    output = folder / f"{algo}_seed{seed}"
    config = TrainingConfig(algo=algo, seed=seed, env_name=env, total_timesteps=timesteps,
                            checkpoint_interval=timesteps, eval_episodes=1, output_dir=output,
                            overrides=SMALL[algo])
    assert run_training(config) == ExitCode.OK
    return output


def trained_runs(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    """PPO and A2C on CartPole-v1, seeds 0 to 2, trained once per test session (tests/test_replays.py and
    tests/test_report.py read them): their folders, PPO's first."""
    import shutil

    root = tmp_path_factory.getbasetemp() / "cartpole_runs"
    folders = [root / f"{algo}_seed{seed}" for algo in ALGOS for seed in SEEDS]
    if not (root / "trained").exists():
        shutil.rmtree(root, ignore_errors=True)
        for algo in ALGOS:
            for seed in SEEDS:
                train(root, algo, seed)
        (root / "trained").touch()
    return folders


def recomputed(summary: dict, baseline: str | None = None) -> dict:
    """The decision, from summary.json's trials, with the adastop package as docs/adastop.md shows it: every pair, or each
    variant against ``baseline``."""
    import numpy as np
    from adastop import MultipleAgentsComparator

    decision = summary["decision"]
    n = decision["seeds_per_round"]
    names = [v["name"] for v in summary["options"]["variants"]]
    trials = sorted((t for t in summary["trials"] if t["status"] == "completed"), key=lambda t: t["seed"])
    rewards = {v: [t["final_reward_mean"] for t in trials if t.get("variant", t["algo"]) == v] for v in names}
    pairs = (None if baseline is None
             else np.array([(i, names.index(baseline)) for i, v in enumerate(names) if v != baseline]))
    pair_count = len(names) * (len(names) - 1) // 2 if baseline is None else len(names) - 1
    comparator = MultipleAgentsComparator(n=n, K=decision["max_rounds"], B=decision["permutations"], comparisons=pairs,
                                          alpha=decision["alpha"] / (2 * pair_count), seed=decision["comparator_seed"])
    for k in range(decision["rounds"]):
        comparator.partial_compare({a: np.array(v[:(k + 1) * n]) for a, v in rewards.items()}, verbose=False)
    return {"finished": comparator.is_finished,
            "decisions": {(names[i], names[j]): comparator.decisions[str(np.array([i, j]))]
                          for i, j in comparator.comparisons}}
