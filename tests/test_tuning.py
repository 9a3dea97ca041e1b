"""rl-sweep --tune (issue 36), a fair fight: every variant tuned with the same budget on tuning seeds, each one's best
setting decided on fresh seeds, in one sweep folder (real sweeps on a real Ray cluster; the decision recomputed with
the adastop package); interrupted while tuning and again while deciding, then resumed, to the same choice and
decision."""

from __future__ import annotations

import os
import signal
from pathlib import Path

import numpy as np
import pytest
import yaml
from ray import tune

from conftest import TUNING_PRESET, fewer_bootstrap_replicates, load_json, recomputed
from rl_sweep.errors import ExitCode
from rl_sweep.files.status import COMPLETED, INTERRUPTED
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.tuning import run_tuned

FIGHT = {"algos": ["ppo", "a2c"], "envs": ["CartPole-v1"], "eval_episodes": 2, "replays": False, "tune": 3,
         "tuning_seeds": 2, "early_stopping": False, "until_decided": True, "seeds_per_round": 3, "max_rounds": 2,
         "speculate": True, "command": "rl-sweep (test)"}  # speculating, as the command does by default


def options(tmp_path: Path, name: str) -> SweepOptions:
    preset = tmp_path / "preset.yaml"
    preset.write_text(TUNING_PRESET)
    return SweepOptions.from_json({**FIGHT, "preset": str(preset), "results_dir": str(tmp_path / "results"),
                                   "name": name})


def resumed(tmp_path: Path, name: str) -> SweepOptions:
    """The options ``rl-sweep --resume NAME`` reads: the sweep's sweep.json."""
    return SweepOptions.from_json(load_json(tmp_path / f"results/sweeps/{name}/sweep.json"))


class Interrupt(tune.Callback):
    """Ctrl-C, as a user gives it, once A2C's tuning has a trial under way, and again once a deciding trial has; each
    once (Tune stores its callbacks with its state, so the marks are files)."""

    def __init__(self, marks: Path) -> None:
        self.marks = marks

    def on_trial_start(self, iteration, trials, trial, **info):
        run = trial.config["run"]
        moment = "tuning" if "/tuning/" in run["folder"] else "deciding"
        if moment == "tuning" and run["algo"] != "a2c":
            return
        mark = self.marks / moment
        if not mark.exists():
            mark.touch()
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture(scope="module")
def fights(ray_cluster, tmp_path_factory):
    """The same fight left alone, and interrupted twice then resumed: each call's folder, exit code and summary."""
    found = {}
    with fewer_bootstrap_replicates():
        tmp = tmp_path_factory.mktemp("alone")
        found["alone"] = (tmp, *run_tuned(options(tmp, "fight")))
        tmp = tmp_path_factory.mktemp("interrupted")
        signals = Interrupt(tmp)
        found["while tuning"] = (tmp, *run_tuned(options(tmp, "fight"), callbacks=[signals]))
        found["while deciding"] = (tmp, *run_tuned(resumed(tmp, "fight"), resume=True, callbacks=[signals]))
        found["resumed"] = (tmp, *run_tuned(resumed(tmp, "fight"), resume=True))
    return found


def test_every_variant_is_tuned_with_the_same_budget_on_seeds_apart_from_the_deciding_ones(fights):
    tmp, code, summary = fights["alone"]
    assert code == ExitCode.OK, summary
    tuning = summary["tuning"]
    assert tuning == load_json(tmp / "results/sweeps/fight/tuning.json")
    assert tuning["status"] == COMPLETED and tuning["settings"] == 3 and tuning["timesteps"] == {"CartPole-v1": 1000}
    seeds = tuning["seeds"]
    assert len(seeds) == 2 and all(seed >= 1000 for seed in seeds)
    for entry in tuning["variants"]:
        trials = entry["trials"]
        assert len(trials) == 6 and {t["status"] for t in trials} == {COMPLETED}
        assert sorted((t["setting"], t["seed"]) for t in trials) == [(k, s) for k in range(3) for s in sorted(seeds)]
        assert {t["timesteps"] for t in trials} == {1000} and entry["steps"] == 6000
        assert entry["own"] == 0 and trials[0]["trial"].startswith(f"{entry['variant']}/")
        for t in trials:  # the trial's own folder, under the variant's tuning folder
            assert (tmp / "results/sweeps/fight/tuning" / t["trial"]).is_dir()
    deciding = {t["seed"] for t in summary["trials"]}
    assert deciding and deciding.isdisjoint(seeds) and min(deciding) == 42


def test_each_variant_decides_with_its_best_tuning_setting_and_the_package_confirms_the_decision(fights):
    tmp, _, summary = fights["alone"]
    folder = tmp / "results/sweeps/fight"
    for entry in summary["tuning"]["variants"]:
        scores = {k: np.mean([t["final_reward_mean"] for t in entry["trials"] if t["setting"] == k]) for k in range(3)}
        best = max(scores, key=scores.get)
        assert entry["chosen"] == best and entry["tuning_score"] == pytest.approx(scores[best])
        [chosen] = [s for s in entry["settings"] if s["setting"] == best]
        assert entry["overrides"] == chosen["overrides"]
        algo = entry["algo"]
        preset = yaml.safe_load((folder / f"tuning/{entry['variant']}/best.yaml").read_text())
        assert preset[algo]["hyperparameters"]["learning_rate"] == chosen["overrides"]["learning_rate"]
        for trial in (t for t in summary["trials"] if t["variant"] == entry["variant"]):
            results = load_json(folder / trial["trial"] / f"{algo}_seed{trial['seed']}_results.json")
            assert results["experiment_results"]["hyperparameters"]["learning_rate"] == \
                chosen["overrides"]["learning_rate"]
    decision = summary["decision"]
    again = recomputed(summary)
    assert again["decisions"] == {(c["first"], c["second"]): c["decision"] for c in decision["comparisons"]}


def test_the_report_leads_with_the_budget_and_shows_sensitivity_and_the_maximisation_bias(fights):
    tmp, _, summary = fights["alone"]
    folder = tmp / "results/sweeps/fight"
    lead = (folder / "report.md").read_text().split("\n## ")[0]
    assert "A fair fight: each variant tuned with 3 settings x 2 seeds x 1,000 steps" in lead
    report = (folder / "report.md").read_text()
    assert "## Tuning" in report and "sensitivity.png" in report and (folder / "sensitivity.png").stat().st_size
    assert "Maximisation bias" in report and "The chosen settings" in report
    numbers = load_json(folder / "comparison.json")["tuning"]
    for shown, entry in zip(numbers["variants"], summary["tuning"]["variants"]):
        fresh = [t["final_reward_mean"] for t in summary["trials"]
                 if t["variant"] == entry["variant"] and t["status"] == COMPLETED]
        assert shown["variant"] == entry["variant"] and shown["tuning_score"] == entry["tuning_score"]
        assert shown["fresh_score"] == pytest.approx(np.mean(fresh)) and shown["fresh_seeds"] == len(fresh)
        assert shown["bias"] == pytest.approx(entry["tuning_score"] - np.mean(fresh))
        assert sorted(shown["scores"]) == sorted(s["final_reward_mean"] for s in entry["settings"])


def test_interrupted_while_tuning_and_while_deciding_resumes_to_the_same_choice_and_decision(fights):
    _, code, stopped = fights["while tuning"]
    assert code == ExitCode.INTERRUPTED and stopped["status"] == INTERRUPTED
    assert stopped["tuning"]["status"] == INTERRUPTED and not stopped["trials"]
    _, code, stopped = fights["while deciding"]
    assert code == ExitCode.INTERRUPTED and stopped["tuning"]["status"] == COMPLETED
    _, code, summary = fights["resumed"]
    assert code == ExitCode.OK, summary
    _, _, alone = fights["alone"]

    def chosen(found):
        return [(e["variant"], e["chosen"], e["overrides"], e["tuning_score"]) for e in found["tuning"]["variants"]]

    def rewards(found):
        return {t["trial"]: t["final_reward_mean"] for t in found["trials"] if t["status"] == COMPLETED}

    assert chosen(summary) == chosen(alone)
    assert summary["decision"] == alone["decision"] and rewards(summary) == rewards(alone)


def test_the_budgets_cpu_hours_keep_two_significant_figures_below_ten():
    from rl_sweep.text import cpu_hours

    # 1.03 CPU-hours beside 0.71 read "1" before (the LunarLander-v3 fight's A2C)
    assert [cpu_hours(h) for h in (0.0219, 0.71, 1.028, 9.99, 12.4)] == ["0.022", "0.71", "1.0", "10", "12"]
