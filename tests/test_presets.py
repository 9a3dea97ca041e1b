"""Presets: the contract preset is the contract; a user's YAML with several environments per run or
normalisation."""

import dataclasses
import json
import zipfile

import pytest
from conftest import load_json, run_cli, timesteps, without_entries
from stable_baselines3 import A2C

from rl_sweep.run.config import TrainingConfig
from rl_sweep.run.engine import TrainingRun
from rl_sweep.run.environments import make_eval_env
from rl_sweep.errors import ConfigError, ExitCode, ModelLoadError
from rl_sweep.presets import AlgoSettings, load_settings
from rl_sweep.run.algorithms import model_kwargs
from rl_sweep.run.cli import run_training

CONTRACT = {
    "ppo": {"learning_rate": 0.0003, "n_steps": 2048, "batch_size": 64, "n_epochs": 10, "gamma": 0.99,
            "gae_lambda": 0.95},
    "a2c": {"learning_rate": 0.0007, "n_steps": 5, "gamma": 0.99, "gae_lambda": 1.0},
}


@pytest.mark.parametrize("algo", ["ppo", "a2c"])
def test_contract_preset_is_the_contracts_algorithm_configuration(algo):
    settings = load_settings("contract", algo)
    assert settings.hyperparameters == CONTRACT[algo]
    assert (settings.timesteps, settings.n_envs, settings.policy_kwargs) == (50000, 1, {})
    assert TrainingConfig(algo=algo).settings == settings  # the default


def test_lin_values_are_linear_schedules():
    kwargs = model_kwargs(AlgoSettings(timesteps=1, hyperparameters={"learning_rate": "lin_0.001", "gamma": 0.9}))
    assert kwargs["learning_rate"](1.0) == pytest.approx(0.001)
    assert kwargs["learning_rate"](0.25) == pytest.approx(0.00025)
    assert kwargs["gamma"] == 0.9


def test_unknown_preset_or_bad_file_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        TrainingConfig(algo="ppo", preset="no-such-preset")
    bad = tmp_path / "bad.yaml"
    bad.write_text("ppo:\n  timesteps: 100\n  learning_rate: 0.1\n")  # hyperparameters at the wrong level
    with pytest.raises(ConfigError, match="unknown keys"):
        TrainingConfig(algo="ppo", preset=str(bad))


def test_cli_unknown_preset_exits_3(tmp_path):
    result = run_cli(["--algo", "ppo", "--preset", "no-such-preset"], tmp_path)
    assert result.returncode == 3 and "no preset 'no-such-preset'" in result.stderr


def test_several_envs_checkpoint_at_the_first_step_past_each_multiple(tmp_path):
    preset = tmp_path / "three.yaml"
    preset.write_text("a2c:\n  timesteps: 600\n  n_envs: 3\n  hyperparameters:\n    n_steps: 5\n"
                      "    learning_rate: lin_0.0007\n  policy_kwargs:\n    net_arch: [32, 32]\n")
    config = TrainingConfig(algo="a2c", preset=str(preset), total_timesteps=600, checkpoint_interval=100,
                            eval_episodes=1, output_dir=tmp_path / "out")
    assert run_training(config) == ExitCode.OK
    out = tmp_path / "out"
    # Steps advance by 3: the first steps at or past 100, 200, ... are 102, 201, 300, 402, 501, 600.
    for step in (102, 201, 300, 402, 501, 600):
        assert A2C.load(out / f"checkpoint_{step}.zip").num_timesteps == step
    assert timesteps(out, "a2c_seed42")[:4] == [102, 201, 300, 402]
    results = load_json(out / "a2c_seed42_results.json")["experiment_results"]
    assert results["metadata"]["n_envs"] == 3 and results["metadata"]["preset"] == str(preset)
    assert results["hyperparameters"] == {"n_steps": 5, "learning_rate": "lin_0.0007",
                                          "policy_kwargs": {"net_arch": [32, 32]}}


def test_a_normalising_preset_keeps_its_statistics_in_every_checkpoint_and_resumes_from_them(tmp_path):
    preset = tmp_path / "normalize.yaml"
    preset.write_text("a2c:\n  timesteps: 400\n  n_envs: 2\n  normalize: true\n"
                      "  hyperparameters:\n    n_steps: 5\n    gamma: 0.995\n")
    out = tmp_path / "out"
    config = TrainingConfig(algo="a2c", preset=str(preset), total_timesteps=400, checkpoint_interval=200,
                            eval_episodes=1, output_dir=out)
    assert run_training(config) == ExitCode.OK
    statistics = [json.loads(zipfile.ZipFile(out / f"checkpoint_{step}.zip").read("vec_normalize.json"))
                  for step in (200, 400)]
    # One observation per step, and the 2 of the first reset.
    assert [s["obs_rms"]["count"] for s in statistics] == pytest.approx([202, 402], abs=0.01)
    assert statistics[0]["obs_rms"]["mean"] != statistics[1]["obs_rms"]["mean"]
    assert load_json(out / "a2c_seed42_results.json")["experiment_results"]["metadata"]["normalize"] is True

    # A checkpoint without its rollout's state (an exact resume would start from the rollout's own statistics,
    # tests/test_exact_resume.py): the statistics come from vec_normalize.json.
    older = without_entries(out / "checkpoint_200.zip", tmp_path / "older.zip", ("rollout_start.json", "manifest.json"))
    resumed = TrainingRun(dataclasses.replace(config, resume_from=older))
    try:
        assert resumed.env.gamma == 0.995
        assert resumed.env.obs_rms.mean.tolist() == statistics[0]["obs_rms"]["mean"]
        assert resumed.env.ret_rms.var.tolist() == statistics[0]["ret_rms"]["var"]
        assert resumed.env.obs_rms.count == statistics[0]["obs_rms"]["count"]
        evaluation_env = make_eval_env("LunarLander-v3", 1, resumed.env)  # frozen statistics, raw rewards
        assert not evaluation_env.training and not evaluation_env.norm_reward
        assert evaluation_env.obs_rms.mean.tolist() == statistics[0]["obs_rms"]["mean"]
    finally:
        resumed.close()
    unnormalised = TrainingConfig(algo="a2c", preset="contract", total_timesteps=400, checkpoint_interval=200,
                                  output_dir=out, resume_from=out / "checkpoint_200.zip")
    with pytest.raises(ModelLoadError, match="trained with normalisation"):
        TrainingRun(unnormalised)


def test_search_space_is_read_from_the_preset_and_checked():
    from ray.tune.search.sample import Categorical, Float

    from rl_sweep.sweep.search import search_space, starting_point

    settings = AlgoSettings(timesteps=1, n_envs=4, hyperparameters={"gamma": 0.99},
                            policy_kwargs={"net_arch": [64, 64]},
                            search={"n_envs": [4, 8], "gamma": {"uniform": [0.9, 0.999]},
                                    "net_arch": [[64, 64], [128, 128]]})
    space = search_space(settings, "test")
    assert isinstance(space["n_envs"], Categorical) and space["n_envs"].categories == [4, 8]
    assert isinstance(space["gamma"], Float) and (space["gamma"].lower, space["gamma"].upper) == (0.9, 0.999)
    assert starting_point(settings) == {"n_envs": 4, "gamma": 0.99, "net_arch": [64, 64]}
    for bad in ({"gamma": {"uniform": [1.0, 0.9]}}, {"gamma": "0.99"}, {"gamma": {"normal": [0, 1]}}):
        with pytest.raises(ConfigError):
            search_space(AlgoSettings(timesteps=1, search=bad), "test")


def test_overrides_replace_the_presets_values():
    settings = load_settings("contract", "ppo").with_overrides({"n_envs": 8, "gamma": 0.999, "net_arch": [32]})
    assert settings.n_envs == 8 and settings.hyperparameters["gamma"] == 0.999
    assert settings.policy_kwargs == {"net_arch": [32]} and "net_arch" not in settings.hyperparameters
    assert settings.hyperparameters["n_steps"] == 2048  # the rest is the preset's


def test_search_settings_start_from_the_preset_and_are_reproducible():
    from rl_sweep.sweep.options import search_seeds
    from rl_sweep.sweep.search import sample_settings, search_space

    space = search_space(AlgoSettings(timesteps=1, search={"n_steps": [5, 10], "gamma": {"uniform": [0.9, 0.99]}}),
                         "test")
    settings = sample_settings(space, {"n_steps": 5, "gamma": 0.95}, 6, random_state=1)
    assert len(settings) == 6 and settings[0] == {"n_steps": 5, "gamma": 0.95}
    assert all(s["n_steps"] in (5, 10) and 0.9 <= s["gamma"] <= 0.99 for s in settings[1:])
    assert all(type(s["gamma"]) is float and type(s["n_steps"]) is int for s in settings)  # plain, for YAML
    assert settings == sample_settings(space, {"n_steps": 5, "gamma": 0.95}, 6, random_state=1)
    assert len({tuple(s.items()) for s in settings}) == 6  # no setting drawn twice
    seeds = search_seeds(3, random_state=1)
    assert seeds == search_seeds(3, random_state=1) and len(set(seeds)) == 3
    assert all(1000 <= seed < 1_000_000 for seed in seeds) and seeds != search_seeds(3, random_state=2)


def test_a_small_space_of_choices_gives_each_setting_once():
    from rl_sweep.sweep.search import sample_settings, search_space

    space = search_space(AlgoSettings(timesteps=1, search={"n_steps": [5, 10], "gae_lambda": [0.9, 1.0]}), "test")
    settings = sample_settings(space, {"n_steps": 5, "gae_lambda": 0.9}, 8, random_state=1)
    assert settings[0] == {"n_steps": 5, "gae_lambda": 0.9}
    assert sorted(tuple(s.values()) for s in settings) == [(5, 0.9), (5, 1.0), (10, 0.9), (10, 1.0)]
