"""Contract: TrainingConfig and its validation (unit tests, no training)."""

from pathlib import Path

import pytest

from rl_sweep.run.config import TrainingConfig
from rl_sweep.errors import ConfigError, ExitCode


def test_config_validation():
    """Contract unit test: defaults and the conda environment."""
    config = TrainingConfig(algo="ppo", seed=42)
    assert config.algo == "ppo"
    assert config.seed == 42
    assert config.conda_env == "rocm"
    assert config.total_timesteps == 50000
    assert config.checkpoint_interval == 1000
    assert config.env_name == "LunarLander-v3"
    assert config.eval_episodes == 10


def test_default_output_dir_is_per_algorithm_and_seed():
    assert TrainingConfig(algo="a2c", seed=7).output_dir == Path("results/experiments/a2c_seed7/")


@pytest.mark.parametrize("field, value", [
    ("algo", "dqn"), ("total_timesteps", 0), ("total_timesteps", -5),
    ("checkpoint_interval", 0), ("eval_episodes", 0),
])
def test_invalid_values_are_config_errors_with_exit_code_3(field, value):
    kwargs = {"algo": "ppo", field: value}
    with pytest.raises(ConfigError) as excinfo:
        TrainingConfig(**kwargs)
    assert excinfo.value.exit_code == ExitCode.BAD_ARGUMENTS


def test_from_dict_ignores_keys_that_are_not_fields():
    config = TrainingConfig.from_dict({"algo": "a2c", "seed": 3, "trial_id": "x"})
    assert (config.algo, config.seed) == ("a2c", 3)
