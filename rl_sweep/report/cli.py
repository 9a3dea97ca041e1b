"""``rl-report`` / ``python -m rl_sweep.report``: the comparison report of a sweep, or of any experiment folders.

Writes ``learning_curves.png``, ``final_performance.png``, ``report.md``, a self-contained
``report.html`` (images embedded), ``comparison.json`` (every number the report shows, and AdaStop's decision)
and ``summary.json`` (the same numbers, under the key ``report``). Runs of
several environments get a section each, with their figures named after the environment
(``learning_curves_CartPole-v1.png``), and a comparison across them (``performance_profiles.png``).
``rl-sweep`` writes the same report into its sweep folder when it ends.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from rl_sweep.atomic import write_json_atomic
from rl_sweep.cli import Parser, exit_code_of
from rl_sweep.errors import ConfigError, ExitCode, PipelineError
from rl_sweep.logs import configure_console
from rl_sweep.storage import Storage, sweep_folder


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="rl-report",
        description="Compare algorithms across seeds: learning curves, final performance with IQM and "
                    "stratified-bootstrap confidence intervals (rliable), probability of improvement, "
                    "and a plain-language verdict.",
        epilog="examples:\n  rl-report --sweep sweep_20261125_101500\n"
               "  rl-report results/experiments/ppo_seed4* results/experiments/a2c_seed4* --out results/reports/mine",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("experiments", nargs="*", type=Path, metavar="EXPERIMENT_DIR",
                        help="experiment folders ({algo}_seed{seed}) to compare, of one environment or several")
    parser.add_argument("--sweep", metavar="NAME", help="report on sweep NAME, into its folder")
    parser.add_argument("--results-dir", default="results", metavar="DIR",
                        help="where sweeps/ lives: a folder or a storage URI such as s3://bucket/prefix "
                             "(default: %(default)s)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder for EXPERIMENT_DIRs (default: results/reports/report_{UTC time})")
    parser.add_argument("--verbose", action="store_true", help="DEBUG logging")
    return parser


def report(args: argparse.Namespace) -> int:
    """Write the report the arguments ask for; print where it is."""
    from rl_sweep.report.document import write_report, write_sweep_report  # rliable, matplotlib: after parsing
    from rl_sweep.report.runs import load_run

    if args.sweep:
        storage, folder = Storage(args.results_dir), sweep_folder(args.sweep)
        try:
            summary = json.loads(storage.read_text(folder, "summary.json"))
        except FileNotFoundError:
            raise PipelineError(f"no sweep summary at {storage.uri(folder, 'summary.json')}") from None
        summary["report"] = write_sweep_report(storage, folder, summary)
        storage.write_json(summary, folder, "summary.json")
        where = storage.uri(folder, "report.html")
    else:
        stamp = datetime.now(timezone.utc).strftime("report_%Y%m%d_%H%M%S")
        out_dir = args.out or Path(args.results_dir) / "reports" / stamp
        if out_dir.exists() and not out_dir.is_dir():
            raise ConfigError(f"--out {out_dir} is a file: give a folder for the report")
        for path in args.experiments:
            if not path.is_dir():
                raise ConfigError(f"{path} is not an experiment folder ({'a file' if path.exists() else 'not found'})")
        runs = [load_run(path) for path in args.experiments]
        if not any(run.status != "missing" for run in runs):
            raise ConfigError(f"nothing to report: no results JSON in {', '.join(map(str, args.experiments))}")
        write_json_atomic(out_dir / "summary.json", {"report": write_report(runs, out_dir)})
        where = out_dir / "report.html"
    print(f"Report: {where} (and report.md, and the figures beside it)")
    return ExitCode.OK


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rl-report``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_console(args.verbose)
    if bool(args.sweep) == bool(args.experiments):
        parser.error("give either --sweep NAME or experiment folders")
    return exit_code_of(lambda: report(args))
