"""``rl-sweep --until-decided`` with speculative seeds (the default; ``--no-speculate`` runs one Tune run per round):
one Tune run for all the rounds, whose trials a Tune searcher suggests, so that a CPU that would idle while a round's
last trials finish trains the next round's seeds instead.

:class:`Rounds` suggests round k's trials (longest first), then round k + 1's for the algorithms still compared. Tune
asks it for a trial only when none is waiting for a CPU, so the next round's trials start only on CPUs the current
round no longer needs. When round k's last trial completes, the test runs (:func:`rl_sweep.decision.rounds.after_round`,
over completed rounds only, exactly as without speculation). Decided, every later trial is not needed: the scheduler
(:class:`StopNotNeeded`) stops those running and drops those waiting, and the driver sets their folders aside. Not
decided, round k + 1's trials go on (a seed's bits do not depend on when it runs: its seed is fixed in advance) and
round k + 2's become the speculative ones.

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
from rl_sweep.sweep.records import trial_config, trial_record
from rl_sweep.sweep.schedule import longest_first


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
        self.queue = self._plan(1)  # the current round's trials not yet suggested, longest first
        self.ahead = self._plan(2)  # the next round's, suggested once the current round's are all under way

    def _plan(self, k: int) -> list[dict[str, Any]]:
        if k > self.options.decision.max_rounds:
            return []
        runs = [trial_config(run, self.options.folder(name), name=name)
                for name, run in longest_first(self.options.round_runs(k, self.needed), self.results.values())]
        self.planned.update((run["name"], (k, run)) for run in runs)
        return runs

    def _in_round(self, k: int) -> list[str]:
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
            return Searcher.FINISHED
        if not (self.queue or self.ahead):
            return None  # the next trials depend on the test: asked again later
        run = (self.queue or self.ahead).pop(0)
        self.ids[trial_id] = run["name"]
        return {"run": run}

    def on_trial_result(self, trial_id: str, result: dict) -> None:
        # A trial's last result, seen here too: Tune's concurrency limiter does not pass on the completion of a
        # trial that failed before and was run again by a resume.
        if result.get(keys.DONE):
            self.on_trial_complete(trial_id, result)

    def on_trial_complete(self, trial_id: str, result: dict | None = None, error: bool = False) -> None:
        name = self.ids.get(trial_id)
        if name is None or name in self.not_needed or name in self.results:
            return
        if error:
            self.failed.add(name)  # the test needs every seed: the run ends, its summary says what failed
            return
        self.failed.discard(name)
        if result and keys.FINAL_REWARD_MEAN in result:
            self.results[name] = trial_record({"run": self.planned[name][1]}, result, None)
        self._advance()

    def _advance(self) -> None:
        """Each round now complete: its test, and what the next round needs."""
        while not self.done and all(name in self.results for name in self._in_round(self.round)):
            records = [self.results[name] for k in range(1, self.round + 1) for name in self._in_round(k)]
            self.needed = after_round(self.round, records, self.needed, self.options.trials.names,
                                      self.options.decision, self.decisions, self.options.trials.baseline)
            if not self.needed or self.round == self.options.decision.max_rounds:
                self.decided = True
                self.not_needed |= {name for name, (k, *_) in self.planned.items() if k > self.round}
                self.queue, self.ahead = [], []
                return
            self.round += 1
            wanted = {name for name, _ in self.options.round_runs(self.round, self.needed)}
            self.not_needed |= {name for name in self._in_round(self.round) if name not in wanted}
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
        NOT_NEEDED_IDS.update(trial_id for trial_id, name in self.ids.items() if name in self.not_needed)


class RoundsGenerator(SearchGenerator):
    """Tune's search generator over :class:`Rounds` (behind Tune's concurrency limiter), finished when the rounds
    are: a run that ended on a failed trial is not finished for good, and its resume goes on suggesting."""

    def __init__(self, rounds: Rounds, max_concurrent: int) -> None:
        super().__init__(ConcurrencyLimiter(rounds, max_concurrent=max(1, max_concurrent)))
        self.rounds = rounds

    def set_state(self, state: dict) -> None:
        super().set_state(state)
        self._finished = self.rounds.done  # restored after the rounds' own state


class StopNotNeeded(FIFOScheduler):
    """Tune's first-in-first-out scheduling, except for the trials :class:`Rounds` no longer needs: a running one
    stops at its next result, a waiting one never starts."""

    def __init__(self, rounds: Rounds) -> None:
        super().__init__()
        self.rounds = rounds

    def _not_needed(self, trial: Trial) -> bool:
        if self.rounds.ids.get(trial.trial_id) not in self.rounds.not_needed:
            return False
        NOT_NEEDED_IDS.add(trial.trial_id)  # what the live display shows of it
        return True

    def on_trial_result(self, tune_controller: Any, trial: Trial, result: dict) -> str:
        if self._not_needed(trial) or self.rounds.failed:  # a failure ends the run: the others resume later
            return TrialScheduler.STOP
        return TrialScheduler.CONTINUE

    def choose_trial_to_run(self, tune_controller: Any) -> Trial | None:
        for trial in tune_controller.get_trials():
            if trial.status == Trial.PENDING and self._not_needed(trial):
                tune_controller.stop_trial(trial)
        return super().choose_trial_to_run(tune_controller)


def classify(options: SweepOptions, records: Sequence[TrialRecord]
             ) -> tuple[list[TrialRecord], dict[str, EnvironmentDecision], bool]:
    """The trials' records as the sweep reports them, the test's decisions, and whether the test is over (decided,
    or every round run), recomputed from the trials' results alone: round after round, the trials the test needed
    while it had not decided; once it is over, every other trial ``not needed``. An unfinished sweep's later trials
    keep their status: a resume may need them."""
    by_name = {t["trial"]: t for t in records}
    needed = {env: list(options.trials.names) for env in options.trials.envs}
    wanted: set[str] = set()
    decisions: dict[str, EnvironmentDecision] = {}
    decided = False
    for k in range(1, options.decision.max_rounds + 1):
        names = {name for name, _ in options.round_runs(k, needed)}
        wanted |= names
        if any(name not in by_name or by_name[name]["status"] != COMPLETED for name in names):
            break
        needed = after_round(k, [by_name[name] for name in wanted], needed, options.trials.names, options.decision,
                             decisions, options.trials.baseline, quiet=True)
        decided = not needed or k == options.decision.max_rounds
        if decided:
            break
    return [t if t["trial"] in wanted or not decided else TrialRecord(**{**t, "status": NOT_NEEDED})
            for t in records], decisions, decided
