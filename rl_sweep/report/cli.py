"""``rl-report`` / ``python -m rl_sweep.report``: the comparison report of a sweep, or of any experiment folders.

Writes ``learning_curves.png``, ``final_performance.png``, ``report.md``, ``report.html`` (images embedded),
``replays/`` (a video of each algorithm's best, median and worst seed, which ``report.html`` shows;
``--no-replays`` skips them), ``comparison.json`` (every number the report shows, and AdaStop's decision)
and ``summary.json`` (the same numbers, under the key ``report``). Runs of
several environments get a section each, with their figures named after the environment
(``learning_curves_CartPole-v1.png``) and their replays in ``replays/{env}/``, and a comparison across them
(``performance_profiles.png``). ``rl-sweep`` writes the same report into its sweep folder when it ends; a sweep's
folder given as EXPERIMENT_DIR is reported as ``--sweep`` would.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from rl_sweep.atomic import write_json_atomic
from rl_sweep.cli import Parser, exit_code_of, program
from rl_sweep.errors import ConfigError, ExitCode, PipelineError
from rl_sweep.files import names
from rl_sweep.files.status import MISSING
from rl_sweep.logs import configure_console
from rl_sweep.storage import Storage, sweep_folder


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rl-report",
        description="Compare algorithms across seeds: learning curves, final performance with IQM and "
                    "bootstrap confidence intervals (rliable, from 10 seeds), probability of improvement, "
                    "a plain-language verdict, and replays of the best, median and worst seeds' final policies.",
        epilog="files, in the output folder: report.md, report.html (its figures embedded), comparison.json (every "
               "number\n  the report shows), learning_curves.png, final_performance.png, improvement_matrix.png (3 "
               "variants or more),\n  sensitivity.png (a sweep of --tune), performance_profiles.png (several "
               "environments), replays/.\n\n"
               "exit codes: 0 the report is written (a run it cannot read is listed as unreadable); 2 it failed; "
               "3 invalid\narguments or nothing to report (no results JSON, a seed given twice, no such sweep).\n\n"
               "examples:\n  rl-report --sweep sweep_20261125_101500\n"
               "  rl-report results/sweeps/sweep_20261125_101500 --out results/reports/again --no-replays\n"
               "  rl-report results/experiments/ppo_seed4* results/experiments/a2c_seed4* --out results/reports/mine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("experiments", nargs="*", type=Path, metavar="EXPERIMENT_DIR",
                        help="experiment folders ({algo}_seed{seed}) to compare, of one environment or several, each "
                             "seed once (runs of one environment id with other --env-kwargs are another environment); "
                             "or one sweep's folder (results/sweeps/NAME), reported as --sweep NAME would")
    parser.add_argument("--sweep", metavar="NAME",
                        help="report on sweep NAME, into its folder (or into --out, leaving the sweep's own as it is)")
    parser.add_argument("--results-dir", default="results", metavar="DIR",
                        help="where sweeps/ lives: a folder or a storage URI such as s3://bucket/prefix "
                             "(default: %(default)s)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder (default: the sweep's folder for a sweep, else "
                             "results/reports/report_{UTC time})")
    parser.add_argument("--baseline", metavar="VARIANT",
                        help="with experiment folders: test each variant (an algorithm, or a sweep's --variants name "
                             "its results record) against this one only, not every pair")
    parser.add_argument("--no-replays", dest="replays", action="store_false",
                        help="no replays: skip rendering the best, median and worst seeds' final policies")
    parser.add_argument("--verbose", action="store_true", help="DEBUG logging")
    return parser


def report(args: argparse.Namespace) -> int:
    """Write the report the arguments ask for; print where it is."""
    if args.out is not None and args.out.exists() and not args.out.is_dir():
        raise ConfigError(f"--out {args.out} is a file: give a folder for the report")
    if args.sweep:
        where = report_sweep(Storage(args.results_dir), sweep_folder(args.sweep), args.out, args.replays)
    elif located := sweep_in(args.experiments):
        if args.baseline:
            raise ConfigError("--baseline is for experiment folders: a sweep's report tests what its rl-sweep "
                              "--baseline said")
        where = report_sweep(*located, args.out, args.replays)
    else:
        where = report_folders(args.experiments, args.out or default_out(args.results_dir), args.replays,
                               args.baseline)
    print(f"Report: {where} (and {names.REPORT_MD}, the figures{' and the replays' if args.replays else ''} beside it)")
    return ExitCode.OK


def default_out(results_dir: str) -> Path:
    return Path(results_dir) / "reports" / datetime.now(timezone.utc).strftime("report_%Y%m%d_%H%M%S")


def sweep_in(experiments: list[Path]) -> tuple[Storage, str] | None:
    """The results location and sweep folder of a sweep's folder (``results/sweeps/NAME``, which holds the sweep's
    summary.json) given as the only EXPERIMENT_DIR; None when no EXPERIMENT_DIR is a sweep's folder."""
    sweeps = [path for path in experiments if _is_sweep(path)]
    if not sweeps:
        for path in experiments:
            if (path / names.SWEEP).is_file():
                raise ConfigError(f"{path} is a sweep that has not finished (no {names.SUMMARY} yet): continue it "
                                  f"with rl-sweep --resume {path.resolve().name}")
        return None
    if len(experiments) > 1:
        raise ConfigError(f"{sweeps[0]} is a sweep's folder: report it alone (rl-report {sweeps[0]}), "
                          "or give experiment folders")
    folder = sweeps[0].resolve()
    if folder.parent.name != "sweeps":  # its trials' folders are named from the results location: sweeps/NAME/...
        raise ConfigError(f"{sweeps[0]} holds a sweep's {names.SUMMARY} but is not in a sweeps/ folder; give "
                          "rl-report --sweep NAME --results-dir DIR")
    return Storage(str(folder.parent.parent)), sweep_folder(folder.name)


def _is_sweep(path: Path) -> bool:
    try:
        return "trials" in json.loads((path / names.SUMMARY).read_text())
    except (OSError, ValueError, TypeError):
        return False


def report_sweep(storage: Storage, folder: str, out: Path | None, replays: bool) -> str:
    """The sweep's report, into its folder and its summary.json; with ``out``, into that folder instead (with a
    copy of the sweep's summary, its report added), the sweep's own left as they are."""
    from rl_sweep.report.document import write_sweep_report  # rliable, matplotlib: after parsing

    try:
        summary = json.loads(storage.read_text(folder, names.SUMMARY))
    except FileNotFoundError:
        if not storage.exists(folder, names.SWEEP):
            raise ConfigError(f"no sweep named {folder.rpartition('/')[2]!r} in {storage.uri('sweeps')}") from None
        raise PipelineError(f"no sweep summary at {storage.uri(folder, names.SUMMARY)}") from None
    summary["report"] = write_sweep_report(storage, folder, summary, replays=replays, out_dir=out)
    if out is not None:
        write_json_atomic(out / names.SUMMARY, summary)
        return str(out / names.REPORT_HTML)
    storage.write_json(summary, folder, names.SUMMARY)
    return storage.uri(folder, names.REPORT_HTML)


def report_folders(experiments: list[Path], out: Path, replays: bool, baseline: str | None = None) -> str:
    """The report of experiment folders, into ``out``; ``baseline``: the variant each other is tested against."""
    from rl_sweep.report.document import write_report  # rliable, matplotlib: after parsing
    from rl_sweep.report.runs import load_run, one_folder_per_seed

    for path in experiments:
        if not path.is_dir():
            raise ConfigError(f"{path} is not an experiment folder ({'a file' if path.exists() else 'not found'})")
    runs = [load_run(path) for path in experiments]
    if not any(run.status != MISSING for run in runs):
        raise ConfigError(f"nothing to report: no results JSON in {', '.join(map(str, experiments))}")
    one_folder_per_seed(runs, experiments)
    found = list(dict.fromkeys(run.variant for run in runs))
    if baseline is not None and baseline not in found:
        raise ConfigError(f"--baseline {baseline} is not a variant of these runs: {' '.join(found)}")
    write_json_atomic(out / names.SUMMARY, {"report": write_report(runs, out, replays=replays, baseline=baseline,
                                                                  adaptive=adaptive_sweep(experiments))})
    return str(out / names.REPORT_HTML)


def adaptive_sweep(experiments: list[Path]) -> str | None:
    """The ``rl-sweep --until-decided`` sweep the experiment folders are in (``sweeps/NAME/[ENV/]RUN``, its
    ``sweep.json`` beside them, or ``sweeps/NAME/[ENV/]VARIANT/RUN``), if any: such a sweep chose its seeds from their
    results."""
    for path in experiments:
        for folder in list(path.resolve().parents)[:4]:  # sweeps/NAME/[ENV/][VARIANT/]RUN
            try:
                options = json.loads((folder / names.SWEEP).read_text())
            except (OSError, ValueError):
                continue
            if isinstance(options, dict) and options.get("until_decided"):
                return folder.name
    return None


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rl-report``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_console(args.verbose)
    if bool(args.sweep) == bool(args.experiments):
        parser.error("give either --sweep NAME or experiment folders")
    if args.baseline and args.sweep:
        parser.error("--baseline is for experiment folders: a sweep's report tests what its rl-sweep --baseline said")
    return exit_code_of(lambda: report(args))


entry = program(main)  # the rl-report program
