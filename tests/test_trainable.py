"""RunTrainable, the Ray Tune adapter over the engine: saved, stopped and restored as Tune restores a trial, on the
session's local Ray cluster (tests/conftest.py)."""

import pytest
import ray
from conftest import timesteps

import rl_sweep


def test_trainable_saves_and_restores_as_tune_restores_a_trial(ray_cluster, tmp_path):
    """Ray's validate_save_restore, with the stop Tune makes before it restores a trial in another process:
    two live trainables of one trial would write one folder, which the run's folder lock refuses."""
    config = {"run": {"algo": "a2c", "seed": 1, "total_timesteps": 1000, "checkpoint_interval": 100,
                      "eval_episodes": 1, "output_dir": str(tmp_path / "a2c_seed1")}}
    trainable = ray.remote(rl_sweep.RunTrainable)
    first, second = trainable.remote(config=config), trainable.remote(config=config)
    for _ in range(3):
        ray.get(first.train.remote())
    checkpoint = ray.get(first.save.remote())
    ray.get(first.stop.remote())
    ray.get(second.restore.remote(checkpoint))
    assert ray.get(second.train.remote())["training_iteration"] == 4
    assert ray.get(second.train.remote())["training_iteration"] == 5
    ray.get(second.stop.remote())
    assert timesteps(tmp_path / "a2c_seed1", "a2c_seed1") == list(range(100, 501, 100))


def test_trainable_takes_training_config_fields_at_the_top_of_its_config(ray_cluster, tmp_path):
    """The shape rl_sweep.RunTrainable was first exported with, through Tune's own save, stop and restore."""
    config = {"algo": "a2c", "seed": 3, "total_timesteps": 600, "checkpoint_interval": 200, "eval_episodes": 1,
              "output_dir": str(tmp_path / "a2c_seed3"), "cpus_per_trial": 1}
    trainable = ray.remote(rl_sweep.RunTrainable)
    first, second = trainable.remote(config=config), trainable.remote(config=config)  # two workers start at once
    ray.get(first.train.remote())
    checkpoint = ray.get(first.save.remote())
    ray.get(first.stop.remote())
    ray.get(second.restore.remote(checkpoint))
    results = [ray.get(second.train.remote()) for _ in range(2)]
    assert results[-1]["done"] and results[-1]["timesteps_total"] == 600
    ray.get(second.stop.remote())
    assert timesteps(tmp_path / "a2c_seed3", "a2c_seed3") == list(range(100, 601, 100))


def test_trainable_refuses_a_config_without_a_run_in_one_line(ray_cluster):
    trainable = ray.remote(rl_sweep.RunTrainable)
    with pytest.raises(Exception, match="has no run: give TrainingConfig's fields"):
        ray.get(trainable.remote(config={"seed": 1}).train.remote())
