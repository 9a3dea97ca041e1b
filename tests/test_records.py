"""Unit tests of the sweep layer's pure logic: trial records, the sweep summary, the search's ranking,
and the run names every layer shares."""

from rl_sweep.identity import experiment_id, parse_experiment_id
from rl_sweep.run.config import TrainingConfig
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.records import trial_config, trial_record
from rl_sweep.sweep.runner import summarize
from rl_sweep.sweep.search import rank_settings


def config_of(algo: str, seed: int, setting: int | None = None) -> dict:
    """A trial's config as the sweep builds it, its files under /data/results."""
    run = TrainingConfig(algo=algo, seed=seed, total_timesteps=1000, output_dir=f"/tmp/{algo}_{seed}")
    folder = f"sweeps/s/{experiment_id(algo, seed, setting)}"
    return {"run": trial_config(run, folder, setting), "cpus_per_trial": 1, "storage": "/data/results"}


def test_a_run_name_is_made_and_read_in_one_place():
    assert experiment_id("ppo", 42) == "ppo_seed42" == TrainingConfig(algo="ppo").experiment_id
    assert experiment_id("a2c", 7, setting=3) == "a2c_s03_seed7"
    assert parse_experiment_id("a2c_s03_seed7") == ("a2c", 7)
    assert parse_experiment_id("ppo_seed42") == ("ppo", 42)


def test_a_trial_that_failed_is_listed_with_its_algorithm_seed_and_one_line_error():
    error = RuntimeError("no preset 'contract'\n  (configs/contract.yaml not found)")
    record = trial_record(config_of("a2c", 43), {}, error)
    assert (record["trial"], record["algo"], record["seed"]) == ("a2c_seed43", "a2c", 43)
    assert record["status"] == "failed"
    assert record["error"] == "RuntimeError: no preset 'contract' (configs/contract.yaml not found)"
    assert record["experiment_dir"] == "/data/results/sweeps/s/a2c_seed43"


def test_a_search_trial_is_named_after_its_setting():
    record = trial_record(config_of("a2c", 1234, setting=3), {"final_reward_mean": 1.0}, None)
    assert (record["trial"], record["setting"], record["folder"]) == ("a2c_s03_seed1234", 3, "sweeps/s/a2c_s03_seed1234")


def test_a_trials_status_says_how_far_it_got():
    assert trial_record(config_of("ppo", 1), {"final_reward_mean": 1.0, "done": True}, None)["status"] == "completed"
    assert trial_record(config_of("ppo", 1), {"done": True}, None)["status"] == "stopped early"
    assert trial_record(config_of("ppo", 1), {"timesteps_total": 500}, None)["status"] == "incomplete"


def test_sweep_summary_orders_trials_by_algorithm_then_seed_and_names_its_status(monkeypatch):
    from rl_sweep.sweep import signals

    options = SweepOptions.from_json({"algos": ["ppo", "a2c"], "name": "s"})
    done = {"final_reward_mean": 1.0, "done": True}
    trials = [trial_record(config_of("a2c", 43), done, None), trial_record(config_of("ppo", 43), done, None),
              trial_record(config_of("ppo", 42), done, None)]
    summary = summarize(options, trials, "2026-11-25T00:00:00Z")
    assert [t["trial"] for t in summary["trials"]] == ["ppo_seed42", "ppo_seed43", "a2c_seed43"]
    assert summary["status"] == "completed"
    trials.append(trial_record(config_of("a2c", 42), {}, None))
    # A trial left unfinished is an interruption only when an interrupt signal arrived; else Tune's run failed.
    monkeypatch.setattr(signals, "_received", [])
    assert summarize(options, trials, "")["status"] == "failed"
    monkeypatch.setattr(signals, "_received", ["SIGINT"])
    assert summarize(options, trials, "")["status"] == "interrupted"
    trials.append(trial_record(config_of("a2c", 44), {}, RuntimeError("boom")))
    assert summarize(options, trials, "")["status"] == "failed"


def test_search_ranks_settings_completed_on_every_seed_by_their_mean_then_the_rest():
    def trial(setting, seed, final=None, status="completed", steps=1000, training=0.0):
        return {"setting": setting, "seed": seed, "overrides": {"n": setting}, "status": status,
                "timesteps": steps, "training_reward": training, "final_reward_mean": final}

    trials = [trial(0, 1, 10.0), trial(0, 2, 30.0),                   # mean 20
              trial(1, 1, 50.0), trial(1, 2, None, "stopped early", 500, 40.0),
              trial(2, 1, 25.0), trial(2, 2, 35.0),                   # mean 30: best
              trial(3, 1, None, "stopped early", 250, 90.0), trial(3, 2, None, "stopped early", 250, 95.0)]
    settings, ordered = rank_settings(trials)
    assert [s["setting"] for s in settings] == [2, 0, 1, 3]  # then by steps reached, then training reward
    assert settings[0]["final_reward_mean"] == 30.0 and settings[0]["final_rewards"] == [25.0, 35.0]
    assert settings[2]["status"] == "stopped early" and settings[2]["final_reward_mean"] is None
    assert [(t["setting"], t["seed"]) for t in ordered][:4] == [(2, 1), (2, 2), (0, 1), (0, 2)]
