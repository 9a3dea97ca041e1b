"""The report document: first what AdaStop decides (the sweep's decision, or a one-round test at the seeds there
are) and whether the budgets differ; per environment, the verdict in plain language, the figures, the replays
(:mod:`~rl_sweep.report.replays`) and the tables; across environments, when there are several, the same on
normalised scores; written as ``report.md`` and ``report.html`` (:mod:`~rl_sweep.report.blocks`), with every
number in ``comparison.json``. Algorithms come in one order throughout
(:func:`~rl_sweep.report.runs.in_report_order`)."""

from __future__ import annotations

import functools
import platform
import tempfile
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Callable, Sequence

from rl_sweep.atomic import write_atomic, write_json_atomic
from rl_sweep.identity import env_folder
from rl_sweep.logs import utc_now
from rl_sweep.report import plots
from rl_sweep.report.blocks import (
    Block, Code, Heading, Image, Paragraph, Table, Video, estimate, num, steps_span, to_html, to_markdown,
)
from rl_sweep.report.budgets import CommonBudget, budgets, common_budget
from rl_sweep.report.normalisation import BEST_SEEN, Normalisation, measure_normalisations
from rl_sweep.decision.one_round import UNNAMED, fixed_sample, one_round_decision
from rl_sweep.report.replays import (
    MAX_FRAMES, Encoder, ModelSource, Replays, local_model, render_replays, stored_model,
)
from rl_sweep.report.reproduce import reproduce_command
from rl_sweep.report.runs import RunRecord, by_environment, in_report_order, load_run
from rl_sweep.report.across import AcrossEnvironments, compare_across, normalised_scores
from rl_sweep.report.statistics import (
    CURVE_REPS, MIN_INTERVAL_SEEDS, REPS, AlgorithmStatistics, Comparison, Improvement, compare, final_training_return,
    learning_curve_area, steps_to_threshold,
)
from rl_sweep.report.verdict import (
    TRAINING_RETURN, across_verdict, common_budget_title, evaluation_return, lead, verdict,
)
from rl_sweep.run.environments import EVAL_TIME_LIMIT
from rl_sweep.storage import Storage
from rl_sweep.text import WHY_RETURNS_DIFFER

RUN_FILES = ("_results.json", "_metrics.json")  # what the report reads of a run
PACKAGES = ("rl-sweep", "stable-baselines3", "gymnasium", "torch", "numpy", "ray", "rliable", "matplotlib")
PROFILES = "performance_profiles.png"
NUMBERS = "comparison.json"


def versions() -> dict[str, str]:
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found


@dataclass
class EnvironmentReport:
    """One environment's part of the report: its runs, their statistics, the comparison at the common budget
    when the runs' budgets differ, the verdict, its two figures and its replays (None: not asked for)."""

    runs: list[RunRecord]
    stats: Comparison
    common: CommonBudget | None
    verdict: list[str]
    learning_curves: str
    final_performance: str
    replays: Replays | None
    random_policy_return: float | None = None  # a uniform random policy's evaluation return on the runs' seeds

    def numbers(self) -> dict[str, Any]:
        return {
            **self.stats.to_json(),
            "random_policy_return": self.random_policy_return,
            "budgets": budgets(self.runs),
            "common_budget": self.common.to_json() if self.common else None,
            "verdict": self.verdict,
            "replays": self.replays.to_json() if self.replays else None,
            "runs": [{"run": r.name, "algo": r.algo, "seed": r.seed, "status": r.status,
                      "final_reward_mean": r.final_reward, "final_training_return": final_training_return(r),
                      "timesteps": r.timesteps,
                      "steps_to_threshold": steps_to_threshold(r) if r.completed else None,
                      "learning_curve_area": learning_curve_area(r) if r.completed else None,
                      "experiment_dir": r.experiment_dir} for r in self.runs],
        }


def environment_report(runs: list[RunRecord], environment: str | None, out_dir: Path, suffix: str, reps: int,
                       replays: Replays | None, decision: dict[str, Any], random_policy: Normalisation | None
                       ) -> EnvironmentReport:
    """The statistics and figures (``learning_curves{suffix}.png``, ``final_performance{suffix}.png``) of the
    runs of one ``environment`` (None: they do not say it), with their ``replays``; ``decision``: the report's
    (a sweep's: its seeds were chosen by its test, and no other is run on them); ``random_policy``: a uniform random
    policy evaluated as the runs were (None: not measured)."""
    env = environment or UNNAMED
    fixed = fixed_sample(decision)
    stats, common = compare(runs, environment, reps, fixed), common_budget(runs, reps, env, fixed)
    random_score = random_policy.random_score if random_policy else None
    part = EnvironmentReport(runs, stats, common, verdict(stats, common, decision, random_score),
                             f"learning_curves{suffix}.png", f"final_performance{suffix}.png", replays, random_score)
    plots.learning_curves(runs, stats.reward_threshold, env, out_dir / part.learning_curves, min(reps, CURVE_REPS))
    plots.final_performance(runs, stats.algorithms, stats.reward_threshold, env, out_dir / part.final_performance,
                            stats.eval_episodes)
    return part


def _cut_episodes(runs: list[RunRecord], env: str) -> str | None:
    """The sentence that says which runs' evaluation episodes were cut at the evaluation's step limit."""
    cut = [(r.eval_cut_at_time_limit, r.name) for r in runs if r.eval_cut_at_time_limit]
    if not cut:
        return None
    (first, name), rest = cut[0], cut[1:]
    phrases = [f"{first} evaluation episode{'s' if first > 1 else ''} of {name}", *(f"{n} of {r}" for n, r in rest)]
    listed = phrases[0] if not rest else ", ".join(phrases[:-1]) + " and " + phrases[-1]
    return f"{listed} stopped at {EVAL_TIME_LIMIT:,} steps: {env} has no time limit of its own."


def _pairs(improvements: dict[str, Improvement]) -> list[list[str]]:
    """The rows of a probability-of-improvement table: ``P(X > Y)``, its estimate [95% CI]."""
    return [[f"P({k.split('>')[0].upper()} > {k.split('>')[1].upper()})",
             "n/a" if v.point is None else estimate(v.point, v.ci, 2)] for k, v in improvements.items()]


def common_budget_blocks(common: CommonBudget, level: int) -> list[Block]:
    """The section that compares the runs at the common budget, its heading at ``level``."""
    algos = list(common.algorithms)
    trained = ", ".join(f"{a.upper()} {steps_span(steps)}" for a, steps in common.budgets.items())
    rows = [
        ["budget (steps)", *(steps_span(steps) for steps in common.budgets.values())],
        ["runs with a training return by then", *(str(len(s.training_returns)) for s in common.algorithms.values())],
        [f"{TRAINING_RETURN}: IQM [95% CI]", *(estimate(s.iqm, s.iqm_ci, seeds=len(s.training_returns))
                                                for s in common.algorithms.values())],
    ]
    return [
        Heading(level, common_budget_title(common.step)),
        Paragraph(f"The runs trained for different numbers of steps ({trained}), so their final evaluations compare "
                  f"unequal budgets. Here every run is taken at the shorter runs' budget, {common.step:,} steps: its "
                  f"training return (the mean of its last 100 training episodes) at the last point of its training "
                  f"curve at or before {common.step:,} steps. IQM across seeds with its 95% bootstrap CI "
                  f"(with at least {MIN_INTERVAL_SEEDS} runs), and P(X > Y) of those training returns."),
        Table(["", *[a.upper() for a in algos]], rows),
        Table(["", "estimate [95% CI]"], _pairs(common.probability_of_improvement)),
    ]


def environment_blocks(part: EnvironmentReport, level: int) -> list[Block]:
    """One environment's sections, their headings at ``level``."""
    stats, runs = part.stats, part.runs
    algos = list(stats.algorithms)
    threshold = stats.reward_threshold
    t = f"{threshold:g}" if threshold is not None else "threshold"

    def row(label: str, cell: Callable[[AlgorithmStatistics], str]) -> list[str]:
        return [label] + [cell(s) if s.seeds_completed else "no completed run"
                          for s in (stats.algorithms[algo] for algo in algos)]

    evaluation = evaluation_return(stats.eval_episodes)
    gap_to = (f"{num(stats.optimality_gap_reference)} (the best final score seen, across all algorithms)"
              if stats.optimality_gap_reference_source == BEST_SEEN else t)
    gap_seeds = (lambda s: s.seeds_completed) if threshold is not None else (lambda s: None)
    table = [
        row("seeds completed / run", lambda s: f"{s.seeds_completed} / {s.seeds}"),
        row(f"{evaluation}: mean ± std", lambda s: f"{num(s.mean)} ± {num(s.std)}"),
        row(f"{evaluation}: median [95% CI]", lambda s: estimate(s.median, s.median_ci, seeds=s.seeds_completed)),
        row(f"{evaluation}: IQM [95% CI]", lambda s: estimate(s.iqm, s.iqm_ci, seeds=s.seeds_completed)),
        row(f"optimality gap to {gap_to} [95% CI] (evaluation)",
            lambda s: estimate(s.optimality_gap, s.optimality_gap_ci, seeds=gap_seeds(s))),
        row(f"seeds reaching {t} (evaluation)", lambda s: (
            f"{s.seeds_reaching_threshold} / {s.seeds_completed}" if s.seeds_reaching_threshold is not None
            else "n/a")),
        row(f"{TRAINING_RETURN} at the end: mean", lambda s: num(s.final_training_reward_mean)),
        row(f"steps until the {TRAINING_RETURN} reaches {t}: median (a seed that never does counts as beyond the "
            "budget)", lambda s: "n/a" if threshold is None else (
                f"{num(s.median_steps_to_threshold, 0)} ({s.seeds_reaching_threshold_in_training} of "
                f"{s.seeds_completed} seeds reach it)" if s.median_steps_to_threshold is not None
                else f"beyond the budget ({s.seeds_reaching_threshold_in_training} of {s.seeds_completed} seeds "
                     "reach it)")),
        row(f"{TRAINING_RETURN}: area under the learning curve [95% CI]",
            lambda s: estimate(s.auc_mean, s.auc_ci, seeds=s.seeds_completed)),
        row("training time per run (s)", lambda s: num(s.training_time_mean)),
        row("steps per second", lambda s: num(s.steps_per_second_mean, 0)),
    ]
    pairs = _pairs(stats.probability_of_improvement)
    run_rows = [[r.name, r.status, num(r.final_reward), num(final_training_return(r)), f"{r.timesteps:,}",
                 "n/a" if threshold is None else num(steps_to_threshold(r), 0) if r.completed and steps_to_threshold(r)
                 else "not reached" if r.completed else "", r.experiment_dir] for r in runs]
    ci_note = (f"Intervals are 95% percentile-bootstrap confidence intervals (rliable), shown only for algorithms "
               f"with at least {MIN_INTERVAL_SEEDS} completed seeds: with fewer, they cover the true value less than "
               "90% of the time (measured: docs/calibration.md). The optimality gap's interval is shown only below a "
               "reward threshold. Which algorithm is better is never read from an interval: the verdict's tests "
               "say it.")
    cut = _cut_episodes(runs, stats.environment or UNNAMED)
    return [
        Heading(level, "Verdict"),
        *[Paragraph(line) for line in part.verdict],
        Image(part.learning_curves, f"Learning curves: {TRAINING_RETURN} against environment steps"),
        Image(part.final_performance, f"Final {evaluation} per algorithm"),
        *(replay_blocks(part.replays, level) if part.replays else []),
        Heading(level, "Final performance"),
        Paragraph(f"Final performance is the final model's deterministic policy evaluated on "
                  f"{'/'.join(map(str, stats.eval_episodes)) or 'n/a'} "
                  f"episode{'' if stats.eval_episodes == [1] else 's'} of a separately seeded environment. "
                  f"IQM is the interquartile mean across seeds (the mean of the middle 50%). The optimality gap "
                  f"is how far below {t} the seeds fall on average. The {TRAINING_RETURN} is the mean of the last "
                  f"100 training episodes; steps until it reaches {t}: the first time it crosses it. {ci_note}"),
        Paragraph(WHY_RETURNS_DIFFER),
        *([Paragraph(cut)] if cut else []),
        Table(["", *[x.upper() for x in algos]], table),
        Heading(level, "Probability of improvement"),
        Paragraph("P(X > Y): the probability that a run of X ends with a higher final evaluation return than a run "
                  f"of Y (Mann-Whitney U statistic), with its 95% bootstrap CI from {MIN_INTERVAL_SEEDS} seeds of each: "
                  "a description of the difference; the test in the verdict decides it."),
        Table(["", "estimate [95% CI]"], pairs),
        *(common_budget_blocks(part.common, level) if part.common else []),
        Heading(level, "Runs"),
        Table(["run", "status", evaluation, f"{TRAINING_RETURN} at the end", "steps",
               f"steps until the training return reaches {t}", "experiment folder"], run_rows),
    ]


def replay_blocks(replays: Replays, level: int) -> list[Block]:
    """The "Replays" section: a video for each replay, a line for each that could not be made."""
    if not (replays.rendered or replays.warnings):
        return []
    return [
        Heading(level, "Replays"),
        Paragraph("Each algorithm's best, median and worst seed by final evaluation return, its final model's greedy "
                  "(deterministic) policy on one evaluation episode: the first of the run's evaluation, with the same "
                  f"seed, so its return is that episode's, not the evaluation's mean. At most {MAX_FRAMES:,} steps "
                  "are shown, at the environment's frame rate."),
        *[Video(replay.path, replay.caption) for replay in replays.rendered],
        *[Paragraph(line) for line in replays.warnings],
    ]


def across_blocks(across: AcrossEnvironments, lines: list[str], algos: list[str], profiles: bool) -> list[Block]:
    """The "Across environments" section; ``profiles``: whether there is a performance-profiles figure."""
    scored = list(across.algorithms)
    normalised = [[env, num(n.random_score, 2), f"{num(n.reference, 2)} ({n.reference_source})",
                   *[num(across.normalised_iqm.get(env, {}).get(algo), 2) for algo in algos]]
                  for env, n in across.normalisation.items()]

    def row(label: str, cell: Callable[[Any], str]) -> list[str]:
        return [label, *(cell(across.algorithms[algo]) for algo in scored)]

    aggregates = [
        row("seeds per environment", lambda s: str(s.seeds)),
        row("IQM [95% CI]", lambda s: estimate(s.iqm, s.iqm_ci, 2, s.seeds)),
        row("mean [95% CI]", lambda s: estimate(s.mean, s.mean_ci, 2, s.seeds)),
        row("median [95% CI]", lambda s: estimate(s.median, s.median_ci, 2, s.seeds)),
        row("optimality gap to 1 [95% CI]", lambda s: estimate(s.optimality_gap, s.optimality_gap_ci, 2, s.seeds)),
    ]
    pairs = _pairs(across.probability_of_improvement)
    return [
        Heading(2, "Across environments"),
        Paragraph("Scores are normalised per environment: 0 is a uniform random policy, evaluated with the "
                  "evaluation's own protocol (each seed of the environment's runs, with their evaluation episodes; "
                  "the mean over seeds), and 1 is the environment's reward threshold. Each algorithm's normalised "
                  "final scores form a matrix of seeds by environments, on which rliable computes the IQM, mean, "
                  "median and optimality gap (below 1), with 95% stratified-bootstrap confidence intervals "
                  f"(shown only with at least {MIN_INTERVAL_SEEDS} seeds per environment). Which algorithm is better "
                  "across environments is a one-round AdaStop test of each run's mean normalised score over the "
                  "environments (the i-th seed of each environment makes run i)."),
        *[Paragraph(line) for line in lines],
        Heading(3, "Normalised scores"),
        Table(["environment", "random policy (0)", "reference (1)", *[f"{a.upper()} normalised IQM" for a in algos]],
              normalised),
        *([Heading(3, "Aggregate performance"), Table(["", *[a.upper() for a in scored]], aggregates)]
          if scored else []),
        *([Image(PROFILES, "Performance profiles: fraction of runs above each normalised score")] if profiles else []),
        *([Heading(3, "Probability of improvement across environments"),
           Paragraph("P(X > Y) on each environment (the probability that a run of X ends above a run of Y), "
                     "averaged over environments, with its 95% stratified-bootstrap CI."),
           Table(["", "estimate [95% CI]"], pairs)] if pairs else []),
    ]


def write_report(runs: list[RunRecord], out_dir: Path, command: str | None = None, reps: int = REPS,
                 decision: dict[str, Any] | None = None, algos: Sequence[str] | None = None, replays: bool = True,
                 models: ModelSource = local_model, adaptive: str | None = None) -> dict[str, Any]:
    """Write the figures, the replays, report.md, report.html and ``comparison.json`` (the report's numbers) into
    ``out_dir``; return those numbers. With runs of several environments, each has its section, its figures and
    its replays (under ``replays/{env folder}/``), and a section compares across them.

    :param reps: bootstrap replicates of each confidence interval (the learning-curve band and the
        performance profiles use at most ``CURVE_REPS``).
    :param decision: the sweep's AdaStop ``decision`` (``rl-sweep --until-decided``), which the report leads
        with; without one, a one-round AdaStop test at the seeds the runs have.
    :param algos: the order to name the algorithms in (a sweep's ``--algos``); None: ppo, a2c, then the others.
    :param replays: whether to render each algorithm's best, median and worst seed.
    :param models: where each run's final model is, for its replay.
    :param adaptive: the ``--until-decided`` sweep the runs come from, when they are given as folders: its seeds
        were chosen from their results, so no one-round test is run on them.
    """
    out_dir.mkdir(parents=True, exist_ok=True)
    runs = in_report_order(runs, algos)
    groups = by_environment(runs)
    algos = list(dict.fromkeys(r.algo for r in runs))
    title = " vs ".join(a.upper() for a in algos)
    encoder = functools.cache(Encoder.find)  # probed once, when there is a model to play: it starts ffmpeg

    def replayed(env_runs: list[RunRecord], subfolder: str) -> Replays | None:
        return render_replays(env_runs, out_dir, subfolder, models, encoder) if replays else None

    several = len(groups) > 1
    unplaced = groups.pop(None, []) if several else []
    decision = decision or one_round_decision({env or UNNAMED: env_runs for env, env_runs in groups.items()}, adaptive)
    normalisations, unmeasured = measure_normalisations({env: env_runs for env, env_runs in groups.items() if env})
    if not several:
        [(env, env_runs)] = groups.items()
        parts = {env or UNNAMED: environment_report(env_runs, env, out_dir, "", reps, replayed(env_runs, ""), decision,
                                                    normalisations.get(env))}
        [part] = parts.values()
        heading, sections = f"{title} on {env or UNNAMED}", environment_blocks(part, 2)
        numbers = part.numbers()
    else:
        parts = {env: environment_report(env_runs, env, out_dir, f"_{env_folder(env)}", reps,
                                         replayed(env_runs, env_folder(env)), decision, normalisations.get(env))
                 for env, env_runs in groups.items()}
        across = compare_across(groups, normalisations, unmeasured, reps, fixed_sample(decision))
        scores = normalised_scores(groups, {env: across.normalisation[env] for env in across.environments})
        if scores:
            plots.performance_profiles(scores, out_dir / PROFILES, min(reps, CURVE_REPS))
        lines = across_verdict(across, algos, unplaced)
        heading, sections = f"{title} on {len(groups)} environments", []
        for env, part in parts.items():
            sections += [Heading(2, env), *environment_blocks(part, 3)]
        sections += across_blocks(across, lines, algos, bool(scores))
        numbers = {"environments": {env: part.numbers() for env, part in parts.items()},
                   "across_environments": {**across.to_json(), "verdict": lines}}
    first = lead(decision, {env: part.common for env, part in parts.items()})
    command = command or reproduce_command(runs)
    found_versions = versions()
    blocks = [Heading(1, heading), *map(Paragraph, first), *sections,
              Heading(2, "Reproduce"), Code(command),
              Heading(2, "Versions"), Paragraph(", ".join(f"{k} {v}" for k, v in found_versions.items()))]
    markdown, page = to_markdown(blocks), to_html(blocks, out_dir)
    numbers = {**numbers, "decision": decision, "lead": first, "command": command, "versions": found_versions,
               "generated": utc_now()}
    write_json_atomic(out_dir / NUMBERS, numbers)
    write_atomic(out_dir / "report.md", lambda f: f.write(markdown.encode()))
    write_atomic(out_dir / "report.html", lambda f: f.write(page.encode()))
    return numbers


def write_sweep_report(storage: Storage, folder: str, summary: dict[str, Any], reps: int = REPS,
                       replays: bool = True, out_dir: Path | None = None) -> dict[str, Any]:
    """The report of the sweep whose summary is ``summary``, written into its ``folder`` in ``storage`` from the
    files of the runs it lists (on remote storage, through a scratch folder on this machine, the figures and the
    replays uploaded when done); it leads with the summary's AdaStop ``decision`` when the sweep ran until decided,
    and names the algorithms in the sweep's ``--algos`` order.

    :param reps: bootstrap replicates of each confidence interval.
    :param replays: whether to render each algorithm's best, median and worst seed (their final models are
        fetched from storage as needed).
    :param out_dir: a folder on this machine to write the report into instead of the sweep's folder.
    """
    with tempfile.TemporaryDirectory(prefix="rl_sweep_report_") as scratch:
        runs, folders = [], {}
        for index, trial in enumerate(summary["trials"]):
            # Numbered scratch folders: trial names hold environment ids (ALE/Pong-v5/ppo_seed42).
            local = (storage.fetch(Path(scratch, "runs", str(index)), trial["folder"], RUN_FILES)
                     if trial.get("folder")
                     else Path(trial["experiment_dir"]))  # a summary written before sweeps kept their runs
            run = load_run(local, status=trial["status"], name=trial["trial"], env_name=trial.get("env"))
            run.experiment_dir = trial["experiment_dir"]
            if trial.get("folder"):
                folders[run.experiment_dir] = trial["folder"]
            runs.append(run)
        out = out_dir or (storage.local_path(folder) if storage.is_local else Path(scratch, "report"))
        report = write_report(runs, out, summary.get("command"), reps, summary.get("decision"),
                              summary.get("options", {}).get("algos"), replays,
                              stored_model(storage, folders, Path(scratch, "models")))
        if out_dir is None and not storage.is_local:
            for path in sorted(out.iterdir()):  # the replays/ folder goes up whole
                storage.upload(path, folder, path.name)
    return report
