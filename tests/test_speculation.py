"""rl-sweep --until-decided's speculative seeds (issue 37): the next round's trials on CPUs that would idle, stopped,
set aside and listed as not needed when the round decides, absent from the decision; the same decision as without
speculation, also after an interruption while speculating."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env, fewer_bootstrap_replicates, load_json, user_env
from ray import tune

from rl_sweep.errors import ExitCode
from rl_sweep.files.status import COMPLETED, NOT_NEEDED
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.rounds import run_rounds
from rl_sweep.sweep import speculation
from rl_sweep.sweep.speculation import Rounds, classify

# A2C trains 2.5 times PPO's steps: longest first, round 1's three A2C trials start first and its last PPO trial
# runs alone while the other CPU would idle, so a round-2 trial starts then, on any machine. PPO does not update
# in 600 steps (n_steps 2,048) and A2C ends above it on each of seeds 55 to 57, which decides at alpha 0.3 in
# round 1 of at most 2 (3 against 3: the most extreme split's p-value is 0.1, within that round's level).
PRESET = """\
ppo:
  timesteps: 600
a2c:
  timesteps: 1500
"""
DECIDED = {"algos": ["ppo", "a2c"], "envs": ["CartPole-v1"], "checkpoint_interval": 300, "eval_episodes": 2,
           "replays": False, "seed_start": 55, "until_decided": True, "seeds_per_round": 3, "max_rounds": 2,
           "alpha": 0.3, "command": "rl-sweep (test)"}


def options(tmp_path: Path, name: str, speculate: bool = True, **values) -> SweepOptions:
    preset = tmp_path / "preset.yaml"
    preset.write_text(PRESET)
    return SweepOptions.from_json({**DECIDED, "preset": str(preset), "results_dir": str(tmp_path / "results"),
                                   "name": name, "speculate": speculate, **values})


def result(reward: float) -> dict:
    return {"final_reward_mean": reward, "timesteps_total": 600, "time_total_s": 1.0}


def test_the_next_rounds_trials_are_suggested_once_the_rounds_are_all_under_way(tmp_path):
    rounds = Rounds(options(tmp_path, "unit"))
    first = [rounds.suggest(f"t{i}")["run"]["name"] for i in range(6)]
    assert first == ["a2c_seed55", "a2c_seed56", "a2c_seed57", "ppo_seed55", "ppo_seed56", "ppo_seed57"]
    assert rounds.suggest("t6")["run"]["name"] == "a2c_seed58"  # round 2's longest, ahead of the test
    for i, name in enumerate(first):
        rounds.on_trial_complete(f"t{i}", result(100.0 if name.startswith("a2c") else 10.0))
    assert rounds.done and rounds.suggest("t7") == "FINISHED"
    assert rounds.not_needed == {f"{algo}_seed{seed}" for algo in ("ppo", "a2c") for seed in (58, 59, 60)}


def test_an_undecided_round_makes_the_speculative_trials_needed(tmp_path):
    rounds = Rounds(options(tmp_path, "unit"))
    first = [rounds.suggest(f"t{i}")["run"]["name"] for i in range(7)]
    for i, reward in enumerate([0.0, 3.0, 4.0, 1.0, 2.0, 5.0]):  # A2C 0, 3, 4 against PPO 1, 2, 5: round 2 needed
        rounds.on_trial_complete(f"t{i}", result(reward))
    assert not rounds.done and rounds.round == 2 and not rounds.not_needed
    rest = [rounds.suggest(f"t{i}")["run"]["name"] for i in range(7, 12)]
    assert sorted([first[6], *rest]) == sorted(f"{algo}_seed{seed}" for algo in ("ppo", "a2c") for seed in (58, 59, 60))
    assert rounds.suggest("t12") is None  # round 3 would exceed --max-rounds: nothing more until the test


def test_the_report_of_a_decided_sweep_lists_its_later_trials_as_not_needed(tmp_path):
    sweep = options(tmp_path, "unit")
    records = [{"trial": f"{algo}_seed{seed}", "env": "CartPole-v1", "algo": algo, "seed": seed, "status": COMPLETED,
                "final_reward_mean": 100.0 if algo == "a2c" else 10.0} for algo in ("ppo", "a2c") for seed in (55, 56, 57)]
    records.append({"trial": "a2c_seed58", "env": "CartPole-v1", "algo": "a2c", "seed": 58, "status": "incomplete",
                    "final_reward_mean": None})
    classified, decisions, over = classify(sweep, records)
    assert [t["status"] for t in classified] == [COMPLETED] * 6 + [NOT_NEEDED]
    assert over and decisions["CartPole-v1"].rounds == 1 and not decisions["CartPole-v1"].needed
    mixed = [0.0, 3.0, 4.0, 1.0, 2.0, 5.0]  # PPO 0, 3, 4 against A2C 1, 2, 5
    undecided = [dict(t, final_reward_mean=reward) for t, reward in zip(records, mixed)] + records[6:]
    classified, decisions, over = classify(sweep, undecided)  # round 2 needed, not run: the sweep is not over
    assert not over and [t["status"] for t in classified] == [COMPLETED] * 6 + ["incomplete"] * 6
    # Round 2's trials Tune was never given are listed as not yet run, their folders where they will be.
    assert sorted(t["trial"] for t in classified[7:]) == sorted(f"{algo}_seed{seed}" for algo in ("ppo", "a2c")
                                                              for seed in (58, 59, 60) if (algo, seed) != ("a2c", 58))
    assert all(t["timesteps"] == 0 and t["folder"] == f"sweeps/unit/{t['trial']}" for t in classified[7:])


def test_a_failed_trial_ends_the_run_and_its_resume_goes_on_suggesting(tmp_path):
    """A needed trial that failed (after its restarts) ends the run; the rounds' state, saved with Tune's, comes back
    without the failure (a resume runs the trial again), and Tune's generator is then not finished. The trial's end
    in the resumed run, failed again or completed, reaches the rounds through Tune's limiter, which forgot it."""
    from rl_sweep.sweep.speculation import RoundsGenerator

    rounds = Rounds(options(tmp_path, "unit"))
    [rounds.suggest(f"t{i}") for i in range(7)]
    rounds.on_trial_complete("t0", error=True)
    assert rounds.done and rounds.suggest("t7") == "FINISHED"
    rounds.save(str(tmp_path / "state.pkl"))
    generator = RoundsGenerator(Rounds(options(tmp_path, "unit")), max_concurrent=2)
    generator.rounds.restore(str(tmp_path / "state.pkl"))
    generator.set_state({"counter": 7, "total_samples": 10**9, "finished": True, "experiment": None})
    assert not generator.is_finished() and not generator.rounds.done
    assert "t0" not in generator.searcher.live_trials  # Tune's limiter forgot it when it failed
    state = str(tmp_path / "restored.pkl")
    generator.rounds.save(state)
    generator.on_trial_complete("t0", error=True)  # run again, failed again: the run ends (a resume runs it again)
    assert generator.rounds.done and generator.rounds.failed == {"a2c_seed55"}
    generator.rounds.restore(state)
    generator.on_trial_complete("t0", result(100.0))  # run again, to its end
    assert "a2c_seed55" in generator.rounds.results and not generator.rounds.done


class InterruptInRound2(tune.Callback):
    """Ctrl-C, as a user gives it, once a round-2 trial has started (the sweep is then speculating); once: Tune
    stores its callbacks with its state, and the resumed run has this one too, so ``sent`` is a file."""

    def __init__(self, sent: Path) -> None:
        self.sent = sent

    def on_trial_start(self, iteration, trials, trial, **info):
        if not self.sent.exists() and int(str(trial).rpartition("seed")[2]) >= 58:
            self.sent.touch()
            os.kill(os.getpid(), signal.SIGINT)


@pytest.fixture(scope="module")
def sweeps(ray_cluster, tmp_path_factory):
    """The same decision two ways: not speculating, and speculating, interrupted with Ctrl-C once a round-2 trial
    has started, then resumed to its end (``speculating``: the resumed run)."""
    found = {}
    with fewer_bootstrap_replicates():
        tmp = tmp_path_factory.mktemp("one_run_per_round")
        found["one_run_per_round"] = (tmp, *run_rounds(options(tmp, "one_run_per_round", speculate=False)))
        tmp = tmp_path_factory.mktemp("speculating")
        speculating, signal_sender = options(tmp, "speculating"), InterruptInRound2(tmp / "sent")
        # Tune's own SIGINT handler ends its run; the sweep reports the interruption, as the command does.
        found["stopped"] = (tmp, *run_rounds(speculating, callbacks=[signal_sender]))
        found["speculating"] = (tmp, *run_rounds(speculating, resume=True))
    return found


def test_speculative_trials_are_stopped_set_aside_and_not_needed(sweeps):
    tmp, code, summary = sweeps["speculating"]
    assert code == ExitCode.OK, summary
    decision = summary["decision"]
    assert decision["rounds"] == 1 and [c["decision"] for c in decision["comparisons"]] == ["smaller"]
    spare = [t for t in summary["trials"] if t["seed"] >= 58]
    assert {t["status"] for t in spare} == {NOT_NEEDED}
    folder = tmp / "results/sweeps/speculating"
    started = [t for t in spare if t["experiment_dir"]]  # one may have been waiting for a CPU, never started
    assert started, "no round-2 trial started while round 1's last trial ran"
    for trial in spare:
        assert not (folder / trial["trial"]).exists()
    for trial in started:
        assert Path(trial["experiment_dir"]).name.startswith("earlier_") and Path(trial["experiment_dir"]).is_dir()
    needed = [t for t in summary["trials"] if t["seed"] < 58]
    assert len(needed) == 6 and {t["status"] for t in needed} == {COMPLETED}
    assert summary["utilisation"]["not_needed_cpu_seconds"] > 0


def test_speculation_changes_no_decision_and_no_trial(sweeps):
    _, _, speculating = sweeps["speculating"]
    _, code, alone = sweeps["one_run_per_round"]
    assert code == ExitCode.OK, alone
    assert speculating["decision"] == alone["decision"]

    def rewards(summary):
        return {t["trial"]: t["final_reward_mean"] for t in summary["trials"] if t["status"] == COMPLETED}

    assert rewards(speculating) == rewards(alone)


def test_interrupted_while_speculating_then_resumed_reaches_the_same_trials_and_decision(sweeps):
    _, code, stopped = sweeps["stopped"]
    assert code == ExitCode.INTERRUPTED, stopped
    assert any(t["seed"] >= 58 for t in stopped["trials"])  # it was speculating: a round-2 trial had started
    _, code, resumed = sweeps["speculating"]
    assert code == ExitCode.OK, resumed
    _, _, alone = sweeps["one_run_per_round"]
    assert resumed["decision"] == alone["decision"]

    def needed(summary):
        return {t["trial"]: t["final_reward_mean"] for t in summary["trials"] if t["status"] == COMPLETED}

    assert needed(resumed) == needed(alone)
    assert {t["status"] for t in resumed["trials"] if t["seed"] >= 58} == {NOT_NEEDED}


class FakeTrial:
    """What the scheduler reads of a Tune trial."""

    def __init__(self, trial_id: str, status: str, run: dict) -> None:
        self.trial_id, self.status, self.config = trial_id, status, {"run": run}


class FakeController:
    def __init__(self, trials: list[FakeTrial]) -> None:
        self.trials, self.stopped = trials, []

    def get_trials(self):
        return self.trials

    def stop_trial(self, trial):
        self.stopped.append(trial.trial_id)


def test_a_parked_trial_resumes_only_once_the_trial_it_paused_for_is_suggested(tmp_path):
    """Tune's side of a pause, without Tune: the paused trial's slot is free to the limiter until the round's next
    trial is suggested, and the scheduler resumes the paused trial only after that, before any later round's."""
    rounds = Rounds(options(tmp_path, "unit"))
    generator = speculation.RoundsGenerator(rounds, 2)
    limiter = generator.searcher
    names = [limiter.suggest(f"t{i}")["run"]["name"] for i in range(2)]
    assert limiter.suggest("t2") is None  # two run on two slots
    scheduler = speculation.RoundsScheduler(rounds, slots=2)
    rounds.parked.add(names[0])  # as on_trial_result does when it returns PAUSE
    paused = FakeTrial("t0", tune.experiment.Trial.PAUSED, rounds.planned[names[0]][1])
    running = FakeTrial("t1", tune.experiment.Trial.RUNNING, rounds.planned[names[1]][1])
    controller = FakeController([paused, running])
    assert scheduler.choose_trial_to_run(controller) is None  # not in the slot it just gave up
    third = limiter.suggest("t2")  # the slot counts as free: the round's next trial, in its place
    assert third["run"]["name"] == "a2c_seed57" and not rounds.parked
    pending = FakeTrial("t2", tune.experiment.Trial.PENDING, third["run"])
    controller.trials.append(pending)
    assert scheduler.choose_trial_to_run(controller) is pending
    pending.status = tune.experiment.Trial.RUNNING
    assert limiter.suggest("t3") is None  # three live on two slots: the paused one takes the next slot to free
    assert scheduler.choose_trial_to_run(controller) is paused


def test_a_scheduler_stored_before_tails_were_balanced_restores_and_never_pauses(tmp_path):
    import pickle

    rounds = Rounds(options(tmp_path, "unit"))
    old = speculation.StopNotNeeded.__new__(speculation.StopNotNeeded)
    old.__dict__.update(speculation.FIFOScheduler().__dict__, rounds=rounds)  # what an earlier release pickled
    restored = pickle.loads(pickle.dumps(old))
    assert restored.slots == 0 and restored.trained == {} and restored.pausing == set()
    trial = FakeTrial("t0", tune.experiment.Trial.RUNNING, rounds.queue[0])
    rounds.ids["t0"] = rounds.queue[0]["name"]
    assert restored.on_trial_result(FakeController([trial]), trial, result(1.0)) == "CONTINUE"


class Starts(tune.Callback):
    """Each trial's starts, a resumed one's included, from Tune's own callback."""

    def __init__(self) -> None:
        self.started: list[str] = []

    def on_trial_start(self, iteration, trials, trial, **info):
        self.started.append(str(trial))


def test_a_trial_paused_to_balance_the_rounds_tail_resumes_to_the_same_bits(sweeps, tmp_path, monkeypatch):
    """The round's tail balanced by a pause, forced at the first moment the scheduler weighs one (when to pause is
    :func:`rl_sweep.sweep.schedule.pause_now`'s, tested in test_schedule.py): Tune pauses the trial, starts the
    round's next in its place and then resumes the paused one from its checkpoint; the trials and the decision are
    those of the sweep run one round at a time."""
    weighed = []

    def first_time(left, others, queued, slots, step) -> bool:
        weighed.append((left, others, queued, slots, step))
        return len(weighed) == 1

    monkeypatch.setattr(speculation, "pause_now", first_time)
    starts = Starts()
    with fewer_bootstrap_replicates():
        code, summary = run_rounds(options(tmp_path, "balanced"), callbacks=[starts])
    assert code == ExitCode.OK, summary
    assert weighed, "the round's tail never came to weigh a pause"
    left, others, queued, slots, step = weighed[0]
    assert left > 0 and len(others) == 1 and 1 <= len(queued) <= slots == 2 and step > 0
    twice = [name for name in starts.started if starts.started.count(name) > 1]
    assert len(set(twice)) == 1, starts.started  # the paused trial, and only it, started again
    first, again = (i for i, name in enumerate(starts.started) if name == twice[0])
    # Round 1 runs A2C 55 to 57, then PPO 55 to 57 (longest first): the next of them started in its place.
    order = ["a2c_seed55", "a2c_seed56", "a2c_seed57", "ppo_seed55", "ppo_seed56", "ppo_seed57"]
    assert starts.started[first + 1:again] and all(name in order for name in starts.started[first + 1:again])
    log = "".join(p.read_text() for t in summary["trials"] if t["trial"] == twice[0]
                  for p in Path(t["experiment_dir"]).rglob("*.log"))
    assert "Resuming from checkpoint" in log  # from its checkpoint, not from the start
    _, _, alone = sweeps["one_run_per_round"]
    assert summary["decision"] == alone["decision"]

    def rewards(found):
        return {t["trial"]: t["final_reward_mean"] for t in found["trials"] if t["status"] == COMPLETED}

    assert rewards(summary) == rewards(alone)


def test_a_sweep_whose_trial_failed_resumes_to_its_decision(tmp_path):
    """A needed trial that fails with no restarts left ends the run (exit 2); ``--resume`` runs it again and the
    round completes. Tune's concurrency limiter drops the end of a trial that failed before, which the limiter
    rl-sweep uses passes on to the rounds: without it, the resumed sweep would wait for that trial forever."""
    token = tmp_path / "fail_once"
    token.touch()
    command = [sys.executable, "-m", "rl_sweep.sweep", "--until-decided", "--algos", "ppo", "a2c",
               "--env", "rl_sweep_test_envs:Fragile-v0", "--seeds-per-round", "2", "--max-rounds", "1",
               "--timesteps", "400", "--checkpoint-interval", "100", "--eval-episodes", "1", "--max-failures", "0",
               "--no-replays", "--no-dashboard", "--name", "fragile"]
    failed = subprocess.run(command, cwd=tmp_path, env=cli_env(**user_env(RL_SWEEP_TEST_FAIL_ONCE=str(token))),
                            capture_output=True, text=True, timeout=300)
    assert failed.returncode == ExitCode.FAILED, failed.stdout + failed.stderr
    assert not token.exists()
    summary = load_json(tmp_path / "results/sweeps/fragile/summary.json")
    statuses = sorted(t["status"] for t in summary["trials"])  # those never started listed too
    assert len(statuses) == 4 and statuses.count("failed") == 1 and "completed" in statuses, summary["trials"]
    assert "runs them again" in failed.stderr and "--resume fragile" in failed.stderr
    resumed = subprocess.run([sys.executable, "-m", "rl_sweep.sweep", "--resume", "fragile", "--no-dashboard"],
                             cwd=tmp_path, env=cli_env(**user_env()), capture_output=True, text=True, timeout=300)
    assert resumed.returncode == ExitCode.OK, resumed.stdout + resumed.stderr
    summary = load_json(tmp_path / "results/sweeps/fragile/summary.json")
    assert summary["status"] == COMPLETED and [t["status"] for t in summary["trials"]] == [COMPLETED] * 4
    assert summary["decision"]["comparisons"], summary["decision"]
