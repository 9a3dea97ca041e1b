"""The prose sections of the report document, as blocks (:mod:`~rl_sweep.report.blocks`): one environment's
(the verdict, its figures, its replays, final performance, probability of improvement, the common budget when the
runs' budgets differ, the runs) and the comparison across environments, each table with the paragraph that says
how its numbers were computed."""

from __future__ import annotations

from typing import Any, Callable

from rl_sweep.decision.one_round import UNNAMED
from rl_sweep.identity import label
from rl_sweep.report.across import AcrossEnvironments
from rl_sweep.report.blocks import Block, Heading, Image, Paragraph, Table, Video, estimate, num, steps_span
from rl_sweep.report.budgets import CommonBudget
from rl_sweep.report.environment import EnvironmentReport
from rl_sweep.report.normalisation import BEST_SEEN
from rl_sweep.report.replays import MAX_FRAMES, Replays
from rl_sweep.report.runs import RunRecord
from rl_sweep.report.statistics import (
    MIN_INTERVAL_SEEDS, AlgorithmStatistics, Improvement, final_training_return, steps_to_threshold,
)
from rl_sweep.report.verdict import TRAINING_RETURN, common_budget_title, evaluation_return
from rl_sweep.run.environments import EVAL_TIME_LIMIT
from rl_sweep.text import WHY_RETURNS_DIFFER

PROFILES = "performance_profiles.png"  # the performance-profiles figure, across environments


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
    return [[f"P({label(k.split('>')[0])} > {label(k.split('>')[1])})",
             "n/a" if v.point is None else estimate(v.point, v.ci, 2)] for k, v in improvements.items()]


def common_budget_blocks(common: CommonBudget, level: int) -> list[Block]:
    """The section that compares the runs at the common budget, its heading at ``level``."""
    algos = list(common.algorithms)
    trained = ", ".join(f"{label(a)} {steps_span(steps)}" for a, steps in common.budgets.items())
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
        Table(["", *[label(a) for a in algos]], rows),
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
    ranking = [[str(i), label(v), estimate(stats.algorithms[v].iqm, stats.algorithms[v].iqm_ci,
                                           seeds=stats.algorithms[v].seeds_completed),
                str(stats.algorithms[v].seeds_completed)] for i, v in enumerate(part.ranking, 1)]
    return [
        Heading(level, "Verdict"),
        *[Paragraph(line) for line in part.verdict],
        *([Heading(level, "Ranking"),
           Paragraph(f"The variants by the IQM of their {evaluation}, highest first, as a description: which "
                     "differences are real, the verdict's tests say."),
           Table(["rank", "variant", "IQM [95% CI]", "seeds completed"], ranking)] if len(algos) > 2 else []),
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
        Table(["", *[label(x) for x in algos]], table),
        *settings_blocks(runs, level),
        Heading(level, "Probability of improvement"),
        Paragraph("P(X > Y): the probability that a run of X ends with a higher final evaluation return than a run "
                  f"of Y (Mann-Whitney U statistic), with its 95% bootstrap CI from {MIN_INTERVAL_SEEDS} seeds of each: "
                  "a description of the difference; the test in the verdict decides it."),
        *([Image(part.matrix, "P(row > column) for every pair of variants")] if part.matrix else []),
        Table(["", "estimate [95% CI]"], pairs),
        *(common_budget_blocks(part.common, level) if part.common else []),
        Heading(level, "Runs"),
        Table(["run", "status", evaluation, f"{TRAINING_RETURN} at the end", "steps",
               f"steps until the training return reaches {t}", "experiment folder"], run_rows),
    ]


def settings_blocks(runs: list[RunRecord], level: int) -> list[Block]:
    """The "Settings" section of a report of named variants (``ppo@tuned``): what each variant's runs trained with,
    only where it differs from the first variant's; none when every variant is an algorithm on one preset."""
    first_runs = {}
    for run in runs:
        if run.settings is not None:
            first_runs.setdefault(run.variant, run)
    if len(first_runs) < 2 or not any(run.named for run in runs):
        return []

    def values(run: RunRecord) -> dict[str, str]:
        settings = run.settings
        return {"algorithm": label(run.algo), "preset": str(run.config.get("preset")),
                "timesteps": f"{settings.timesteps:,}", "n_envs": str(settings.n_envs),
                "normalize": str(settings.normalize).lower(),
                **{key: str(value) for key, value in settings.hyperparameters.items()},
                **{f"policy_kwargs.{key}": str(value) for key, value in settings.policy_kwargs.items()}}

    found = {variant: values(run) for variant, run in first_runs.items()}
    keys = list(dict.fromkeys(key for shown in found.values() for key in shown))
    first = next(iter(found.values()))
    rows = [[key, *(shown.get(key, "(default)") for shown in found.values())] for key in keys
            if any(shown.get(key) != first.get(key) for shown in found.values())]
    return [Heading(level, "Settings"),
            Paragraph("What each variant's runs trained with, where it differs from the first variant's (a "
                      "hyperparameter a variant does not set takes SB3's default)."),
            Table(["", *[label(v) for v in found]], rows)]


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
        Table(["environment", "random policy (0)", "reference (1)", *[f"{label(a)} normalised IQM" for a in algos]],
              normalised),
        *([Heading(3, "Aggregate performance"), Table(["", *[label(a) for a in scored]], aggregates)]
          if scored else []),
        *([Image(PROFILES, "Performance profiles: fraction of runs above each normalised score")] if profiles else []),
        *([Heading(3, "Probability of improvement across environments"),
           Paragraph("P(X > Y) on each environment (the probability that a run of X ends above a run of Y), "
                     "averaged over environments, with its 95% stratified-bootstrap CI."),
           Table(["", "estimate [95% CI]"], pairs)] if pairs else []),
    ]
