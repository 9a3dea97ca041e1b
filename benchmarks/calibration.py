"""Calibration: every level the report states, measured through rl-sweep's own code, against its nominal value.

    python benchmarks/calibration.py                      # everything: about an hour on 2 CPUs
    python benchmarks/calibration.py --part decision      # one part: decision, verdict, intervals, across, power
    python benchmarks/calibration.py --sims 100 --jobs 2  # fewer simulations per cell, two processes
    python benchmarks/calibration.py --setting bimodal,5,4,2 --sims 1000 --budget 1e9   # one decision setting

Scores come from two distributions: ``normal`` (N(0, 1)) and ``bimodal``, RL-like final returns: 70% of seeds land
near 250 (N(250, 25)), 30% fail near -100 (N(-100, 50)). Each part prints measured against nominal, with the
binomial standard error of the measured rate, and says whether it holds:

- ``decision``: the family-wise error of :func:`rl_sweep.decision.decide` when every algorithm's scores come from
  one distribution (the null), for n seeds per round in {3, 5, 10}, K rounds in {1, 4}, 2 and 3 algorithms. Holds
  when at most alpha + 2 standard errors.
- ``verdict``: how often the report's sentences name a winner under the null: per environment, learning speed, at a
  common budget, and across two environments, through :func:`~rl_sweep.report.statistics.compare`,
  :func:`~rl_sweep.report.verdict.verdict` and :func:`~rl_sweep.report.verdict.across_verdict`.
- ``intervals``: the coverage of each bootstrap interval the report computes (:func:`seed_aggregates` through
  :func:`bootstrap_intervals`, and P(X > Y)) at 3, 5 and 10 seeds, and whether the report shows it there (from
  ``MIN_INTERVAL_SEEDS``). Holds when a shown interval covers at least 90%.
- ``across``: the coverage of the aggregates' intervals across two environments (rliable's stratified bootstrap).
- ``power``: how often the decision finds a difference of 1 and 2 standard deviations, and says it the right way.

The suite's fast check of the decision's level is ``tests/test_calibration.py``; the figures are in
``docs/calibration.md``.
"""

from __future__ import annotations

import argparse
import itertools
import math
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from rl_sweep.decision import DecisionSettings, decide  # noqa: E402

ALPHA = DecisionSettings().alpha
COVERAGE = 0.90  # the least coverage at which the report shows an interval
THRESHOLD = {"normal": 1.0, "bimodal": 200.0}  # the reward threshold of the optimality gap


def draw(distribution: str, rng: np.random.Generator, size: int) -> np.ndarray:
    """``size`` scores from ``distribution``."""
    if distribution == "normal":
        return rng.normal(0.0, 1.0, size)
    fails = rng.random(size) < 0.3
    return np.where(fails, rng.normal(-100.0, 50.0, size), rng.normal(250.0, 25.0, size))


def population(distribution: str, scale: float = 1.0) -> dict[str, float]:
    """The true values every interval is meant to cover, from 4 million draws (seeded), of scores divided by
    ``scale``: the optimality gap below the threshold so divided."""
    x = np.sort(draw(distribution, np.random.default_rng(12345), 4_000_000)) / scale
    quarter = len(x) // 4
    gap = np.maximum(THRESHOLD[distribution] / scale - x, 0).mean()
    return {"iqm": float(x[quarter:-quarter].mean()), "mean": float(x.mean()), "median": float(np.median(x)),
            "optimality gap": float(gap), "sd": float(x.std())}


def probability_of_improvement(distribution: str, shift: float) -> float:
    """P(X + shift > Y), X and Y from ``distribution``, from 4 million pairs (seeded)."""
    rng = np.random.default_rng(54321)
    return float(np.mean(draw(distribution, rng, 4_000_000) + shift > draw(distribution, rng, 4_000_000)))


# The parts: each cell runs in a worker process, seeded by its place in the table.

def decision_cell(distribution: str, n: int, rounds: int, algos: int, sims: int, shift: float, seed: int,
                  budget: float, baseline: bool = False) -> tuple[int, int, int]:
    """(comparisons made, those that found any difference, of them the ones that found the shifted first algorithm
    larger): ``sims`` of them, or as many as ``budget`` seconds allow (at least 50). ``baseline``: each variant
    against the last (``--baseline``), not every pair."""
    rng = np.random.default_rng(seed)
    settings = DecisionSettings(seeds_per_round=n, max_rounds=rounds)
    sd = population(distribution)["sd"] if shift else 0.0
    found = right = made = 0
    started = time.time()
    while made < sims and (made < 50 or time.time() - started < budget):
        rewards = {f"a{i}": (draw(distribution, rng, n * rounds) + (shift * sd if i == 0 else 0.0)).tolist()
                   for i in range(algos)}
        decided = [c.decision for c in decide("env", rewards, settings, f"a{algos - 1}" if baseline else None).comparisons]
        found += any(d != "equal" for d in decided)
        right += decided[0] == "larger"
        made += 1
    return made, found, right


def verdict_cell(distribution: str, n: int, sims: int, seed: int, budget: float) -> tuple[int, dict[str, int]]:
    """(reports made, how many of them named a winner per kind of sentence), the runs of equal algorithms: ``sims``
    reports, or as many as ``budget`` seconds allow (at least 50)."""
    from rl_sweep.report.across import compare_across
    from rl_sweep.report.budgets import common_budget
    from rl_sweep.report.normalisation import THRESHOLD as FROM_THRESHOLD
    from rl_sweep.report.normalisation import Normalisation
    from rl_sweep.decision.one_round import one_round_decision
    from rl_sweep.report.runs import RunRecord
    from rl_sweep.report.statistics import compare
    from rl_sweep.report.verdict import across_verdict, verdict

    rng = np.random.default_rng(seed)
    steps = np.array([1000.0, 2000.0, 3000.0, 4000.0])

    def run(algo: str, seed: int, env: str, budget: int) -> RunRecord:
        final, curve = draw(distribution, rng, 1)[0], draw(distribution, rng, len(steps))
        return RunRecord(f"{algo}_seed{seed}", algo, seed, "completed", "", final_reward=final, timesteps=budget,
                         env_name=env, curve_steps=steps[steps <= budget], curve_rewards=curve[steps <= budget],
                         config={"timesteps": budget})

    counts = {"final performance": 0, "learning speed": 0, "common budget": 0, "across environments": 0}
    made, started = 0, time.time()
    while made < sims and (made < 50 or time.time() - started < budget):
        made += 1
        groups = {env: [run(algo, s, env, budget) for algo, budget in (("ppo", 2000), ("a2c", 4000))
                        for s in range(n)] for env in ("A-v0", "B-v0")}
        decision = one_round_decision(groups)
        lines = verdict(compare(groups["A-v0"], "A-v0", reps=200), common_budget(groups["A-v0"], 200, "A-v0"),
                        decision)
        for kind, start in (("final performance", "Final performance"), ("learning speed", "Learning speed"),
                            ("common budget", "At the common budget")):
            counts[kind] += any(line.startswith(start) and " is better than " in line or " learned faster" in line
                                and line.startswith(start) for line in lines)
        one = {env: Normalisation(0.0, [], THRESHOLD[distribution] + 1.0, FROM_THRESHOLD) for env in groups}
        across = compare_across(groups, one, reps=200)
        counts["across environments"] += any(" is better than " in line
                                             for line in across_verdict(across, ["ppo", "a2c"], []))
    return made, counts


def interval_cell(distribution: str, n: int, sims: int, reps: int, seed: int) -> dict[str, int]:
    """How many of ``sims`` intervals (of ``reps`` bootstrap replicates) covered their true value, per statistic."""
    from rl_sweep.report.statistics import bootstrap_intervals, improvement_interval, seed_aggregates

    rng = np.random.default_rng(seed)
    truth = population(distribution)
    sd = truth["sd"]
    p_null, p_shift = 0.5, probability_of_improvement(distribution, sd)
    covered = dict.fromkeys(["iqm", "mean", "median", "optimality gap", "P(X > Y), equal",
                             "P(X > Y), 1 sd apart"], 0)
    for _ in range(sims):
        scores = draw(distribution, rng, n).reshape(-1, 1)
        intervals = bootstrap_intervals(scores, seed_aggregates(THRESHOLD[distribution]), reps)
        for (low, high), name in zip(intervals, ["iqm", "mean", "median", "optimality gap"]):
            covered[name] += low <= truth[name] <= high
        x, y = draw(distribution, rng, n).reshape(-1, 1), draw(distribution, rng, n).reshape(-1, 1)
        low, high = improvement_interval(x, y, reps)
        covered["P(X > Y), equal"] += low <= p_null <= high
        low, high = improvement_interval(x + sd, y, reps)
        covered["P(X > Y), 1 sd apart"] += low <= p_shift <= high
    return covered


def across_cell(distribution: str, n: int, sims: int, reps: int, seed: int) -> dict[str, int]:
    """How many of ``sims`` intervals across two environments covered their true value, per aggregate: scores
    normalised to the threshold (``draw / THRESHOLD``), the same distribution on both environments."""
    from rl_sweep.report.statistics import aggregates, bootstrap_intervals

    rng = np.random.default_rng(seed)
    scale = THRESHOLD[distribution]
    truth = {name: value for name, value in population(distribution, scale).items() if name != "sd"}
    truth["median"] = truth["mean"]  # rliable's median across tasks is the median of the tasks' means: here, the mean
    covered = dict.fromkeys(truth, 0)
    for _ in range(sims):
        scores = draw(distribution, rng, 2 * n).reshape(n, 2) / scale
        for (low, high), name in zip(bootstrap_intervals(scores, aggregates(1.0), reps), truth):
            covered[name] += low <= truth[name] <= high
    return covered


def across_part(sims: int, jobs: int, reps: int, budget: float) -> bool:
    from rl_sweep.report.statistics import MIN_INTERVAL_SEEDS

    print(f"\nCoverage of the intervals across environments (two environments alike, scores normalised to the "
          f"threshold; rliable's stratified bootstrap, {reps:,} replicates here), shown from {MIN_INTERVAL_SEEDS} "
          f"seeds per environment", flush=True)
    return coverage_table(across_cell, list(itertools.product(["normal", "bimodal"], [5, 10])), sims, jobs, reps,
                          4000)


def coverage_table(cell_function, grid: list[tuple[str, int]], sims: int, jobs: int, reps: int, seed: int) -> bool:
    """The coverage of each interval ``cell_function`` counts, per (scores, seeds) cell of ``grid``, and whether the
    report shows it there; True when every shown one covers at least ``COVERAGE``."""
    from rl_sweep.report.statistics import MIN_INTERVAL_SEEDS

    print(f"{'scores':8} {'n':>3} {'sims':>5} {'interval':22} {'coverage':>9} {'s.e.':>6} shown  holds")
    ok = True
    for cell, covered in zip(grid, run_cells(cell_function, [(*cell, sims, reps, seed + i)
                                                             for i, cell in enumerate(grid)], jobs)):
        shown = cell[1] >= MIN_INTERVAL_SEEDS
        for name, found in covered.items():
            rate = found / sims
            holds = not shown or rate >= COVERAGE
            ok &= holds
            print(f"{cell[0]:8} {cell[1]:3} {sims:5} {name:22} {rate:9.3f} {standard_error(rate, sims):6.3f} "
                  f"{'yes' if shown else 'no':5}  {'yes' if holds else 'NO'}", flush=True)
    return ok


def standard_error(rate: float, sims: int) -> float:
    return math.sqrt(rate * (1 - rate) / sims)


def run_cells(function, cells: list[tuple], jobs: int):
    """``function`` of each cell, in a pool: the results in the cells' order, each as soon as it and those before
    it are done."""
    with ProcessPoolExecutor(jobs) as pool:
        yield from pool.map(function, *zip(*cells))


def decision_part(sims: int, jobs: int, reps: int, budget: float, setting: tuple | None = None) -> bool:
    """The null family-wise error of the decision, per setting (or of ``setting`` alone: scores, n, K, algorithms, and
    whether against a baseline); True when every one holds. Four variants: every pair (6), or against a baseline (3)."""
    print(f"\nThe decision under the null (rl_sweep.decision.decide, alpha {ALPHA}, comparator given "
          f"alpha / (2 x pairs)): false decisions. adastop permutes in Python: a slow setting "
          f"runs as many comparisons as {budget:.0f} s allow, at least 50", flush=True)
    print(f"{'scores':8} {'n':>3} {'K':>3} {'algos':>5} {'sims':>5} {'measured':>9} {'s.e.':>6} {'bound':>6}  holds")
    grid = [(*cell, False) for cell in itertools.product(["normal", "bimodal"], [3, 5, 10], [1, 4], [2, 3])]
    grid += [(scores, n, k, 4, baseline) for scores in ("normal", "bimodal") for n, k in ((5, 4), (10, 1))
             for baseline in (False, True)]
    if setting:
        grid = [setting]
    ok = True
    seed = 0 if not setting else 10_000 + sims  # another draw than the table's
    for cell, (runs, found, _) in zip(grid, run_cells(decision_cell, [(*cell[:4], sims, 0.0, seed + i, budget, cell[4])
                                                                       for i, cell in enumerate(grid)], jobs)):
        rate = found / runs
        bound = ALPHA + 2 * standard_error(ALPHA, runs)
        ok &= rate <= bound
        algos = f"{cell[3]}{'b' if cell[4] else ''}"  # 4b: four variants, each against a baseline
        print(f"{cell[0]:8} {cell[1]:3} {cell[2]:3} {algos:>5} {runs:5} {rate:9.3f} "
              f"{standard_error(rate, runs):6.3f} {bound:6.3f}  {'yes' if rate <= bound else 'NO'}", flush=True)
    return ok


def power_part(sims: int, jobs: int, reps: int, budget: float) -> bool:
    print("\nThe decision's power (2 algorithms, the first shifted up by 1 or 2 standard deviations): "
          "found a difference / found the first larger", flush=True)
    print(f"{'scores':8} {'n':>3} {'K':>3} {'shift':>5} {'sims':>5} {'found':>7} {'right':>7}")
    grid = list(itertools.product(["normal", "bimodal"], [5, 10], [1, 4], [1.0, 2.0]))
    cells = [(c[0], c[1], c[2], 2, sims, c[3], 1000 + i, budget) for i, c in enumerate(grid)]
    for cell, (runs, found, right) in zip(grid, run_cells(decision_cell, cells, jobs)):
        print(f"{cell[0]:8} {cell[1]:3} {cell[2]:3} {cell[3]:5g} {runs:5} {found / runs:7.3f} {right / runs:7.3f}",
              flush=True)
    return True


def verdict_part(sims: int, jobs: int, reps: int, budget: float) -> bool:
    print(f"\nThe report's sentences under the null (two equal algorithms): how often one names a winner "
          f"(nominal: at most {ALPHA})")
    print(f"{'scores':8} {'n':>3} {'sims':>5} {'sentence':22} {'measured':>9} {'s.e.':>6} {'bound':>6}  holds")
    grid = list(itertools.product(["normal", "bimodal"], [3, 5, 10]))
    ok = True
    for cell, (made, counts) in zip(grid, run_cells(verdict_cell, [(*cell, sims, 2000 + i, budget)
                                                                   for i, cell in enumerate(grid)], jobs)):
        bound = ALPHA + 2 * standard_error(ALPHA, made)
        for kind, found in counts.items():
            rate = found / made
            ok &= rate <= bound
            print(f"{cell[0]:8} {cell[1]:3} {made:5} {kind:22} {rate:9.3f} {standard_error(rate, made):6.3f} "
                  f"{bound:6.3f}  {'yes' if rate <= bound else 'NO'}", flush=True)
    return ok


def intervals_part(sims: int, jobs: int, reps: int, budget: float) -> bool:
    from rl_sweep.report.statistics import MIN_INTERVAL_SEEDS, REPS

    print(f"\nCoverage of the 95% percentile-bootstrap intervals (rliable; {reps:,} replicates here, {REPS:,} in "
          f"the report), and whether the "
          f"report shows them (from {MIN_INTERVAL_SEEDS} seeds; a shown one must cover at least {COVERAGE:.0%})")
    return coverage_table(interval_cell, list(itertools.product(["normal", "bimodal"], [3, 5, 10])), sims, jobs,
                          reps, 3000)


PARTS = {"decision": decision_part, "verdict": verdict_part, "intervals": intervals_part, "across": across_part,
         "power": power_part}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=list(PARTS), action="append",
                        help="the parts to run (default: all of them)")
    parser.add_argument("--sims", type=int, default=400, help="simulations per cell (default: %(default)s)")
    parser.add_argument("--jobs", type=int, default=2, help="worker processes (default: %(default)s)")
    parser.add_argument("--setting", metavar="SCORES,N,K,ALGOS",
                        help="the decision part for one setting only, e.g. bimodal,5,4,2 (with --sims and a --budget "
                             "large enough for them); ALGOS 4b: four variants, each against a baseline")
    parser.add_argument("--budget", type=float, default=120.0,
                        help="seconds a slow decision setting may take (at least 50 comparisons; default: %(default)s)")
    parser.add_argument("--reps", type=int, default=1000,
                        help="bootstrap replicates of each interval (default: %(default)s; the report uses 5,000)")
    args = parser.parse_args()
    started, ok = time.time(), True
    if args.setting:
        scores, n, k, algos = args.setting.split(",")
        setting = (scores, int(n), int(k), int(algos.rstrip("b")), algos.endswith("b"))
        return 0 if decision_part(args.sims, 1, args.reps, args.budget, setting) else 1
    for part in args.part or list(PARTS):
        ok &= PARTS[part](args.sims, args.jobs, args.reps, args.budget)
    print(f"\n{'Every stated level holds' if ok else 'A stated level does NOT hold'} "
          f"({time.time() - started:.0f} s, {time.strftime('%Y-%m-%d')})")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
