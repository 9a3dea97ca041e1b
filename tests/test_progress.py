"""The live display of a sweep (rl_sweep.sweep.progress), on fake Tune trials: the steps and the ETA, plain lines
off a terminal, an interrupted sweep's last frame, one screen at most, pickled as Tune stores it. A real sweep on
a terminal: tests/test_sweep_cli.py."""

import os

import pytest

from rl_sweep.sweep import signals
from rl_sweep.sweep.progress import SweepProgress, render


class FakeTrial:
    """What the progress display reads of a Tune trial. A terminated one has its evaluation in its last result
    unless ``interrupted`` (Tune stopped it unfinished)."""

    def __init__(self, name: str, status: str, step: int = 0, reward: float = float("nan"),
                 interrupted: bool = False) -> None:
        self.name, self.status, self.config = name, status, {"run": {"total_timesteps": 800}}
        self.trial_id = name
        self.last_result = {"timesteps_total": step, "episode_reward_mean": reward, "steps_per_second": 900.0}
        if status == "TERMINATED" and not interrupted:
            self.finish()

    def finish(self) -> None:
        self.status = "TERMINATED"
        self.last_result.update(timesteps_total=800, final_reward_mean=100.0, final_reward_std=1.0, done=True)

    def __str__(self) -> str:
        return self.name


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_progress_counts_steps_of_all_trials_and_estimates_the_time_left_from_the_rate():
    clock = Clock()
    progress = SweepProgress("t", terminal=False, clock=clock)
    progress.setup()
    trials = [FakeTrial("a2c_seed1", "RUNNING", 200, -50.25), FakeTrial("a2c_seed2", "TERMINATED", 800, 120.0),
              FakeTrial("a2c_seed3", "PENDING"), FakeTrial("a2c_seed4", "ERROR", 100)]
    first = progress.snapshot(trials)  # as on resuming: steps trained before are not this session's rate
    assert (first.done, first.total, first.eta) == (200 + 800 + 0 + 800, 3200, None)  # a failed trial takes no more
    assert "56% of 3,200 steps, ETA --:--; trials: 1 pending, 1 running, 1 completed, 1 failed" in first.line()
    clock.now += 5
    trials[0].last_result["timesteps_total"] = 300
    assert progress.snapshot(trials).eta is None  # too soon to tell
    clock.now += 15
    trials[0].last_result["timesteps_total"] = 600  # 400 steps in 20 s
    assert progress.snapshot(trials).eta == pytest.approx((3200 - 2200) / 20)
    trials[3].status = "ERROR"  # a failure is no progress: the rate stays
    assert progress.snapshot(trials).eta == pytest.approx((3200 - 2200) / 20)


def test_trials_a_searcher_plans_count_as_pending_and_a_trial_not_needed_as_such():
    """--until-decided's rounds: the current round's trials not yet given to Tune are in the total and the ETA; a
    speculative trial the decision made unnecessary is neither completed nor interrupted."""
    from rl_sweep.sweep.progress import NOT_NEEDED_IDS

    progress = SweepProgress("t", terminal=False, clock=Clock(), waiting=lambda: [("a2c_seed3", 800)])
    progress.setup()
    trials = [FakeTrial("a2c_seed1", "RUNNING", 200, -50.25), FakeTrial("a2c_seed4", "TERMINATED", 300,
                                                                          interrupted=True)]
    NOT_NEEDED_IDS.add("a2c_seed4")
    try:
        snapshot = progress.snapshot(trials, ended=True)
    finally:
        NOT_NEEDED_IDS.discard("a2c_seed4")
    assert (snapshot.done, snapshot.total) == (200 + 800, 800 + 800 + 800)
    assert snapshot.counts() == "trials: 1 pending, 1 running, 0 completed, 0 failed, 1 not needed"


def test_off_a_terminal_each_line_is_one_message_and_the_last_is_not_repeated(capsys):
    clock = Clock()
    progress = SweepProgress("t", terminal=False, clock=clock)
    progress.setup()
    trials = [FakeTrial("a2c_seed1", "RUNNING", 400, 10.0), FakeTrial("a2c_seed2", "RUNNING", 500, 12.0)]
    for trial in trials:
        clock.now += 1
        trial.finish()
        progress.on_trial_complete(0, trials, trial)
    progress.on_experiment_end(trials)
    lines = capsys.readouterr().out.splitlines()
    assert [line.split()[0] for line in lines] == ["a2c_seed1", "[0:01]", "a2c_seed2", "[0:02]"], lines
    assert lines[0] == "a2c_seed1 completed: 800 steps, evaluation return 100.0 ± 1.0 (greedy policy)"
    assert lines[-1] == "[0:02] 100% of 1,600 steps, ETA 0:00; trials: 0 pending, 0 running, 2 completed, 0 failed"


@pytest.mark.parametrize("received, said, counted", [
    (["SIGINT"], "interrupted", "interrupted"),
    ([], "stopped unfinished", "unfinished"),  # no interrupt signal arrived: not mistaken for an interruption
])
def test_an_interrupted_sweeps_last_frame_and_line_say_so_with_the_steps_as_they_were(capsys, monkeypatch, received,
                                                                                     said, counted):
    from rich.console import Console

    monkeypatch.setattr(signals, "_received", received)
    trials = [FakeTrial("a2c_seed1", "TERMINATED", 800, 50.0),
              FakeTrial("a2c_seed2", "TERMINATED", 300, 20.0, interrupted=True),  # Tune stopped it on Ctrl-C
              FakeTrial("a2c_seed3", "PENDING")]
    progress = SweepProgress("t", terminal=False, clock=Clock())
    progress.setup()
    progress.on_experiment_end(trials)
    [line] = capsys.readouterr().out.splitlines()
    assert line == f"[0:00]  46% of 2,400 steps, {said}; trials: 1 pending, 0 running, 1 completed, 0 failed, " \
                   f"1 {counted}"
    console = Console(width=120, height=24, record=True, file=open(os.devnull, "w"))
    console.print(render(progress.snapshot(trials, ended=True), "t", 24))
    overall, counts, *_ = console.export_text().splitlines()
    assert "1,100/2,400 steps" in overall and overall.endswith(said) and "ETA" not in overall
    assert counts == f"trials: 1 pending, 0 running, 1 completed, 0 failed, 1 {counted}"


def test_progress_display_stays_one_screen_tall_whatever_the_number_of_trials():
    from rich.console import Console

    progress = SweepProgress("many", terminal=False)
    progress.setup()
    trials = [FakeTrial(f"ppo_seed{seed}", "RUNNING", 400, 1.0) for seed in range(60)]
    console = Console(width=100, height=24, record=True, file=open(os.devnull, "w"))
    console.print(render(progress.snapshot(trials), "many", 24))
    lines = console.export_text().splitlines()
    assert len(lines) <= 24 and "training return" in lines[2] and "more running" in lines[-1]


def test_progress_display_pickles_without_its_terminal_as_tune_stores_it():
    import pickle

    progress = SweepProgress("t", terminal=True)
    progress.setup()  # a live display, which holds the terminal and cannot be pickled
    try:
        restored = pickle.loads(pickle.dumps(progress))
    finally:
        progress.close()
    assert (restored.title, restored.terminal, restored._live) == ("t", True, None)
    progress.close()  # twice: nothing
