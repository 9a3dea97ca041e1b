"""``rl-sweep --search N``: a Ray Tune hyperparameter search over a preset's ``search`` space.

Each algorithm gets its own Tuner, so that ASHA compares PPO trials with PPO trials only. A trial
is a contract run whose preset values are replaced by a sample of the space (``overrides``) and
whose seed is drawn too, so that the winner is not tuned to one seed. ASHA stops the trials whose
training reward trails at a quarter and at half of the run; the completed ones are ranked by the
final model's evaluation, and the best becomes ``best.yaml``, a preset ready for ``--config``.

A space maps a hyperparameter (or ``n_envs``) to a list to choose from or to
``{uniform: [low, high]}`` / ``{loguniform: [low, high]}``.
"""

from __future__ import annotations

import logging
from dataclasses import asdict
from pathlib import Path
from typing import Any

import yaml

from rl_sweep.atomic import write_atomic, write_json_atomic
from rl_sweep.errors import ConfigError, ExitCode
from rl_sweep.logs import utc_now
from rl_sweep.presets import AlgoSettings, load_settings
from rl_sweep.sweep import (
    SweepOptions,
    check_before_start,
    run_config,
    start_ray,
    trial_name,
)

log = logging.getLogger("rl_sweep.search")

METRIC = "episode_reward_mean"  # the training reward over the last 100 episodes
SEEDS = (1_000, 1_000_000)  # search seeds are drawn from here, away from the sweeps' 42, 43, ...


def run_search(options: SweepOptions, *, address: str | None = None, dashboard: bool = True,
               verbose: bool = False) -> tuple[ExitCode, dict]:
    """Search each algorithm's hyperparameters in turn; write search.json and best.yaml."""
    check_before_start(options)
    for algo in options.algos:
        search_space(load_settings(options.preset, algo), f"preset {options.preset} ({algo})")
    options.sweep_dir.mkdir(parents=True, exist_ok=True)
    write_json_atomic(options.sweep_dir / "sweep.json", asdict(options))
    started = utc_now()
    start_ray(address, dashboard, verbose)
    searches, best, interrupted = {}, {}, False
    for algo in options.algos:
        print(f"Search {options.name}: {options.search} {algo} trial(s) of up to {options.timesteps_for(algo)} "
              f"steps from preset {options.preset}", flush=True)
        searches[algo] = rank_trials(build_search_tuner(options, algo).fit())
        print_ranking(algo, searches[algo])
        completed = [t for t in searches[algo] if t["status"] == "completed"]
        if completed:
            best[algo] = completed[0]
        interrupted = any(t["status"] == "interrupted" for t in searches[algo])
        if interrupted:
            break
    summary = {"search": options.name, "command": options.command, "started": started, "finished": utc_now(),
               "options": asdict(options), "trials": searches}
    write_json_atomic(options.sweep_dir / "search.json", summary)
    if best:
        write_best_preset(options, best, options.sweep_dir / "best.yaml")
        print(f"Best settings: {options.sweep_dir / 'best.yaml'} (use with --config)")
    if interrupted:
        log.warning("search interrupted; what it found so far is in %s", options.sweep_dir / "search.json")
        return ExitCode.INTERRUPTED, summary
    missing = [algo for algo in options.algos if algo not in best]
    if missing:
        log.error("no %s trial completed (see search.json)", ", ".join(missing))
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
    """The preset's own values of the searched keys: the first trial, the one to beat."""
    current = {"n_envs": settings.n_envs, **settings.hyperparameters}
    return {name: current[name] for name in settings.search if name in current}


def build_search_tuner(options: SweepOptions, algo: str):
    """One algorithm's search: ``options.search`` samples, ASHA on the training reward."""
    from ray import tune
    from ray.tune.schedulers import ASHAScheduler
    from ray.tune.search import BasicVariantGenerator

    from rl_sweep.trainable import RunTrainable

    settings = load_settings(options.preset, algo)
    timesteps = options.timesteps_for(algo)
    trials_dir = options.sweep_dir / "trials"
    param_space = {
        "algo": algo,
        "seed": tune.randint(*SEEDS),
        "env_name": options.env_name,
        "preset": options.preset,
        "overrides": search_space(settings, f"preset {options.preset} ({algo})"),
        "total_timesteps": timesteps,
        "checkpoint_interval": options.interval_for(algo),
        "eval_episodes": options.eval_episodes,
        "conda_env": options.conda_env,
        "cpus_per_trial": options.cpus_per_trial,
        "output_dir": tune.sample_from(lambda config: str(trials_dir / f"{algo}_seed{config['seed']}")),
    }
    start = starting_point(settings)
    return tune.Tuner(
        RunTrainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(
            num_samples=options.search, max_concurrent_trials=options.max_concurrent, reuse_actors=True,
            search_alg=BasicVariantGenerator(points_to_evaluate=[{"overrides": start}] if start else None,
                                             random_state=options.seed_start),
            scheduler=ASHAScheduler(time_attr="timesteps_total", metric=METRIC, mode="max", max_t=timesteps,
                                    grace_period=max(timesteps // 4, 1), reduction_factor=2),
            trial_name_creator=trial_name, trial_dirname_creator=trial_name,
        ),
        run_config=run_config(options, f"{options.name}/tune_{algo}"),
    )


def rank_trials(result_grid: Any) -> list[dict[str, Any]]:
    """The trials of one search, best first: completed ones by final evaluation, then the stopped ones."""
    trials = []
    for result in result_grid:
        metrics, config = result.metrics or {}, result.config or {}
        if result.error is not None:
            status = "failed"
        elif "final_reward_mean" in metrics:
            status = "completed"
        elif metrics.get("done"):
            status = "stopped early"  # by ASHA: "done", but no evaluation
        else:
            status = "interrupted"
        trials.append({
            "trial": f"{config.get('algo')}_seed{config.get('seed')}",
            "seed": config.get("seed"),
            "overrides": config.get("overrides", {}),
            "status": status,
            "timesteps": metrics.get("timesteps_total", 0),
            "training_reward": metrics.get(METRIC),
            "final_reward_mean": metrics.get("final_reward_mean"),
            "final_reward_std": metrics.get("final_reward_std"),
            "experiment_dir": config.get("output_dir"),
        })

    def key(trial: dict[str, Any]) -> tuple:
        final, training = trial["final_reward_mean"], trial["training_reward"]
        return (final is not None, final if final is not None else -float("inf"),
                trial["timesteps"], training if training is not None else -float("inf"))

    return sorted(trials, key=key, reverse=True)


def write_best_preset(options: SweepOptions, best: dict[str, dict[str, Any]], path: Path) -> None:
    """A preset file: the searched preset with each algorithm's best trial's values in place."""
    document: dict[str, Any] = {}
    for algo, trial in best.items():
        settings = load_settings(options.preset, algo).with_overrides(trial["overrides"])
        document[algo] = {"timesteps": options.timesteps_for(algo),
                          "checkpoint_interval": options.interval_for(algo), "n_envs": settings.n_envs,
                          "hyperparameters": settings.hyperparameters}
        if settings.policy_kwargs:
            document[algo]["policy_kwargs"] = settings.policy_kwargs
    header = (f"# Found by: {options.command}\n# Each block is the best completed trial of its algorithm "
              f"(final evaluation reward); see search.json.\n")
    data = (header + yaml.safe_dump(document, sort_keys=False)).encode()
    write_atomic(path, lambda f: f.write(data))


def print_ranking(algo: str, trials: list[dict[str, Any]]) -> None:
    print(f"\nSearch {algo}: {len(trials)} trial(s), best first")
    print(f"{'trial':<20} {'status':<14} {'steps':>8} {'train':>8} {'final':>8}  values")
    for t in trials:
        values = ", ".join(f"{k}={v:.3g}" if isinstance(v, float) else f"{k}={v}" for k, v in t["overrides"].items())
        print(f"{t['trial']:<20} {t['status']:<14} {t['timesteps']:>8} {_fmt(t['training_reward']):>8} "
              f"{_fmt(t['final_reward_mean']):>8}  {values}")


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
