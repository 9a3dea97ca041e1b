"""rl-sweep --search: every setting on the same seeds, ranked, the best written as a preset; without early
stopping; a preset without a search space refused."""

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env, load_json, options

from rl_sweep.errors import ExitCode
from rl_sweep.presets import load_settings
from rl_sweep.sweep.search import run_search


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
    # The tuned preset's CartPole-v1 blocks are the RL Zoo's published settings, with no space to search.
    result = subprocess.run([sys.executable, "-m", "rl_sweep.sweep", "--search", "2", "--preset", "tuned", "--env",
                             "CartPole-v1", "--no-dashboard"],
                            cwd=tmp_path, env=cli_env(), capture_output=True, text=True, timeout=120)
    assert result.returncode == 3
    assert "preset tuned (ppo on CartPole-v1) has no search space" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "results").exists()
