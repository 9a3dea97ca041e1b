"""The report's words: its lead (what AdaStop decides, whether the runs' budgets differ), and its conclusions in
plain language, per environment and across environments; each says when there are too few seeds to tell."""

from __future__ import annotations

from typing import Any

from rl_sweep.decision import sentence
from rl_sweep.report.blocks import estimate, num, steps_span
from rl_sweep.report.budgets import CommonBudget
from rl_sweep.report.normalisation import BEST_SEEN
from rl_sweep.report.one_round import MIN_TEST_SEEDS
from rl_sweep.report.runs import RunRecord
from rl_sweep.report.across import AcrossEnvironments
from rl_sweep.report.statistics import MIN_SEEDS, Comparison, Improvement
from rl_sweep.text import WHY_RETURNS_DIFFER

# The two returns the report sets side by side, each always named with its policy.
TRAINING_RETURN = "training return (stochastic policy, recent episodes)"

def evaluation_return(episodes: list[int]) -> str:
    """The final evaluation's return, named with its policy and its episodes (``3/10`` when the runs differ)."""
    count = "/".join(map(str, episodes)) or "n/a"
    return f"evaluation return (deterministic policy, {count} episode{'' if episodes == [1] else 's'})"


ADASTOP = ('Mathieu et al., "AdaStop: adaptive statistical testing for sound comparisons of deep RL agents", '
           'TMLR 2024, arXiv:2306.10882')


def common_budget_title(step: int) -> str:
    return f"At the common budget of {step:,} steps"


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


def verdict(stats: Comparison, common: CommonBudget | None = None) -> list[str]:
    """Plain-language conclusions; says when there are too few seeds to tell, and when the runs' budgets differ
    (``common``: the comparison at the common budget), that their final evaluations are not like-for-like."""
    unequal = " (budgets differ: not a like-for-like comparison)" if common else ""
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
    evaluation = evaluation_return(stats.eval_episodes)
    sx, sy = by_algo[x], by_algo[y]
    if few:
        counts = ", ".join(f"{a.upper()} has {by_algo[a].seeds_completed}" for a in few)
        return lines + [
            f"Too few seeds to tell: {counts} "
            f"completed run(s), and with fewer than {MIN_SEEDS} per algorithm confidence intervals mean nothing. "
            f"Point estimates only: mean {evaluation}{unequal} {x.upper()} {num(sx.mean)}, {y.upper()} {num(sy.mean)}. "
            f"Run more seeds (rl-sweep --seeds 5 or more) before drawing a conclusion."
        ]
    lines.append(difference(f"Final performance{unequal}", x, y, stats.probability_of_improvement[f"{x}>{y}"],
                            {a: estimate(s.iqm, s.iqm_ci) for a, s in by_algo.items()}, f"IQM {evaluation}"))
    if common:
        lines.append(_at_common_budget(common, x, y))
    speed = "Learning speed (over runs of unequal lengths)" if common else "Learning speed"
    ax, ay = sx.auc_ci, sy.auc_ci
    if ax and ay and (ax[0] > ay[1] or ay[0] > ax[1]):
        faster, slower = (x, y) if ax[0] > ay[1] else (y, x)
        f, sl = by_algo[faster], by_algo[slower]
        line = (f"{speed}: {faster.upper()} learned faster: its mean {TRAINING_RETURN} over the run "
                f"(area under the learning curve) is {num(f.auc_mean)} vs {num(sl.auc_mean)}, "
                "with non-overlapping 95% CIs")
        end_fast, end_slow = f.final_training_reward_mean, sl.final_training_reward_mean
        if end_fast is not None and end_slow is not None and end_slow > end_fast:
            line += (f"; but {slower.upper()}'s {TRAINING_RETURN} ends higher ({num(end_slow)} vs "
                     f"{num(end_fast)}): the curves cross")
        lines.append(line + ".")
    elif ax and ay:
        lines.append(f"{speed}: the areas under the learning curves overlap at 95% confidence: "
                     "no reliable difference in how fast they learned.")
    return lines


def _at_common_budget(common: CommonBudget, x: str, y: str) -> str:
    """X against Y at the common budget, from the training returns there."""
    title, at = common_budget_title(common.step), common.algorithms
    if not (at[x].training_returns and at[y].training_returns):
        return f"{title}: {x.upper()} and {y.upper()} do not both have a training return by then."
    iqm = {a: estimate(s.iqm, s.iqm_ci) for a, s in at.items()}
    p = common.probability_of_improvement[f"{x}>{y}"]
    if p.ci is None:
        return (f"{title}: too few runs with a training return by then for an interval (fewer than {MIN_SEEDS}). "
                f"Point estimates only: IQM {TRAINING_RETURN} {x.upper()} {iqm[x]}, {y.upper()} {iqm[y]}.")
    return difference(f"{title} (training return)", x, y, p, iqm, f"IQM {TRAINING_RETURN}")


def lead(decision: dict[str, Any], commons: dict[str, CommonBudget | None]) -> list[str]:
    """The report's first paragraphs: per environment (``commons``' keys), what AdaStop decides and whether the
    budgets differ; then what AdaStop is.

    :param decision: the sweep's ``decision``, or the one-round test's (``one_round``).
    :param commons: per environment, its comparison at the common budget (None: equal budgets).
    """
    several = len(commons) > 1
    lines = [" ".join([decision_line(env, decision),
                       *([budget_line(common, f" on {env}" if several else "")] if common else [])])
             for env, common in commons.items()]
    about = (f"AdaStop ({ADASTOP}) is a sequential permutation test of the algorithms' final evaluations: after each "
             "round of seeds it decides every comparison it can and runs another round for the rest, up to its "
             "last, keeping the family-wise error (the chance of calling any pair different when it is not) at "
             "most its level.")
    if decision.get("one_round"):
        about += (" A one-round test is AdaStop with a single round at the seeds there are: \"not shown different\" "
                  "says these seeds do not settle it, not that the algorithms are equal.")
    return lines + [about]


def decision_line(env: str, decision: dict[str, Any]) -> str:
    """What AdaStop says on ``env``: the sweep's decision, or the one-round test's (``decision["one_round"]``)."""
    if decision.get("one_round"):
        return _one_round_line(env, decision["environments"][env])
    comparisons = [c for c in decision["comparisons"] if c["env"] == env]
    if not comparisons:
        return (f"No {decision['method']} decision on {env}: rl-sweep --until-decided decides once every trial of "
                "a round has completed.")
    return "; ".join(sentence(c, decision) for c in comparisons) + "."


def _one_round_line(env: str, test: dict[str, Any]) -> str:
    counts = test["completed_seeds"]
    if test.get("skipped"):
        few = [f"{algo.upper()} has {k} completed seed{'s' if k != 1 else ''}"
               for algo, k in counts.items() if k < MIN_TEST_SEEDS]
        why = (f"{', '.join(few)}, and it needs at least {MIN_TEST_SEEDS} of each algorithm" if len(counts) >= 2
               else "it needs completed runs of two algorithms at least")
        return f"No one-round AdaStop test on {env}: {why}."
    n = test["seeds_per_round"]
    seeds = (f"these {n} seeds per algorithm" if len(set(counts.values())) == 1
             else f"the first {n} completed seeds of each algorithm")
    sentences = "; ".join(sentence(c, test) for c in test["comparisons"])
    settled = all(c["decision"] != "equal" for c in test["comparisons"])
    return (f"A one-round AdaStop test at {seeds}: {sentences}"
            + ("." if settled else "; rl-sweep --until-decided adds seeds until it is decided."))


def budget_line(common: CommonBudget, where: str = "") -> str:
    """The runs' budgets differ ``where``: what each algorithm's runs trained, and where they are compared alike."""
    trained = [f"{algo.upper()} runs {'trained ' if i == 0 else ''}{steps_span(steps)}{' steps' if i == 0 else ''}"
               for i, (algo, steps) in enumerate(common.budgets.items())]
    return (f"Budgets differ{where}: {', '.join(trained)}: final evaluations, and any test of them, are not a "
            f"like-for-like comparison; \"{common_budget_title(common.step)}\" compares every run at the shorter "
            "runs' budget.")


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
