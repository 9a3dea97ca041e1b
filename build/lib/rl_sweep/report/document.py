"""The report document: the verdict in plain language, the tables, ``report.md`` and a self-contained
``report.html`` (images embedded), built from one list of blocks."""

from __future__ import annotations

import base64
import html
import platform
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable

from rl_sweep.atomic import write_atomic
from rl_sweep.logs import utc_now
from rl_sweep.report.runs import RunRecord, load_run
from rl_sweep.report.statistics import (
    CURVE_REPS, MIN_SEEDS, REPS, AlgorithmStatistics, Comparison, compare, learning_curve_area, steps_to_threshold,
)
from rl_sweep.storage import Storage
from rl_sweep.text import number

REPORT_FILES = ("learning_curves.png", "final_performance.png", "report.md", "report.html")
RUN_FILES = ("_results.json", "_metrics.json")  # what the report reads of a run
PACKAGES = ("rl-sweep", "stable-baselines3", "gymnasium", "torch", "numpy", "ray", "rliable", "matplotlib")


# -- blocks: each knows how it reads in Markdown and in HTML -------------------------------------

@dataclass
class Heading:
    level: int
    text: str

    def markdown(self) -> str:
        return f"{'#' * self.level} {self.text}\n"

    def html(self, folder: Path) -> str:
        return f"<h{self.level}>{html.escape(self.text)}</h{self.level}>"


@dataclass
class Paragraph:
    text: str

    def markdown(self) -> str:
        return f"{self.text}\n"

    def html(self, folder: Path) -> str:
        return f"<p>{html.escape(self.text)}</p>"


@dataclass
class Code:
    text: str

    def markdown(self) -> str:
        return f"```bash\n{self.text}\n```\n"

    def html(self, folder: Path) -> str:
        return f"<pre><code>{html.escape(self.text)}</code></pre>"


@dataclass
class Image:
    file: str
    alt: str

    def markdown(self) -> str:
        return f"![{self.alt}]({self.file})\n"

    def html(self, folder: Path) -> str:
        data = base64.b64encode((folder / self.file).read_bytes()).decode()
        alt = html.escape(self.alt)
        return f'<figure><img src="data:image/png;base64,{data}" alt="{alt}"><figcaption>{alt}</figcaption></figure>'


@dataclass
class Table:
    header: list[str]
    rows: list[list[Any]]

    def markdown(self) -> str:
        lines = ["| " + " | ".join(self.header) + " |", "|" + "---|" * len(self.header)]
        lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in self.rows]
        return "\n".join(lines) + "\n"

    def html(self, folder: Path) -> str:
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in self.header)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>"
                       for row in self.rows)
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"


Block = Heading | Paragraph | Code | Image | Table


def to_markdown(blocks: list[Block]) -> str:
    return "\n".join(block.markdown() for block in blocks)


def to_html(blocks: list[Block], folder: Path) -> str:
    """A single page: images embedded as data URIs, so it reads offline and can be mailed."""
    title = html.escape(blocks[0].text)
    style = ("body{font-family:system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
             "table{border-collapse:collapse;margin:1rem 0}td,th{border:1px solid #ccc;padding:.3rem .6rem;"
             "text-align:left}th{background:#f3f3f3}img{max-width:100%}figure{margin:1rem 0}"
             "figcaption{color:#555;font-size:.9rem}pre{background:#f6f6f6;padding:.6rem;overflow-x:auto}")
    body = "".join(block.html(folder) for block in blocks)
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{title}</title>"
            f"<style>{style}</style></head><body>{body}</body></html>\n")


# -- content -------------------------------------------------------------------------------------

def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


def _num(value: float | None, digits: int = 1) -> str:
    return number(value, digits, thousands=True)


def _ci(value: float | None, ci: list[float] | None, digits: int = 1) -> str:
    if value is None:
        return "n/a"
    return _num(value, digits) + (f" [{_num(ci[0], digits)}, {_num(ci[1], digits)}]" if ci else "")


def verdict(stats: Comparison) -> list[str]:
    """Plain-language conclusions; says when there are too few seeds to tell."""
    by_algo = stats.algorithms
    algos = [a for a, s in by_algo.items() if s.seeds_completed]
    threshold = stats.reward_threshold
    lines = []
    for algo, s in by_algo.items():
        if s.not_completed:
            lines.append(f"{algo.upper()}: {len(s.not_completed)} of {s.seeds} runs did not complete "
                         f"({', '.join(f'{k} {v}' for k, v in s.not_completed.items())}); they are left out "
                         "of every statistic.")
    if not algos:
        return lines + ["No run completed: there is nothing to compare."]
    if threshold is not None:
        for algo in algos:
            s = by_algo[algo]
            lines.append(f"{algo.upper()}: {s.seeds_reaching_threshold} of {s.seeds_completed} seeds reach the "
                         f"reward threshold of {threshold:g} in evaluation.")
    if len(algos) < 2:
        return lines + [f"Only {algos[0].upper()} has completed runs: nothing to compare it with."]
    few = [a for a in algos if by_algo[a].seeds_completed < MIN_SEEDS]
    x, y = algos[0], algos[1]
    sx, sy = by_algo[x], by_algo[y]
    if few:
        counts = ", ".join(f"{a.upper()} has {by_algo[a].seeds_completed}" for a in few)
        return lines + [
            f"Too few seeds to tell: {counts} "
            f"completed run(s), and with fewer than {MIN_SEEDS} per algorithm confidence intervals mean nothing. "
            f"Point estimates only: mean final reward {x.upper()} {_num(sx.mean)}, {y.upper()} {_num(sy.mean)}. "
            f"Run more seeds (rl-sweep --seeds 5 or more) before drawing a conclusion."
        ]
    p = stats.probability_of_improvement[f"{x}>{y}"]
    low, high = p.ci
    if low > 0.5 or high < 0.5:
        # Say it the way round that names the winner: P(Y > X) = 1 - P(X > Y).
        better, worse = (x, y) if low > 0.5 else (y, x)
        point, low, high = (p.point, low, high) if low > 0.5 else (1 - p.point, 1 - high, 1 - low)
        b, w = by_algo[better], by_algo[worse]
        lines.append(f"Final performance: {better.upper()} is better than {worse.upper()}: "
                     f"P({better.upper()} > {worse.upper()}) = {point:.2f} (95% CI {low:.2f} to {high:.2f}); "
                     f"IQM {_ci(b.iqm, b.iqm_ci)} vs {_ci(w.iqm, w.iqm_ci)}.")
    else:
        lines.append(f"Final performance: no reliable difference between {x.upper()} and {y.upper()}: "
                     f"P({x.upper()} > {y.upper()}) = {p.point:.2f}, and its 95% CI ({low:.2f} to {high:.2f}) "
                     "contains 0.5. More seeds would narrow it.")
    ax, ay = sx.auc_ci, sy.auc_ci
    if ax and ay and (ax[0] > ay[1] or ay[0] > ax[1]):
        faster, slower = (x, y) if ax[0] > ay[1] else (y, x)
        f, sl = by_algo[faster], by_algo[slower]
        line = (f"Learning speed: {faster.upper()} learned faster: its mean training reward over the run "
                f"(area under the learning curve) is {_num(f.auc_mean)} vs {_num(sl.auc_mean)}, "
                "with non-overlapping 95% CIs")
        end_fast, end_slow = f.final_training_reward_mean, sl.final_training_reward_mean
        if end_fast is not None and end_slow is not None and end_slow > end_fast:
            line += (f"; but {slower.upper()}'s training curve ends higher ({_num(end_slow)} vs {_num(end_fast)}): "
                     "the curves cross")
        lines.append(line + ".")
    elif ax and ay:
        lines.append("Learning speed: the areas under the learning curves overlap at 95% confidence: "
                     "no reliable difference in how fast they learned.")
    return lines


def reproduce_command(runs: list[RunRecord]) -> str:
    """The rl-sweep command that runs these runs again."""
    algos = list(dict.fromkeys(r.algo for r in runs))
    seeds = sorted({r.seed for r in runs if r.seed is not None})
    known = next((r for r in runs if r.config), None)
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


def _blocks(runs: list[RunRecord], stats: Comparison, lines: list[str], command: str,
            found_versions: dict[str, str]) -> list[Block]:
    algos = list(stats.algorithms)
    threshold = stats.reward_threshold
    env = stats.environment or "the environment"
    t = f"{threshold:g}" if threshold is not None else "threshold"

    def row(label: str, cell: Callable[[AlgorithmStatistics], str]) -> list[str]:
        return [label] + [cell(s) if s.seeds_completed else "no completed run"
                          for s in (stats.algorithms[algo] for algo in algos)]

    eval_episodes = sorted({r.eval_episodes for r in runs if r.eval_episodes})
    table = [
        row("seeds completed / run", lambda s: f"{s.seeds_completed} / {s.seeds}"),
        row("mean ± std", lambda s: f"{_num(s.mean)} ± {_num(s.std)}"),
        row("median [95% CI]", lambda s: _ci(s.median, s.median_ci)),
        row("IQM [95% CI]", lambda s: _ci(s.iqm, s.iqm_ci)),
        row(f"optimality gap to {t} [95% CI]", lambda s: _ci(s.optimality_gap, s.optimality_gap_ci)),
        row(f"seeds reaching {t} (evaluation)", lambda s: f"{s.seeds_reaching_threshold} / {s.seeds_completed}"),
        row(f"steps to reach {t} (training curve, median)", lambda s: (
            f"{_num(s.median_steps_to_threshold, 0)} ({s.seeds_reaching_threshold_in_training} seeds)"
            if s.median_steps_to_threshold is not None else "not reached")),
        row("area under learning curve [95% CI]", lambda s: _ci(s.auc_mean, s.auc_ci)),
        row("training time per run (s)", lambda s: _num(s.training_time_mean)),
        row("steps per second", lambda s: _num(s.steps_per_second_mean, 0)),
    ]
    pairs = [[f"P({k.split('>')[0].upper()} > {k.split('>')[1].upper()})",
              "n/a" if v.point is None else _ci(v.point, v.ci, 2)]
             for k, v in stats.probability_of_improvement.items()]
    run_rows = [[r.name, r.status, _num(r.final_reward), f"{r.timesteps:,}",
                 _num(steps_to_threshold(r), 0) if r.completed and steps_to_threshold(r) else "not reached"
                 if r.completed else "", r.experiment_dir] for r in runs]
    ci_note = (f"Intervals are 95% stratified-bootstrap confidence intervals (rliable), shown only for "
               f"algorithms with at least {MIN_SEEDS} completed seeds.")
    return [
        Heading(1, f"{' vs '.join(x.upper() for x in algos)} on {env}"),
        Heading(2, "Verdict"),
        *[Paragraph(line) for line in lines],
        Image("learning_curves.png", "Learning curves: training return against environment steps"),
        Image("final_performance.png", "Final evaluation return per algorithm"),
        Heading(2, "Final performance"),
        Paragraph(f"Final performance is the final model's deterministic policy evaluated on "
                  f"{'/'.join(map(str, eval_episodes)) or 'n/a'} episodes of a separately seeded environment. "
                  f"IQM is the interquartile mean across seeds (the mean of the middle 50%). The optimality gap "
                  f"is how far below {t} the seeds fall on average. Steps to reach {t}: first time the training "
                  f"curve (mean of the last 100 training episodes) crosses it. {ci_note}"),
        Table(["", *[x.upper() for x in algos]], table),
        Heading(2, "Probability of improvement"),
        Paragraph("P(X > Y): the probability that a run of X ends with a higher final reward than a run of Y "
                  "(Mann-Whitney U statistic), with its 95% stratified-bootstrap CI."),
        Table(["", "estimate [95% CI]"], pairs),
        Heading(2, "Runs"),
        Table(["run", "status", "final reward", "steps", f"steps to {t}", "experiment folder"], run_rows),
        Heading(2, "Reproduce"),
        Code(command),
        Heading(2, "Versions"),
        Paragraph(", ".join(f"{k} {v}" for k, v in found_versions.items())),
    ]


def write_report(runs: list[RunRecord], out_dir: Path, command: str | None = None,
                 reps: int = REPS) -> dict[str, Any]:
    """Write the figures, report.md and report.html into ``out_dir``; return the report's numbers.

    :param reps: bootstrap replicates of each confidence interval (the learning-curve band uses
        at most ``CURVE_REPS``).
    """
    from rl_sweep.report import plots  # matplotlib only when a report is made

    out_dir.mkdir(parents=True, exist_ok=True)
    stats = compare(runs, reps)
    env = stats.environment or "the environment"
    plots.learning_curves(runs, stats.reward_threshold, env, out_dir / "learning_curves.png",
                          min(reps, CURVE_REPS))
    plots.final_performance(runs, stats.algorithms, stats.reward_threshold, env, out_dir / "final_performance.png")
    lines = verdict(stats)
    command = command or reproduce_command(runs)
    found_versions = versions()
    blocks = _blocks(runs, stats, lines, command, found_versions)
    markdown, page = to_markdown(blocks), to_html(blocks, out_dir)
    write_atomic(out_dir / "report.md", lambda f: f.write(markdown.encode()))
    write_atomic(out_dir / "report.html", lambda f: f.write(page.encode()))
    return {
        **stats.to_json(),
        "verdict": lines,
        "runs": [{"run": r.name, "algo": r.algo, "seed": r.seed, "status": r.status,
                  "final_reward_mean": r.final_reward, "timesteps": r.timesteps,
                  "steps_to_threshold": steps_to_threshold(r) if r.completed else None,
                  "learning_curve_area": learning_curve_area(r) if r.completed else None,
                  "experiment_dir": r.experiment_dir} for r in runs],
        "command": command,
        "versions": found_versions,
        "generated": utc_now(),
    }


def write_sweep_report(storage: Storage, folder: str, summary: dict[str, Any]) -> dict[str, Any]:
    """The report of the sweep whose summary is ``summary``, written into its ``folder`` in ``storage`` from the
    files of the runs it lists (on remote storage, through a scratch folder on this machine)."""
    with tempfile.TemporaryDirectory(prefix="rl_sweep_report_") as scratch:
        runs = []
        for trial in summary["trials"]:
            local = (storage.fetch(Path(scratch, trial["trial"]), trial["folder"], RUN_FILES) if trial.get("folder")
                     else Path(trial["experiment_dir"]))  # a summary written before sweeps kept their runs
            run = load_run(local, status=trial["status"], name=trial["trial"])
            run.experiment_dir = trial["experiment_dir"]
            runs.append(run)
        out = storage.local_path(folder) if storage.is_local else Path(scratch, "report")
        report = write_report(runs, out, summary.get("command"))
        if not storage.is_local:
            for name in REPORT_FILES:
                storage.upload(out / name, folder, name)
    return report
