"""One environment's part of the report (:class:`EnvironmentReport`): its runs' statistics
(:mod:`~rl_sweep.report.statistics`), their comparison at the common budget when their budgets differ
(:mod:`~rl_sweep.report.budgets`), the verdict (:mod:`~rl_sweep.report.verdict`), its two figures
(:mod:`~rl_sweep.report.plots`) and its replays, and the numbers ``comparison.json`` keeps of it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rl_sweep.decision.one_round import UNNAMED, fixed_sample
from rl_sweep.report import plots
from rl_sweep.report.budgets import CommonBudget, budgets, common_budget
from rl_sweep.report.normalisation import Normalisation
from rl_sweep.report.replays import Replays
from rl_sweep.report.runs import RunRecord
from rl_sweep.report.statistics import (
    CURVE_REPS, Comparison, compare, final_training_return, learning_curve_area, steps_to_threshold,
)
from rl_sweep.report.verdict import verdict


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
    matrix: str | None = None  # with three variants or more: the figure of P(row > column)

    @property
    def ranking(self) -> list[str]:
        """The variants with completed runs, best IQM of final evaluation returns first."""
        done = [v for v, s in self.stats.algorithms.items() if s.iqm is not None]
        return sorted(done, key=lambda v: -self.stats.algorithms[v].iqm)

    def numbers(self) -> dict[str, Any]:
        return {
            **self.stats.to_json(),
            "ranking": self.ranking,
            "random_policy_return": self.random_policy_return,
            "budgets": budgets(self.runs),
            "common_budget": self.common.to_json() if self.common else None,
            "verdict": self.verdict,
            "replays": self.replays.to_json() if self.replays else None,
            "runs": [{"run": r.name, "algo": r.algo, "variant": r.variant, "seed": r.seed, "status": r.status,
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
    if len(stats.algorithms) > 2:  # two variants' one P(X > Y) is in the table; more read better as a matrix
        part.matrix = f"improvement_matrix{suffix}.png"
        plots.improvement_matrix(stats.probability_of_improvement, list(stats.algorithms), env, out_dir / part.matrix)
    return part
