"""``rl-sweep`` / ``python -m rl_sweep.sweep``: contract runs across algorithms and seeds on Ray Tune."""

from __future__ import annotations

import argparse
import json
import logging
import shlex
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from rl_sweep.cli import (
    Parser, add_training_options, env_kwargs_of, exit_code_of, ignore_signals_from_now_on, positive_float,
    positive_int, preset_of, program,
)
from rl_sweep.errors import ConfigError
from rl_sweep.logs import configure_console
from rl_sweep.presets import DEFAULT_ENV
from rl_sweep.decision import DecisionSettings
from rl_sweep.files import names
from rl_sweep.run.config import ALGORITHMS, DEFAULT_SEED
from rl_sweep.storage import Storage, sweep_folder
from rl_sweep.sweep.cluster import stop_ray
from rl_sweep.sweep.variants import Variant, parse_variant, plain, read_variants_file
from rl_sweep.sweep.options import (
    MAX_FAILURES, RESULTS_DIR, SEARCH_SEEDS, SEEDS, TUNING_SEEDS, ClusterSettings, ReportSettings, RunSettings, SearchSettings,
    SweepOptions, TrialGrid,
)

log = logging.getLogger("rl_sweep.sweep")
DECISION = DecisionSettings()  # AdaStop's defaults


EPILOG = """\
files, in {results-dir}/sweeps/{name}/ ({results-dir}: a folder or a storage URI such as s3://...):
  sweep.json, summary.json, report.md, report.html, comparison.json, learning_curves.png,
  final_performance.png (per environment with several: learning_curves_{env}.png, ..., performance_profiles.png),
  replays/{algo}_seed{seed}.mp4 (the best, median and worst seed of each algorithm; --no-replays: none);
  {algo}_seed{seed}/ per trial, the files of rl-train ({env}/{algo}_seed{seed}/ with several --envs,
  {variant}/{algo}_seed{seed}/ with named --variants);
  tune/ Ray Tune's state and checkpoints (tune_round{k}/ for --until-decided --no-speculate);
  earlier_*/ files set aside, never deleted: a speculative trial --until-decided did not need, or what an
  interrupted trial saved after the checkpoint its resume restarted from (earlier_{time}_{trial}/).

exit codes: 0 every trial completed; 2 a trial failed; 3 invalid arguments; 4 conda mismatch;
5 environment creation failed; 7 interrupted (continue with --resume NAME).

examples:
  rl-sweep --algos ppo a2c --seeds 5
  rl-sweep --algos ppo --seeds 3 --timesteps 20000 --name quick
  rl-sweep --envs LunarLander-v3 CartPole-v1 Acrobot-v1 --preset tuned --seeds 5   # across environments
  rl-sweep --env LunarLander-v3 --env-kwargs continuous=true enable_wind=true --seeds 5
  rl-sweep --env mypackage.envs:Corridor-v0 --address HEAD_IP:6379 --py-modules ./mypackage --results-dir s3://b/rl
  rl-sweep --resume quick
  rl-sweep --address auto --cpus-per-trial 1 --max-concurrent 32 --seeds 10
  rl-sweep --address HEAD_IP:6379 --results-dir s3://my-bucket/rl --seeds 10 --name big   # on a cluster
  rl-sweep --preset tuned --algos ppo a2c --seeds 5      # lands the lander (about 18 min on 2 CPUs)
  rl-sweep --until-decided --preset tuned --algos ppo a2c           # seeds until AdaStop decides
  rl-sweep --search 8 --preset tuned --algos ppo --timesteps 600000
  rl-sweep --search 12 --seeds 3 --preset tuned --algos a2c          # each setting on 3 seeds
  rl-sweep --variants ppo ppo@tuned a2c@tuned --until-decided       # every pair decided
  rl-sweep --variants ppo mine=ppo@my_ppo.yaml --baseline ppo --until-decided
  rl-sweep --variants-file variants.yaml --baseline ppo-base --seeds 10

--variants-file FILE.yaml names each variant and its settings (every key but algo optional; config is
relative to the file; neither preset nor config: the sweep's --preset):
  ppo-lr-low:
    algo: ppo
    preset: tuned
    hyperparameters: {learning_rate: 0.0001}
    policy_kwargs: {net_arch: [64, 64]}
    n_envs: 8
    normalize: true

--search N takes N settings per algorithm, the preset's own and samples of its 'search' block, and
trains each on the same --seeds seeds (drawn from 1,000..999,999 by --seed-start, never a sweep's);
ASHA stops trailing trials early (training reward at 1/4 and 1/2 of the run; --no-early-stopping
turns it off: ASHA favours fast starters, not stable finishers). Settings completed on
every seed are ranked by their mean final evaluation. It writes search.json (settings best first,
and every trial) and best.yaml (a preset for --config) in {results-dir}/sweeps/{name}/, and the
trials' files in its trials/ folder.

--tune N (a fair fight) tunes every variant with the same budget, then decides between their best
settings: N settings per variant (its own values, then samples of its preset's 'search' block; the
contract preset's are the RL Zoo's ranges), each on the same --tuning-seeds seeds and steps per run
(give --timesteps when the presets' differ), ASHA off (--early-stopping: on). Each variant's best setting by its
mean tuning score then enters --until-decided rounds on seeds from --seed-start, which never meet a
tuning seed. Files: tuning.json (every setting, best first, and the chosen ones), tuning/{variant}/
(its trials, tune/ and best.yaml, the chosen setting as a preset for --config; tuning/{env}/{variant}/
with several --envs), then the deciding runs as for any sweep. The report leads with the decision and
the budget, and shows each variant's sensitivity to its settings and the chosen setting's tuning score
beside its score on fresh seeds. --resume continues either phase.
  rl-sweep --tune 16 --variants ppo a2c --env LunarLander-v3 --timesteps 200000
"""


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rl-sweep",
        description="Train every (algorithm, seed) run of the contract at once on a Ray cluster: a local one "
                    "sized to this machine by default, or an existing one with --address.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--algos", nargs="+", choices=ALGORITHMS, default=None, metavar="ALGO",
                        help="algorithms to compare, each on --preset: ppo, a2c (default: ppo a2c)")
    parser.add_argument("--variants", nargs="+", default=None, metavar="VARIANT",
                        help="variants to compare instead, each an algorithm with its settings: ALGO (on --preset), "
                             "ALGO@PRESET (ppo@tuned), ALGO@FILE.yaml (named ALGO@FILE), NAME=ALGO@... to name it; "
                             "each variant's runs in sweeps/{name}/{variant}/")
    parser.add_argument("--variants-file", type=Path, default=None, metavar="FILE.yaml",
                        help="variants in YAML, one block each: {NAME: {algo, preset or config, hyperparameters, "
                             "policy_kwargs, n_envs, normalize}} (see below)")
    parser.add_argument("--seeds", type=positive_int, default=None, metavar="N",
                        help=f"number of seeds per variant (default: {SEEDS}); with --search, per setting "
                             f"(default: {SEARCH_SEEDS})")
    parser.add_argument("--seed-start", type=int, default=DEFAULT_SEED, metavar="SEED",
                        help="first seed; seeds are SEED..SEED+N-1 (default: %(default)s)")
    add_training_options(parser)
    parser.add_argument("--envs", nargs="+", action="extend", default=None, metavar="ENV",
                        help="several environments: one trial per (environment, algorithm, seed), each "
                             "environment's trials in sweeps/{name}/{env}/, and a report across them "
                             "(instead of --env)")
    parser.add_argument("--py-modules", nargs="+", action="extend", type=Path, default=[], metavar="DIR",
                        help="folders of your own Python packages (an environment module for --env "
                             "package.module:EnvId-v0): imported here too, and shipped to every Ray worker")
    parser.add_argument("--results-dir", default=RESULTS_DIR, metavar="DIR|URI",
                        help="where sweeps/{name}/ goes: a local folder, or storage every node of a cluster reaches, "
                             "e.g. s3://bucket/prefix (query parameters such as endpoint_override=HOST:PORT and "
                             "scheme=http for an S3-compatible server), gs://bucket/prefix (default: %(default)s)")
    parser.add_argument("--name", default=None,
                        help="sweep name, the name of its folder; a name in use is refused unless --resume "
                             "(default: sweep_{UTC timestamp})")
    parser.add_argument("--search", type=positive_int, default=0, metavar="N",
                        help="search hyperparameters instead: N settings per algorithm (the preset's own and "
                             "samples of its search space), each on --seeds seeds, ASHA early stopping "
                             "(see below)")
    parser.add_argument("--early-stopping", action=argparse.BooleanOptionalAction, default=None,
                        help="ASHA stops trailing trials at 1/4 and 1/2 of the run: on for --search (--no-early-"
                             "stopping trains every trial to the end, for algorithms whose early reward says little "
                             "about the final one); off for --tune, where it would stop a setting on one tuning seed "
                             "and not on another")
    fair = parser.add_argument_group("a fair fight: tune every variant with the same budget, then decide")
    fair.add_argument("--tune", type=positive_int, default=0, metavar="N",
                      help="tune each variant first: N settings (its own and samples of its preset's search space), "
                           "each on --tuning-seeds seeds, the same steps per run for all; then decide between each "
                           "one's best setting on fresh seeds from --seed-start (implies --until-decided; see below)")
    fair.add_argument("--tuning-seeds", type=positive_int, default=None, metavar="M",
                      help="seeds each setting of --tune trains on, drawn from 1,000..999,999, never a deciding seed "
                           f"(default: {TUNING_SEEDS})")
    decide = parser.add_argument_group("deciding the comparison (AdaStop)")
    decide.add_argument("--until-decided", action="store_true",
                        help="instead of a fixed --seeds: rounds of --seeds-per-round seeds per algorithm until "
                             "AdaStop decides every comparison (on each environment), or --max-rounds")
    decide.add_argument("--seeds-per-round", type=int, default=DECISION.seeds_per_round, metavar="N",
                        help="seeds per algorithm in each round, 2 or more (default: %(default)s)")
    decide.add_argument("--max-rounds", type=int, default=DECISION.max_rounds, metavar="K",
                        help="rounds at most; after them an undecided comparison is 'not shown different' "
                             "(default: %(default)s)")
    decide.add_argument("--speculate", action=argparse.BooleanOptionalAction, default=True,
                        help="start the next round's seeds on CPUs that would idle while a round's last trials "
                             "finish, stopped and set aside if the round decides, and pause a trial at a round's "
                             "tail where starting the round's next one in its place ends the round sooner (it "
                             "resumes from its checkpoint); changes no trial and no decision (default: on; "
                             "--no-speculate: one Tune run per round)")
    decide.add_argument("--alpha", type=float, default=DECISION.alpha, metavar="A",
                        help="family-wise error of all the comparisons together, in (0, 1) (default: %(default)s)")
    decide.add_argument("--baseline", default=None, metavar="VARIANT",
                        help="compare each variant with this one only, not every pair: fewer comparisons, so a more "
                             "powerful test of the final evaluations (AdaStop's, and the report's one-round test at "
                             "fixed --seeds; the report's other tests still take every pair)")
    parser.add_argument("--resume", metavar="NAME", default=None,
                        help="continue the interrupted sweep NAME; finished trials are not rerun")
    parser.add_argument("--max-failures", type=int, default=MAX_FAILURES, metavar="N",
                        help="restarts of a trial from its last checkpoint after a failure (default: %(default)s)")
    parser.add_argument("--address", default=None,
                        help="attach to an existing Ray cluster ('auto' or host:port) instead of starting one")
    parser.add_argument("--cpus-per-trial", type=positive_float, default=ClusterSettings.cpus_per_trial, metavar="N",
                        help="CPUs reserved by each trial (default: %(default)s)")
    parser.add_argument("--max-concurrent", type=positive_int, default=None, metavar="N",
                        help="most trials at once (default: as many as the cluster's CPUs allow)")
    parser.add_argument("--no-dashboard", dest="dashboard", action="store_false",
                        help="do not start the Ray dashboard (local cluster only)")
    parser.add_argument("--no-replays", dest="replays", action="store_false",
                        help="the report without replays (videos of the best, median and worst seed's policy)")
    parser.add_argument("--verbose", action="store_true",
                        help="DEBUG logging, and the trials' own output on the console")
    return parser


def options_from_args(args: argparse.Namespace, argv: Sequence[str]) -> SweepOptions:
    """The sweep's options: from the command line, or from ``sweep.json`` for ``--resume``."""
    storage = Storage(args.results_dir)
    results_dir = storage.location  # a local folder made absolute, or the URI as given
    if args.resume:
        stored = f"{sweep_folder(args.resume)}/{names.SWEEP}"
        try:
            options = SweepOptions.from_json(json.loads(storage.read_text(stored)))
        except FileNotFoundError:
            raise ConfigError(f"no sweep named {args.resume!r} in {storage.uri('sweeps')}") from None
        options.cluster.results_dir = results_dir  # the folder may have moved
        options.report.replays = options.report.replays and args.replays  # the report's, not the trials': it holds
        if options.search.settings:
            raise ConfigError(f"{args.resume} is a search, which cannot be resumed: start it again")
        return options
    name = args.name or datetime.now(timezone.utc).strftime("sweep_%Y%m%d_%H%M%S_%f")[:-3]  # milliseconds
    if args.tuning_seeds is not None and not args.tune:
        raise ConfigError("--tuning-seeds is the seeds of each setting of --tune: give --tune N too")
    if args.tune and args.seeds is not None:
        raise ConfigError("--tune trains each setting on --tuning-seeds seeds, then decides on rounds of "
                          "--seeds-per-round seeds: not --seeds")
    if args.until_decided and args.seeds is not None:
        raise ConfigError("--until-decided chooses the number of seeds itself: give --seeds-per-round, not --seeds")
    if args.envs and args.env_name:
        raise ConfigError("give --env for one environment or --envs for several, not both")
    for folder in args.py_modules:
        if not folder.is_dir():
            raise ConfigError(f"--py-modules {folder} is not a folder (give a package's folder)")
    preset = str(Path(preset_of(args)).resolve()) if args.config_file else args.preset
    variants = variants_of(args)
    if args.search and variants:
        if len(variants) > 1:
            raise ConfigError("--search searches one variant's space: give one with --variants (or --algos to search "
                              "each algorithm's space in turn)")
        if variants[0].overrides:
            raise ConfigError(f"--search samples a preset's search block: variant {variants[0].name} has values of "
                              "its own; give ALGO@PRESET or ALGO@FILE.yaml")
        preset, variants = variants[0].preset or preset, plain([variants[0].algo])
    return SweepOptions(
        name=name,
        trials=TrialGrid(algos=list(dict.fromkeys(args.algos or ALGORITHMS)), variants=variants,
                         baseline=args.baseline, seed_start=args.seed_start,
                         seeds=args.seeds or (SEARCH_SEEDS if args.search else SEEDS),
                         envs=args.envs or [args.env_name or DEFAULT_ENV], env_kwargs=env_kwargs_of(args)),
        runs=RunSettings(preset=preset,
                         timesteps=args.total_timesteps, checkpoint_interval=args.checkpoint_interval,
                         eval_episodes=args.eval_episodes, fast_numerics=args.fast_numerics,
                         conda_env=args.conda_env),
        cluster=ClusterSettings(results_dir=results_dir, cpus_per_trial=args.cpus_per_trial,
                                max_concurrent=args.max_concurrent, max_failures=args.max_failures,
                                speculate=args.speculate,
                                py_modules=[str(folder.resolve()) for folder in args.py_modules]),
        search=SearchSettings(settings=args.search, tune=args.tune,
                              early_stopping=not args.tune if args.early_stopping is None else args.early_stopping,
                              tuning_seeds=args.tuning_seeds or TUNING_SEEDS),
        decision=(DecisionSettings(seeds_per_round=args.seeds_per_round, max_rounds=args.max_rounds,
                                   alpha=args.alpha) if args.until_decided or args.tune else None),
        report=ReportSettings(replays=args.replays),
        command=shlex.join(["rl-sweep", *argv]),
    )


def variants_of(args: argparse.Namespace) -> list[Variant]:
    """The variants ``--variants`` and ``--variants-file`` name, in that order; none: ``--algos``'."""
    if args.algos and (args.variants or args.variants_file):
        raise ConfigError("give --algos, or --variants / --variants-file, not both (--variants ppo a2c is --algos "
                          "ppo a2c)")
    return [*(parse_variant(spec) for spec in args.variants or []),
            *(read_variants_file(args.variants_file) if args.variants_file else [])]


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rl-sweep``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    args = build_parser().parse_args(argv)
    configure_console(args.verbose)

    def command() -> int:
        options = options_from_args(args, argv)
        for folder in options.cluster.py_modules:  # the driver makes the environment too, to check it
            sys.path.insert(0, str(Path(folder).parent))
        if options.search.settings:
            from rl_sweep.sweep.search import run_search

            code, _ = run_search(options, address=args.address, dashboard=args.dashboard, verbose=args.verbose)
        elif options.search.tune:
            from rl_sweep.sweep.tuning import run_tuned

            code, _ = run_tuned(options, resume=bool(args.resume), address=args.address, dashboard=args.dashboard,
                                verbose=args.verbose)
        elif options.decision is not None:
            from rl_sweep.sweep.rounds import run_rounds

            code, _ = run_rounds(options, resume=bool(args.resume), address=args.address, dashboard=args.dashboard,
                                 verbose=args.verbose)
        else:
            from rl_sweep.sweep.runner import run_sweep

            code, _ = run_sweep(options, resume=bool(args.resume), address=args.address,
                                dashboard=args.dashboard, verbose=args.verbose)
        return code

    code = exit_code_of(command)
    ignore_signals_from_now_on()
    stop_ray()
    return code


entry = program(main)  # the rl-sweep program
