"""``rl-sweep`` / ``python -m rl_sweep.sweep``: contract runs across algorithms and seeds on Ray Tune."""

from __future__ import annotations

import argparse
import functools
import json
import logging
import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import rl_sweep
from rl_sweep.atomic import write_json_atomic
from rl_sweep.cli import Parser, add_training_options, positive_int, preset_of
from rl_sweep.config import ALGORITHMS, TrainingConfig
from rl_sweep.errors import ConfigError, ExitCode, PipelineError
from rl_sweep.logs import configure_console, utc_now
from rl_sweep.presets import DEFAULT_PRESET, load_settings
from rl_sweep.report import trials_from_summary, write_report

log = logging.getLogger("rl_sweep.sweep")

# The live table replaces Tune's console output: Tune's newer output engine prints its banner
# whatever the verbosity, the classic one is silent at verbose=0. Tune also warns when
# num_to_keep forces frequent state snapshots, which are cheap for checkpoints this small.
os.environ.setdefault("RAY_AIR_NEW_OUTPUT", "0")
os.environ.setdefault("TUNE_WARN_EXCESSIVE_EXPERIMENT_CHECKPOINT_SYNC_THRESHOLD_S", "0")


@dataclass
class SweepOptions:
    """Everything a sweep is made of; stored in ``sweep.json`` so that ``--resume`` needs only the name."""

    algos: list[str] = field(default_factory=lambda: list(ALGORITHMS))
    seeds: int = 1
    seed_start: int = 42
    timesteps: int | None = None  # None: each algorithm's preset default
    preset: str = DEFAULT_PRESET
    checkpoint_interval: int | None = None  # None: each algorithm's preset default
    env_name: str = "LunarLander-v3"
    eval_episodes: int = 10
    conda_env: str = "rocm"
    results_dir: str = "results"
    name: str = ""
    max_failures: int = 2
    cpus_per_trial: float = 1.0
    max_concurrent: int | None = None
    search: int = 0  # >0: a hyperparameter search of this many settings per algorithm, each on `seeds` seeds
    early_stopping: bool = True  # a search's ASHA
    command: str = ""

    @property
    def sweep_dir(self) -> Path:
        return Path(self.results_dir) / "sweeps" / self.name

    def timesteps_for(self, algo: str) -> int:
        """--timesteps, or the preset's default for ``algo``."""
        return self.timesteps or load_settings(self.preset, algo).timesteps

    def interval_for(self, algo: str) -> int:
        """--checkpoint-interval, or the preset's default for ``algo``."""
        return self.checkpoint_interval or load_settings(self.preset, algo).checkpoint_interval

    def training_configs(self) -> list[TrainingConfig]:
        """One validated TrainingConfig per (algorithm, seed) trial."""
        return [
            TrainingConfig(algo=algo, seed=seed, env_name=self.env_name, total_timesteps=self.timesteps_for(algo),
                           checkpoint_interval=self.interval_for(algo), eval_episodes=self.eval_episodes,
                           conda_env=self.conda_env, output_dir=experiment_dir(self.results_dir, algo, seed),
                           preset=self.preset)
            for algo in self.algos
            for seed in range(self.seed_start, self.seed_start + self.seeds)
        ]


def experiment_dir(results_dir: str, algo: str, seed: int) -> Path:
    """``{results_dir}/experiments/{algo}_seed{seed}``: the same folder ``rl-train`` uses."""
    return Path(results_dir) / "experiments" / f"{algo}_seed{seed}"


def _trial_output_dir(results_dir: str, config: dict[str, Any]) -> str:
    return str(experiment_dir(results_dir, config["algo"], config["seed"]))


def _trial_timesteps(options: SweepOptions, config: dict[str, Any]) -> int:
    return options.timesteps_for(config["algo"])


def _trial_interval(options: SweepOptions, config: dict[str, Any]) -> int:
    return options.interval_for(config["algo"])


def trial_name(trial: Any) -> str:
    """A trial's name in the live table and its folder in Tune's state: its :func:`run_name`."""
    return run_name(trial.config)


def run_name(config: dict[str, Any]) -> str:
    """``{algo}_seed{seed}``; ``{algo}_s{setting}_seed{seed}`` for a search trial, whose seeds repeat."""
    setting = f"_s{config['setting']:02d}" if "setting" in config else ""
    return f"{config['algo']}{setting}_seed{config['seed']}"


EPILOG = """\
experiments land in {results-dir}/experiments/{algo}_seed{seed}/ (the files of rl-train),
Ray Tune's state and summary.json in {results-dir}/sweeps/{name}/.

exit codes: 0 every trial completed; 2 a trial failed; 3 invalid arguments; 4 conda mismatch;
5 environment creation failed; 7 interrupted (continue with --resume NAME).

examples:
  rl-sweep --algos ppo a2c --seeds 5
  rl-sweep --algos ppo --seeds 3 --timesteps 20000 --name quick
  rl-sweep --resume quick
  rl-sweep --address auto --cpus-per-trial 1 --max-concurrent 32 --seeds 10
  rl-sweep --preset tuned --algos ppo a2c --seeds 5      # lands the lander (about 18 min on 2 CPUs)
  rl-sweep --search 8 --preset tuned --algos ppo --timesteps 600000
  rl-sweep --search 12 --seeds 3 --preset tuned --algos a2c          # each setting on 3 seeds

--search N takes N settings per algorithm, the preset's own and samples of its 'search' block, and
trains each on the same --seeds seeds (drawn from 1,000..999,999 by --seed-start, never a sweep's);
ASHA stops trailing trials early (training reward at 1/4 and 1/2 of the run; --no-early-stopping
turns it off: ASHA favours fast starters, not stable finishers). Settings completed on
every seed are ranked by their mean final evaluation. It writes search.json (settings best first,
and every trial) and best.yaml (a preset for --config) in {results-dir}/sweeps/{name}/, and the
trials' files in its trials/ folder.
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rl-sweep",
        description="Train every (algorithm, seed) run of the contract at once on a Ray cluster: a local one "
                    "sized to this machine by default, or an existing one with --address.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--algos", nargs="+", choices=ALGORITHMS, default=list(ALGORITHMS), metavar="ALGO",
                        help="algorithms to train: ppo, a2c (default: ppo a2c)")
    parser.add_argument("--seeds", type=positive_int, default=1, metavar="N",
                        help="number of seeds per algorithm; with --search, per setting (default: %(default)s)")
    parser.add_argument("--seed-start", type=int, default=42, metavar="SEED",
                        help="first seed; seeds are SEED..SEED+N-1 (default: %(default)s)")
    add_training_options(parser)
    parser.add_argument("--results-dir", default="results", metavar="DIR",
                        help="root of experiments/ and sweeps/ (default: %(default)s)")
    parser.add_argument("--name", default=None, help="sweep name (default: sweep_{UTC timestamp})")
    parser.add_argument("--search", type=positive_int, default=0, metavar="N",
                        help="search hyperparameters instead: N settings per algorithm (the preset's own and "
                             "samples of its search space), each on --seeds seeds, ASHA early stopping "
                             "(see below)")
    parser.add_argument("--no-early-stopping", dest="early_stopping", action="store_false",
                        help="with --search: train every trial to the end (no ASHA), for algorithms whose "
                             "early reward says little about the final one")
    parser.add_argument("--resume", metavar="NAME", default=None,
                        help="continue the interrupted sweep NAME; finished trials are not rerun")
    parser.add_argument("--max-failures", type=int, default=2, metavar="N",
                        help="restarts of a trial from its last checkpoint after a failure (default: %(default)s)")
    parser.add_argument("--address", default=None,
                        help="attach to an existing Ray cluster ('auto' or host:port) instead of starting one")
    parser.add_argument("--cpus-per-trial", type=float, default=1.0, metavar="N",
                        help="CPUs reserved by each trial (default: %(default)s)")
    parser.add_argument("--max-concurrent", type=positive_int, default=None, metavar="N",
                        help="most trials at once (default: as many as the cluster's CPUs allow)")
    parser.add_argument("--no-dashboard", dest="dashboard", action="store_false",
                        help="do not start the Ray dashboard (local cluster only)")
    parser.add_argument("--verbose", action="store_true",
                        help="DEBUG logging, and the trials' own output on the console")
    return parser


def options_from_args(args: argparse.Namespace, argv: Sequence[str]) -> SweepOptions:
    """The sweep's options: from the command line, or from ``sweep.json`` for ``--resume``."""
    results_dir = str(Path(args.results_dir).resolve())
    if args.resume:
        stored = Path(results_dir) / "sweeps" / args.resume / "sweep.json"
        try:
            options = SweepOptions(**json.loads(stored.read_text()))
        except FileNotFoundError:
            raise PipelineError(f"no sweep named {args.resume!r} in {stored.parent.parent}") from None
        options.results_dir = results_dir  # the folder may have moved
        if options.search:
            raise ConfigError(f"{args.resume} is a search, which cannot be resumed: start it again")
        return options
    name = args.name or datetime.now(timezone.utc).strftime("sweep_%Y%m%d_%H%M%S")
    return SweepOptions(
        algos=list(dict.fromkeys(args.algos)), seeds=args.seeds, seed_start=args.seed_start,
        timesteps=args.total_timesteps, checkpoint_interval=args.checkpoint_interval, env_name=args.env_name,
        preset=str(Path(preset_of(args)).resolve()) if args.config_file else args.preset,
        eval_episodes=args.eval_episodes, conda_env=args.conda_env, results_dir=results_dir, name=name,
        max_failures=args.max_failures, cpus_per_trial=args.cpus_per_trial, max_concurrent=args.max_concurrent,
        search=args.search, early_stopping=args.early_stopping, command=shlex.join(["rl-sweep", *argv]),
    )


def check_before_start(options: SweepOptions) -> list[TrainingConfig]:
    """Fail fast, before Ray starts, on what would make every trial fail; return the trials' configs."""
    from rl_sweep.environments import make_env
    from rl_sweep.seeding import check_conda_env

    configs = options.training_configs()
    check_conda_env(options.conda_env)
    make_env(options.env_name, 0).close()
    return configs


def start_ray(address: str | None, dashboard: bool, verbose: bool) -> None:
    """Start a local Ray cluster sized to this machine, or attach to ``address``, unless Ray runs already;
    print where the dashboard is."""
    import ray

    if ray.is_initialized():
        return
    kwargs: dict[str, Any] = {
        "log_to_driver": verbose,
        "logging_level": logging.INFO if verbose else logging.WARNING,
    }
    if address:
        # Ship this package to the cluster's workers; its dependencies must be installed there.
        kwargs.update(address=address, runtime_env={"py_modules": [rl_sweep]})
    else:
        kwargs.update(include_dashboard=dashboard, dashboard_host="127.0.0.1")
    url = ray.init(**kwargs).dashboard_url
    if url:
        print(f"Ray dashboard: http://{url}\n  Token authentication is on: when the page asks for a token, "
              f"paste the output of `ray get-auth-token` (the token is in ~/.ray/auth_token).", flush=True)


def run_config(options: SweepOptions, name: str, callbacks: Sequence[Any] = ()):
    """Tune's run settings, the same for a sweep and a search: where its state goes, the live table
    instead of Tune's output, restarts from the last checkpoint, checkpoints kept."""
    from ray import tune

    from rl_sweep.progress import LiveTable

    return tune.RunConfig(
        name=name,
        storage_path=str(Path(options.results_dir) / "sweeps"),
        verbose=0,
        callbacks=[LiveTable(), *callbacks],
        failure_config=tune.FailureConfig(max_failures=options.max_failures),
        checkpoint_config=tune.CheckpointConfig(checkpoint_frequency=1, num_to_keep=2),
    )


def build_tuner(options: SweepOptions, callbacks: Sequence[Any] = (), resume: bool = False):
    """The Tuner of the sweep; with ``resume``, restored from its folder."""
    from ray import tune

    from rl_sweep.trainable import RunTrainable

    if resume:
        return tune.Tuner.restore(str(options.sweep_dir), RunTrainable, resume_errored=True)
    param_space = {
        "algo": tune.grid_search(options.algos),
        "seed": tune.grid_search(list(range(options.seed_start, options.seed_start + options.seeds))),
        "env_name": options.env_name,
        "preset": options.preset,
        "total_timesteps": tune.sample_from(functools.partial(_trial_timesteps, options)),
        "checkpoint_interval": tune.sample_from(functools.partial(_trial_interval, options)),
        "eval_episodes": options.eval_episodes,
        "conda_env": options.conda_env,
        "cpus_per_trial": options.cpus_per_trial,
        "output_dir": tune.sample_from(functools.partial(_trial_output_dir, options.results_dir)),
    }
    return tune.Tuner(
        RunTrainable,
        param_space=param_space,
        tune_config=tune.TuneConfig(max_concurrent_trials=options.max_concurrent, reuse_actors=True,
                                    trial_name_creator=trial_name, trial_dirname_creator=trial_name),
        run_config=run_config(options, options.name, callbacks),
    )


def summarize(options: SweepOptions, result_grid: Any, started: str) -> dict[str, Any]:
    """``summary.json``: every trial's status, final reward, steps, wall time and experiment folder."""
    trials = []
    for result in result_grid:
        metrics = result.metrics or {}
        config = result.config or {}
        if result.error is not None:
            status = "failed"
        elif metrics.get("done"):
            status = "completed"
        else:
            status = "incomplete"
        trials.append({
            "trial": f"{config.get('algo')}_seed{config.get('seed')}",
            "algo": config.get("algo"),
            "seed": config.get("seed"),
            "status": status,
            "final_reward_mean": metrics.get("final_reward_mean"),
            "final_reward_std": metrics.get("final_reward_std"),
            "converged": metrics.get("converged"),
            "timesteps": metrics.get("timesteps_total", 0),
            "wall_time_seconds": metrics.get("time_total_s"),
            "experiment_dir": config.get("output_dir"),
            "error": str(result.error).splitlines()[0] if result.error is not None else None,
        })
    order = {algo: i for i, algo in enumerate(options.algos)}
    trials.sort(key=lambda t: (order.get(t["algo"], len(order)), t["seed"] or 0))
    statuses = {t["status"] for t in trials}
    status = "completed" if statuses == {"completed"} else "failed" if "failed" in statuses else "interrupted"
    return {"sweep": options.name, "status": status, "command": options.command,
            "started": started, "finished": utc_now(), "options": asdict(options), "trials": trials}


def print_summary(summary: dict[str, Any], stream=sys.stdout) -> None:
    print(f"\nSweep {summary['sweep']}: {summary['status']}", file=stream)
    print(f"{'trial':<16} {'status':<11} {'steps':>8} {'final reward':>13} {'wall s':>8}  experiment", file=stream)
    for t in summary["trials"]:
        reward = "-" if t["final_reward_mean"] is None else f"{t['final_reward_mean']:.1f} ± {t['final_reward_std']:.1f}"
        wall = "-" if t["wall_time_seconds"] is None else f"{t['wall_time_seconds']:.0f}"
        print(f"{t['trial']:<16} {t['status']:<11} {t['timesteps']:>8} {reward:>13} {wall:>8}  {t['experiment_dir']}",
              file=stream)
    for algo in sorted({t["algo"] for t in summary["trials"]}):
        rewards = [t["final_reward_mean"] for t in summary["trials"]
                   if t["algo"] == algo and t["final_reward_mean"] is not None]
        if rewards:
            print(f"{algo}: mean final reward {sum(rewards) / len(rewards):.1f} over {len(rewards)} seed(s)",
                  file=stream)


def run_sweep(options: SweepOptions, *, resume: bool = False, address: str | None = None,
              dashboard: bool = True, verbose: bool = False, callbacks: Sequence[Any] = ()) -> tuple[ExitCode, dict]:
    """Run (or resume) the sweep to its end; write and return its summary."""
    import ray

    configs = check_before_start(options)
    options.sweep_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        write_json_atomic(options.sweep_dir / "sweep.json", asdict(options))
    started = utc_now()
    start_ray(address, dashboard, verbose)
    steps = "/".join(str(n) for n in dict.fromkeys(c.total_timesteps for c in configs))
    print(f"Sweep {options.name}: {len(configs)} trial(s) of {steps} steps, preset {options.preset}, on "
          f"{ray.cluster_resources().get('CPU', 0):.0f} CPU(s); files in {options.results_dir}", flush=True)
    result_grid = build_tuner(options, callbacks, resume).fit()
    summary = summarize(options, result_grid, started)
    print_summary(summary)
    try:
        summary["report"] = write_report(trials_from_summary(summary), options.sweep_dir, options.command)
        print(f"Report: {options.sweep_dir / 'report.html'}")
    except Exception as exc:  # the trials' files stand without it; rl-report --sweep retries
        log.error("the comparison report failed: %s; retry with rl-report --sweep %s", exc, options.name)
    write_json_atomic(options.sweep_dir / "summary.json", summary)
    if summary["status"] == "completed":
        return ExitCode.OK, summary
    not_done = [t["trial"] for t in summary["trials"] if t["status"] != "completed"]
    if summary["status"] == "failed":
        log.error("trials not completed: %s (see summary.json)", ", ".join(not_done))
        return ExitCode.FAILED, summary
    log.warning("sweep interrupted; trials not completed: %s. Continue with: rl-sweep --resume %s%s",
                ", ".join(not_done), options.name,
                "" if options.results_dir == str(Path("results").resolve()) else f" --results-dir {options.results_dir}")
    return ExitCode.INTERRUPTED, summary


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rl-sweep``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    configure_console(args.verbose)
    try:
        options = options_from_args(args, argv)
        if options.search:
            from rl_sweep.search import run_search

            code, _ = run_search(options, address=args.address, dashboard=args.dashboard, verbose=args.verbose)
        else:
            code, _ = run_sweep(options, resume=bool(args.resume), address=args.address,
                                dashboard=args.dashboard, verbose=args.verbose)
        return int(code)
    except PipelineError as exc:
        log.error("%s", exc)
        return int(exc.exit_code)


if __name__ == "__main__":
    sys.exit(main())
