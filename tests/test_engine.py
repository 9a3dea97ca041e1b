"""Contract: seeding, checkpoints every N steps, exact step counts (the engine, in process, real SB3)."""

from pathlib import Path

import numpy as np
import pytest
import torch
from stable_baselines3 import A2C, PPO

from rl_sweep.run.config import TrainingConfig
from rl_sweep.errors import ExitCode
from rl_sweep.run.cli import run_training

from conftest import load_json, timesteps


def train(tmp: Path, expect: ExitCode = ExitCode.OK, **overrides) -> Path:
    """A short run in process; returns its output directory."""
    config = TrainingConfig(**{"algo": "ppo", "seed": 42, "total_timesteps": 1000,
                               "eval_episodes": 2, "output_dir": tmp, **overrides})
    assert run_training(config) == expect
    return tmp


def series(output_dir: Path, experiment_id: str) -> list[tuple]:
    """The time series without wall-clock timestamps."""
    metrics = load_json(output_dir / f"{experiment_id}_metrics.json")["training_metrics"]
    return [(e["timestep"], e["episode"], e["reward"], e["episode_length"], e["loss"])
            for e in metrics["time_series"]]


def parameters(path: Path, cls) -> list[torch.Tensor]:
    return [p.detach().clone() for p in cls.load(path, device="cpu").policy.parameters()]


def test_seeding(tmp_path):
    """Contract unit test: seeding produces deterministic results."""
    rewards_1 = series(train(tmp_path / "a", algo="a2c"), "a2c_seed42")
    rewards_2 = series(train(tmp_path / "b", algo="a2c"), "a2c_seed42")
    assert rewards_1 == rewards_2
    assert any(r[2] is not None for r in rewards_1)


def test_different_seeds_give_different_runs(tmp_path):
    assert series(train(tmp_path / "a", algo="a2c"), "a2c_seed42") != \
        series(train(tmp_path / "b", algo="a2c", seed=43), "a2c_seed43")


def test_checkpoint_save_load(tmp_path):
    """Contract unit test: checkpoint save and load cycle."""
    out = train(tmp_path, expect=ExitCode.WARNINGS)  # 1000 steps: PPO's first rollout (2048) never completes
    [warning] = load_json(out / "ppo_seed42_results.json")["experiment_results"]["metadata"]["warnings"]
    assert "the policy was never updated" in warning
    loaded_model = PPO.load(out / "checkpoint_1000.zip")
    assert loaded_model is not None
    assert loaded_model.num_timesteps == 1000


@pytest.mark.parametrize("algo, cls, steps, fine, coarse", [
    ("ppo", PPO, 4500, 500, 5000),   # two PPO updates (2048, 4096), checkpoints mid-rollout
    ("a2c", A2C, 1500, 100, 1500),
])
def test_checkpoint_interval_does_not_change_what_is_learned(tmp_path, algo, cls, steps, fine, coarse):
    a = train(tmp_path / "fine", algo=algo, total_timesteps=steps, checkpoint_interval=fine)
    b = train(tmp_path / "coarse", algo=algo, total_timesteps=steps, checkpoint_interval=coarse)
    experiment = f"{algo}_seed42"
    assert series(a, experiment) == series(b, experiment)
    for p, q in zip(parameters(a / f"{experiment}_model.zip", cls),
                    parameters(b / f"{experiment}_model.zip", cls), strict=True):
        assert torch.equal(p, q)
    results_a = load_json(a / f"{experiment}_results.json")["experiment_results"]["metrics"]
    results_b = load_json(b / f"{experiment}_results.json")["experiment_results"]["metrics"]
    assert results_a["final_reward_mean"] == results_b["final_reward_mean"]


def test_run_trains_exactly_timesteps_and_checkpoints_each_multiple(tmp_path):
    """2500 steps is not a multiple of PPO's 2048-step rollout: the run still stops at 2500."""
    out = train(tmp_path, total_timesteps=2500, checkpoint_interval=1000)
    for step in (1000, 2000, 2500):
        assert PPO.load(out / f"checkpoint_{step}.zip").num_timesteps == step
    assert not (out / "checkpoint_3000.zip").exists()
    assert PPO.load(out / "ppo_seed42_model.zip").num_timesteps == 2500
    assert timesteps(out, "ppo_seed42") == list(range(100, 2501, 100))


def test_run_ending_on_a_rollout_boundary_trains_on_that_rollout(tmp_path):
    """At 4096 = 2 x 2048 steps, the final model includes the second PPO update, like plain SB3."""
    out = train(tmp_path, total_timesteps=4096, checkpoint_interval=4096)
    ours = PPO.load(out / "ppo_seed42_model.zip", device="cpu")
    assert ours.num_timesteps == 4096
    assert ours._n_updates == 2 * ours.n_epochs


def test_time_series_entries_are_means_over_recent_episodes(tmp_path):
    out = train(tmp_path, algo="a2c", total_timesteps=2000)
    metrics = load_json(out / "a2c_seed42_metrics.json")["training_metrics"]
    assert metrics["metadata"]["recording_interval"] == 100
    entries = metrics["time_series"]
    assert [e["timestep"] for e in entries] == list(range(100, 2001, 100))
    assert entries[0]["loss"] is not None  # A2C updates every 5 steps
    assert all(np.isfinite(e["reward"]) for e in entries if e["reward"] is not None)
    episodes = [e["episode"] for e in entries]
    assert episodes == sorted(episodes) and episodes[-1] == \
        load_json(out / "a2c_seed42_results.json")["experiment_results"]["metrics"]["total_episodes"]
