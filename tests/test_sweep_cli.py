"""The rl-sweep command as a user runs it (python -m rl_sweep.sweep, a subprocess): a user's environment, two
sweeps of one name at once, arguments refused with their exit codes, the default number of seeds, and a sweep on a
terminal. The sweep on a terminal runs in the background while the two sweeps at once run (one module-scoped
fixture each: on_terminal, mine_twice), so its test is here rather than in tests/test_progress.py."""

import re
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor, wait
from pathlib import Path

import pytest
from conftest import CORRIDOR, cli_env, load_json, run_on_terminal, user_env

from rl_sweep.errors import ExitCode


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


def test_sweep_cli_trains_5_seeds_per_variant_unless_told_and_its_help_says_so(tmp_path, monkeypatch):
    from rl_sweep.sweep.cli import build_parser, options_from_args

    monkeypatch.chdir(tmp_path)

    def seeds(*argv: str) -> int:
        return options_from_args(build_parser().parse_args(argv), argv).trials.seeds

    assert (seeds(), seeds("--seeds", "1"), seeds("--search", "4")) == (5, 1, 1)  # a search: 1 per setting
    assert "per variant (default: 5); with --search, per setting (default: 1)" in \
        " ".join(build_parser().format_help().split())


def test_sweep_cli_rejects_unknown_environment_with_exit_5_before_starting_ray(tmp_path):
    result = subprocess.run([sys.executable, "-m", "rl_sweep.sweep", "--env", "NoSuchEnv-v0"], cwd=tmp_path,
                            env=cli_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 5
    assert "NoSuchEnv-v0" in result.stderr and "Traceback" not in result.stderr


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


def test_the_advice_to_resume_names_a_command_this_shell_runs(monkeypatch):
    """make sweep runs .venv/bin/rl-sweep: a shell without the virtual environment active has no rl-sweep, so the
    advice names the program by its path there, and by its name where the PATH finds this one."""
    from rl_sweep.cli import invoked_as

    installed = Path(sys.executable).parent / "rl-sweep"  # make install's console script
    monkeypatch.chdir(installed.parent.parent.parent)
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert invoked_as("rl-sweep") == str(Path(installed.parent.parent.name, "bin", "rl-sweep"))
    monkeypatch.setenv("PATH", f"{installed.parent}:/usr/bin:/bin")
    assert invoked_as("rl-sweep") == "rl-sweep"
