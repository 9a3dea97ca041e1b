"""``rl-sweep --until-decided`` on Ray: each round of :mod:`rl_sweep.decision.rounds` as one Tune run of its own, its
state in ``sweeps/{name}/tune_round{k}``, its trials in the sweep's usual folders, until the test has decided every
comparison or ``max_rounds`` have run.

One Tune run per round, rather than a Tune ``Searcher`` that suggests the next round's trials: a round's
trials are known before it starts, so nothing but finished Tune runs needs storing. ``--resume`` restores
each round's Tune run in turn (a finished one returns its results at once, the interrupted one goes on),
and the decision is recomputed from the trials' results, with no searcher or comparator state to save.
"""

from __future__ import annotations

from rl_sweep.decision import EnvironmentDecision
from rl_sweep.decision.rounds import after_round, final_document
from rl_sweep.errors import ExitCode
from rl_sweep.files import names
from rl_sweep.files.status import COMPLETED
from rl_sweep.files.sweep import TrialRecord
from rl_sweep.logs import utc_now
from rl_sweep.sweep.checks import check_before_start
from rl_sweep.sweep.claim import start_sweep
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.records import trial_config, trial_records
from rl_sweep.sweep.runner import finish_sweep, steps_by_environment
from rl_sweep.sweep.schedule import longest_first
from rl_sweep.sweep.tuner import build_tuner, fit


def run_rounds(options: SweepOptions, *, resume: bool = False, address: str | None = None, dashboard: bool = True,
               verbose: bool = False) -> tuple[ExitCode, dict]:
    """Run (or resume) the rounds until every environment's comparisons are decided, or ``max_rounds``."""
    import ray

    settings = options.decision
    algos, envs = options.trials.algos, options.trials.envs
    needed = {env: list(algos) for env in envs}
    first = [run for _, run in options.round_runs(1, needed)]
    check_before_start(first, address)
    storage = options.storage
    started = utc_now()
    start_sweep(options, resume, address, dashboard, verbose)
    cpus = ray.cluster_resources().get("CPU", 0)
    print(f"Sweep {options.name}: until decided by AdaStop on {steps_by_environment(first)}: rounds of "
          f"{settings.seeds_per_round} seeds per algorithm, at most {settings.max_rounds}, family-wise error at most "
          f"{settings.alpha:g}; preset {options.runs.preset}; files in {options.cluster.results_dir}", flush=True)
    records: list[TrialRecord] = []
    decisions: dict[str, EnvironmentDecision] = {}
    for k in range(1, settings.max_rounds + 1):
        runs = options.round_runs(k, needed)
        if not runs:
            break
        folder = options.folder(names.tune_round(k))
        trials = [trial_config(run, options.folder(name), name=name) for name, run in longest_first(runs, records)]
        restoring = resume and storage.exists(folder)
        print(f"Round {k}: {len(runs)} trial(s){' (resumed)' if restoring else ''}", flush=True)
        tuner = build_tuner(options, trials, folder, restore=restoring, title=f"{options.name} round {k}")
        round_records = trial_records(fit(tuner), trials, storage.location)
        records += round_records
        if any(t["status"] != COMPLETED for t in round_records):
            break  # AdaStop needs every seed's result: finish_sweep says what went wrong
        needed = after_round(k, records, needed, algos, settings, decisions)
    return finish_sweep(options, records, started, decision=final_document(settings, decisions, envs, algos),
                        cpus=cpus)
