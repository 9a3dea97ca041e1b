"""``rl-report``: the comparison report of a sweep, or of any experiment folders.

Writes ``learning_curves.png``, ``final_performance.png``, ``report.md``, a self-contained
``report.html`` (images embedded) and ``summary.json`` (the numbers, under the key ``report``).
``rl-sweep`` writes the same report into its sweep folder when it ends.
"""

from __future__ import annotations

import argparse
import base64
import html
import json
import logging
import platform
import sys
from collections.abc import Sequence
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from rl_sweep.atomic import write_atomic, write_json_atomic
from rl_sweep.cli import Parser
from rl_sweep.comparison import (
    CURVE_REPS, MIN_SEEDS, REPS, Trial, compare, learning_curve_area, load_trial, steps_to_threshold,
)
from rl_sweep.errors import ExitCode, PipelineError
from rl_sweep.logs import configure_console, utc_now

log = logging.getLogger("rl_sweep.report")

PACKAGES = ("rl-sweep", "stable-baselines3", "gymnasium", "torch", "numpy", "ray", "rliable", "matplotlib")
Block = tuple  # ("h1"|"h2"|"p"|"code", text) | ("table", header, rows) | ("img", file, alt)


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def _num(value: float | None, digits: int = 1) -> str:
    return "n/a" if value is None else f"{value:,.{digits}f}"


def _ci(value: float | None, ci: list[float] | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return _num(value, digits) + (f" [{_num(ci[0], digits)}, {_num(ci[1], digits)}]" if ci else "")


def verdict(stats: dict[str, Any]) -> list[str]:
    """Plain-language conclusions; says when there are too few seeds to tell."""
    algos = [a for a, s in stats["algorithms"].items() if s["seeds_completed"]]
    threshold = stats["reward_threshold"]
    lines = []
    for algo, s in stats["algorithms"].items():
        if s["not_completed"]:
            lines.append(f"{algo.upper()}: {len(s['not_completed'])} of {s['seeds']} runs did not complete "
                         f"({', '.join(f'{k} {v}' for k, v in s['not_completed'].items())}); they are left out "
                         "of every statistic.")
    if not algos:
        return lines + ["No run completed: there is nothing to compare."]
    if threshold is not None:
        for algo in algos:
            s = stats["algorithms"][algo]
            lines.append(f"{algo.upper()}: {s['seeds_reaching_threshold']} of {s['seeds_completed']} seeds reach the "
                         f"reward threshold of {threshold:g} in evaluation.")
    if len(algos) < 2:
        return lines + [f"Only {algos[0].upper()} has completed runs: nothing to compare it with."]
    few = [a for a in algos if stats["algorithms"][a]["seeds_completed"] < MIN_SEEDS]
    x, y = algos[0], algos[1]
    sx, sy = stats["algorithms"][x], stats["algorithms"][y]
    if few:
        counts = ", ".join(f"{a.upper()} has {stats['algorithms'][a]['seeds_completed']}" for a in few)
        return lines + [
            f"Too few seeds to tell: {counts} "
            f"completed run(s), and with fewer than {MIN_SEEDS} per algorithm confidence intervals mean nothing. "
            f"Point estimates only: mean final reward {x.upper()} {_num(sx['mean'])}, {y.upper()} {_num(sy['mean'])}. "
            f"Run more seeds (rl-sweep --seeds 5 or more) before drawing a conclusion."
        ]
    p = stats["probability_of_improvement"][f"{x}>{y}"]
    low, high = p["ci"]
    if low > 0.5 or high < 0.5:
        # Say it the way round that names the winner: P(Y > X) = 1 - P(X > Y).
        better, worse = (x, y) if low > 0.5 else (y, x)
        point, low, high = (p["point"], low, high) if low > 0.5 else (1 - p["point"], 1 - high, 1 - low)
        b, w = stats["algorithms"][better], stats["algorithms"][worse]
        lines.append(f"Final performance: {better.upper()} is better than {worse.upper()}: "
                     f"P({better.upper()} > {worse.upper()}) = {point:.2f} (95% CI {low:.2f} to {high:.2f}); "
                     f"IQM {_ci(b['iqm'], b.get('iqm_ci'))} vs {_ci(w['iqm'], w.get('iqm_ci'))}.")
    else:
        lines.append(f"Final performance: no reliable difference between {x.upper()} and {y.upper()}: "
                     f"P({x.upper()} > {y.upper()}) = {p['point']:.2f}, and its 95% CI ({low:.2f} to {high:.2f}) "
                     "contains 0.5. More seeds would narrow it.")
    ax, ay = sx.get("auc_ci"), sy.get("auc_ci")
    if ax and ay and (ax[0] > ay[1] or ay[0] > ax[1]):
        faster, slower = (x, y) if ax[0] > ay[1] else (y, x)
        f, sl = stats["algorithms"][faster], stats["algorithms"][slower]
        line = (f"Learning speed: {faster.upper()} learned faster: its mean training reward over the run "
                f"(area under the learning curve) is {_num(f['auc_mean'])} vs {_num(sl['auc_mean'])}, "
                "with non-overlapping 95% CIs")
        end_fast, end_slow = f["final_training_reward_mean"], sl["final_training_reward_mean"]
        if end_fast is not None and end_slow is not None and end_slow > end_fast:
            line += (f"; but {slower.upper()}'s training curve ends higher ({_num(end_slow)} vs {_num(end_fast)}): "
                     "the curves cross")
        lines.append(line + ".")
    elif ax and ay:
        lines.append("Learning speed: the areas under the learning curves overlap at 95% confidence: "
                     "no reliable difference in how fast they learned.")
    return lines


def reproduce_command(trials: list[Trial]) -> str:
    """The rl-sweep command that runs these trials again."""
    algos = list(dict.fromkeys(t.algo for t in trials))
    seeds = sorted({t.seed for t in trials if t.seed is not None})
    known = next((t for t in trials if t.config), None)
    parts = ["rl-sweep", "--algos", *algos, "--seeds", str(len(seeds))]
    if seeds and seeds[0] != 42:
        parts += ["--seed-start", str(seeds[0])]
    if known:
        parts += ["--timesteps", str(known.config["timesteps"]),
                  "--checkpoint-interval", str(known.config["checkpoint_interval"]),
                  "--env", known.env_name, "--eval-episodes", str(known.eval_episodes)]
        preset = known.config.get("preset", "contract")
        if preset != "contract":
            parts += ["--config" if preset.endswith((".yaml", ".yml")) else "--preset", preset]
    return " ".join(parts)


def _blocks(trials: list[Trial], stats: dict[str, Any], lines: list[str], command: str,
            found_versions: dict[str, str]) -> list[Block]:
    algos = list(stats["algorithms"])
    threshold = stats["reward_threshold"]
    env = stats["environment"] or "the environment"
    t = f"{threshold:g}" if threshold is not None else "threshold"
    a = {algo: stats["algorithms"][algo] for algo in algos}

    def row(label: str, cell) -> list[str]:
        return [label] + [cell(a[algo]) if a[algo]["seeds_completed"] else "no completed run" for algo in algos]

    eval_episodes = sorted({tr.eval_episodes for tr in trials if tr.eval_episodes})
    table = [
        row("seeds completed / run", lambda s: f"{s['seeds_completed']} / {s['seeds']}"),
        row("mean ± std", lambda s: f"{_num(s['mean'])} ± {_num(s['std'])}"),
        row("median [95% CI]", lambda s: _ci(s["median"], s.get("median_ci"))),
        row("IQM [95% CI]", lambda s: _ci(s["iqm"], s.get("iqm_ci"))),
        row(f"optimality gap to {t} [95% CI]", lambda s: _ci(s["optimality_gap"], s.get("optimality_gap_ci"))),
        row(f"seeds reaching {t} (evaluation)", lambda s: f"{s['seeds_reaching_threshold']} / {s['seeds_completed']}"),
        row(f"steps to reach {t} (training curve, median)", lambda s: (
            f"{_num(s['median_steps_to_threshold'], 0)} ({s['seeds_reaching_threshold_in_training']} seeds)"
            if s["median_steps_to_threshold"] is not None else "not reached")),
        row("area under learning curve [95% CI]", lambda s: _ci(s["auc_mean"], s.get("auc_ci"))),
        row("training time per run (s)", lambda s: _num(s["training_time_mean"])),
        row("steps per second", lambda s: _num(s["steps_per_second_mean"], 0)),
    ]
    pairs = [[f"P({k.split('>')[0].upper()} > {k.split('>')[1].upper()})",
              "n/a" if v["point"] is None else _ci(v["point"], v["ci"], 2)]
             for k, v in stats["probability_of_improvement"].items()]
    trial_rows = [[tr.name, tr.status, _num(tr.final_reward), f"{tr.timesteps:,}",
                   _num(steps_to_threshold(tr), 0) if tr.completed and steps_to_threshold(tr) else "not reached"
                   if tr.completed else "", tr.experiment_dir] for tr in trials]
    ci_note = (f"Intervals are 95% stratified-bootstrap confidence intervals (rliable), shown only for "
               f"algorithms with at least {MIN_SEEDS} completed seeds.")
    return [
        ("h1", f"{' vs '.join(x.upper() for x in algos)} on {env}"),
        ("h2", "Verdict"),
        *[("p", line) for line in lines],
        ("img", "learning_curves.png", "Learning curves: training return against environment steps"),
        ("img", "final_performance.png", "Final evaluation return per algorithm"),
        ("h2", "Final performance"),
        ("p", f"Final performance is the final model's deterministic policy evaluated on "
              f"{'/'.join(map(str, eval_episodes)) or 'n/a'} episodes of a separately seeded environment. "
              f"IQM is the interquartile mean across seeds (the mean of the middle 50%). The optimality gap "
              f"is how far below {t} the seeds fall on average. Steps to reach {t}: first time the training "
              f"curve (mean of the last 100 training episodes) crosses it. {ci_note}"),
        ("table", ["", *[x.upper() for x in algos]], table),
        ("h2", "Probability of improvement"),
        ("p", "P(X > Y): the probability that a run of X ends with a higher final reward than a run of Y "
              "(Mann-Whitney U statistic), with its 95% stratified-bootstrap CI."),
        ("table", ["", "estimate [95% CI]"], pairs),
        ("h2", "Runs"),
        ("table", ["run", "status", "final reward", "steps", f"steps to {t}", "experiment folder"], trial_rows),
        ("h2", "Reproduce"),
        ("code", command),
        ("h2", "Versions"),
        ("p", ", ".join(f"{k} {v}" for k, v in found_versions.items())),
    ]


def to_markdown(blocks: list[Block]) -> str:
    out = []
    for block in blocks:
        kind = block[0]
        if kind == "h1":
            out.append(f"# {block[1]}\n")
        elif kind == "h2":
            out.append(f"## {block[1]}\n")
        elif kind == "p":
            out.append(f"{block[1]}\n")
        elif kind == "code":
            out.append(f"```bash\n{block[1]}\n```\n")
        elif kind == "img":
            out.append(f"![{block[2]}]({block[1]})\n")
        elif kind == "table":
            header, rows = block[1], block[2]
            lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
            lines += ["| " + " | ".join(str(c) for c in r) + " |" for r in rows]
            out.append("\n".join(lines) + "\n")
    return "\n".join(out)


def to_html(blocks: list[Block], folder: Path) -> str:
    """A single page: images embedded as data URIs, so it reads offline and can be mailed."""
    esc = html.escape
    body = []
    for block in blocks:
        kind = block[0]
        if kind in ("h1", "h2"):
            body.append(f"<{kind}>{esc(block[1])}</{kind}>")
        elif kind == "p":
            body.append(f"<p>{esc(block[1])}</p>")
        elif kind == "code":
            body.append(f"<pre><code>{esc(block[1])}</code></pre>")
        elif kind == "img":
            data = base64.b64encode((folder / block[1]).read_bytes()).decode()
            body.append(f'<figure><img src="data:image/png;base64,{data}" alt="{esc(block[2])}">'
                        f"<figcaption>{esc(block[2])}</figcaption></figure>")
        elif kind == "table":
            head = "".join(f"<th>{esc(str(h))}</th>" for h in block[1])
            rows = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in r) + "</tr>" for r in block[2])
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    title = esc(blocks[0][1])
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
             "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;"
             "text-align:left}th{background:#f3f3f3}img{max-width:100%}figure{margin:1rem 0}"
             "figcaption{color:#555;font-size:.9rem}pre{background:#f6f6f6;padding:.6rem;overflow-x:auto}")
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n")


def write_report(trials: list[Trial], out_dir: Path, command: str | None = None,
                 reps: int = REPS) -> dict[str, Any]:
    """Write the figures, report.md and report.html into ``out_dir``; return the report's numbers.

    :param reps: bootstrap replicates of each confidence interval (the learning-curve band uses
        at most ``CURVE_REPS``).
    """
    from rl_sweep import plots  # matplotlib only when a report is made

    out_dir.mkdir(parents=True, exist_ok=True)
    stats = compare(trials, reps)
    env = stats["environment"] or "the environment"
    plots.learning_curves(trials, stats["reward_threshold"], env, out_dir / "learning_curves.png",
                          min(reps, CURVE_REPS))
    plots.final_performance(trials, stats["algorithms"], stats["reward_threshold"], env,
                            out_dir / "final_performance.png")
    lines = verdict(stats)
    command = command or reproduce_command(trials)
    found_versions = versions()
    blocks = _blocks(trials, stats, lines, command, found_versions)
    markdown, page = to_markdown(blocks), to_html(blocks, out_dir)
    write_atomic(out_dir / "report.md", lambda f: f.write(markdown.encode()))
    write_atomic(out_dir / "report.html", lambda f: f.write(page.encode()))
    return {
        **stats,
        "verdict": lines,
        "runs": [{"run": t.name, "algo": t.algo, "seed": t.seed, "status": t.status,
                  "final_reward_mean": t.final_reward, "timesteps": t.timesteps,
                  "steps_to_threshold": steps_to_threshold(t) if t.completed else None,
                  "learning_curve_area": learning_curve_area(t) if t.completed else None,
                  "experiment_dir": t.experiment_dir} for t in trials],
        "command": command,
        "versions": found_versions,
        "generated": utc_now(),
    }


def trials_from_summary(summary: dict[str, Any]) -> list[Trial]:
    """The trials a sweep summary lists, each with the status the sweep gave it."""
    return [load_trial(Path(t["experiment_dir"]), status=t["status"], name=t["trial"]) for t in summary["trials"]]


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
                        help="experiment folders ({algo}_seed{seed}) to compare")
    parser.add_argument("--sweep", metavar="NAME", help="report on sweep NAME, into its folder")
    parser.add_argument("--results-dir", type=Path, default=Path("results"), metavar="DIR",
                        help="where sweeps/ lives (default: %(default)s)")
    parser.add_argument("--out", type=Path, metavar="DIR",
                        help="output folder for EXPERIMENT_DIRs (default: results/reports/report_{UTC time})")
    parser.add_argument("--verbose", action="store_true", help="DEBUG logging")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``rl-report``."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_console(args.verbose)
    if bool(args.sweep) == bool(args.experiments):
        parser.error("give either --sweep NAME or experiment folders")
    try:
        if args.sweep:
            out_dir = args.results_dir / "sweeps" / args.sweep
            try:
                summary = json.loads((out_dir / "summary.json").read_text())
            except FileNotFoundError:
                raise PipelineError(f"no sweep summary at {out_dir / 'summary.json'}") from None
            summary["report"] = write_report(trials_from_summary(summary), out_dir, summary.get("command"))
            write_json_atomic(out_dir / "summary.json", summary)
        else:
            stamp = datetime.now(timezone.utc).strftime("report_%Y%m%d_%H%M%S")
            out_dir = args.out or args.results_dir / "reports" / stamp
            report = write_report([load_trial(path) for path in args.experiments], out_dir)
            write_json_atomic(out_dir / "summary.json", {"report": report})
    except PipelineError as exc:
        log.error("%s", exc)
        return int(exc.exit_code)
    print(f"Report: {out_dir / 'report.html'} (and report.md, learning_curves.png, final_performance.png)")
    return int(ExitCode.OK)


if __name__ == "__main__":
    sys.exit(main())
