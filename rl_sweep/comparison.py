"""Comparing algorithms across seeds: the statistics of Agarwal et al. (2021) through ``rliable``.

Final performance is each run's deterministic evaluation (``final_reward_mean``); learning speed
comes from the training curve of the metrics JSON. Confidence intervals are 95% stratified
bootstrap intervals, seeded so that the same runs always give the same report, and are only
computed with at least ``MIN_SEEDS`` completed runs per algorithm.
"""

from __future__ import annotations

import itertools
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from rliable import library as rly
from rliable import metrics as rl_metrics
from scipy.stats import trim_mean

MIN_SEEDS = 3
REPS = 5000
CURVE_REPS = 2000
CONFIDENCE = 0.95


@dataclass
class Trial:
    """One (algorithm, seed) run as the report sees it."""

    name: str
    algo: str
    seed: int | None
    status: str  # completed, interrupted, failed, incomplete or missing
    experiment_dir: str
    final_reward: float | None = None
    timesteps: int = 0
    training_time: float | None = None
    steps_per_second: float | None = None
    threshold: float | None = None
    env_name: str | None = None
    eval_episodes: int | None = None
    curve_steps: np.ndarray = field(default_factory=lambda: np.zeros(0))
    curve_rewards: np.ndarray = field(default_factory=lambda: np.zeros(0))
    config: dict[str, Any] = field(default_factory=dict)

    @property
    def completed(self) -> bool:
        return self.status == "completed" and self.final_reward is not None


def load_trial(experiment_dir: Path, status: str | None = None, name: str | None = None) -> Trial:
    """Read a run's results and metrics JSON; a folder without them is a ``missing`` trial.

    :param status: what the sweep knows of the trial (a failed trial may still have files).
    """
    experiment_dir = Path(experiment_dir)
    name = name or experiment_dir.name
    algo, _, seed = name.partition("_seed")
    results_files = sorted(experiment_dir.glob("*_results.json"))
    if not results_files:
        return Trial(name, algo, int(seed) if seed.isdigit() else None, status or "missing", str(experiment_dir))
    results = json.loads(results_files[0].read_text())["experiment_results"]
    meta, metrics = results["metadata"], results["metrics"]
    trial = Trial(
        name=meta["experiment_id"], algo=meta["algorithm"].lower(), seed=meta["seed"],
        status=status or meta.get("status", "completed"), experiment_dir=str(experiment_dir),
        final_reward=metrics["final_reward_mean"], timesteps=metrics.get("total_timesteps", meta["total_timesteps"]),
        training_time=metrics["training_time_seconds"], steps_per_second=metrics.get("steps_per_second"),
        threshold=results["environment"]["reward_threshold"], env_name=meta["environment"],
        eval_episodes=metrics.get("eval_episodes"),
        config={"timesteps": meta.get("target_timesteps", meta["total_timesteps"]),
                "checkpoint_interval": results["model"]["checkpoint_interval"],
                "preset": meta.get("preset", "contract")},
    )
    metrics_file = experiment_dir / f"{trial.name}_metrics.json"
    if metrics_file.exists():
        series = json.loads(metrics_file.read_text())["training_metrics"]["time_series"]
        trial.curve_steps = np.array([e["timestep"] for e in series], dtype=float)
        trial.curve_rewards = np.array([np.nan if e["reward"] is None else e["reward"] for e in series])
    return trial


def steps_to_threshold(trial: Trial) -> float | None:
    """First step at which the training curve (mean of recent episodes) reaches the threshold."""
    if trial.threshold is None:
        return None
    reached = np.flatnonzero(np.nan_to_num(trial.curve_rewards, nan=-np.inf) >= trial.threshold)
    return float(trial.curve_steps[reached[0]]) if reached.size else None


def learning_curve_area(trial: Trial) -> float | None:
    """Area under the training curve divided by its length: the mean training reward over the run."""
    valid = ~np.isnan(trial.curve_rewards)
    steps, rewards = trial.curve_steps[valid], trial.curve_rewards[valid]
    if steps.size < 2:
        return None
    return float(np.trapezoid(rewards, steps) / (steps[-1] - steps[0]))


def _bootstrap(score_dict: dict[str, Any], func, reps: int) -> dict[str, np.ndarray]:
    """rliable's stratified-bootstrap 95% intervals, seeded: the same runs give the same report."""
    # rliable's StratifiedBootstrap draws from NumPy's global RNG whatever random_state says, so the
    # global state is seeded here and put back afterwards.
    global_state = np.random.get_state()
    np.random.seed(0)
    try:
        with warnings.catch_warnings():
            # rliable passes arch a RandomState, which arch 7 deprecates in favour of a Generator.
            warnings.simplefilter("ignore", FutureWarning)
            _, intervals = rly.get_interval_estimates(score_dict, func, reps=reps,
                                                      confidence_interval_size=CONFIDENCE,
                                                      random_state=np.random.RandomState(0))
    finally:
        np.random.set_state(global_state)
    return intervals


def _interval(scores: np.ndarray, func, reps: int) -> list[list[float]]:
    return _bootstrap({"x": scores}, func, reps)["x"].reshape(2, -1).T.tolist()


def _mean(values: list[float]) -> float | None:
    return float(np.mean(values)) if values else None


def algorithm_statistics(trials: list[Trial], threshold: float | None, reps: int = REPS) -> dict[str, Any]:
    """Final-performance and learning-speed statistics of one algorithm's completed seeds."""
    done = [t for t in trials if t.completed]
    finals = np.array([t.final_reward for t in done], dtype=float)
    stats: dict[str, Any] = {
        "seeds": len(trials),
        "seeds_completed": len(done),
        "not_completed": {t.name: t.status for t in trials if not t.completed},
        "final_rewards": {t.name: t.final_reward for t in done},
    }
    if not done:
        return stats
    scores = finals.reshape(-1, 1)
    gap_threshold = threshold if threshold is not None else float(np.max(finals))
    stats.update({
        "mean": float(finals.mean()),
        "std": float(finals.std(ddof=1)) if len(done) > 1 else 0.0,
        "median": float(np.median(finals)),
        "iqm": float(rl_metrics.aggregate_iqm(scores)),
        "optimality_gap": float(rl_metrics.aggregate_optimality_gap(scores, gamma=gap_threshold)),
    })
    if len(done) >= MIN_SEEDS:
        func = lambda s: np.array([rl_metrics.aggregate_iqm(s), rl_metrics.aggregate_mean(s),  # noqa: E731
                                   rl_metrics.aggregate_median(s),
                                   rl_metrics.aggregate_optimality_gap(s, gamma=gap_threshold)])
        iqm_ci, mean_ci, median_ci, gap_ci = _interval(scores, func, reps)
        stats.update(iqm_ci=iqm_ci, mean_ci=mean_ci, median_ci=median_ci, optimality_gap_ci=gap_ci)
    reach = {t.name: steps_to_threshold(t) for t in done}
    stats["steps_to_threshold"] = reach
    stats["seeds_reaching_threshold_in_training"] = sum(v is not None for v in reach.values())
    stats["seeds_reaching_threshold"] = int(np.sum(finals >= threshold)) if threshold is not None else None
    reached = [v for v in reach.values() if v is not None]
    stats["median_steps_to_threshold"] = float(np.median(reached)) if reached else None
    areas = [a for t in done if (a := learning_curve_area(t)) is not None]
    stats["auc_mean"] = _mean(areas)
    stats["final_training_reward_mean"] = _mean([float(t.curve_rewards[-1]) for t in done
                                                 if t.curve_rewards.size and not np.isnan(t.curve_rewards[-1])])
    if len(areas) >= MIN_SEEDS:
        [stats["auc_ci"]] = _interval(np.array(areas).reshape(-1, 1),
                                      lambda s: np.array([rl_metrics.aggregate_mean(s)]), reps)
    stats["training_time_mean"] = _mean([t.training_time for t in done if t.training_time is not None])
    stats["steps_per_second_mean"] = _mean([t.steps_per_second for t in done if t.steps_per_second])
    return stats


def probability_of_improvement(x: list[Trial], y: list[Trial], reps: int = REPS) -> dict[str, Any]:
    """P(X > Y) over final rewards (Mann-Whitney), with a 95% CI when both have enough seeds."""
    sx = np.array([t.final_reward for t in x if t.completed], dtype=float).reshape(-1, 1)
    sy = np.array([t.final_reward for t in y if t.completed], dtype=float).reshape(-1, 1)
    if not len(sx) or not len(sy):
        return {"point": None, "ci": None}
    point = float(rl_metrics.probability_of_improvement(sx, sy))
    if min(len(sx), len(sy)) < MIN_SEEDS:
        return {"point": point, "ci": None}
    intervals = _bootstrap({"p": (sx, sy)}, rl_metrics.probability_of_improvement, reps)
    return {"point": point, "ci": [float(v) for v in np.ravel(intervals["p"])]}


def aggregate_curve(trials: list[Trial], reps: int = CURVE_REPS) -> dict[str, np.ndarray] | None:
    """IQM of the training curves across seeds, with a 95% bootstrap band (3 seeds or more).

    Steps are those every seed recorded, from the first at which every seed has a reward.
    """
    done = [t for t in trials if t.completed and t.curve_steps.size]
    if not done:
        return None
    common = set(done[0].curve_steps.tolist())
    for t in done[1:]:
        common &= set(t.curve_steps.tolist())
    steps = np.array(sorted(common))
    curves = np.array([[t.curve_rewards[np.searchsorted(t.curve_steps, s)] for s in steps] for t in done])
    valid = ~np.isnan(curves).any(axis=0)
    steps, curves = steps[valid], curves[:, valid]
    if not steps.size:
        return None
    result = {"steps": steps, "iqm": trim_mean(curves, 0.25, axis=0), "seeds": curves}
    if len(done) >= MIN_SEEDS:
        func = lambda s: trim_mean(s[:, 0, :], 0.25, axis=0)  # noqa: E731
        intervals = _bootstrap({"c": curves[:, None, :]}, func, reps)
        result["low"], result["high"] = intervals["c"]
    return result


def compare(trials: list[Trial], reps: int = REPS) -> dict[str, Any]:
    """Every statistic of the report, machine-readable: per algorithm, and per pair of algorithms.

    :param reps: bootstrap replicates of each confidence interval.
    """
    algos = list(dict.fromkeys(t.algo for t in trials))
    thresholds = {t.threshold for t in trials if t.threshold is not None}
    threshold = thresholds.pop() if len(thresholds) == 1 else None
    by_algo = {a: [t for t in trials if t.algo == a] for a in algos}
    return {
        "environment": next((t.env_name for t in trials if t.env_name), None),
        "reward_threshold": threshold,
        "min_seeds_for_intervals": MIN_SEEDS,
        "confidence": CONFIDENCE,
        "bootstrap_replicates": reps,
        "algorithms": {a: algorithm_statistics(by_algo[a], threshold, reps) for a in algos},
        "probability_of_improvement": {
            f"{x}>{y}": probability_of_improvement(by_algo[x], by_algo[y], reps)
            for x, y in itertools.combinations(algos, 2)  # P(Y > X) is 1 - P(X > Y)
        },
    }
