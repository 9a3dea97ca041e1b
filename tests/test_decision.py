"""rl-sweep --until-decided: rounds of seeds until AdaStop decides every pair of three variants, ppo, ppo@tuned and
a2c (real sweeps on a real Ray cluster, the decision recomputed here with the adastop package itself, over every pair
and against a baseline)."""

import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from conftest import cli_env, fewer_bootstrap_replicates, load_json, recomputed
from rl_sweep.decision import DecisionSettings, decide, decision_document
from rl_sweep.decision.rounds import rewards_of
from rl_sweep.errors import ExitCode
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.rounds import run_rounds

# Rounds of 3: with 3 runs against 3 there are 20 permutations, and AdaStop's first-round level (alpha / K, shared by
# 3 pairs) is below 1/20, so round 1 never decides, and round 2 is the last: every such sweep has exactly 2 rounds.
ROUNDS = {"until_decided": True, "seeds_per_round": 3, "max_rounds": 2}
ROUND_ARGS = ["--until-decided", "--seeds-per-round", "3", "--max-rounds", "2"]
# From seed 55 every A2C seed of the two rounds ends above every PPO seed (PPO has not updated yet: its first update is
# at 2,048 steps), and AdaStop decides A2C better in round 2 (numerics pinned). ppo@tuned (8 environments, updates
# every 256 steps) is a variant of PPO with other settings: the same algorithm, its own runs and folder.
SEED_START = 55
VARIANTS = ["ppo", "ppo@tuned", "a2c"]
RUN = {"variants": [{"name": "ppo", "algo": "ppo"}, {"name": "ppo@tuned", "algo": "ppo", "preset": "tuned"},
                    {"name": "a2c", "algo": "a2c"}],
       "envs": ["CartPole-v1"], "timesteps": 600, "checkpoint_interval": 300, "eval_episodes": 2, "replays": False,
       "seed_start": SEED_START}
RUN_ARGS = ["--variants", *VARIANTS, "--env", "CartPole-v1", "--timesteps", "600", "--checkpoint-interval", "300",
            "--eval-episodes", "2", "--no-replays", "--seed-start", str(SEED_START)]


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
    while not list(folder.glob(f"*/*_seed{SEED_START + 3}/checkpoint_*.zip")):  # a round-2 trial under way
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


def test_rounds_add_seeds_until_adastop_decides_every_pair_and_the_package_confirms_it(decided):
    decision = decided["decision"]
    assert {k: decision[k] for k in ("method", "alpha", "comparator_alpha", "pairs", "baseline", "seeds_per_round",
                                     "max_rounds", "permutations", "comparator_seed", "rounds")} == {
        "method": "AdaStop", "alpha": 0.05, "comparator_alpha": 0.05 / 6, "pairs": 3, "baseline": None,
        "seeds_per_round": 3, "max_rounds": 2, "permutations": 10_000, "comparator_seed": 0, "rounds": 2}
    found = {(c["first"], c["second"]): (c["decision"], c["round"]) for c in decision["comparisons"]}
    assert set(found) == {("ppo", "ppo@tuned"), ("ppo", "a2c"), ("ppo@tuned", "a2c")}
    assert found[("ppo", "a2c")] == ("smaller", 2)  # A2C is better: decided in round 2
    # every round trained 3 new seeds of every variant, continuing from --seed-start, each variant in its folder
    trials = decided["trials"]
    assert sorted(t["trial"] for t in trials) == sorted(
        f"{v}/{v.partition('@')[0]}_seed{seed}" for v in VARIANTS for seed in range(SEED_START, SEED_START + 6))
    assert all(t["status"] == "completed" for t in trials)
    assert {t["trial"].partition("/")[0] for t in trials} == {t["variant"] for t in trials} == set(VARIANTS)
    folder = Path(decided["options"]["results_dir"]) / "sweeps/decided"
    results = load_json(folder / "ppo@tuned/ppo_seed55/ppo_seed55_results.json")["experiment_results"]
    assert results["metadata"]["variant"] == "ppo@tuned" and results["metadata"]["n_envs"] == 8  # tuned's CartPole
    again = recomputed(decided)
    assert again["finished"] and again["decisions"] == {pair: d for pair, (d, _) in found.items()}
    # The report leads with every pair's decision, ranks the variants and draws P(row > column).
    report = (folder / "report.md").read_text()
    assert "A2C is better than PPO" in report.split("\n## ")[0] and "over 3 comparisons" in report
    assert "## Ranking" in report and (folder / "improvement_matrix.png").exists() and "## Settings" in report


def test_against_a_baseline_the_same_rewards_give_the_packages_decision_at_a_higher_level(decided):
    rewards = rewards_of(decided["trials"], "CartPole-v1", VARIANTS)
    settings = DecisionSettings(seeds_per_round=3, max_rounds=2)
    against = decide("CartPole-v1", rewards, settings, baseline="ppo")
    assert [(c.first, c.second) for c in against.comparisons] == [("ppo@tuned", "ppo"), ("a2c", "ppo")]
    document = decision_document(settings, [against], VARIANTS, "ppo")
    assert document["pairs"] == 2 and document["comparator_alpha"] == 0.05 / 4  # 2 pairs: alpha / 4, not / 6
    package = recomputed({**decided, "decision": document}, baseline="ppo")
    assert package["decisions"] == {(c.first, c.second): c.decision for c in against.comparisons}


def test_report_over_loose_folders_of_two_variants_of_one_algorithm_groups_them_apart(decided, tmp_path, capsys):
    from rl_sweep.report.cli import main as rl_report

    folder = Path(decided["options"]["results_dir"]) / "sweeps/decided"
    runs = sorted(folder.glob("ppo*/ppo_seed5[5-8]"))
    assert len(runs) == 8  # ppo and ppo@tuned, seeds 55 to 58: both named ppo_seed55, ...
    with fewer_bootstrap_replicates():
        assert rl_report([*map(str, runs), "--out", str(tmp_path / "report"), "--no-replays"]) == 0
    comparison = load_json(tmp_path / "report/comparison.json")
    assert list(comparison["algorithms"]) == ["ppo", "ppo@tuned"]
    assert all(s["seeds_completed"] == 4 for s in comparison["algorithms"].values())
    assert "PPO vs ppo@tuned" in (tmp_path / "report/report.md").read_text()


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
