"""rl-sweep --until-decided: rounds of seeds until AdaStop decides PPO vs A2C (real sweeps on a real Ray cluster,
the decision recomputed here with the adastop package itself)."""

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
from adastop import MultipleAgentsComparator

from conftest import cli_env, fewer_bootstrap_replicates, load_json
from rl_sweep.decision import DecisionSettings, decide
from rl_sweep.errors import ExitCode
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.rounds import run_rounds

# Rounds of 3: with 3 runs against 3 there are 20 permutations, and AdaStop's first-round level (alpha / K)
# is below 1/20, so round 1 never decides: every such sweep has a round 2.
ROUNDS = {"until_decided": True, "seeds_per_round": 3, "max_rounds": 3}
ROUND_ARGS = ["--until-decided", "--seeds-per-round", "3", "--max-rounds", "3"]
# From seed 55 every A2C seed of the first two rounds ends above every PPO seed (PPO has not updated yet: its first
# update is at 2,048 steps), and AdaStop decides in round 2 (numerics pinned: the same on every x86-64 CPU with
# AVX2): the sweeps stop asking for seeds once decided, a round before --max-rounds. A third round would pass too.
SEED_START = 55
RUN = {"algos": ["ppo", "a2c"], "envs": ["CartPole-v1"], "timesteps": 600, "checkpoint_interval": 300,
       "eval_episodes": 2, "replays": False, "seed_start": SEED_START}
RUN_ARGS = ["--algos", "ppo", "a2c", "--env", "CartPole-v1", "--timesteps", "600", "--checkpoint-interval", "300",
            "--eval-episodes", "2", "--no-replays", "--seed-start", str(SEED_START)]


def recomputed(summary: dict) -> dict:
    """The decision, from summary.json's trials, with the adastop package as the README shows it."""
    decision = summary["decision"]
    n = decision["seeds_per_round"]
    rewards = {algo: [t["final_reward_mean"] for t in sorted(summary["trials"], key=lambda t: t["seed"])
                      if t["algo"] == algo] for algo in ("ppo", "a2c")}
    comparator = MultipleAgentsComparator(n=n, K=decision["max_rounds"], B=decision["permutations"],
                                          alpha=decision["comparator_alpha"], seed=decision["comparator_seed"])
    for k in range(decision["rounds"]):
        comparator.partial_compare({a: np.array(v[:(k + 1) * n]) for a, v in rewards.items()}, verbose=False)
    return {"finished": comparator.is_finished, "decision": comparator.decisions[str(comparator.comparisons[0])]}


class Commands:
    """Commands started one after another (by a thread in the background); :meth:`stop` ends the one running, as
    Ctrl-C does (killed, its Ray cluster would leave processes behind), and any started after it fails at once."""

    def __init__(self) -> None:
        self.stopped, self.started = False, []

    def start(self, args: list[str], cwd: Path, stderr: int = subprocess.PIPE, **env: str) -> subprocess.Popen:
        """``python -m rl_sweep.sweep ARGS`` in ``cwd``, its stdout piped, and its stderr (or into its stdout)."""
        if self.stopped:
            raise RuntimeError("no more commands: the module is done")
        process = subprocess.Popen([sys.executable, "-m", "rl_sweep.sweep", *args], cwd=cwd, env=cli_env(**env),
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
        self.started.append(process)
        return process

    def stop(self) -> None:
        self.stopped = True
        for process in self.started:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
                try:
                    process.wait(timeout=120)
                except subprocess.TimeoutExpired:
                    process.kill()


def interrupt_in_round_2_then_resume(cwd: Path, commands: Commands) -> tuple[int, str, int | None, str, str]:
    """The sweep as the command, in ``cwd``, sent Ctrl-C once a round-2 trial is under way, then ``rl-sweep --resume``
    (unless the first did not end as interrupted): the first's exit code and all it printed, the resume's exit code,
    stdout and stderr."""
    # One trial at a time, so that round 2 is still under way when the signal comes, on any number of CPUs.
    driver = commands.start([*RUN_ARGS, *ROUND_ARGS, "--max-concurrent", "1", "--name", "decided", "--no-dashboard"],
                            cwd, stderr=subprocess.STDOUT, PYTHONUNBUFFERED="1")
    lines = []
    for line in driver.stdout:
        lines.append(line)
        if line.startswith("Round 2"):
            break
    folder = cwd / "results/sweeps/decided"
    deadline = time.monotonic() + 120
    while not list(folder.glob(f"*_seed{SEED_START + 3}/checkpoint_*.zip")):  # a round-2 trial under way
        assert driver.poll() is None, "".join(lines)
        assert time.monotonic() < deadline
        time.sleep(0.1)
    driver.send_signal(signal.SIGINT)
    output = "".join(lines) + driver.communicate(timeout=180)[0]
    if driver.returncode != ExitCode.INTERRUPTED:
        return driver.returncode, output, None, "", ""
    resumed = commands.start(["--resume", "decided", "--no-dashboard"], cwd)
    stdout, stderr = resumed.communicate(timeout=600)
    return driver.returncode, output, resumed.returncode, stdout, stderr


@pytest.fixture(scope="module")
def interrupted_and_resumed(tmp_path_factory):
    """:func:`interrupt_in_round_2_then_resume`, in the background: the sweep's folder (``cwd``) and the future of
    what it returns. A command still running when the module ends is stopped."""
    cwd, commands = tmp_path_factory.mktemp("interrupted"), Commands()
    with ThreadPoolExecutor(1) as background:
        yield cwd, background.submit(interrupt_in_round_2_then_resume, cwd, commands)
        commands.stop()


@pytest.fixture(scope="module")
def decided(ray_cluster, interrupted_and_resumed, tmp_path_factory):
    """The same sweep left alone, in this process, while the command is interrupted and resumed: the one's start-up
    and reports overlap the other's trials."""
    # Speculating, as the command does by default: round 1 never decides here, so round 2's trials, started on
    # CPUs round 1 no longer needed, are needed (tests/test_speculation.py has the round that decides).
    options = SweepOptions.from_json({**RUN, **ROUNDS, "results_dir": str(tmp_path_factory.mktemp("decided")),
                                      "name": "decided", "command": "rl-sweep (test)", "speculate": True})
    with fewer_bootstrap_replicates():  # the decision does not come from the report
        code, summary = run_rounds(options)
    assert code == ExitCode.OK, summary
    return summary


def test_rounds_add_seeds_until_adastop_decides_and_the_package_confirms_it(decided):
    decision = decided["decision"]
    assert {k: decision[k] for k in ("method", "alpha", "comparator_alpha", "seeds_per_round", "max_rounds",
                                     "permutations", "comparator_seed")} == {"method": "AdaStop", "alpha": 0.05,
                                                                            "comparator_alpha": 0.025,
                                                                            "seeds_per_round": 3,
                                                             "max_rounds": 3, "permutations": 10_000,
                                                             "comparator_seed": 0}
    rounds = decision["rounds"]
    assert 2 <= rounds <= 3
    [comparison] = decision["comparisons"]
    assert (comparison["env"], comparison["first"], comparison["second"]) == ("CartPole-v1", "ppo", "a2c")
    assert comparison["round"] == rounds and comparison["decision"] in ("larger", "smaller", "equal")
    # every round trained 3 new seeds of both algorithms, continuing from --seed-start (besides them, the next
    # round's seeds started on CPUs that would have idled, listed as not needed)
    needed = [t for t in decided["trials"] if t["status"] != "not needed"]
    assert sorted(t["trial"] for t in needed) == sorted(
        f"{algo}_seed{seed}" for algo in ("ppo", "a2c") for seed in range(SEED_START, SEED_START + 3 * rounds))
    assert all(t["status"] == "completed" for t in needed)
    assert all(t["seed"] >= SEED_START + 3 * rounds for t in decided["trials"] if t not in needed)
    again = recomputed(decided)
    assert again["finished"] and again["decision"] == comparison["decision"]


def test_decide_needs_only_the_rewards_and_stops_asking_for_seeds_once_decided():
    settings = DecisionSettings(seeds_per_round=3, max_rounds=3)
    apart = {"ppo": [500.0, 498.0, 499.0, 497.0, 500.0, 496.0], "a2c": [10.0, 12.0, 9.0, 11.0, 8.0, 13.0]}
    first_round = decide("CartPole-v1", {a: v[:3] for a, v in apart.items()}, settings)
    assert first_round.rounds == 1 and first_round.needed == ["ppo", "a2c"] and not first_round.comparisons
    both = decide("CartPole-v1", apart, settings)
    assert both.finished and both.rounds == 2
    [comparison] = both.comparisons
    assert (comparison.decision, comparison.round) == ("larger", 2)


def test_a_sweep_interrupted_in_round_2_resumes_to_the_same_trials_and_decision(decided, interrupted_and_resumed):
    cwd, background = interrupted_and_resumed
    code, output, resumed, stdout, stderr = background.result(timeout=900)
    assert code == ExitCode.INTERRUPTED, output
    assert resumed == 0, stdout + stderr
    summary = load_json(cwd / "results/sweeps/decided/summary.json")
    assert summary["decision"] == decided["decision"]

    def finals(s):  # the trials the decision needed (a speculating sweep lists the others as not needed)
        return sorted((t["trial"], t["final_reward_mean"]) for t in s["trials"] if t["status"] != "not needed")

    assert finals(summary) == finals(decided)  # the same trials, to the last bit
    assert "Decision:" in stdout


@pytest.mark.parametrize("args, says", [
    (["--seeds", "3"], "--seeds-per-round"),
    (["--search", "2"], "--search"),
    (["--algos", "ppo"], "two or more"),
    (["--seeds-per-round", "1"], "--seeds-per-round"),
    (["--max-rounds", "0"], "--max-rounds"),
    (["--alpha", "0"], "--alpha"),
    (["--alpha", "1.5"], "--alpha"),
])
def test_until_decided_refuses_what_does_not_fit_with_exit_3_before_ray_starts(tmp_path, args, says):
    result = subprocess.run([sys.executable, "-m", "rl_sweep.sweep", "--until-decided", *args], cwd=tmp_path,
                            env=cli_env(), capture_output=True, text=True, timeout=60)
    assert result.returncode == 3, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and says in lines[0], result.stderr
    assert not (tmp_path / "results").exists()
