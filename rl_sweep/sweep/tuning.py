"""``rl-sweep --tune N --until-decided``: a fair fight. Every variant is tuned with the same budget on tuning seeds,
then each one's best setting is decided between on fresh seeds, in one sweep folder.

- **Tuning.** For each environment and variant, N settings (the variant's own values, then samples of its preset's
  ``search`` block, as ``--search`` takes them) each train on the same ``--tuning-seeds`` seeds, drawn from
  1,000..999,999 like a search's: the same N, seeds and steps per run for every variant, checked before anything
  starts. With ``--early-stopping`` (off by default), ASHA stops trailing trials, so the steps spent may differ;
  they are recorded. Each variant's trials, Tune state and ``best.yaml`` (its chosen setting as a preset for ``--config``)
  are in ``tuning/[{env}/]{variant}/``; ``tuning.json`` ranks every setting.
- **Choosing.** Each variant's setting with the best mean final evaluation over the tuning seeds. Its tuning score
  is biased upwards by the choice itself, which is why it is run again on fresh seeds.
- **Deciding.** The chosen settings in ``--until-decided`` rounds on seeds from ``--seed-start`` (42), which never
  meet a tuning seed (refused before the start if they would), in the sweep's usual folders.

``--resume`` continues either phase: while tuning, the tuning runs' Tune states are restored (a finished one returns
its results at once); once tuning completed, ``tuning.json`` gives the chosen settings, and the deciding rounds' Tune
state is restored.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from rl_sweep.errors import ConfigError, ExitCode
from rl_sweep.files import names
from rl_sweep.files.status import COMPLETED, FAILED, INCOMPLETE, INTERRUPTED
from rl_sweep.files.sweep import TrialRecord, TunedVariant, TuningDocument
from rl_sweep.identity import env_folder
from rl_sweep.logs import utc_now
from rl_sweep.run.config import TrainingConfig
from rl_sweep.sweep import signals
from rl_sweep.sweep.checks import check_before_start
from rl_sweep.sweep.claim import start_sweep
from rl_sweep.sweep.options import SweepOptions
from rl_sweep.sweep.records import trial_config, trial_records
from rl_sweep.sweep.rounds import decide
from rl_sweep.sweep.runner import resume_command, summarize
from rl_sweep.sweep.search import (
    build_search_tuner, chosen_run, print_ranking, rank_settings, setting_runs, starting_point, variant_settings,
    write_best_preset,
)
from rl_sweep.sweep.tuner import fit
from rl_sweep.sweep.variants import Variant
from rl_sweep.text import tuning_budget

log = logging.getLogger("rl_sweep.tuning")

Runs = list[tuple[TrainingConfig, str, int, str]]  # a variant's tuning trials: run, folder, setting, name


def run_tuned(options: SweepOptions, *, resume: bool = False, address: str | None = None, dashboard: bool = True,
              verbose: bool = False, callbacks: Sequence[Any] = ()) -> tuple[ExitCode, dict]:
    """Tune every variant (or go on tuning), choose each one's best setting, and decide between those; ``callbacks``:
    Tune callbacks of every Tune run besides the progress display."""
    import ray

    plan = tuning_plan(options)  # every check of the budgets and spaces, before anything starts
    check_before_start([run for runs in plan.values() for run, *_ in runs], address)
    started = utc_now()
    start_sweep(options, resume, address, dashboard, verbose)
    cpus = ray.cluster_resources().get("CPU", 0)
    grid = options.trials
    print(f"Sweep {options.name}: a fair fight of {', '.join(grid.names)} on {', '.join(grid.envs)}: each tuned with "
          f"{options.search.tune} settings x {options.search.tuning_seeds} seed(s) (tuning seeds "
          f"{' '.join(map(str, options.tuning_seeds()))}), then decided by AdaStop on fresh seeds from "
          f"{grid.seed_start}, on {cpus:.0f} CPU(s); files in {options.cluster.results_dir}", flush=True)
    tuning = chosen_before(options) if resume else None
    if tuning is None:
        tuning = tune_variants(options, plan, resume, callbacks)
        options.storage.write_json(tuning, options.folder(names.TUNING_DOC))
    if tuning["status"] != COMPLETED:
        return _stopped_tuning(options, tuning, started)
    print(f"Tuned: {tuning_budget(tuning)}; deciding between each variant's best setting on fresh seeds", flush=True)
    return decide(tuned_options(options, tuning), resume, started, cpus, callbacks, tuning)


def chosen_before(options: SweepOptions) -> TuningDocument | None:
    """A resumed sweep's tuning, once it completed: what its ``tuning.json`` says, so that the deciding phase goes on
    with the settings it started with (a tuning trial that failed is not run again then); None before that."""
    try:
        tuning = json.loads(options.storage.read_text(options.folder(names.TUNING_DOC)))
    except FileNotFoundError:
        return None
    return tuning if tuning["status"] == COMPLETED else None


def tuning_plan(options: SweepOptions) -> dict[tuple[str, str], Runs]:
    """Every variant's tuning trials on every environment, refused (exit 3) unless every variant has a search
    space of ``--tune`` settings or more and the same steps per run as the others."""
    grid, count = options.trials, options.search.tune
    seeds = options.tuning_seeds()
    plan: dict[tuple[str, str], Runs] = {}
    for env in grid.envs:
        for variant in grid.variants:
            plan[env, variant.name] = runs = setting_runs(options, variant, env, count, seeds, names.TUNING,
                                                          tuning_prefix(options, env, variant) + "/")
            found = len(runs) // len(seeds)
            if found < count:
                raise ConfigError(f"variant {variant.name}'s search space holds only {found} distinct setting(s), "
                                  f"fewer than --tune {count}: every variant must get the same budget")
        steps = {name: runs[0][0].total_timesteps for (where, name), runs in plan.items() if where == env}
        if len(set(steps.values())) > 1:
            raise ConfigError(f"--tune gives every variant the same steps per run, but on {env} their presets give "
                              + ", ".join(f"{name} {n:,}" for name, n in steps.items()) + ": give --timesteps")
    return plan


def tuning_prefix(options: SweepOptions, env: str, variant: Variant) -> str:
    """A variant's tuning folder under ``tuning/``: ``{variant}``, ``{env}/{variant}`` with several environments."""
    return "/".join([*([env_folder(env)] if len(options.trials.envs) > 1 else []), variant.name])


def tune_variants(options: SweepOptions, plan: dict[tuple[str, str], Runs], resume: bool,
                  callbacks: Sequence[Any] = ()) -> TuningDocument:
    """Each variant's tuning in turn (its own Tune run, so that ASHA compares its settings with each other only),
    restored where ``resume`` finds it begun; stopped at the first one interrupted. ``callbacks``: Tune callbacks
    of each run besides the progress display."""
    storage, grid = options.storage, options.trials
    tuned: list[TunedVariant] = []
    status = COMPLETED
    for (env, name), runs in plan.items():
        variant = grid.variant(name)
        prefix = tuning_prefix(options, env, variant)
        folder = options.folder(names.TUNING, prefix, names.TUNE)
        restoring = resume and storage.exists(folder)
        print(f"Tuning {name}{f' on {env}' if len(grid.envs) > 1 else ''}: {options.search.tune} settings x "
              f"{options.search.tuning_seeds} seed(s) x {runs[0][0].total_timesteps:,} steps"
              f"{' (resumed)' if restoring else ''}", flush=True)
        configs = [trial_config(*trial) for trial in runs]
        result_grid = fit(build_search_tuner(options, configs, folder, f"{options.name}: tuning {name}", restoring,
                                             callbacks))
        settings, trials = rank_settings(trial_records(result_grid, configs, storage.location))
        print_ranking(name, settings, "Tuning")
        unfinished = any(t["status"] == INCOMPLETE for t in trials)
        best = settings[0] if settings and settings[0]["status"] == COMPLETED and not unfinished else None
        best_preset = None
        if best is not None:
            best_preset = options.folder(names.TUNING, prefix, names.BEST_PRESET)
            write_best_preset(options, {variant.algo: chosen_run(runs, best)}, best_preset,
                              f"{name}'s, by mean final evaluation over tuning seeds "
                              f"{' '.join(map(str, options.tuning_seeds()))}; see {names.TUNING_DOC}")
        tuned.append(TunedVariant(
            env=env, variant=name, algo=variant.algo, preset=variant.preset or options.runs.preset,
            own=0 if starting_point(variant_settings(options, variant, env)) else None,
            chosen=best["setting"] if best else None, overrides=best["overrides"] if best else {},
            tuning_score=best["final_reward_mean"] if best else None,
            steps=sum(t["timesteps"] for t in trials), cpu_seconds=_cpu_seconds(trials, options),
            best_preset=storage.uri(best_preset) if best_preset else None, settings=settings, trials=trials))
        if unfinished:
            status = INTERRUPTED if signals.received() else FAILED  # Tune stops a trial unfinished on no other
            break
        if best is None:
            status = FAILED
    return TuningDocument(status=status, settings=options.search.tune, seeds=options.tuning_seeds(),
                          timesteps={env: runs[0][0].total_timesteps for (env, _), runs in plan.items()},
                          early_stopping=options.search.early_stopping, variants=tuned)


def _cpu_seconds(trials: list[TrialRecord], options: SweepOptions) -> float:
    return sum(t["wall_time_seconds"] or 0.0 for t in trials) * options.cluster.cpus_per_trial


def tuned_options(options: SweepOptions, tuning: TuningDocument) -> SweepOptions:
    """The sweep's options for the deciding phase: each variant with its chosen values on each environment."""
    chosen: dict[str, dict[str, dict[str, Any]]] = {}
    for entry in tuning["variants"]:
        chosen.setdefault(entry["env"], {})[entry["variant"]] = entry["overrides"]
    return replace(options, trials=replace(options.trials, tuned=chosen))


def _stopped_tuning(options: SweepOptions, tuning: TuningDocument, started: str) -> tuple[ExitCode, dict]:
    """The end of a sweep whose tuning did not complete: interrupted (resume it) or with a variant none of whose
    settings completed on every seed (see ``tuning.json``)."""
    summary = summarize(options, [], started, unfinished=True)
    summary["status"] = tuning["status"]
    summary["tuning"] = tuning
    options.storage.write_json(summary, options.folder(names.SUMMARY))
    if tuning["status"] == FAILED:
        failed = [entry["variant"] for entry in tuning["variants"] if entry["chosen"] is None]
        unfinished = any(t["status"] == INCOMPLETE for entry in tuning["variants"] for t in entry["trials"])
        log.error("%s (see %s; continue with: %s)",
                  f"tuning {', '.join(failed)} stopped with trials unfinished, though no interrupt signal arrived"
                  if unfinished else f"no setting of {', '.join(failed)} completed on every tuning seed",
                  names.TUNING_DOC, resume_command(options))
        return ExitCode.FAILED, summary
    log.warning("sweep interrupted by %s while tuning; continue with: %s", signals.described(),
                resume_command(options))
    return ExitCode.INTERRUPTED, summary
