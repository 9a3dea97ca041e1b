"""``rl-sweep --search N``: a Ray Tune hyperparameter search over a preset's ``search`` space.

Each algorithm gets its own Tuner, so that ASHA compares PPO trials with PPO trials only. A
setting is the preset with some values replaced by a sample of the space (``overrides``); the first
setting is the preset's own. Every setting trains on the same ``--seeds`` seeds, drawn away from the
sweeps' 42, 43, ...: one trial per setting and seed. ASHA stops the trials whose training reward
trails at a quarter and at half of the run (unless ``--no-early-stopping``). The settings whose
every trial completed are ranked by their mean final evaluation over the seeds, and the best
becomes ``best.yaml``, a preset ready for ``--config``.

A space maps a hyperparameter (or ``n_envs``, ``normalize`` or ``net_arch``) to a list to choose from
or to ``{uniform: [low, high]}`` / ``{loguniform: [low, high]}``.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict, replace
from typing import Any

import numpy as np
import yaml

from rl_sweep.errors import ConfigError, ExitCode
from rl_sweep.identity import experiment_id
from rl_sweep.logs import utc_now
from rl_sweep.presets import AlgoSettings, load_settings
from rl_sweep.run.config import TrainingConfig
from rl_sweep.files import names
from rl_sweep.files.status import COMPLETED, FAILED, INCOMPLETE, STOPPED_EARLY
from rl_sweep.files.sweep import SearchDocument, TrialRecord
from rl_sweep.sweep import result_keys as keys
from rl_sweep.sweep import signals
from rl_sweep.sweep.checks import check_before_start
from rl_sweep.sweep.claim import start_sweep
from rl_sweep.sweep.options import SweepOptions, search_seeds
from rl_sweep.sweep.records import trial_config, trial_records
from rl_sweep.sweep.tuner import build_tuner, fit
from rl_sweep.sweep.variants import Variant
from rl_sweep.text import number

log = logging.getLogger("rl_sweep.search")


def run_search(options: SweepOptions, *, address: str | None = None, dashboard: bool = True,
               verbose: bool = False) -> tuple[ExitCode, dict]:
    """Search each algorithm's hyperparameters in turn; write search.json and best.yaml."""
    algos = options.trials.algos
    runs = {algo: search_runs(options, algo) for algo in algos}  # validates every space first
    check_before_start([run for algo_runs in runs.values() for run, *_ in algo_runs], address)
    storage = options.storage
    started = utc_now()
    start_sweep(options, False, address, dashboard, verbose)
    searches, trials, best, interrupted = {}, {}, {}, False
    for algo in algos:
        first = runs[algo][0][0]
        print(f"Search {options.name}: {options.search.settings} {algo} setting(s) x {options.trials.seeds} seed(s) "
              f"on {first.env_name}, up to {first.total_timesteps:,} steps each, from preset {options.runs.preset}",
              flush=True)
        configs = [trial_config(*trial) for trial in runs[algo]]
        result_grid = fit(build_search_tuner(options, configs, options.folder(names.tune_search(algo)),
                                             f"{options.name}: {algo} search"))
        searches[algo], trials[algo] = rank_settings(trial_records(result_grid, configs, options.storage.location))
        print_ranking(algo, searches[algo])
        if searches[algo] and searches[algo][0]["status"] == COMPLETED:
            best[algo] = searches[algo][0]
        interrupted = any(t["status"] == INCOMPLETE for t in trials[algo])
        if interrupted:
            break
    summary = SearchDocument(search=options.name, command=options.command, started=started, finished=utc_now(),
                             options=options.to_json(), settings=searches, trials=trials)
    storage.write_json(summary, options.folder(names.SEARCH))
    if best:
        write_best_preset(options, {algo: chosen_run(runs[algo], chosen) for algo, chosen in best.items()},
                          options.folder(names.BEST_PRESET),
                          f"mean final evaluation reward over {options.trials.seeds} seed(s); see {names.SEARCH}")
        print(f"Best settings: {storage.uri(options.folder(names.BEST_PRESET))} (use with --config)")
    if interrupted and signals.received():
        log.warning("search interrupted by %s; what it found so far is in %s", signals.described(),
                    storage.uri(options.folder(names.SEARCH)))
        return ExitCode.INTERRUPTED, summary
    if interrupted:  # Tune leaves trials unfinished on an interrupt signal only
        log.error("the search stopped with trials unfinished, though no interrupt signal arrived (see %s)",
                  storage.uri(options.folder(names.SEARCH)))
        return ExitCode.FAILED, summary
    missing = [algo for algo in algos if algo not in best]
    if missing:
        log.error("no %s setting completed on every seed (see search.json)", ", ".join(missing))
        return ExitCode.FAILED, summary
    return ExitCode.OK, summary


def search_space(settings: AlgoSettings, where: str) -> dict[str, Any]:
    """The preset's ``search`` block as Ray Tune domains."""
    from ray import tune

    if not settings.search:
        raise ConfigError(f"{where} has no search space; add a 'search' block (see configs/tuned.yaml)")
    space: dict[str, Any] = {}
    for name, spec in settings.search.items():
        if isinstance(spec, list) and spec:
            space[name] = tune.choice(spec)
        elif isinstance(spec, dict) and len(spec) == 1 and next(iter(spec)) in ("uniform", "loguniform"):
            kind, bounds = next(iter(spec.items()))
            if not (isinstance(bounds, list) and len(bounds) == 2 and 0 < bounds[0] < bounds[1]):
                raise ConfigError(f"{where}: search.{name}: {kind} needs [low, high] with 0 < low < high")
            space[name] = getattr(tune, kind)(*bounds)
        else:
            raise ConfigError(f"{where}: search.{name} must be a list of values, {{uniform: [low, high]}} "
                              f"or {{loguniform: [low, high]}}, not {spec!r}")
    return space


def starting_point(settings: AlgoSettings) -> dict[str, Any]:
    """The preset's own values of the searched keys: the first setting, the one to beat."""
    current = {"n_envs": settings.n_envs, "normalize": settings.normalize, **settings.policy_kwargs,
               **settings.hyperparameters}
    return {name: current[name] for name in settings.search if name in current}


def sample_settings(space: dict[str, Any], start: dict[str, Any], count: int, random_state: int
                    ) -> list[dict[str, Any]]:
    """``count`` distinct settings: ``start`` (when it has values) and samples of ``space``, reproducible.
    A sample equal to one already taken is discarded, so a small space of choices may give fewer."""
    rng = np.random.default_rng(random_state)
    settings = [start] if start else []
    for _ in range(100 * count):
        if len(settings) >= count:
            break
        sample = {name: _plain(domain.sample(random_state=rng)) for name, domain in space.items()}
        if sample not in settings:
            settings.append(sample)
    return settings[:count]


def search_runs(options: SweepOptions, algo: str) -> list[tuple[TrainingConfig, str, int, str]]:
    """One algorithm's trials: ``options.search.settings`` settings x ``options.trials.seeds`` seeds, in
    ``trials/{algo}_s{setting}_seed{seed}`` (see :func:`setting_runs`)."""
    seeds = search_seeds(options.trials.seeds, options.trials.seed_start)
    runs = setting_runs(options, options.trials.variant(algo), options.env_name, options.search.settings, seeds,
                        names.TRIALS)
    if len(runs) < options.search.settings * len(seeds):
        log.warning("the %s search space holds only %d distinct setting(s): searching those, not %d", algo,
                    len(runs) // len(seeds), options.search.settings)
    return runs


def setting_runs(options: SweepOptions, variant: Variant, env_name: str, count: int, seeds: list[int], root: str,
                 prefix: str = "") -> list[tuple[TrainingConfig, str, int, str]]:
    """``count`` settings of ``variant`` on ``env_name`` (its own values first, then samples of its preset's search
    space, drawn by the sweep's ``--seed-start``; fewer when the space holds fewer), each on every one of ``seeds``: each trial's run, folder
    (``{root}/{prefix}{algo}_s{setting}_seed{seed}`` in the sweep's), setting index and name (``{prefix}...``)."""
    preset_name = variant.preset or options.runs.preset
    preset = variant_settings(options, variant, env_name)
    where = (f"preset {preset_name} ({variant.algo} on {env_name})" if variant.plain
             else f"variant {variant.name} ({preset_name} on {env_name})")
    settings = sample_settings(search_space(preset, where), starting_point(preset), count, options.trials.seed_start)
    trials = []
    for index, overrides in enumerate(settings):
        for seed in seeds:
            name = prefix + experiment_id(variant.algo, seed, index)
            folder = options.folder(root, name)
            trials.append((options.run_config(variant, seed, folder, overrides, env_name=env_name), folder, index,
                           name))
    return trials


def variant_settings(options: SweepOptions, variant: Variant, env_name: str) -> AlgoSettings:
    """A variant's settings on ``env_name``: its preset's (the sweep's unless its own) with its values on top."""
    return load_settings(variant.preset or options.runs.preset, variant.algo, env_name).with_overrides(variant.overrides)


def build_search_tuner(options: SweepOptions, trials: list[dict[str, Any]], folder: str, title: str,
                       restore: bool = False, callbacks: Sequence[Any] = ()):
    """One search's Tuner (one algorithm's, or one variant's tuning), its state in ``folder``: ASHA on the training
    reward unless ``early_stopping`` is off."""
    from ray.tune.schedulers import ASHAScheduler

    timesteps = trials[0]["total_timesteps"]
    scheduler = (ASHAScheduler(time_attr=keys.TIMESTEPS, metric=keys.METRIC, mode="max", max_t=timesteps,
                               grace_period=max(timesteps // 4, 1), reduction_factor=2)
                 if options.search.early_stopping else None)
    return build_tuner(options, trials, folder, restore=restore, scheduler=scheduler, title=title, report=False,
                       callbacks=callbacks)


def rank_settings(trials: list[TrialRecord]) -> tuple[list[dict[str, Any]], list[TrialRecord]]:
    """The settings of one search, best first: those completed on every seed by their mean final
    evaluation, then the others by how far and how well their trials trained; and the trials in that
    order, by seed within a setting."""
    settings = []
    for index in sorted({t["setting"] for t in trials}):
        own = sorted((t for t in trials if t["setting"] == index), key=lambda t: t["seed"])
        statuses = {t["status"] for t in own}
        status = next(s for s in (FAILED, INCOMPLETE, STOPPED_EARLY, COMPLETED) if s in statuses)
        training = [t["training_reward"] for t in own if t["training_reward"] is not None
                    and not np.isnan(t["training_reward"])]
        settings.append({
            "setting": index,
            "overrides": own[0]["overrides"],
            "status": status,
            "final_reward_mean": float(np.mean([t["final_reward_mean"] for t in own])) if status == COMPLETED
            else None,
            "seeds": [t["seed"] for t in own],
            "final_rewards": [t["final_reward_mean"] for t in own],
            "timesteps": int(np.mean([t["timesteps"] for t in own])),
            "training_reward": float(np.mean(training)) if training else None,
        })

    def key(setting: dict[str, Any]) -> tuple:
        final, training = setting["final_reward_mean"], setting["training_reward"]
        return (final is not None, final if final is not None else -float("inf"), setting["timesteps"],
                training if training is not None else -float("inf"))

    settings.sort(key=key, reverse=True)
    rank = {s["setting"]: i for i, s in enumerate(settings)}
    return settings, sorted(trials, key=lambda t: (rank[t["setting"]], t["seed"]))


def write_best_preset(options: SweepOptions, best: dict[str, TrainingConfig], path: str, scores: str) -> None:
    """A preset file at ``path`` of the sweep's storage: for each algorithm of ``best``, the settings of one run of
    its best setting, with the length and checkpoint interval the search ran with; ``scores``: what ranked them."""
    document: dict[str, Any] = {}
    for algo, run in best.items():
        block = asdict(replace(run.settings, timesteps=run.total_timesteps, checkpoint_interval=run.checkpoint_interval))
        del block["search"]  # the space searched, not part of the setting
        document[algo] = block
    header = f"# Found by: {options.command}\n# Each block is its algorithm's best setting ({scores}).\n"
    options.storage.write_bytes((header + yaml.safe_dump(document, sort_keys=False)).encode(), path)


def chosen_run(runs: list[tuple[TrainingConfig, str, int, str]], chosen: dict[str, Any]) -> TrainingConfig:
    """A run of the setting ``chosen`` (its ranking's entry) among a search's ``runs``."""
    return next(run for run, _, index, _ in runs if index == chosen["setting"])


def print_ranking(algo: str, settings: list[dict[str, Any]], what: str = "Search") -> None:
    print(f"\n{what} {algo}: {len(settings)} setting(s), best first")
    print("(train: the training return, stochastic policy; eval: the final evaluation return, greedy policy)")
    print(f"{'setting':<8} {'status':<14} {'steps':>8} {'train':>8} {'eval':>8}  {'eval per seed':<24} values")
    for s in settings:
        values = ", ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in s["overrides"].items())
        per_seed = " ".join(number(final, 1, "-") for final in s["final_rewards"])
        print(f"s{s['setting']:02d}      {s['status']:<14} {s['timesteps']:>8} "
              f"{number(s['training_reward'], 1, '-', 8)} {number(s['final_reward_mean'], 1, '-', 8)}  "
              f"{per_seed:<24} {values}")


def _plain(value: Any) -> Any:
    """A sampled value as a plain Python number, for YAML and JSON."""
    return value.item() if isinstance(value, np.generic) else value
