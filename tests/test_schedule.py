"""When a sweep's trials run (longest first) and how busy they kept the CPUs (utilisation): issue 37."""

from __future__ import annotations

from pathlib import Path

from conftest import fewer_bootstrap_replicates
from ray.tune import Callback

from rl_sweep.errors import ExitCode
from rl_sweep.run.config import TrainingConfig
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.runner import run_sweep
from rl_sweep.sweep.schedule import SWITCH_SECONDS, longest_first, makespan, pause_now, utilisation

# PPO trains fewer steps than A2C: in grid order (ppo before a2c) the short trials would start first.
UNEQUAL = """\
ppo:
  timesteps: 600
  hyperparameters: {n_steps: 64, batch_size: 32, n_epochs: 1}
a2c:
  timesteps: 1500
  hyperparameters: {n_steps: 5}
"""


def run(algo: str, seed: int, steps: int, env: str = "CartPole-v1") -> tuple[str, TrainingConfig]:
    return f"{algo}_seed{seed}", TrainingConfig(algo=algo, seed=seed, env_name=env, total_timesteps=steps)


def record(algo: str, steps: int, seconds: float, env: str = "CartPole-v1", ended: float | None = None) -> dict:
    return {"env": env, "algo": algo, "status": "completed", "timesteps": steps, "wall_time_seconds": seconds,
            "ended": ended}


def test_the_largest_budgets_start_first_and_equal_ones_keep_grid_order():
    runs = [run("ppo", 42, 600), run("ppo", 43, 600), run("a2c", 42, 1000), run("a2c", 43, 1000)]
    assert [name for name, _ in longest_first(runs)] == ["a2c_seed42", "a2c_seed43", "ppo_seed42", "ppo_seed43"]


def test_the_cost_of_a_step_comes_from_the_trials_already_finished():
    runs = [run("ppo", 47, 600), run("a2c", 47, 1000)]
    # PPO measured at 3 ms a step, A2C at 1 ms: 600 PPO steps cost more than 1,000 A2C steps.
    finished = [record("ppo", 600, 1.8), record("a2c", 1000, 1.0)]
    assert [name for name, _ in longest_first(runs, finished)] == ["ppo_seed47", "a2c_seed47"]


def test_utilisation_is_the_trials_cpu_seconds_over_the_cpus_times_the_span():
    trials = [record("ppo", 600, 10.0, ended=110.0), record("ppo", 600, 10.0, ended=110.0),
              record("a2c", 600, 20.0, ended=120.0)]  # two CPUs from 100 to 110, one from 100 to 120
    found = utilisation(trials, cpus=2, cpus_per_trial=1.0)
    assert found["wall_seconds"] == 20.0 and found["trial_cpu_seconds"] == 40.0 and found["value"] == 1.0
    assert utilisation([dict(t, ended=None) for t in trials], cpus=2, cpus_per_trial=1.0) is None


def test_the_forecast_end_is_list_scheduling_of_the_waiting_trials_on_the_first_slot_free():
    assert makespan([100.0, 30.0], [50.0, 40.0], slots=2) == 120.0  # 50 after 30, 40 after 80
    assert makespan([], [10.0], slots=3) == 10.0 and makespan([], [], slots=2) == 0.0


def test_a_trial_pauses_where_a_wrap_around_schedule_splits_it():
    """X has 100 s left on one CPU; Y (125 s) starts on the other; Z (125 s) waits. Going on ends at 225 s; pausing
    Y when the two CPUs' forecast ends cross (about 52 s in) runs Z in its place and Y's rest after X: 177 s."""
    def pauses(ran: float) -> bool:
        return pause_now(125.0 - ran, [100.0 - ran], [125.0], slots=2, step=2.0)

    first = next(ran for ran in range(0, 101) if pauses(ran))
    assert 50 <= first <= 56
    assert not pauses(0) and not pauses(40)
    after = first + makespan([125.0, 100.0 - first], [125.0 - first + SWITCH_SECONDS], slots=2)
    assert after < 182.0  # against 225 going on, the ideal (350 s over 2 CPUs) 175


def test_no_pause_without_a_trial_to_start_or_a_gain_above_the_forecasts_error():
    assert not pause_now(100.0, [100.0], [], slots=2, step=2.0)
    # Two equal trials run, a third waits: no split ends sooner than going on by the gain asked (10 s).
    assert not any(pause_now(100.0 - ran, [100.0 - ran], [100.0], slots=2, step=2.0, gain=60.0)
                   for ran in range(100))
    assert any(pause_now(100.0 - ran, [100.0 - ran], [100.0], slots=2, step=2.0) for ran in range(100))


class Starts(Callback):
    """The order Tune starts trials in, from Tune's own callback."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def on_trial_start(self, iteration, trials, trial, **info):
        self.started.append(str(trial))


def test_a_sweep_starts_its_longest_trials_first_and_reports_its_utilisation(ray_cluster, tmp_path: Path):
    preset = tmp_path / "unequal.yaml"
    preset.write_text(UNEQUAL)
    options = SweepOptions.from_json({
        "algos": ["ppo", "a2c"], "seeds": 1, "envs": ["CartPole-v1"], "preset": str(preset), "eval_episodes": 2,
        "checkpoint_interval": 300, "max_concurrent": 1, "results_dir": str(tmp_path / "results"), "name": "order",
        "command": "rl-sweep (test)", "replays": False})
    starts = Starts()
    with fewer_bootstrap_replicates():
        code, summary = run_sweep(options, callbacks=[starts])
    assert code == ExitCode.OK, summary
    assert starts.started == ["a2c_seed42", "ppo_seed42"]  # grid order would start PPO first
    assert [t["trial"] for t in summary["trials"]] == ["ppo_seed42", "a2c_seed42"]  # the summary keeps --algos order
    busy = summary["utilisation"]
    # One trial at a time on two CPUs: about a half (each start estimated from its end and Tune's time total).
    assert busy["cpus"] == 2 and 0 < busy["value"] <= 0.52
    assert busy["trial_cpu_seconds"] == sum(t["wall_time_seconds"] for t in summary["trials"])
    report = (tmp_path / "results/sweeps/order/report.md").read_text()
    assert f"CPU utilisation {busy['value']:.2f}" in report  # the report's words under its runs

