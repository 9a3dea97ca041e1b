"""Variants, as pure logic: how they are named, where their runs go, what sweep.json keeps of them, and how the
decision and the report name them (the real sweep of three variants: tests/test_decision.py)."""


import pytest

from rl_sweep.decision import grouped
from rl_sweep.errors import ConfigError
from rl_sweep.presets import CONFIGS_DIR
from rl_sweep.report.reproduce import reproduce_command
from rl_sweep.report.runs import RunRecord
from rl_sweep.sweep.options import SweepOptions, TrialGrid
from rl_sweep.sweep.variants import Variant, parse_variant, read_variants_file


def test_a_variant_is_named_by_what_the_user_wrote(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mine.yaml").write_text((CONFIGS_DIR / "contract.yaml").read_text())
    assert parse_variant("ppo") == Variant("ppo", "ppo")
    assert parse_variant("a2c@tuned") == Variant("a2c@tuned", "a2c", "tuned")
    assert parse_variant("ppo@mine.yaml") == Variant("ppo@mine", "ppo", str(tmp_path / "mine.yaml"))
    assert parse_variant("base=ppo") == Variant("base", "ppo")
    assert parse_variant("ppo").plain and not parse_variant("base=ppo").plain


def test_a_variants_file_gives_settings_on_top_of_a_preset(tmp_path):
    (tmp_path / "v.yaml").write_text("low:\n  algo: ppo\n  preset: tuned\n  hyperparameters: {learning_rate: 0.0001}\n"
                                     "  policy_kwargs: {net_arch: [8]}\n  n_envs: 2\n  normalize: true\nbase:\n"
                                     "  algo: a2c\n")
    low, base = read_variants_file(tmp_path / "v.yaml")
    assert low == Variant("low", "ppo", "tuned", {"learning_rate": 0.0001, "policy_kwargs": {"net_arch": [8]},
                                                  "n_envs": 2, "normalize": True})
    assert base == Variant("base", "a2c")
    options = SweepOptions(name="s", trials=TrialGrid(variants=[low, base], envs=["CartPole-v1"], seeds=1))
    [(low_name, low_run), (base_name, base_run)] = options.sweep_runs()
    assert (low_name, base_name) == ("low/ppo_seed42", "base/a2c_seed42")
    assert low_run.variant == "low" and low_run.preset == "tuned"
    settings = low_run.settings
    assert (settings.n_envs, settings.normalize, settings.hyperparameters["learning_rate"]) == (2, True, 0.0001)
    assert settings.policy_kwargs["net_arch"] == [8]
    assert base_run.variant == "base" and base_run.preset == "contract" and base_run.settings.n_envs == 1


def test_algos_keep_the_layout_of_sweeps_before_variants_and_variants_get_a_folder_each():
    def names(**grid) -> list[str]:
        return [name for name, _ in SweepOptions(name="s", trials=TrialGrid(seeds=1, **grid)).sweep_runs()]

    assert names(algos=["ppo", "a2c"]) == ["ppo_seed42", "a2c_seed42"]
    assert names(variants=[Variant("ppo", "ppo"), Variant("a2c", "a2c")]) == ["ppo_seed42", "a2c_seed42"]
    assert names(variants=[Variant("ppo", "ppo"), Variant("ppo@tuned", "ppo", "tuned")],
                 envs=["CartPole-v1", "Acrobot-v1"]) == [
        "CartPole-v1/ppo/ppo_seed42", "CartPole-v1/ppo@tuned/ppo_seed42",
        "Acrobot-v1/ppo/ppo_seed42", "Acrobot-v1/ppo@tuned/ppo_seed42"]


def test_sweep_json_keeps_the_variants_and_reads_a_sweep_written_before_them():
    options = SweepOptions(name="s", trials=TrialGrid(variants=[Variant("ppo", "ppo"), Variant("t", "ppo", "tuned"),
                                                                Variant("a2c", "a2c")], baseline="ppo"))
    again = SweepOptions.from_json(options.to_json())
    assert again.trials.variants == options.trials.variants and again.trials.baseline == "ppo"
    assert options.to_json()["algos"] == ["ppo", "a2c"]
    earlier = SweepOptions.from_json({"name": "old", "algos": ["ppo", "a2c"], "seeds": 2})
    assert earlier.trials.names == ["ppo", "a2c"] and not earlier.trials.named


@pytest.mark.parametrize("baseline, says", [("dqn", "--baseline dqn is not one of"),
                                            ("ppo", "--baseline compares each of three variants")])
def test_a_baseline_must_be_one_of_three_variants_or_more(baseline, says):
    variants = [Variant("ppo", "ppo"), Variant("a2c", "a2c")]
    with pytest.raises(ConfigError, match=says):
        SweepOptions(name="s", trials=TrialGrid(variants=variants, baseline=baseline))


def test_the_decisions_read_grouped_by_winner():
    document = {"method": "AdaStop", "alpha": 0.05, "comparator_alpha": 0.05 / 6, "pairs": 3, "baseline": None,
                "seeds_per_round": 5}
    comparisons = [{"env": "E", "first": "ppo@tuned", "second": "ppo", "decision": "larger", "round": 1},
                   {"env": "E", "first": "ppo@tuned", "second": "a2c@tuned", "decision": "larger", "round": 2},
                   {"env": "E", "first": "ppo", "second": "a2c@tuned", "decision": "equal", "round": 4}]
    assert grouped(comparisons, document) == (
        "ppo@tuned is better than PPO and a2c@tuned; PPO and a2c@tuned are not shown different on E (AdaStop, "
        "family-wise error at most 5% over 3 comparisons, decided after 1 to 4 rounds of 5 seeds each)")
    ties = [{**c, "decision": "equal"} for c in comparisons]
    assert grouped(ties, document).startswith("no pair of ppo@tuned, PPO and a2c@tuned is shown different on E")


def test_the_reproduce_command_names_each_variant_by_its_algorithm_and_preset():
    def run(variant: str, algo: str, preset: str, seed: int) -> RunRecord:
        return RunRecord(f"{algo}_seed{seed}", algo, seed, "completed", "", env_name="CartPole-v1", variant=variant,
                         config={"timesteps": 1000, "checkpoint_interval": 500, "preset": preset})

    runs = [run(v, a, p, s) for v, a, p in (("ppo", "ppo", "contract"), ("ppo@tuned", "ppo", "tuned"),
                                            ("mine", "a2c", "/x/mine.yaml")) for s in (42, 43)]
    assert reproduce_command(runs).startswith("rl-sweep --variants ppo ppo@tuned mine=a2c@/x/mine.yaml --seeds 2 ")
    assert reproduce_command([r for r in runs if r.variant == "ppo"]).startswith("rl-sweep --algos ppo --seeds 2")
    named = reproduce_command([r for r in runs if r.variant != "ppo"])  # every variant named: the sweep's options stay
    assert "--timesteps 1000" in named and "--env CartPole-v1" in named and "--preset" not in named


def test_a_baseline_without_completed_runs_is_no_test_of_every_pair_instead():
    from rl_sweep.decision.one_round import one_round
    from rl_sweep.report.verdict import why_untested

    values = {"a": [1.0, 2.0, 3.0, 4.0, 5.0], "b": [6.0, 7.0, 8.0, 9.0, 10.0], "base": []}
    test = one_round("E", values, baseline="base")
    assert test["skipped"] and test["baseline_missing"] and not test["comparisons"]
    assert why_untested(test, "a", "b") == "the baseline base has no completed run here"
    tested = one_round("E", {**values, "base": [0.0] * 5}, baseline="base")
    assert [(c["first"], c["second"]) for c in tested["comparisons"]] == [("a", "base"), ("b", "base")]
    assert why_untested(tested, "a", "b").startswith("the test compares each variant with base only")


def test_a_sweep_stopped_after_a_round_that_decided_nothing_says_so():
    from rl_sweep.report.verdict import decision_line

    document = {"method": "AdaStop", "alpha": 0.05, "comparator_alpha": 0.05 / 6, "pairs": 3, "seeds_per_round": 5,
                "rounds": 1, "comparisons": []}
    assert decision_line("E", document).startswith("No AdaStop decision on E yet: after 1 round of 5 seeds each no "
                                                    "comparison is decided")
    assert "decides once every trial" in decision_line("E", {**document, "rounds": 0})
