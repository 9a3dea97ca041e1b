"""``rl-sweep --until-decided``: rounds of seeds until AdaStop settles every comparison (:mod:`rl_sweep.decision`).

Each round is one Tune run of its own, its state in ``sweeps/{name}/tune_round{k}``, its trials in the sweep's
usual folders: round k trains seeds ``seed_start + (k - 1) x N`` to ``seed_start + k x N - 1`` of every
algorithm still in an undecided comparison, on every environment not yet decided (each environment is its
own test). After a round the test is run again, from scratch and seeded, over every round's final
evaluations, and says which algorithms the next round needs.

One Tune run per round, rather than a Tune ``Searcher`` that suggests the next round's trials: a round's
trials are known before it starts, so nothing but finished Tune runs needs storing. ``--resume`` restores
each round's Tune run in turn (a finished one returns its results at once, the interrupted one goes on),
and the decision is recomputed from the trials' results, with no searcher or comparator state to save.
"""

from __future__ import annotations

from typing import Any

from rl_sweep.decision import EnvironmentDecision, decide, decision_document, sentence
from rl_sweep.errors import ExitCode
from rl_sweep.logs import utc_now
from rl_sweep.sweep.cluster import check_before_start, start_sweep
from rl_sweep.sweep.options import SweepOptions, trial_config, trial_records
from rl_sweep.sweep.runner import build_tuner, finish_sweep, fit, steps_by_environment


def rewards_of(records: list[dict[str, Any]], env: str, algos: list[str]) -> dict[str, list[float]]:
    """Each algorithm's final evaluation rewards on ``env``, in seed order: what AdaStop compares."""
    ordered = sorted((t for t in records if t["env"] == env and t["final_reward_mean"] is not None),
                     key=lambda t: t["seed"])
    return {algo: [t["final_reward_mean"] for t in ordered if t["algo"] == algo] for algo in algos}


def run_rounds(options: SweepOptions, *, resume: bool = False, address: str | None = None, dashboard: bool = True,
               verbose: bool = False) -> tuple[ExitCode, dict]:
    """Run (or resume) the rounds until every environment's comparisons are decided, or ``max_rounds``."""
    settings = options.decision_settings
    needed = {env: list(options.algos) for env in options.envs}
    first = [run for _, run in options.round_runs(1, needed)]
    check_before_start(first, address)
    storage = options.storage
    started = utc_now()
    start_sweep(options, resume, address, dashboard, verbose)
    print(f"Sweep {options.name}: until decided by AdaStop on {steps_by_environment(first)}: rounds of "
          f"{settings.seeds_per_round} seeds per algorithm, at most {settings.max_rounds}, family-wise error at most "
          f"{settings.alpha:g}; preset {options.preset}; files in {options.results_dir}", flush=True)
    records: list[dict[str, Any]] = []
    decisions: dict[str, EnvironmentDecision] = {}
    for k in range(1, settings.max_rounds + 1):
        runs = options.round_runs(k, needed)
        if not runs:
            break
        folder = options.folder(f"tune_round{k}")
        trials = [trial_config(run, options.folder(name), name=name) for name, run in runs]
        restoring = resume and storage.exists(folder)
        print(f"Round {k}: {len(runs)} trial(s){' (resumed)' if restoring else ''}", flush=True)
        tuner = build_tuner(options, trials, folder, restore=restoring, title=f"{options.name} round {k}")
        round_records = trial_records(fit(tuner), trials, storage.location)
        records += round_records
        if any(t["status"] != "completed" for t in round_records):
            break  # AdaStop needs every seed's result: finish_sweep says what went wrong
        for env in needed:
            decisions[env] = decide(env, rewards_of(records, env, options.algos), settings)
            document = decision_document(settings, [decisions[env]], len(options.algos))
            for comparison in document["comparisons"]:
                if comparison["round"] == k:
                    print(f"  {sentence(comparison, document)}", flush=True)
        needed = {env: decisions[env].needed for env in needed if decisions[env].needed}
    document = decision_document(settings, [decisions[env] for env in options.envs if env in decisions],
                                 len(options.algos))
    return finish_sweep(options, records, started, decision=document)
