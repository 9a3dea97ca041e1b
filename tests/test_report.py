"""The comparison report: rliable statistics on known numbers, missing runs, one seed, the CLI; several
environments: a section each, scores normalised between a random policy and the threshold, a sweep's report;
the lead: AdaStop's decision (a sweep's, or a one-round test's), unequal budgets and the common budget; on real
runs: rl-report on a sweep's folder, --sweep with --out, one order of the algorithms throughout, training and
evaluation returns labelled. Replays: tests/test_replays.py."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from scipy.stats import trim_mean

from rl_sweep.atomic import write_json_atomic
from rl_sweep.identity import env_folder, parse_experiment_id
from rl_sweep.errors import ConfigError
from rl_sweep.report.cli import main as rl_report, report_folders
from rl_sweep.report.runs import algorithm_order, load_run as load_trial
from rl_sweep.report.statistics import MIN_INTERVAL_SEEDS
from rl_sweep.report.document import write_report as _write_report, write_sweep_report
from rl_sweep.report.reproduce import reproduce_command
from rl_sweep.run.evaluation import evaluate_random
from rl_sweep.storage import Storage
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.runner import summarize

from conftest import cli_env, load_json, trained_runs

def write_report(trials, out_dir, **options):
    """Fewer bootstrap replicates than the default: intervals a little rougher, tests much faster."""
    return _write_report(trials, out_dir, reps=500, **options)


PPO_FINALS = [100.0, 200.0, 300.0, 400.0]
A2C_FINALS = [0.0, 50.0, 60.0, 500.0]


def make_experiment(root: Path, algo: str, seed: int, final: float, slope: float = 1.0,
                    env: str = "LunarLander-v3", threshold: float | None = 200.0, eval_episodes: int = 10,
                    env_kwargs: dict | None = None, eval_cut: int | None = None, timesteps: int = 1000,
                    interval: int = 100) -> Path:
    """An experiment folder as rl-train writes it, with a straight-line training curve (reward ``slope * step -
    400``, recorded every ``interval`` steps, none at the first); without ``env_kwargs`` and ``eval_cut``, as
    rl-train wrote it before it recorded them."""
    out = root / f"{algo}_seed{seed}"
    out.mkdir(parents=True)
    name = f"{algo}_seed{seed}"
    steps = list(range(interval, timesteps + 1, interval))
    series = [{"timestep": s, "episode": s // 50, "reward": None if s == interval else slope * s - 400,
               "episode_length": 50.0, "loss": 1.0, "timestamp": "2026-11-25T00:00:00Z"} for s in steps]
    (out / f"{name}_metrics.json").write_text(json.dumps({"training_metrics": {
        "metadata": {"experiment_id": name, "algorithm": algo.upper(), "environment": env,
                     "seed": seed, "recording_interval": interval},
        "time_series": series, "aggregated": {}}}))
    metrics = {"final_reward_mean": final, "final_reward_std": 1.0, "total_timesteps": timesteps,
               "training_time_seconds": 2.0, "steps_per_second": 500.0, "eval_episodes": eval_episodes}
    environment = {"name": env, "reward_threshold": threshold}
    if eval_cut is not None:
        metrics["eval_cut_at_time_limit"] = eval_cut
    if env_kwargs is not None:
        environment["kwargs"] = env_kwargs
    (out / f"{name}_results.json").write_text(json.dumps({"experiment_results": {
        "metadata": {"experiment_id": name, "algorithm": algo.upper(), "environment": env,
                     "seed": seed, "total_timesteps": timesteps, "target_timesteps": timesteps,
                     "status": "completed"},
        "model": {"checkpoint_interval": 500},
        "metrics": metrics,
        "environment": environment}}))
    return out


@pytest.fixture
def four_seeds(tmp_path):
    folders = [make_experiment(tmp_path / "exp", "ppo", i, f, slope=1.0) for i, f in enumerate(PPO_FINALS)]
    folders += [make_experiment(tmp_path / "exp", "a2c", i, f, slope=0.5) for i, f in enumerate(A2C_FINALS)]
    return folders


def test_statistics_on_known_numbers(four_seeds, tmp_path):
    report = write_report([load_trial(f) for f in four_seeds], tmp_path / "report")
    ppo, a2c = report["algorithms"]["ppo"], report["algorithms"]["a2c"]
    assert ppo["mean"] == pytest.approx(250.0)
    assert ppo["std"] == pytest.approx(np.std(PPO_FINALS, ddof=1))
    assert ppo["median"] == pytest.approx(250.0)
    assert ppo["iqm"] == pytest.approx(250.0)          # middle two of four: (200 + 300) / 2
    assert a2c["iqm"] == pytest.approx(55.0)           # (50 + 60) / 2
    assert ppo["optimality_gap"] == pytest.approx(25.0)  # 200 - mean(100, 200, 200, 200)
    assert ppo["seeds_reaching_threshold"] == 3 and a2c["seeds_reaching_threshold"] == 1
    # Training curve reward = slope * step - 400: PPO crosses 200 at step 600, A2C (slope 0.5) never.
    assert ppo["median_steps_to_threshold"] == 600.0 and a2c["median_steps_to_threshold"] is None
    assert ppo["auc_mean"] == pytest.approx((200 - 400 + 1000 - 400) / 2)  # mean of a line from step 200
    # 12 of the 16 (PPO, A2C) pairs have PPO ahead.
    assert report["probability_of_improvement"]["ppo>a2c"]["point"] == pytest.approx(12 / 16)
    # 4 seeds are too few for an interval that covers what it says (docs/calibration.md).
    assert not any(key.endswith("_ci") for key in ppo) and report["min_seeds_for_intervals"] == MIN_INTERVAL_SEEDS
    assert report["probability_of_improvement"]["ppo>a2c"]["ci"] is None
    assert "| evaluation return (deterministic policy, 10 episodes): IQM [95% CI] | 250.0 (too few seeds for an " \
           "interval, n = 4) |" in (tmp_path / "report/report.md").read_text()


def test_every_interval_belongs_to_its_estimate(tmp_path):
    """The median's interval bootstraps the seeds' median (rliable's aggregate_median of one task is the mean)."""
    finals = [10.0] * 4 + [-500.0] * 6
    folders = [make_experiment(tmp_path / "exp", algo, i, f) for algo in ("ppo", "a2c") for i, f in enumerate(finals)]
    ppo = write_report([load_trial(f) for f in folders], tmp_path / "report")["algorithms"]["ppo"]
    assert ppo["median"] == -500.0 and ppo["mean"] == pytest.approx(-296.0)
    for key in ("iqm", "mean", "median", "optimality_gap"):
        low, high = ppo[f"{key}_ci"]
        assert low <= ppo[key] <= high, key
    assert ppo["median_ci"][0] == -500.0


def test_a_median_of_seven_seeds_reads_without_an_interval_of_another_estimate(tmp_path):
    folders = [make_experiment(tmp_path / "exp", "ppo", i, f) for i, f in enumerate([10.0] * 3 + [-500.0] * 4)]
    write_report([load_trial(f) for f in folders], tmp_path / "report")
    assert ("| evaluation return (deterministic policy, 10 episodes): median [95% CI] | -500.0 (too few seeds for an "
            "interval, n = 7) |") in (tmp_path / "report/report.md").read_text()


def test_three_seeds_a_side_name_no_winner_however_they_split(tmp_path):
    """PPO [101, 102, 103] against A2C [98, 99, 100]: the exact two-sided permutation p-value is 2/20 = 0.10."""
    folders = [make_experiment(tmp_path / "exp", "ppo", i, 101.0 + i) for i in range(3)]
    folders += [make_experiment(tmp_path / "exp", "a2c", i, 98.0 + i) for i in range(3)]
    report = write_report([load_trial(f) for f in folders], tmp_path / "report")
    assert not any(" is better than " in line or " learned faster than " in line for line in report["verdict"])
    assert report["verdict"][0].startswith(
        "Final performance: no test of PPO against A2C: cannot be decided at 3 seeds: with 2 algorithms a test needs "
        "at least 4 of each (PPO has 3, A2C has 3). As description: P(PPO > A2C) = 1.00 (too few seeds for an "
        "interval)")
    assert report["lead"][0] == ("No one-round AdaStop test on LunarLander-v3: PPO has 3 completed seeds, A2C has 3 "
                                 "completed seeds, and it needs at least 4 of each algorithm.")


def test_what_decides_comes_first_then_a_random_policy_for_scale(four_seeds, tmp_path):
    report = write_report([load_trial(f) for f in four_seeds], tmp_path / "report")
    random = np.mean([evaluate_random("LunarLander-v3", seed, 10)["reward_mean"] for seed in range(4)])
    assert report["random_policy_return"] == pytest.approx(random)
    assert report["verdict"][0].startswith("Final performance: PPO and A2C are not shown different (AdaStop")
    assert report["verdict"][1] == (
        f"For scale: a uniform random policy's evaluation return (deterministic policy, 10 episodes) on the same seeds "
        f"is {random:.1f}; PPO's mean is 250.0, A2C's mean is 152.5.")


def test_runs_of_an_until_decided_sweep_are_not_tested_again_at_the_seeds_it_chose(tmp_path):
    """Folders of an --until-decided sweep given to rl-report: their seed count was chosen from their results."""
    sweep = tmp_path / "results/sweeps/decided"
    folders = [make_experiment(sweep, algo, i, 100.0 * i + (50 if algo == "ppo" else 0)) for algo in ("ppo", "a2c")
               for i in range(4)]
    write_json_atomic(sweep / "sweep.json", {"name": "decided", "until_decided": True})
    report_folders(folders, tmp_path / "report", replays=False)
    report = load_json(tmp_path / "report/summary.json")["report"]
    assert report["decision"] == {"one_round": True, "adaptive": "decided", "environments": {}}
    assert report["lead"][0].startswith("No one-round test on LunarLander-v3: these runs come from the rl-sweep "
                                        "--until-decided sweep decided, which chose how many seeds to run")
    assert report["verdict"][0].startswith("Final performance: no test of PPO against A2C: the seeds were chosen "
                                           "adaptively")
    speed = [line for line in report["verdict"] if line.startswith("Learning speed")]
    assert speed and all(line.startswith("Learning speed: no test of PPO against A2C: the seeds were chosen "
                                         "adaptively") for line in speed)
    assert report["learning_speed_test"] is None


def test_every_optimality_gap_is_measured_below_one_named_reference(tmp_path):
    """Without a reward threshold, the best score seen across all algorithms: PPO [100, 200, 300] is 100 below it on
    average, A2C [10, 11, 12] 289, not 1 below its own best."""
    folders = [make_experiment(tmp_path / "exp", "ppo", i, f, threshold=None) for i, f in enumerate([100., 200., 300.])]
    folders += [make_experiment(tmp_path / "exp", "a2c", i, f, threshold=None) for i, f in enumerate([10., 11., 12.])]
    report = write_report([load_trial(f) for f in folders], tmp_path / "report")
    assert report["optimality_gap_reference"] == 300.0
    assert report["optimality_gap_reference_source"] == "best final score seen"
    assert report["algorithms"]["ppo"]["optimality_gap"] == pytest.approx(100.0)
    assert report["algorithms"]["a2c"]["optimality_gap"] == pytest.approx(289.0)
    markdown = (tmp_path / "report/report.md").read_text()
    assert "| optimality gap to 300.0 (the best final score seen, across all algorithms) [95% CI] (evaluation) | " \
           "100.0 | 289.0 |" in markdown
    assert "| seeds reaching threshold (evaluation) | n/a | n/a |" in markdown


def test_steps_to_threshold_count_the_seeds_that_never_reach_it(tmp_path):
    """One seed of four reaches the threshold in training: its step is no median of the four."""
    folders = [make_experiment(tmp_path / "exp", "ppo", i, 100.0, slope=1.0 if i == 0 else 0.1) for i in range(4)]
    one = write_report([load_trial(f) for f in folders[:4]], tmp_path / "one")["algorithms"]["ppo"]
    assert one["seeds_reaching_threshold_in_training"] == 1 and one["median_steps_to_threshold"] is None
    assert "beyond the budget (1 of 4 seeds reach it)" in (tmp_path / "one/report.md").read_text()
    three = [make_experiment(tmp_path / "more", "ppo", i, 100.0, slope=1.0 if i < 3 else 0.1) for i in range(5)]
    more = write_report([load_trial(f) for f in three], tmp_path / "three")["algorithms"]["ppo"]
    assert more["median_steps_to_threshold"] == 600.0  # 3 of 5 reach it, at step 600


def test_report_files_are_written_and_html_is_self_contained(four_seeds, tmp_path):
    out = tmp_path / "report"
    report = write_report([load_trial(f) for f in four_seeds], out)
    for name in ("learning_curves.png", "final_performance.png", "report.md", "report.html"):
        assert (out / name).stat().st_size > 0
    assert (out / "learning_curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    page = (out / "report.html").read_text()
    assert page.count("data:image/png;base64,") == 2 and 'src="learning_curves.png"' not in page
    markdown = (out / "report.md").read_text()
    assert "P(PPO > A2C)" in markdown and "IQM [95% CI]" in markdown
    assert report["command"].startswith("rl-sweep --algos ppo a2c --seeds 4 --seed-start 0 --timesteps 1000")
    assert set(report["versions"]) >= {"stable-baselines3", "rliable", "torch"}


def test_same_runs_give_the_same_report(four_seeds, tmp_path):
    trials = [load_trial(f) for f in four_seeds]
    first = write_report(trials, tmp_path / "a")
    second = write_report(trials, tmp_path / "b")
    for report in (first, second):
        del report["generated"]
    assert first == second


def test_missing_run_is_listed_not_dropped(four_seeds, tmp_path):
    missing = tmp_path / "exp" / "ppo_seed9"
    missing.mkdir()
    report = write_report([load_trial(f) for f in [*four_seeds, missing]], tmp_path / "report")
    assert report["algorithms"]["ppo"]["seeds"] == 5
    assert report["algorithms"]["ppo"]["seeds_completed"] == 4
    assert report["algorithms"]["ppo"]["not_completed"] == {"ppo_seed9": "missing"}
    assert any("ppo_seed9 missing" in line for line in report["verdict"])
    assert "| ppo_seed9 | missing |" in (tmp_path / "report/report.md").read_text()


def test_one_seed_says_too_few_to_tell_and_prints_no_intervals(tmp_path):
    folders = [make_experiment(tmp_path / "exp", "ppo", 1, 150.0), make_experiment(tmp_path / "exp", "a2c", 1, 90.0)]
    report = write_report([load_trial(f) for f in folders], tmp_path / "report")
    assert "iqm_ci" not in report["algorithms"]["ppo"]
    assert report["probability_of_improvement"]["ppo>a2c"]["ci"] is None
    assert report["algorithms"]["ppo"]["std"] is None
    assert any(line.startswith("Final performance: no test of PPO against A2C: cannot be decided at 1 seeds")
               for line in report["verdict"])
    assert "| evaluation return (deterministic policy, 10 episodes): mean ± std | 150.0 ± n/a | 90.0 ± n/a |" in \
        (tmp_path / "report/report.md").read_text()
    assert (tmp_path / "report/final_performance.png").exists()
    assert report["lead"][0] == ("No one-round AdaStop test on LunarLander-v3: PPO has 1 completed seed, A2C has 1 "
                                 "completed seed, and it needs at least 4 of each algorithm.")
    assert report["decision"]["environments"]["LunarLander-v3"]["skipped"] is True


def test_rl_report_cli_on_folders_and_its_argument_errors(four_seeds, tmp_path):
    def rl_report(*args):
        return subprocess.Popen([sys.executable, "-m", "rl_sweep.report", *map(str, args)], cwd=tmp_path,
                                env=cli_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    # The three at once: none writes what another reads.
    result, nothing, no_sweep = (rl_report(*four_seeds, "--out", tmp_path / "cli"), rl_report(),
                                 rl_report("--sweep", "nope"))
    outputs = [process.communicate(timeout=300) for process in (result, nothing, no_sweep)]
    assert result.returncode == 0, outputs[0][1]
    assert load_json(tmp_path / "cli/summary.json")["report"]["algorithms"]["ppo"]["iqm"] == pytest.approx(250.0)
    assert nothing.returncode == 3
    assert no_sweep.returncode == 3 and "no sweep named 'nope' in" in outputs[2][1]  # nothing to report, as README says


# -- several environments: a section each, then scores normalised between a random policy and the threshold --

EPISODES = 3  # the synthetic runs' evaluation episodes: the report evaluates the random policy on as many
SEEDS = [0, 1, 2, 3]
CARTPOLE = {"ppo": [475.0] * 4, "a2c": [20.0, 30.0, 40.0, 50.0]}  # threshold 475
ACROBOT_PPO = [-100.0, -150.0, -200.0, -250.0]  # threshold -100; A2C ends where the random policy does


def random_score(env: str, seeds: list[int]) -> float:
    """A uniform random policy under the evaluation's protocol, measured here as the report should."""
    return float(np.mean([evaluate_random(env, seed, EPISODES)["reward_mean"] for seed in seeds]))


def make_runs(root: Path, env: str, finals: dict[str, list[float]], threshold: float | None, **extra) -> list[Path]:
    return [make_experiment(root / env_folder(env), algo, seed, final, env=env, threshold=threshold,
                            eval_episodes=EPISODES, **extra)
            for algo, algo_finals in finals.items() for seed, final in zip(SEEDS, algo_finals)]


@pytest.fixture(scope="module")
def two_envs(tmp_path_factory):
    """The report of PPO and A2C on CartPole-v1 and Acrobot-v1, 4 seeds each; and the random score of Acrobot-v1."""
    root = tmp_path_factory.mktemp("two_envs")
    acrobot_random = random_score("Acrobot-v1", SEEDS)
    folders = (make_runs(root, "CartPole-v1", CARTPOLE, 475.0)
               + make_runs(root, "Acrobot-v1", {"ppo": ACROBOT_PPO, "a2c": [acrobot_random] * 4}, -100.0))
    return root / "report", write_report([load_trial(f) for f in folders], root / "report"), acrobot_random


def test_several_environments_each_get_their_sections_and_figures(two_envs):
    out, report, _ = two_envs
    for env in ("CartPole-v1", "Acrobot-v1"):
        for figure in ("learning_curves", "final_performance"):
            assert (out / f"{figure}_{env}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (out / "performance_profiles.png").stat().st_size > 0 and not (out / "learning_curves.png").exists()
    markdown = (out / "report.md").read_text()
    assert markdown.startswith("# PPO vs A2C on 2 environments\n")
    assert "## CartPole-v1\n" in markdown and "## Acrobot-v1\n" in markdown and "## Across environments\n" in markdown
    assert markdown.count("### Verdict") == 2 and markdown.count("### Final performance") == 2
    assert (out / "report.html").read_text().count("data:image/png;base64,") == 5
    assert set(report) == {"environments", "across_environments", "decision", "lead", "command", "versions",
                           "generated"}
    assert list(report["environments"]) == ["CartPole-v1", "Acrobot-v1"]
    cartpole = report["environments"]["CartPole-v1"]
    assert cartpole["environment"] == "CartPole-v1" and cartpole["reward_threshold"] == 475.0
    assert cartpole["algorithms"]["a2c"]["iqm"] == pytest.approx(35.0) and len(cartpole["runs"]) == 8
    assert "--envs CartPole-v1 Acrobot-v1 --eval-episodes 3" in report["command"]
    # Each environment is its own one-round test, with its line in the lead.
    assert list(report["decision"]["environments"]) == ["CartPole-v1", "Acrobot-v1"]
    first, second = report["lead"][:2]
    assert first.startswith("A one-round AdaStop test at these 4 seeds per algorithm: ") and "on CartPole-v1" in first
    assert second.startswith("A one-round AdaStop test at these 4 seeds per algorithm: ") and "on Acrobot-v1" in second
    assert "--env-kwargs" not in report["command"]


def test_scores_are_normalised_between_a_random_policy_and_the_threshold(two_envs):
    out, report, acrobot_random = two_envs
    across = report["across_environments"]
    assert across["environments"] == ["CartPole-v1", "Acrobot-v1"] and across["left_out"] == {}
    cartpole, acrobot = across["normalisation"]["CartPole-v1"], across["normalisation"]["Acrobot-v1"]
    assert [(e["seed"], e["episodes"]) for e in cartpole["random_evaluations"]] == [(s, EPISODES) for s in SEEDS]
    assert cartpole["random_score"] == pytest.approx(np.mean([e["reward_mean"]
                                                              for e in cartpole["random_evaluations"]]))
    assert acrobot["random_score"] == pytest.approx(acrobot_random)
    assert (cartpole["reference"], acrobot["reference"]) == (475.0, -100.0)
    assert cartpole["reference_source"] == acrobot["reference_source"] == "reward threshold"
    iqm = across["normalised_iqm"]
    assert iqm["CartPole-v1"]["ppo"] == pytest.approx(1.0)  # every final at the threshold
    assert iqm["Acrobot-v1"]["a2c"] == pytest.approx(0.0)  # every final at the random score
    r = cartpole["random_score"]
    assert iqm["CartPole-v1"]["a2c"] == pytest.approx((35.0 - r) / (475.0 - r))  # (30 + 40) / 2, normalised
    ppo = across["algorithms"]["ppo"]
    acrobot_ppo = [(f - acrobot_random) / (-100.0 - acrobot_random) for f in ACROBOT_PPO]
    assert ppo["seeds"] == 4
    assert ppo["iqm"] == pytest.approx(trim_mean([1.0] * 4 + acrobot_ppo, 0.25))
    assert ppo["mean"] == pytest.approx((1.0 + np.mean(acrobot_ppo)) / 2)
    assert ppo["optimality_gap"] == pytest.approx(np.mean([0.0] * 4 + [1 - v for v in acrobot_ppo]))
    assert not any(key.endswith("_ci") for key in ppo)  # 4 seeds per environment: too few for an interval
    improvement = across["probability_of_improvement"]["ppo>a2c"]
    assert improvement["point"] == pytest.approx(1.0) and improvement["ci"] is None  # ahead on both
    # Every PPO run's mean normalised score is above every A2C run's: 1/70 each way at 4 seeds against 4.
    assert across["test"]["comparisons"][0]["decision"] == "larger"
    assert any(line.startswith("Across environments: PPO is better than A2C (AdaStop, family-wise error at most 5%, "
                               "a one-round test at 4 seeds each)") for line in across["verdict"])
    markdown = (out / "report.md").read_text()
    assert "| CartPole-v1 |" in markdown and "PPO normalised IQM" in markdown and "performance_profiles.png" in markdown


def test_an_environment_this_machine_cannot_make_is_left_out_across_environments_saying_why(tmp_path):
    """Runs of a user's environment whose module does not import where the report is written: the environment
    keeps its section, and the comparison across environments goes on without it, saying why."""
    gone = "rl_sweep_absent_module:Gone-v0"
    folders = make_runs(tmp_path, "CartPole-v1", CARTPOLE, 475.0) + make_runs(tmp_path, gone, CARTPOLE, None)
    report = write_report([load_trial(f) for f in folders], tmp_path / "report")
    assert list(report["environments"]) == ["CartPole-v1", gone]
    across = report["across_environments"]
    assert across["environments"] == ["CartPole-v1"] and list(across["normalisation"]) == ["CartPole-v1"]
    why = across["left_out"][gone]
    assert why.startswith("its 0, a random policy's score, cannot be measured here (cannot create environment")
    assert "No module named 'rl_sweep_absent_module'" in why
    assert f"{gone} is left out of the comparison across environments: {why}." in across["verdict"]
    assert f"## {gone}\n" in (tmp_path / "report" / "report.md").read_text()


def test_a_sweep_across_environments_reports_from_remote_storage_and_its_trial_records(tmp_path):
    """Trial names with their environment (``Acrobot-v1/a2c_seed2``), a run that left no files, an environment
    without a threshold, evaluation episodes cut at the step limit; the runs in storage, not on this disk."""
    storage, folder = Storage("mock:///bucket/results"), "sweeps/s"
    finals = {"CartPole-v1": ({"ppo": [475.0] * 3, "a2c": [30.0] * 3}, 475.0),
              "Acrobot-v1": ({"ppo": [-200.0, -150.0, -300.0], "a2c": [-400.0, -120.0]}, None)}
    trials = []
    for env, (by_algo, threshold) in finals.items():
        for local in make_runs(tmp_path, env, by_algo, threshold, env_kwargs={},
                               eval_cut=2 if env == "Acrobot-v1" else 0):
            storage.fs.create_dir(storage.path(folder, env, local.name))  # pyarrow's mock filesystem wants folders
            storage.upload(local, folder, env, local.name)
        for algo, seed in [(a, s) for a in by_algo for s in SEEDS[:3]]:
            name = f"{env}/{algo}_seed{seed}"
            trials.append({"trial": name, "env": env, "folder": f"{folder}/{name}", "experiment_dir": name,
                           "status": "completed" if storage.exists(folder, name) else "failed"})
    report = write_sweep_report(storage, folder, {"trials": trials, "command": "rl-sweep (test)"}, reps=500)
    acrobot = report["environments"]["Acrobot-v1"]
    assert acrobot["algorithms"]["a2c"]["not_completed"] == {"a2c_seed2": "failed"}
    across = report["across_environments"]
    assert across["normalisation"]["Acrobot-v1"]["reference"] == -120.0  # A2C's best: across all algorithms
    assert across["normalisation"]["Acrobot-v1"]["reference_source"] == "best final score seen"
    r = across["normalisation"]["Acrobot-v1"]["random_score"]
    assert across["normalised_iqm"]["Acrobot-v1"]["a2c"] == pytest.approx(((-400.0 - r) / (-120.0 - r) + 1.0) / 2)
    assert across["algorithms"]["ppo"]["seeds"] == 3 and across["algorithms"]["a2c"]["seeds"] == 2
    assert "iqm_ci" not in across["algorithms"]["ppo"]  # 3 seeds per environment: too few for an interval
    markdown = storage.read_text(folder, "report.md")
    assert ("Acrobot-v1 has no reward threshold: its normalised score of 1 is the best final score seen on it "
            "(-120.0, across all algorithms and seeds).") in markdown
    assert "seeds per environment PPO 3, A2C 2" in markdown
    assert "2 evaluation episodes of ppo_seed0, 2 of ppo_seed1" in markdown
    assert "stopped at 10,000 steps: Acrobot-v1 has no time limit of its own." in markdown
    assert "evaluation episodes of" not in markdown.split("## Acrobot-v1")[0]  # none cut on CartPole-v1
    for name in ("report.html", "performance_profiles.png", "learning_curves_Acrobot-v1.png"):
        assert storage.exists(folder, name)


def test_the_reproduce_command_gives_the_environment_arguments(tmp_path):
    folders = [make_experiment(tmp_path, algo, 42, 100.0, env_kwargs={"continuous": True}) for algo in ("ppo", "a2c")]
    assert reproduce_command([load_trial(f) for f in folders]) == (
        "rl-sweep --algos ppo a2c --seeds 1 --timesteps 1000 --checkpoint-interval 500 --env LunarLander-v3 "
        "--eval-episodes 10 --env-kwargs continuous=True")



def test_runs_of_one_environment_with_other_arguments_are_compared_apart(tmp_path):
    """Folders of CartPole-v1 as it is and with ``sutton_barto_reward=True`` (0 a step, -1 at the fall): two
    environments, each normalised by a random policy with its own arguments, never one of 16 runs."""
    plain = make_runs(tmp_path / "plain", "CartPole-v1", CARTPOLE, 475.0)  # as results before they held kwargs
    sutton = make_runs(tmp_path / "sutton", "CartPole-v1", {"ppo": [0.0] * 4, "a2c": [-1.0] * 4}, None,
                       env_kwargs={"sutton_barto_reward": True})
    report = write_report([load_trial(f) for f in plain + sutton], tmp_path / "report")
    named = "CartPole-v1 sutton_barto_reward=True"
    assert list(report["environments"]) == ["CartPole-v1", named]
    assert [len(env["runs"]) for env in report["environments"].values()] == [8, 8]
    assert report["environments"][named]["environment"] == named
    normalisation = report["across_environments"]["normalisation"]
    assert normalisation["CartPole-v1"]["random_score"] > 5 and normalisation[named]["random_score"] == -1.0
    assert f"## {named}\n" in (tmp_path / "report/report.md").read_text()
    assert (tmp_path / "report" / f"learning_curves_{env_folder(named)}.png").exists()
    plain_command, sutton_command = report["command"].split("; ")
    assert "--env CartPole-v1 " in plain_command and "--env-kwargs" not in plain_command
    assert sutton_command.startswith("rl-sweep --algos ppo a2c --seeds 4 --seed-start 0 ")
    assert sutton_command.endswith("--env-kwargs sutton_barto_reward=True")


def test_a_seed_given_twice_is_refused_before_anything_is_written(tmp_path):
    """Two folders of PPO seed 42 on one environment, or one folder given twice, would count the seed twice."""
    first, second = (make_experiment(tmp_path / where, "ppo", 42, 100.0) for where in ("a", "b"))
    other = make_experiment(tmp_path, "a2c", 42, 50.0)
    out = tmp_path / "report"
    with pytest.raises(ConfigError, match=f"^{first} and {second} are both PPO seed 42 on LunarLander-v3: a seed"):
        report_folders([first, other, second], out, replays=False)
    with pytest.raises(ConfigError, match=f"^{first} is given twice on LunarLander-v3"):
        report_folders([first, other, first], out, replays=False)
    assert not out.exists()
    windy, again = (make_experiment(tmp_path / where, "ppo", 42, 100.0, env_kwargs=kwargs) for where, kwargs in
                    [("c", {"continuous": True, "gravity": -9.0}), ("d", {"gravity": -9.0, "continuous": True})])
    with pytest.raises(ConfigError, match="are both PPO seed 42 on LunarLander-v3 continuous=True gravity=-9.0:"):
        report_folders([first, other, windy, again], out, replays=False)  # the same arguments in another order
    report_folders([first, other, windy], out, replays=False)  # another environment: a seed of its own
    assert list(load_json(out / "summary.json")["report"]["environments"]) == [
        "LunarLander-v3", "LunarLander-v3 continuous=True gravity=-9.0"]

# -- the lead: AdaStop's decision first; unequal budgets said, and compared at the common budget --

def first_paragraph(markdown: str) -> str:
    """The paragraph right after the title."""
    return markdown.split("\n\n")[1].strip()


DECISION = {"method": "AdaStop", "alpha": 0.05, "comparator_alpha": 0.025, "seeds_per_round": 5, "max_rounds": 4, "permutations": 10000,
            "comparator_seed": 0, "rounds": 2,
            "comparisons": [{"env": "LunarLander-v3", "first": "ppo", "second": "a2c", "decision": "larger",
                             "round": 2}]}


def test_a_sweep_decided_by_adastop_leads_with_its_decision(four_seeds, tmp_path):
    storage, folder = Storage("mock:///bucket/results"), "sweeps/s"
    trials = []
    for local in four_seeds:
        storage.fs.create_dir(storage.path(folder, local.name))
        storage.upload(local, folder, local.name)
        trials.append({"trial": local.name, "env": "LunarLander-v3", "folder": f"{folder}/{local.name}",
                       "experiment_dir": local.name, "status": "completed"})
    summary = {"trials": trials, "command": "rl-sweep --until-decided (test)", "decision": DECISION}
    report = write_sweep_report(storage, folder, summary, reps=500)
    markdown = storage.read_text(folder, "report.md")
    assert first_paragraph(markdown) == ("PPO is better than A2C on LunarLander-v3 (AdaStop, family-wise error at most "
                                         "5%, decided after 2 rounds of 5 seeds each).")
    assert ('Mathieu et al., "AdaStop: adaptive statistical testing for sound comparisons of deep RL agents", '
            "TMLR 2024, arXiv:2306.10882") in markdown.split("## Verdict")[0]
    numbers = json.loads(storage.read_text(folder, "comparison.json"))
    assert numbers["decision"] == DECISION
    assert numbers == json.loads(json.dumps(report))  # summary.json's report holds the same numbers
    assert numbers["algorithms"]["ppo"]["iqm"] == pytest.approx(250.0) and numbers["common_budget"] is None
    assert numbers["verdict"][0].startswith("Final performance: PPO is better than A2C (AdaStop, family-wise error at "
                                            "most 5%, after 2 rounds of 5 seeds each). As description: P(PPO > A2C)")
    # A decision rl-sweep 0.1 wrote gave the comparator alpha itself: its report says what that level was.
    old = {key: value for key, value in DECISION.items() if key != "comparator_alpha"}
    write_sweep_report(storage, folder, {**summary, "decision": old}, reps=500)
    assert first_paragraph(storage.read_text(folder, "report.md")) == (
        "PPO is better than A2C on LunarLander-v3 (AdaStop as rl-sweep 0.1 ran it, family-wise error about twice the "
        "5% it stated or more (docs/adastop.md), decided after 2 rounds of 5 seeds each).")


def test_a_fixed_seed_report_leads_with_what_a_one_round_adastop_test_says(tmp_path):
    from adastop import MultipleAgentsComparator

    ppo = [300.0, 310.0, 320.0, 330.0, 340.0, -1000.0]  # the sixth seed is left out: A2C has five
    a2c = [0.0, 10.0, 20.0, 30.0, 40.0]
    order = [5, 2, 0, 4, 1, 3]  # folders out of seed order: the test takes each algorithm's seeds in order
    folders = [make_experiment(tmp_path / "exp", "ppo", i, ppo[i]) for i in order]
    folders += [make_experiment(tmp_path / "exp", "a2c", i, a2c[i]) for i in order if i < 5]
    report = write_report([load_trial(f) for f in folders], tmp_path / "report")
    comparator = MultipleAgentsComparator(n=5, K=1, B=10000, alpha=0.025, seed=0)
    comparator.partial_compare({"ppo": np.array(ppo[:5]), "a2c": np.array(a2c)}, verbose=False)
    [expected] = comparator.decisions.values()
    test = load_json(tmp_path / "report/comparison.json")["decision"]
    assert test["one_round"] is True
    one = test["environments"]["LunarLander-v3"]
    assert (one["seeds_per_round"], one["max_rounds"], one["completed_seeds"]) == (5, 1, {"ppo": 6, "a2c": 5})
    assert [(c["first"], c["second"], c["decision"]) for c in one["comparisons"]] == [("ppo", "a2c", expected)]
    assert expected == "larger"
    assert first_paragraph((tmp_path / "report/report.md").read_text()) == (
        "A one-round AdaStop test at the first 5 completed seeds of each algorithm: PPO is better than A2C on "
        "LunarLander-v3 (AdaStop, family-wise error at most 5%, decided after 1 round of 5 seeds each).")
    assert report["decision"] == test


def test_unequal_budgets_are_said_first_and_compared_at_the_common_budget(tmp_path):
    """PPO trains 1,000 steps, recorded every 100; A2C 2,000, recorded every 300 (its last point by step 1,000 is
    at 900); A2C's final evaluations are higher, as a run trained twice as long may well be."""
    ppo_slopes, a2c_slopes = [1.0, 1.1, 1.2, 1.3], [0.2, 0.4, 0.6, 0.8]
    folders = [make_experiment(tmp_path / "exp", "ppo", i, 100.0 + i, slope=k) for i, k in enumerate(ppo_slopes)]
    folders += [make_experiment(tmp_path / "exp", "a2c", i, 300.0 + i, slope=k, timesteps=2000, interval=300)
                for i, k in enumerate(a2c_slopes)]
    report = write_report([load_trial(f) for f in folders], tmp_path / "report")
    markdown = (tmp_path / "report/report.md").read_text()
    assert ("Budgets differ: PPO runs trained 1,000 steps, A2C runs 2,000: final evaluations, and any test of them, "
            "are not a like-for-like comparison") in first_paragraph(markdown)
    common = load_json(tmp_path / "report/comparison.json")["common_budget"]
    assert common["step"] == 1000 and common["budgets"] == {"ppo": [1000], "a2c": [2000]}
    ppo_returns = [k * 1000 - 400 for k in ppo_slopes]
    a2c_returns = [k * 900 - 400 for k in a2c_slopes]
    ppo, a2c = common["algorithms"]["ppo"], common["algorithms"]["a2c"]
    assert list(ppo["training_returns"].values()) == pytest.approx(ppo_returns)
    assert ppo["iqm"] == pytest.approx(trim_mean(ppo_returns, 0.25))
    assert a2c["iqm"] == pytest.approx(trim_mean(a2c_returns, 0.25))
    assert "iqm_ci" not in ppo  # 4 seeds: too few for an interval
    assert common["probability_of_improvement"]["ppo>a2c"]["point"] == pytest.approx(1.0)  # every PPO run ahead
    assert common["test"]["comparisons"][0]["decision"] == "larger"  # 4 against 4, apart: 1/70 each way
    assert not any(line.startswith("Final performance:") for line in report["verdict"])
    assert any(line.startswith("Final performance (budgets differ: not a like-for-like comparison): A2C is better")
               for line in report["verdict"])
    assert any(line.startswith("At the common budget of 1,000 steps (training return): PPO is better than A2C")
               for line in report["verdict"])
    assert "## At the common budget of 1,000 steps\n" in markdown


# -- on real runs (PPO and A2C on CartPole-v1, 3 seeds, trained once per session: tests/conftest.py) --

TRAINING_RETURN = "training return (stochastic policy, recent episodes)"
EVALUATION_RETURN = "evaluation return (deterministic policy, 1 episode)"


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    return trained_runs(tmp_path_factory)


def make_sweep(root: Path, runs: list[Path], algos: list[str], name: str = "s") -> Path:
    """A sweep's folder as rl-sweep leaves it before its report: its trials' folders and its summary (the sweep
    layer's own), under ``root/results/sweeps/{name}``."""
    options = SweepOptions.from_json({"algos": algos, "envs": ["CartPole-v1"], "seeds": len(runs) // len(algos),
                                      "seed_start": 0, "results_dir": str(root / "results"), "name": name,
                                      "command": f"rl-sweep --algos {' '.join(algos)} (test)"})
    folder = root / "results" / "sweeps" / name
    records = []
    for run in runs:
        shutil.copytree(run, folder / run.name)
        algo, seed = parse_experiment_id(run.name)
        records.append({"trial": run.name, "env": "CartPole-v1", "algo": algo, "seed": seed, "status": "completed",
                        "folder": options.folder(run.name), "experiment_dir": str(folder / run.name)})
    write_json_atomic(folder / "summary.json", summarize(options, records, "2026-11-25T00:00:00Z"))
    return folder


def test_rl_report_on_a_sweeps_folder_reports_that_sweep(real_runs, tmp_path):
    folder = make_sweep(tmp_path, real_runs[:2] + real_runs[3:5], ["a2c", "ppo"])
    result = subprocess.run([sys.executable, "-m", "rl_sweep.report", str(folder), "--no-replays"], cwd=tmp_path,
                            env=cli_env(), capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    assert str(folder / "report.html") in result.stdout
    summary = load_json(folder / "summary.json")
    assert len(summary["trials"]) == 4 and summary["report"]["algorithms"]["ppo"]["seeds_completed"] == 2
    # In the sweep's --algos order: A2C first.
    assert (folder / "report.md").read_text().startswith("# A2C vs PPO on CartPole-v1\n")
    assert list(summary["report"]["algorithms"]) == ["a2c", "ppo"]
    assert list(summary["report"]["probability_of_improvement"]) == ["a2c>ppo"]
    assert summary["report"]["command"] == "rl-sweep --algos a2c ppo (test)"


def test_rl_report_sweep_with_out_writes_there_and_leaves_the_sweeps_files_alone(real_runs, tmp_path):
    folder = make_sweep(tmp_path, real_runs[:1] + real_runs[3:4], ["ppo", "a2c"])
    before = (folder / "summary.json").read_text()
    out = tmp_path / "elsewhere"
    assert rl_report(["--sweep", "s", "--results-dir", str(tmp_path / "results"), "--out", str(out),
                      "--no-replays"]) == 0
    assert (folder / "summary.json").read_text() == before and not (folder / "report.md").exists()
    for name in ("report.md", "report.html", "comparison.json", "learning_curves.png"):
        assert (out / name).stat().st_size > 0
    summary = load_json(out / "summary.json")
    assert summary["sweep"] == "s" and summary["report"] == load_json(out / "comparison.json")


def test_algorithms_come_in_one_order_everywhere_whatever_order_the_folders_come_in(real_runs, tmp_path):
    assert algorithm_order(["zed", "a2c", "abc", "ppo"]) == ["ppo", "a2c", "abc", "zed"]
    assert algorithm_order(["ppo", "a2c"], ["a2c", "ppo"]) == ["a2c", "ppo"]
    glob_order = sorted(real_runs)  # a2c_seed0 ... ppo_seed2, as results/experiments/* gives them
    report = write_report([load_trial(f) for f in glob_order], tmp_path / "report", replays=False)
    markdown = (tmp_path / "report/report.md").read_text()
    assert markdown.startswith("# PPO vs A2C on CartPole-v1\n")
    assert "|  | PPO | A2C |" in markdown and "| P(PPO > A2C) |" in markdown
    assert markdown.index("| ppo_seed2 |") < markdown.index("| a2c_seed0 |")
    assert report["command"].startswith("rl-sweep --algos ppo a2c --seeds 3 --seed-start 0")
    assert list(report["algorithms"]) == ["ppo", "a2c"] and [r["run"] for r in report["runs"]] == [
        "ppo_seed0", "ppo_seed1", "ppo_seed2", "a2c_seed0", "a2c_seed1", "a2c_seed2"]
    assert list(report["decision"]["environments"]["CartPole-v1"]["completed_seeds"]) == ["ppo", "a2c"]


def test_training_and_evaluation_returns_are_labelled_wherever_they_stand_side_by_side(real_runs, tmp_path):
    write_report([load_trial(f) for f in real_runs], tmp_path / "real", replays=False)
    markdown = (tmp_path / "real/report.md").read_text()
    table = markdown.split("## Final performance")[1].split("## Probability")[0]
    assert f"| {EVALUATION_RETURN}: IQM [95% CI] |" in table
    assert f"| {TRAINING_RETURN} at the end: mean |" in table
    assert f"| {TRAINING_RETURN}: area under the learning curve [95% CI] |" in table
    assert f"| run | status | {EVALUATION_RETURN} | {TRAINING_RETURN} at the end |" in markdown
    assert ("Training returns come from the stochastic, exploring policy during learning; the evaluation runs the "
            "greedy (deterministic) policy on fresh, separately seeded episodes, so the two can differ widely") in table
    assert f"Learning curves: {TRAINING_RETURN} against environment steps" in markdown
    assert f"Final {EVALUATION_RETURN} per algorithm" in markdown
    # The verdict's final performance and learning speed, side by side (synthetic runs that settle both).
    apart = [make_experiment(tmp_path / "exp", algo, i, final + 10 * i, slope=slope)
             for algo, final, slope in (("ppo", 300.0, 1.0), ("a2c", 0.0, 0.5)) for i in range(4)]
    report = write_report([load_trial(f) for f in apart], tmp_path / "synthetic")
    final, speed = [line for line in report["verdict"] if line.startswith(("Final performance", "Learning speed"))]
    assert final.startswith("Final performance: PPO is better than A2C")
    assert "IQM evaluation return (deterministic policy, 10 episodes) 315.0" in final
    assert speed.startswith("Learning speed: PPO learned faster than A2C (AdaStop, family-wise error at most 5%, a "
                            "one-round test at 4 seeds each).")
    assert f"mean {TRAINING_RETURN} over the run (area under the learning curve) 200.0 vs -100.0." in speed
