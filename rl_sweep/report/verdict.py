"""The report's words: its lead (what AdaStop decides, whether the runs' budgets differ), and its conclusions in
plain language, per environment and across environments. A sentence names a winner only where a test rejects at a
stated level (:mod:`rl_sweep.decision`, through the sweep or :mod:`~rl_sweep.decision.one_round`); P(X > Y) and the
estimates describe the difference; each says when there are too few seeds to test."""

from __future__ import annotations

import itertools
from typing import Any

from rl_sweep.decision import grouped, level
from rl_sweep.identity import label
from rl_sweep.report.blocks import estimate, num, steps_span
from rl_sweep.report.budgets import CommonBudget
from rl_sweep.report.normalisation import BEST_SEEN
from rl_sweep.decision.one_round import UNNAMED, min_test_seeds, pair_decision
from rl_sweep.report.runs import RunRecord
from rl_sweep.report.across import ACROSS, AcrossEnvironments
from rl_sweep.report.statistics import Comparison, Improvement

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


def tested(title: str, x: str, y: str, test: dict[str, Any] | None, env: str, p: Improvement,
           estimates: dict[str, str], measure: str, better: str = "is better than") -> str:
    """One pair's sentence: a winner only where ``test`` (a decision document: the sweep's, or a one-round test's)
    rejects at its level; P(X > Y) and each algorithm's estimate (``estimates``, as the sentence shows them,
    ``measure`` what they are) as description, never as the verdict.

    :param test: None when no test may be run (seeds chosen adaptively by an ``--until-decided`` sweep).
    :param better: how a winner reads ("learned faster than").
    """
    decided = pair_decision(test, env, x, y) if test else None
    if decided in ("larger", "smaller"):
        winner, loser = (x, y) if decided == "larger" else (y, x)
        return (f"{title}: {label(winner)} {better} {label(loser)} ({how(test, env, x, y)}). "
                f"{describe(winner, loser, p if winner == x else flip(p), estimates, measure)}")
    if decided == "equal":
        return (f"{title}: {label(x)} and {label(y)} are not shown different ({how(test, env, x, y)}): these seeds "
                f"do not settle it, which is not evidence that they are equal. {describe(x, y, p, estimates, measure)}")
    return f"{title}: no test of {label(x)} against {label(y)}: {why_untested(test, x, y)}. " + \
        describe(x, y, p, estimates, measure)


def flip(p: Improvement) -> Improvement:
    """P(Y > X) from P(X > Y)."""
    return Improvement(None if p.point is None else 1 - p.point, None if p.ci is None else [1 - p.ci[1], 1 - p.ci[0]])


def describe(x: str, y: str, p: Improvement, estimates: dict[str, str], measure: str) -> str:
    """P(X > Y), with its interval or why there is none, and each algorithm's estimate."""
    if p.point is None:
        chance = ""
    elif p.ci:
        chance = f"P({label(x)} > {label(y)}) = {p.point:.2f} (95% CI {p.ci[0]:.2f} to {p.ci[1]:.2f}); "
    else:
        chance = f"P({label(x)} > {label(y)}) = {p.point:.2f} (too few seeds for an interval); "
    return f"As description: {chance}{measure} {estimates[x]} vs {estimates[y]}."


def how(test: dict[str, Any], env: str, x: str, y: str) -> str:
    """The test that decided ``x`` against ``y``, its level and its seeds."""
    found = next(c for c in test["comparisons"] if c["env"] == env and {c["first"], c["second"]} == {x, y})
    n, rounds = test["seeds_per_round"], found["round"]
    if test.get("max_rounds") == 1 and rounds == 1 and "completed_seeds" in test:
        return f"{level(test)}, a one-round test at {n} seeds each"
    return f"{level(test)}, after {rounds} round{'s' if rounds > 1 else ''} of {n} seeds each"


def why_untested(test: dict[str, Any] | None, x: str = "", y: str = "") -> str:
    if test is not None and test.get("baseline_missing"):
        return f"the baseline {label(test['baseline'])} has no completed run here"
    if test is not None and test.get("baseline") and test["baseline"] not in (x, y):
        return (f"the test compares each variant with {label(test['baseline'])} only (--baseline), not with each "
                "other")
    if test is None:
        return ("the seeds were chosen adaptively (an rl-sweep --until-decided sweep ran them until its test decided), "
                "and a test at a number of seeds chosen from the results does not hold its level; the sweep's own "
                "decision, in its summary and report, is the test of these runs")
    if "completed_seeds" not in test:
        return (f"the sweep's {test['method']} decision has not decided it (rl-sweep --until-decided decides once "
                "every trial of a round has completed)")
    counts = test["completed_seeds"]
    least = min_test_seeds(len(counts), baseline=bool(test.get("baseline")))
    few = [f"{label(algo)} has {k}" for algo, k in counts.items() if k < least]
    if len(counts) < 2 or not few:
        return "there is no test of this pair"
    return (f"cannot be decided at {min(counts.values())} seeds: with {len(counts)} algorithms a test needs at least "
            f"{least} of each ({', '.join(few)})")


def family(algos: list[str], test: dict[str, Any] | None) -> list[str]:
    """With more than two variants, what each test's level covers: every pair, or each against the baseline."""
    if len(algos) < 3 or not test or test.get("skipped"):
        return []
    if test.get("baseline"):
        return [f"Each variant is tested against {label(test['baseline'])} only: the family-wise error (at most "
                f"{test['alpha']:.0%}) holds over those {test['pairs']} comparisons together; other pairs are "
                "described, not tested."]
    pairs = len(algos) * (len(algos) - 1) // 2
    return [f"With {len(algos)} variants, each test's family-wise error (at most {test['alpha']:.0%}) holds over all "
            f"{pairs} pairs together."]


def environment_test(decision: dict[str, Any], env: str) -> dict[str, Any] | None:
    """The test of ``env``'s final evaluations: the sweep's decision, or the report's one-round test of ``env``
    (None: the runs' seeds were chosen adaptively, and there is none)."""
    if decision.get("one_round"):
        return decision["environments"].get(env)
    return decision


def verdict(stats: Comparison, common: CommonBudget | None = None, decision: dict[str, Any] | None = None,
            random_score: float | None = None) -> list[str]:
    """Plain-language conclusions, what decides first: the final evaluations' test of each pair, a random policy's
    score for scale, the common budget, learning speed; then how many seeds reach the threshold, and which runs did
    not complete. Says when there are too few seeds to test, and when the runs' budgets differ (``common``: the
    comparison at the common budget), that their final evaluations are not like-for-like.

    :param decision: the report's decision: the sweep's, or the one-round tests (:mod:`~rl_sweep.decision.one_round`).
        Every winner a sentence names is one a test decided at a stated level.
    :param random_score: a uniform random policy's evaluation return on the runs' seeds (None: not measured).
    """
    env = stats.environment or UNNAMED
    test = environment_test(decision, env) if decision else None
    unequal = " (budgets differ: not a like-for-like comparison)" if common else ""
    by_algo = stats.algorithms
    algos = [a for a, s in by_algo.items() if s.seeds_completed]
    threshold = stats.reward_threshold
    caveats = [f"{label(algo)}: {len(s.not_completed)} of {s.seeds} runs did not complete "
               f"({', '.join(f'{k} {v}' for k, v in s.not_completed.items())}); they are left out of every statistic."
               for algo, s in by_algo.items() if s.not_completed]
    if not algos:
        return ["No run completed: there is nothing to compare.", *caveats]
    if threshold is not None:
        caveats = [f"{label(algo)}: {by_algo[algo].seeds_reaching_threshold} of {by_algo[algo].seeds_completed} seeds "
                   f"reach the reward threshold of {threshold:g} in evaluation." for algo in algos] + caveats
    evaluation = evaluation_return(stats.eval_episodes)
    scale = ([f"For scale: a uniform random policy's {evaluation} on the same seeds is {num(random_score)}; "
              + ", ".join(f"{label(a)}'s mean is {num(by_algo[a].mean)}" for a in algos) + "."]
             if random_score is not None else [])
    if len(algos) < 2:
        return [f"Only {label(algos[0])} has completed runs: nothing to compare it with.", *scale, *caveats]
    iqm = {a: estimate(s.iqm, s.iqm_ci, seeds=s.seeds_completed) for a, s in by_algo.items()}
    pairs = list(itertools.combinations(algos, 2))
    lines = [tested(f"Final performance{unequal}", x, y, test, env, stats.probability_of_improvement[f"{x}>{y}"],
                    iqm, f"IQM {evaluation}") for x, y in pairs]
    lines += scale
    if common:
        lines += [_at_common_budget(common, env, x, y) for x, y in pairs]
    speed = "Learning speed (over runs of unequal lengths)" if common else "Learning speed"
    areas = {a: num(s.auc_mean) for a, s in by_algo.items()}
    for x, y in pairs:
        if by_algo[x].auc_mean is not None and by_algo[y].auc_mean is not None:
            line = tested(speed, x, y, stats.learning_speed_test, env, Improvement(None, None), areas,
                          f"mean {TRAINING_RETURN} over the run (area under the learning curve)", "learned faster than")
            lines.append(line + _curves_cross(by_algo, x, y, stats.learning_speed_test, env))
    return lines + family(algos, test) + caveats


def _curves_cross(by_algo: dict[str, Any], x: str, y: str, test: dict[str, Any] | None, env: str) -> str:
    """When the faster learner's training return ends below the slower's: the curves cross."""
    decided = pair_decision(test, env, x, y) if test else None
    if decided not in ("larger", "smaller"):
        return ""
    fast, slow = (x, y) if decided == "larger" else (y, x)
    end_fast, end_slow = by_algo[fast].final_training_reward_mean, by_algo[slow].final_training_reward_mean
    if end_fast is not None and end_slow is not None and end_slow > end_fast:
        return (f" But {label(slow)}'s {TRAINING_RETURN} ends higher ({num(end_slow)} vs {num(end_fast)}): "
                "the curves cross.")
    return ""


def _at_common_budget(common: CommonBudget, env: str, x: str, y: str) -> str:
    """X against Y at the common budget, from the training returns there."""
    title, at = common_budget_title(common.step), common.algorithms
    if not (at[x].training_returns and at[y].training_returns):
        return f"{title}: {label(x)} and {label(y)} do not both have a training return by then."
    iqm = {a: estimate(s.iqm, s.iqm_ci, seeds=len(s.training_returns)) for a, s in at.items()}
    return tested(f"{title} (training return)", x, y, common.test, env, common.probability_of_improvement[f"{x}>{y}"],
                  iqm, f"IQM {TRAINING_RETURN}")


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
    if decision.get("adaptive"):
        return (f"No one-round test on {env}: these runs come from the rl-sweep --until-decided sweep "
                f"{decision['adaptive']}, which chose how many seeds to run from their results, and a test at a "
                f"number of seeds so chosen does not hold its level. The sweep's own decision is the test of them: "
                f"rl-report --sweep {decision['adaptive']}.")
    if decision.get("one_round"):
        return _one_round_line(env, decision["environments"][env])
    comparisons = [c for c in decision["comparisons"] if c["env"] == env]
    if not comparisons:
        if rounds := decision.get("rounds", 0):  # a round ran and decided nothing: the sweep stopped before the next
            return (f"No {decision['method']} decision on {env} yet: after {rounds} round{'s' if rounds > 1 else ''} "
                    f"of {decision['seeds_per_round']} seeds each no comparison is decided, and the sweep stopped "
                    "before its next round (rl-sweep --resume NAME goes on).")
        return (f"No {decision['method']} decision on {env}: rl-sweep --until-decided decides once every trial of "
                "a round has completed.")
    return grouped(comparisons, decision) + "."


def _one_round_line(env: str, test: dict[str, Any]) -> str:
    counts = test["completed_seeds"]
    if test.get("baseline_missing"):
        return f"No one-round AdaStop test on {env}: the baseline {label(test['baseline'])} has no completed run."
    if test.get("skipped"):
        least = min_test_seeds(len(counts), baseline=bool(test.get("baseline")))
        few = [f"{label(algo)} has {k} completed seed{'s' if k != 1 else ''}" for algo, k in counts.items() if k < least]
        why = (f"{', '.join(few)}, and it needs at least {least} of each algorithm" if len(counts) >= 2
               else "it needs completed runs of two algorithms at least")
        return f"No one-round AdaStop test on {env}: {why}."
    n = test["seeds_per_round"]
    seeds = (f"these {n} seeds per algorithm" if len(set(counts.values())) == 1
             else f"the first {n} completed seeds of each algorithm")
    sentences = grouped(test["comparisons"], test)
    settled = all(c["decision"] != "equal" for c in test["comparisons"])
    return (f"A one-round AdaStop test at {seeds}: {sentences}"
            + ("." if settled else "; rl-sweep --until-decided adds seeds until it is decided."))


def budget_line(common: CommonBudget, where: str = "") -> str:
    """The runs' budgets differ ``where``: what each algorithm's runs trained, and where they are compared alike."""
    trained = [f"{label(algo)} runs {'trained ' if i == 0 else ''}{steps_span(steps)}{' steps' if i == 0 else ''}"
               for i, (algo, steps) in enumerate(common.budgets.items())]
    return (f"Budgets differ{where}: {', '.join(trained)}: final evaluations, and any test of them, are not a "
            f"like-for-like comparison; \"{common_budget_title(common.step)}\" compares every run at the shorter "
            "runs' budget.")


def across_verdict(across: AcrossEnvironments, algos: list[str], unplaced: list[RunRecord]) -> list[str]:
    """Plain-language conclusions across environments: what enters the aggregates, and what they say."""
    lines = [f"{env} has no reward threshold: its normalised score of 1 is the best final score seen on it "
             f"({num(n.reference)}, across all algorithms and seeds)." for env, n in across.normalisation.items()
             if n.reference_source == BEST_SEEN]
    lines += [f"{env} is left out of the comparison across environments: {why}."
              for env, why in across.left_out.items()]
    if unplaced:
        lines.append(f"{', '.join(f'{r.name} ({r.status})' for r in unplaced)}: no results file says which "
                     "environment; left out of every section.")
    for algo in algos:
        if algo not in across.algorithms:
            lines.append(f"{label(algo)} has no completed run on every environment compared: it is left out of "
                         "the aggregates.")
    seeds = {algo: s.seeds for algo, s in across.algorithms.items()}
    if not seeds:
        return lines + ["No algorithm has a completed run on every environment compared: there is nothing to "
                        "aggregate."]
    counts = ", ".join(f"{label(algo)} {n}" for algo, n in seeds.items())
    lines.append(f"Each environment enters with the first completed runs of each algorithm in seed order, as many "
                 f"as every environment has: seeds per environment {counts}.")
    if len(seeds) < 2:
        return lines
    scored = list(seeds)
    iqm = {a: estimate(s.iqm, s.iqm_ci, 2, seeds=s.seeds) for a, s in across.algorithms.items()}
    return lines + [tested("Across environments", x, y, across.test, ACROSS,
                           across.probability_of_improvement[f"{x}>{y}"], iqm,
                           "normalised IQM")
                    for x, y in itertools.combinations(scored, 2)] + family(scored, across.test)
