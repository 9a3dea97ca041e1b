"""RunTrainable, the Ray Tune adapter over the engine: saved, stopped and restored as Tune restores a trial, on the
session's local Ray cluster (tests/conftest.py)."""

import sys

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


class SlowReset(rl_sweep.RunTrainable):
    """RunTrainable whose reset to its next trial waits until that trial was stopped (a file beside the trials'
    folders says so), 30 s at most."""

    def reset_config(self, new_config):
        import time
        from pathlib import Path

        stopped = Path(new_config["run"]["output_dir"]).parent / "stopped"
        waited = time.monotonic()
        while not stopped.exists() and time.monotonic() - waited < 30:
            time.sleep(0.05)
        return super().reset_config(new_config)


def test_a_trial_stopped_while_tune_resets_a_reused_actor_for_it_is_recorded_as_itself(ray_cluster, tmp_path):
    """Tune 2.60 asks a reused actor for its metrics before resetting it, so a trial stopped while its actor resets
    (a speculative trial the decision made unnecessary, an interrupted one) has a result carrying the config of the
    trial the actor ran before: its record is still its own (rl_sweep.sweep.records.trial_records). The reset waits
    for the stop, on any machine."""
    from ray import cloudpickle, tune
    from ray.tune.experiment import Trial
    from ray.tune.schedulers import FIFOScheduler

    from rl_sweep.run.config import TrainingConfig
    from rl_sweep.storage import Storage
    from rl_sweep.sweep.records import trial_config, trial_records
    from rl_sweep.sweep.tuner import param_space, tune_config

    cloudpickle.register_pickle_by_value(sys.modules[__name__])  # SlowReset, for Ray's workers
    storage = Storage(str(tmp_path))
    trials = [trial_config(TrainingConfig(algo="a2c", seed=seed, total_timesteps=200, checkpoint_interval=100,
                                          eval_episodes=1, output_dir=str(tmp_path / f"a2c_seed{seed}")),
                           f"a2c_seed{seed}") for seed in (1, 2)]
    stopped = []

    class StopWhileResetting(FIFOScheduler):
        def choose_trial_to_run(self, tune_controller):
            for trial in tune_controller.get_trials():
                if trial.status == Trial.PENDING and trial.temporary_state.ray_actor is not None and not stopped:
                    stopped.append(str(trial))  # it has the first trial's actor, which is resetting
                    tune_controller.stop_trial(trial)
                    (tmp_path / "stopped").touch()  # the reset goes on
            return super().choose_trial_to_run(tune_controller)

    tuner = tune.Tuner(SlowReset, param_space=param_space(trials, 1, storage),
                       tune_config=tune_config(1, StopWhileResetting()),
                       run_config=tune.RunConfig(name="tune", storage_path=str(tmp_path), verbose=0))
    grid = tuner.fit()
    assert stopped == ["a2c_seed2"]
    # The case guarded: Tune's own result for the second trial names the first.
    assert [r.config["run"]["name"] for r in grid] == ["a2c_seed1", "a2c_seed1"]
    records = trial_records(grid, trials, storage.location)
    assert [(r["trial"], r["status"], r["timesteps"]) for r in records] == [("a2c_seed1", "completed", 200),
                                                                            ("a2c_seed2", "incomplete", 0)]
    assert records[1]["folder"] == "a2c_seed2" and records[1]["ended"] is None
