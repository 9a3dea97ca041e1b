"""Shared helpers: the CLI as a real subprocess, JSON loading."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

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
    """One local Ray cluster for every in-process sweep test (2 CPUs, like CI)."""
    import ray

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    yield
    ray.shutdown()


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
