"""The report's conclusions in plain language: per environment, and across environments; each says when
there are too few seeds to tell."""

from __future__ import annotations

from rl_sweep.report.blocks import estimate, num
from rl_sweep.report.normalisation import BEST_SEEN
from rl_sweep.report.runs import RunRecord
from rl_sweep.report.statistics import MIN_SEEDS, AcrossEnvironments, Comparison, Improvement


def difference(label: str, x: str, y: str, p: Improvement, iqm: dict[str, str], measure: str = "IQM") -> str:
    """X is better than Y, Y than X, or no reliable difference, from P(X > Y) and its 95% CI; ``iqm``: each
    algorithm's IQM as the sentence shows it, ``measure`` what it is."""
    low, high = p.ci
    if low > 0.5 or high < 0.5:
        # Say it the way round that names the winner: P(Y > X) = 1 - P(X > Y).
        better, worse = (x, y) if low > 0.5 else (y, x)
        point, low, high = (p.point, low, high) if low > 0.5 else (1 - p.point, 1 - high, 1 - low)
        return (f"{label}: {better.upper()} is better than {worse.upper()}: "
                f"P({better.upper()} > {worse.upper()}) = {point:.2f} (95% CI {low:.2f} to {high:.2f}); "
                f"{measure} {iqm[better]} vs {iqm[worse]}.")
    return (f"{label}: no reliable difference between {x.upper()} and {y.upper()}: "
            f"P({x.upper()} > {y.upper()}) = {p.point:.2f}, and its 95% CI ({low:.2f} to {high:.2f}) "
            "contains 0.5. More seeds would narrow it.")


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
            f"Point estimates only: mean final reward {x.upper()} {num(sx.mean)}, {y.upper()} {num(sy.mean)}. "
            f"Run more seeds (rl-sweep --seeds 5 or more) before drawing a conclusion."
        ]
    lines.append(difference("Final performance", x, y, stats.probability_of_improvement[f"{x}>{y}"],
                            {a: estimate(s.iqm, s.iqm_ci) for a, s in by_algo.items()}))
    ax, ay = sx.auc_ci, sy.auc_ci
    if ax and ay and (ax[0] > ay[1] or ay[0] > ax[1]):
        faster, slower = (x, y) if ax[0] > ay[1] else (y, x)
        f, sl = by_algo[faster], by_algo[slower]
        line = (f"Learning speed: {faster.upper()} learned faster: its mean training reward over the run "
                f"(area under the learning curve) is {num(f.auc_mean)} vs {num(sl.auc_mean)}, "
                "with non-overlapping 95% CIs")
        end_fast, end_slow = f.final_training_reward_mean, sl.final_training_reward_mean
        if end_fast is not None and end_slow is not None and end_slow > end_fast:
            line += (f"; but {slower.upper()}'s training curve ends higher ({num(end_slow)} vs {num(end_fast)}): "
                     "the curves cross")
        lines.append(line + ".")
    elif ax and ay:
        lines.append("Learning speed: the areas under the learning curves overlap at 95% confidence: "
                     "no reliable difference in how fast they learned.")
    return lines


def across_verdict(across: AcrossEnvironments, algos: list[str], unplaced: list[RunRecord]) -> list[str]:
    """Plain-language conclusions across environments: what enters the aggregates, and what they say."""
    lines = [f"{env} has no reward threshold: its 1 is the best final score seen on it ({num(n.reference)}, "
             "across all algorithms and seeds)." for env, n in across.normalisation.items()
             if n.reference_source == BEST_SEEN]
    lines += [f"{env} is left out of the comparison across environments: {why}."
              for env, why in across.left_out.items()]
    if unplaced:
        lines.append(f"{', '.join(f'{r.name} ({r.status})' for r in unplaced)}: no results file says which "
                     "environment; left out of every section.")
    for algo in algos:
        if algo not in across.algorithms:
            lines.append(f"{algo.upper()} has no completed run on every environment compared: it is left out of "
                         "the aggregates.")
    seeds = {algo: s.seeds for algo, s in across.algorithms.items()}
    if not seeds:
        return lines + ["No algorithm has a completed run on every environment compared: there is nothing to "
                        "aggregate."]
    counts = ", ".join(f"{algo.upper()} {n}" for algo, n in seeds.items())
    lines.append(f"Each environment enters with the first completed runs of each algorithm in seed order, as many "
                 f"as every environment has: seeds per environment {counts}.")
    if len(seeds) < 2:
        return lines
    x, y = list(seeds)[:2]
    sx, sy = across.algorithms[x], across.algorithms[y]
    if min(sx.seeds, sy.seeds) < MIN_SEEDS:
        return lines + [f"Too few seeds to tell: with fewer than {MIN_SEEDS} seeds per environment confidence "
                        f"intervals mean nothing. Point estimates only: normalised IQM {x.upper()} {num(sx.iqm, 2)}, "
                        f"{y.upper()} {num(sy.iqm, 2)}."]
    iqm = {a: estimate(s.iqm, s.iqm_ci, 2) for a, s in across.algorithms.items()}
    return lines + [difference("Across environments", x, y, across.probability_of_improvement[f"{x}>{y}"], iqm,
                               "normalised IQM")]
