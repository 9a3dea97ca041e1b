"""``rl-sweep --until-decided`` on Ray: the rounds of :mod:`rl_sweep.decision.rounds`, their trials in the sweep's
usual folders, until the test has decided every comparison or ``max_rounds`` have run.

By default all rounds are one Tune run (state in ``sweeps/{name}/tune``) whose trials a searcher suggests, the next
round's on CPUs that would idle (:mod:`rl_sweep.sweep.speculation`). With ``--no-speculate`` (and for sweeps written
before speculation) each round is one Tune run of its own, in ``tune_round{k}``: ``--resume`` restores each in turn
(a finished one returns its results at once, the interrupted one goes on). Either way what the summary says (the
decision, which trials were needed) is recomputed from the trials' results alone.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rl_sweep.decision import EnvironmentDecision
from rl_sweep.decision.rounds import after_round, final_document
from rl_sweep.errors import ExitCode
from rl_sweep.files import names
from rl_sweep.files.status import COMPLETED, NOT_NEEDED
from rl_sweep.files.sweep import TrialRecord, TuningDocument
from rl_sweep.logs import utc_now
from rl_sweep.sweep.checks import check_before_start
from rl_sweep.sweep.claim import start_sweep
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.records import trial_records
from rl_sweep.sweep.runner import finish_sweep, steps_by_environment
from rl_sweep.sweep.schedule import longest_first
from rl_sweep.sweep.tuner import build_tuner, fit


def run_rounds(options: SweepOptions, *, resume: bool = False, address: str | None = None, dashboard: bool = True,
               verbose: bool = False, callbacks: Sequence[Any] = ()) -> tuple[ExitCode, dict]:
    """Run (or resume) the rounds until every environment's comparisons are decided, or ``max_rounds``;
    ``callbacks``: Tune callbacks of the rounds' runs besides the progress display."""
    import ray

    check_before_start([run for _, run in options.round_runs(1, _every(options))], address)
    started = utc_now()
    start_sweep(options, resume, address, dashboard, verbose)
    return decide(options, resume, started, ray.cluster_resources().get("CPU", 0), callbacks)


def decide(options: SweepOptions, resume: bool, started: str, cpus: float, callbacks: Sequence[Any] = (),
           tuning: TuningDocument | None = None) -> tuple[ExitCode, dict]:
    """The rounds on a running cluster, once the sweep has started (``started``: when), to the summary and the
    report; ``tuning``: what ``--tune`` chose the variants' settings from, for both."""
    settings = options.decision
    variants, envs, baseline = options.trials.names, options.trials.envs, options.trials.baseline
    needed = _every(options)
    storage = options.storage
    first = [run for _, run in options.round_runs(1, needed)]
    print(f"Sweep {options.name}: until decided by AdaStop on {steps_by_environment(first)}: rounds of "
          f"{settings.seeds_per_round} seeds per variant, at most {settings.max_rounds}, family-wise error at most "
          f"{settings.alpha:g}; preset {options.runs.preset}; files in {options.cluster.results_dir}", flush=True)
    if options.cluster.speculate:
        return _speculating(options, resume, started, cpus, callbacks, tuning)
    records: list[TrialRecord] = []
    decisions: dict[str, EnvironmentDecision] = {}
    for k in range(1, settings.max_rounds + 1):
        runs = options.round_runs(k, needed)
        if not runs:
            break
        folder = options.folder(names.tune_round(k))
        trials = [options.trial_config(name, run) for name, run in longest_first(runs, records)]
        restoring = resume and storage.exists(folder)
        print(f"Round {k}: {len(runs)} trial(s){' (resumed)' if restoring else ''}", flush=True)
        tuner = build_tuner(options, trials, folder, restore=restoring, callbacks=callbacks,
                            title=f"{options.name} round {k}")
        round_records = trial_records(fit(tuner), trials, storage.location)
        records += round_records
        if any(t["status"] != COMPLETED for t in round_records):
            break  # AdaStop needs every seed's result: finish_sweep says what went wrong
        needed = after_round(k, records, needed, variants, settings, decisions, baseline)
    return finish_sweep(options, records, started,
                        decision=final_document(settings, decisions, envs, variants, baseline), cpus=cpus,
                        tuning=tuning)


def _every(options: SweepOptions) -> dict[str, list[str]]:
    """Every variant on every environment: what round 1 trains."""
    return {env: list(options.trials.names) for env in options.trials.envs}


def _speculating(options: SweepOptions, resume: bool, started: str, cpus: float, callbacks: Sequence[Any],
                 tuning: TuningDocument | None) -> tuple[ExitCode, dict]:
    """All rounds as one Tune run, the next round's seeds on CPUs that would idle; the trials the decision did not
    need set aside (``earlier_*``, as a run's earlier files are) and listed as such."""
    from rl_sweep.sweep.progress import SweepProgress
    from rl_sweep.sweep.speculation import Rounds, RoundsGenerator, RoundsScheduler, classify

    storage = options.storage
    folder = options.folder(names.TUNE)
    restoring = resume and storage.exists(folder)
    rounds = Rounds(options)  # a restored run goes on with the one stored with Tune's state
    if not restoring:
        print(f"Round 1: {len(rounds.queue)} trial(s)", flush=True)
    at_once = options.cluster.max_concurrent or int(cpus // options.cluster.cpus_per_trial)
    tuner = build_tuner(options, [], folder, restore=restoring, searcher=RoundsGenerator(rounds, at_once),
                        scheduler=RoundsScheduler(rounds, at_once), callbacks=callbacks,
                        progress=SweepProgress(options.name, waiting=rounds.waiting))
    every = _every(options)  # what a trial never started was
    trials = [options.trial_config(name, run)
              for k in range(1, options.decision.max_rounds + 1) for name, run in options.round_runs(k, every)]
    records, decisions, over = classify(options, trial_records(fit(tuner), trials, storage.location))
    records = [set_aside(options, t) if t["status"] == NOT_NEEDED else t for t in records]
    grid = options.trials
    return finish_sweep(options, records, started, cpus=cpus, unfinished=not over, tuning=tuning,
                        decision=final_document(options.decision, decisions, grid.envs, grid.names, grid.baseline))


def set_aside(options: SweepOptions, trial: TrialRecord) -> TrialRecord:
    """A trial the decision did not need, its files moved to ``earlier_{time}_{name}`` beside its folder (where
    no glob of run folders takes them for a run), its record pointing there."""
    storage = options.storage
    if not trial["folder"]:
        return trial
    if not storage.files(trial["folder"]):  # it never started: no folder
        return TrialRecord(**{**trial, "folder": None, "experiment_dir": None})
    aside = storage.set_aside(trial["folder"])
    return TrialRecord(**{**trial, "folder": aside, "experiment_dir": storage.uri(aside)})
