"""``rl-sweep --until-decided`` with speculative seeds (the default; ``--no-speculate`` runs one Tune run per round):
one Tune run for all the rounds, whose trials a Tune searcher suggests, so that a CPU that would idle while a round's
last trials finish trains the next round's seeds instead.

:class:`Rounds` suggests round k's trials (longest first), then round k + 1's for the algorithms still compared. Tune
asks it for a trial only when none is waiting for a CPU, so the next round's trials start only on CPUs the current
round no longer needs. When round k's last trial completes, the test runs (:func:`rl_sweep.decision.rounds.after_round`,
over completed rounds only, exactly as without speculation). Decided, every later trial is not needed: the scheduler
(:class:`RoundsScheduler`) stops those running and drops those waiting, and the driver sets their folders aside. Not
decided, round k + 1's trials go on (a seed's bits do not depend on when it runs: its seed is fixed in advance) and
round k + 2's become the speculative ones.

Whole trials rarely split evenly over the CPUs, so the scheduler also balances each round's tail: it pauses a running
trial of the round where starting the round's next trial in its place ends the round sooner, and resumes it on the
next CPU to free (see :mod:`rl_sweep.sweep.schedule`). A paused trial resumes from its checkpoint to the same bits.

Tune saves the searcher with its experiment state, so ``--resume`` goes on where the sweep stopped. What the sweep
reports is recomputed from the trials' results alone (:func:`classify`): no searcher state enters a statistic.
"""

from __future__ import annotations

import pickle
from collections.abc import Sequence
from typing import Any

from ray.tune.experiment import Trial
from ray.tune.schedulers import FIFOScheduler, TrialScheduler
from ray.tune.search import ConcurrencyLimiter, SearchGenerator, Searcher

from rl_sweep.decision import EnvironmentDecision
from rl_sweep.decision.rounds import after_round
from rl_sweep.files.status import COMPLETED, NOT_NEEDED
from rl_sweep.files.sweep import TrialRecord
from rl_sweep.sweep import result_keys as keys
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.progress import NOT_NEEDED_IDS
from rl_sweep.sweep.records import trial_record
from rl_sweep.sweep.schedule import Kind, longest_first, pause_now, per_step


class Rounds(Searcher):
    """The trials of ``--until-decided``, round after round, one round ahead while CPUs would idle.

    :param options: the sweep's (its ``decision`` set).
    """

    def __init__(self, options: SweepOptions) -> None:
        super().__init__()
        self.options = options
        self.round = 1  # the round whose results the test waits for
        self.needed = {env: list(options.trials.names) for env in options.trials.envs}
        self.planned: dict[str, tuple[int, dict[str, Any]]] = {}  # every trial planned, by name: its round and run
        self.ids: dict[str, str] = {}  # Tune's trial id: the trial's name
        self.results: dict[str, TrialRecord] = {}  # what the test reads of each completed trial, by name
        self.not_needed: set[str] = set()
        self.decisions: dict[str, EnvironmentDecision] = {}
        self.decided = False  # the test has decided, or every round has run
        self.failed: set[str] = set()  # needed trials that failed (after their restarts): this run ends
        self.parked: set[str] = set()  # paused for the next trial, which is not yet suggested (RoundsScheduler)
        self.queue = self._plan(1)  # the current round's trials not yet suggested, longest first
        self.ahead = self._plan(2)  # the next round's, suggested once the current round's are all under way

    def _plan(self, k: int) -> list[dict[str, Any]]:
        if k > self.options.decision.max_rounds:
            return []
        runs = [self.options.trial_config(name, run)
                for name, run in longest_first(self.options.round_runs(k, self.needed), self.results.values())]
        self.planned.update((run["name"], (k, run)) for run in runs)
        return runs

    def in_round(self, k: int) -> list[str]:
        """Round ``k``'s trials still needed, by name."""
        return [name for name, (round_, *_) in self.planned.items() if round_ == k and name not in self.not_needed]

    def waiting(self) -> list[tuple[str, int]]:
        """The current round's trials not yet given to Tune, each as its name and steps (for the live display)."""
        return [(run["name"], run["total_timesteps"]) for run in self.queue]

    @property
    def done(self) -> bool:
        """No trial to suggest in this run: decided, or a needed trial failed (a resume runs it again)."""
        return self.decided or bool(self.failed)

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        if self.done:
            self.parked.clear()  # no trial comes in its place: it resumes
            return Searcher.FINISHED
        if not (self.queue or self.ahead):
            return None  # the next trials depend on the test: asked again later
        run = (self.queue or self.ahead).pop(0)
        self.ids[trial_id] = run["name"]
        self.parked.clear()  # the trial paused for this one resumes next
        return {"run": run}

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        name = self.ids.get(trial_id)
        if name is None or name in self.not_needed or name in self.results:
            return
        if error:
            self.failed.add(name)  # the test needs every seed: the run ends once the trials started end
            return
        self.failed.discard(name)
        if result and keys.FINAL_REWARD_MEAN in result:
            self.results[name] = trial_record({"run": self.planned[name][1]}, result, None)
        self._advance()

    def _advance(self) -> None:
        """Each round now complete: its test, and what the next round needs."""
        while not self.done and all(name in self.results for name in self.in_round(self.round)):
            records = [self.results[name] for k in range(1, self.round + 1) for name in self.in_round(k)]
            self.needed = after_round(self.round, records, self.needed, self.options.trials.names,
                                      self.options.decision, self.decisions, self.options.trials.baseline)
            if not self.needed or self.round == self.options.decision.max_rounds:
                self.decided = True
                self.not_needed |= {name for name, (k, *_) in self.planned.items() if k > self.round}
                self.queue, self.ahead = [], []
                return
            self.round += 1
            wanted = {name for name, _ in self.options.round_runs(self.round, self.needed)}
            self.not_needed |= {name for name in self.in_round(self.round) if name not in wanted}
            self.queue = [run for run in self.ahead if run["name"] in wanted]
            self.ahead = self._plan(self.round + 1)
            print(f"Round {self.round}: {len(wanted)} trial(s)", flush=True)

    def save(self, checkpoint_path: str) -> None:
        with open(checkpoint_path, "wb") as file:
            pickle.dump(self.__dict__, file)

    def restore(self, checkpoint_path: str) -> None:
        # The options this searcher was built with, as Tune unpickled it from tuner.pkl, kept over the pickled
        # state's. Both are the sweep's first run's (Tune writes tuner.pkl once), not the resumed sweep.json's: a
        # moved sweep's later rounds still go to its first folder (the README's "Not done yet").
        options = self.options
        with open(checkpoint_path, "rb") as file:
            self.__dict__.update(pickle.load(file))
        self.options = options
        self.failed = set()  # a resume runs failed trials again
        self.parked = set()  # Tune runs paused trials again on a resume
        NOT_NEEDED_IDS.update(trial_id for trial_id, name in self.ids.items() if name in self.not_needed)


class ParkedFree(ConcurrencyLimiter):
    """Tune's concurrency limiter, except that the slot a trial paused by :class:`RoundsScheduler` gave up is free
    until the trial it was paused for is suggested; and that the end of a trial it does not know reaches the rounds.

    Tune's limiter forgets a trial when it fails, and drops the end of a trial it does not know: a failed trial run
    again by ``--resume`` would end, completed or failed again, unseen, and its round wait for it forever (Tune
    passes no result with ``done`` to a searcher's ``on_trial_result``). :class:`Rounds` ignores an end it has seen.
    """

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        if trial_id not in self.live_trials:
            self.searcher.on_trial_complete(trial_id, result=result, error=error)
            return
        super().on_trial_complete(trial_id, result=result, error=error)

    def suggest(self, trial_id: str) -> dict[str, Any] | str | None:
        parked = len(self.searcher.parked)
        self.max_concurrent += parked
        try:
            return super().suggest(trial_id)
        finally:
            self.max_concurrent -= parked


class RoundsGenerator(SearchGenerator):
    """Tune's search generator over :class:`Rounds` (behind Tune's concurrency limiter), finished when the rounds
    are: a run that ended on a failed trial is not finished for good, and its resume goes on suggesting."""

    def __init__(self, rounds: Rounds, max_concurrent: int) -> None:
        super().__init__(ParkedFree(rounds, max_concurrent=max(1, max_concurrent)))
        self.rounds = rounds

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self._finished = self.rounds.done  # restored after the rounds' own state


class RoundsScheduler(FIFOScheduler):
    """Tune's first-in-first-out scheduling of the rounds' trials, with two exceptions. A trial :class:`Rounds` no
    longer needs stops at its next result, and one waiting never starts. And the round's tail is balanced: a running
    trial of the round pauses when starting the round's next trial in its place ends the round sooner
    (:func:`~rl_sweep.sweep.schedule.pause_now`, on each trial's seconds per step so far). Tune saves its checkpoint;
    it resumes from there, to the same bits, on the next CPU to free, before any later round's trial.

    :param slots: how many trials run at once.
    """

    def __init__(self, rounds: Rounds, slots: int) -> None:
        super().__init__()
        self.rounds = rounds
        self.slots = slots
        self.trained: dict[str, tuple[int, float, float]] = {}  # trial id: steps, their seconds, the last step's
        self.pausing: set[str] = set()  # trials paused that have not reported since: no other pauses meanwhile

    def __setstate__(self, state: dict[str, Any]) -> None:
        # A sweep started before tails were balanced stored a StopNotNeeded without these: it goes on never pausing.
        self.__dict__.update({"slots": 0, "trained": {}, "pausing": set(), **state})

    def _not_needed(self, trial: Trial) -> bool:
        if self.rounds.ids.get(trial.trial_id) not in self.rounds.not_needed:
            return False
        NOT_NEEDED_IDS.add(trial.trial_id)  # what the live display shows of it
        return True

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        self.pausing.discard(trial.trial_id)
        if self._not_needed(trial):
            return TrialScheduler.STOP
        # After a failure no trial starts (Rounds suggests none), and those started go on to their ends: stopped,
        # Tune would count them finished and a resume would not run them again.
        if result.get(keys.TIMESTEPS) and result.get(keys.TIME_TOTAL):
            self.trained[trial.trial_id] = (result[keys.TIMESTEPS], result[keys.TIME_TOTAL],
                                            result.get(keys.TIME_STEP, 0.0))
        if not result.get(keys.DONE) and self._pause(tune_controller, trial):
            self.rounds.parked.add(self.rounds.ids[trial.trial_id])
            self.pausing.add(trial.trial_id)
            return TrialScheduler.PAUSE
        return TrialScheduler.CONTINUE

    def on_trial_complete(self, tune_controller: Any, trial: Trial, result: dict) -> None:
        self.pausing.discard(trial.trial_id)

    def on_trial_error(self, tune_controller: Any, trial: Trial) -> None:
        self.pausing.discard(trial.trial_id)

    def on_trial_remove(self, tune_controller: Any, trial: Trial) -> None:
        self.pausing.discard(trial.trial_id)

    def _pause(self, tune_controller: Any, trial: Trial) -> bool:
        """Whether ``trial`` pauses now for the round's next trial: only at the round's tail, with no more of its
        trials to start than there are slots, none waiting in Tune, and every trial running of this round."""
        rounds = self.rounds
        if rounds.done or not rounds.queue or len(rounds.queue) > self.slots or rounds.parked or self.pausing:
            return False
        live = [t for t in tune_controller.get_trials() if t.status in (Trial.RUNNING, Trial.PENDING, Trial.PAUSED)]
        this_round = set(rounds.in_round(rounds.round))
        if any(t.status != Trial.RUNNING or rounds.ids.get(t.trial_id) not in this_round for t in live):
            return False
        rates = self._seconds_per_step()
        left = [self._seconds_left(t.config["run"], self.trained.get(t.trial_id), rates) for t in live]
        queued = [self._seconds_left(run, None, rates) for run in rounds.queue]
        if None in left or None in queued:
            return False
        mine = live.index(trial)
        return pause_now(left[mine], left[:mine] + left[mine + 1:], queued, self.slots,
                         self.trained.get(trial.trial_id, (0, 0.0, 0.0))[2])

    def _seconds_per_step(self) -> dict[Kind, float]:
        """Each (environment, variant)'s seconds per step, over the trials of this run that have reported."""
        return per_step((_kind(self.rounds.planned[self.rounds.ids[trial_id]][1]), done, took)
                        for trial_id, (done, took, _) in self.trained.items()
                        if self.rounds.ids.get(trial_id) in self.rounds.planned)

    @staticmethod
    def _seconds_left(run: dict[str, Any], trained: tuple[int, float, float] | None,
                      rates: dict[Kind, float]) -> float | None:
        """A trial's forecast seconds to its end: from its own seconds per step once it has reported, else from
        its kind's; None when neither is known."""
        if trained:
            return (run["total_timesteps"] - trained[0]) * trained[1] / trained[0]
        rate = rates.get(_kind(run))
        return None if rate is None else run["total_timesteps"] * rate

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        trials = tune_controller.get_trials()
        for trial in trials:
            if trial.status in (Trial.PENDING, Trial.PAUSED) and self._not_needed(trial):
                tune_controller.stop_trial(trial)
        for trial in trials:
            if trial.status == Trial.PENDING:
                return trial
        parked = set() if self.rounds.done else self.rounds.parked
        for trial in trials:  # a trial paused for another starts once that one has
            if trial.status == Trial.PAUSED and self.rounds.ids.get(trial.trial_id) not in parked:
                return trial
        return None


StopNotNeeded = RoundsScheduler  # its name in the Tune state of sweeps started before tails were balanced


def _kind(run: dict[str, Any]) -> Kind:
    return run["env_name"], run["variant"]


def classify(options: SweepOptions, records: Sequence[TrialRecord]
             ) -> tuple[list[TrialRecord], dict[str, EnvironmentDecision], bool]:
    """The trials' records as the sweep reports them, the test's decisions, and whether the test is over (decided,
    or every round run), recomputed from the trials' results alone: round after round, the trials the test needed
    while it had not decided; once it is over, every other trial ``not needed``. An unfinished sweep's later trials
    keep their status: a resume may need them; and the trials of its unfinished round that Tune was never given are
    listed ``incomplete``, as a trial that never started is in a sweep of fixed seeds."""
    by_name = {t["trial"]: t for t in records}
    needed = {env: list(options.trials.names) for env in options.trials.envs}
    wanted: set[str] = set()
    decisions: dict[str, EnvironmentDecision] = {}
    decided = False
    never_given: list[TrialRecord] = []
    for k in range(1, options.decision.max_rounds + 1):
        runs = options.round_runs(k, needed)
        names = {name for name, _ in runs}
        wanted |= names
        if any(name not in by_name or by_name[name]["status"] != COMPLETED for name in names):
            never_given = [trial_record({"run": options.trial_config(name, run), "storage": options.storage.location},
                                        {}, None) for name, run in runs if name not in by_name]
            break
        needed = after_round(k, [by_name[name] for name in wanted], needed, options.trials.names, options.decision,
                             decisions, options.trials.baseline, quiet=True)
        decided = not needed or k == options.decision.max_rounds
        if decided:
            break
    return [t if t["trial"] in wanted or not decided else TrialRecord(**{**t, "status": NOT_NEEDED})
            for t in records] + never_given, decisions, decided
