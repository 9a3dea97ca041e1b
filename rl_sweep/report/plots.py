"""The report's figures: per environment, learning curves and final performance per algorithm; across
environments, performance profiles; for ``--tune``, each variant's sensitivity to its settings."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only, no display
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from rl_sweep.identity import label  # noqa: E402
from rl_sweep.report.runs import RunRecord  # noqa: E402
from rl_sweep.report.across import score_profiles  # noqa: E402
from rl_sweep.report.statistics import CURVE_REPS, AlgorithmStatistics, Improvement, aggregate_curve  # noqa: E402
from rl_sweep.report.tuning import TunedScores  # noqa: E402
from rl_sweep.report.verdict import TRAINING_RETURN, evaluation_return  # noqa: E402

# Okabe-Ito: distinguishable with the common colour-vision deficiencies.
PALETTE = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#F0E442", "#000000"]
STYLE = {"font.size": 11, "axes.titlesize": 12, "axes.spines.top": False, "axes.spines.right": False}


def axis_label(label: str) -> str:
    """A return's label on two lines: what it is, then (its policy, its episodes)."""
    return label.replace(" (", "\n(", 1)


def colours(algos: list[str]) -> dict[str, str]:
    return {algo: PALETTE[i % len(PALETTE)] for i, algo in enumerate(algos)}


def _legend_below(ax: plt.Axes) -> None:
    """Under the axes: a legend inside would hide the threshold line or the data."""
    ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=3, fontsize=9, frameon=False)


def learning_curves(runs: list[RunRecord], threshold: float | None, environment: str, path: Path,
                    reps: int = CURVE_REPS) -> None:
    """Training return against steps: IQM across seeds with its 95% band, each seed faint behind."""
    algos = list(dict.fromkeys(r.variant for r in runs))
    colour = colours(algos)
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
        for algo in algos:
            curve = aggregate_curve([r for r in runs if r.variant == algo], reps)
            if curve is None:
                continue
            for seed_curve in curve.seeds:
                ax.plot(curve.steps, seed_curve, color=colour[algo], alpha=0.18, linewidth=0.8)
            n = len(curve.seeds)
            # One legend entry a variant (its band named in it), so that six variants still read.
            band = ", band: 95% bootstrap CI" if curve.low is not None else ""
            ax.plot(curve.steps, curve.iqm, color=colour[algo], linewidth=2.2,
                    label=f"{label(algo)} (IQM of {n} seed{'s' if n > 1 else ''}{band})")
            if curve.low is not None:
                ax.fill_between(curve.steps, curve.low, curve.high, color=colour[algo], alpha=0.25, linewidth=0)
        if threshold is not None:
            ax.axhline(threshold, color="#444444", linestyle="--", linewidth=1.2,
                       label=f"reward threshold ({threshold:g})")
        ax.set_xlabel("environment steps")
        ax.set_ylabel(axis_label(TRAINING_RETURN))
        ax.set_title(f"Learning curves on {environment}")
        ax.xaxis.set_major_formatter(matplotlib.ticker.EngFormatter(sep=""))
        ax.grid(alpha=0.3)
        _legend_below(ax)
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)


def final_performance(runs: list[RunRecord], stats: dict[str, AlgorithmStatistics], threshold: float | None,
                      environment: str, path: Path, eval_episodes: list[int]) -> None:
    """Each seed's final evaluation return as a point; IQM and mean with their 95% intervals (where there are
    enough seeds for one).

    :param eval_episodes: the runs' evaluation episodes, for the axis' label.
    """
    algos = [a for a in dict.fromkeys(r.variant for r in runs) if stats[a].seeds_completed]
    colour = colours(list(dict.fromkeys(r.variant for r in runs)))
    rng = np.random.default_rng(0)  # horizontal jitter only
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(max(4.5, 2.4 * len(algos) + 1.5), 4.8), dpi=120)
        for i, algo in enumerate(algos):
            s = stats[algo]
            finals = list(s.final_rewards.values())
            ax.scatter(i + rng.uniform(-0.08, 0.08, len(finals)), finals, color=colour[algo], alpha=0.7,
                       s=36, zorder=3, label="one seed" if i == 0 else None)
            for offset, value, ci, marker, name in ((-0.22, s.iqm, s.iqm_ci, "D", "IQM"),
                                                    (0.22, s.mean, s.mean_ci, "o", "mean")):
                yerr = None if ci is None else [[value - ci[0]], [ci[1] - value]]
                shown = f"{name} ± 95% CI" if ci is not None else f"{name} (too few seeds for an interval)"
                ax.errorbar(i + offset, value, yerr=yerr, fmt=marker, color="black", markersize=7,
                            capsize=5, zorder=4, label=shown if i == 0 else None)
        if threshold is not None:
            ax.axhline(threshold, color="#444444", linestyle="--", linewidth=1.2,
                       label=f"reward threshold ({threshold:g})")
        ax.set_xticks(range(len(algos)), [label(a) for a in algos])
        ax.set_xlim(-0.6, len(algos) - 0.4)
        ax.set_ylabel(axis_label(f"final {evaluation_return(eval_episodes)}"))
        ax.set_title(f"Final performance on {environment}")
        ax.grid(axis="y", alpha=0.3)
        _legend_below(ax)
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)


def performance_profiles(scores: dict[str, np.ndarray], path: Path, reps: int = CURVE_REPS) -> None:
    """For each normalised score tau, the fraction of an algorithm's runs (every seed on every environment)
    scoring above it, with its 95% band; 0 is a random policy, 1 the reference."""
    colour = colours(list(scores))
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
        for algo, profile in score_profiles(scores, reps).items():
            seeds, envs = scores[algo].shape
            ax.plot(profile.taus, profile.fraction, color=colour[algo], linewidth=2.2,
                    label=f"{label(algo)} ({seeds} seed{'s' if seeds > 1 else ''} x {envs} environments"
                          f"{', band: 95% bootstrap CI' if profile.low is not None else ''})")
            if profile.low is not None:
                ax.fill_between(profile.taus, profile.low, profile.high, color=colour[algo], alpha=0.25, linewidth=0)
        for tau, name in ((0, "random policy (0)"), (1, "reference (1)")):
            ax.axvline(tau, color="#444444", linestyle=":" if tau == 0 else "--", linewidth=1.2, label=name)
        ax.set_xlabel("normalised final score τ")
        ax.set_ylabel("fraction of runs with score > τ")
        ax.set_ylim(-0.02, 1.02)
        ax.set_title("Performance profiles across environments")
        ax.grid(alpha=0.3)
        _legend_below(ax)
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)


def improvement_matrix(improvements: dict[str, Improvement], variants: list[str], environment: str,
                       path: Path) -> None:
    """P(row > column) over final evaluation returns for every pair of ``variants`` (``improvements`` holds each pair
    once, as ``"x>y"``; P(Y > X) is 1 - P(X > Y)): above 0.5, the row's runs tend to end higher."""
    size = len(variants)
    matrix = np.full((size, size), np.nan)
    for key, found in improvements.items():
        x, _, y = key.partition(">")
        if found.point is not None and x in variants and y in variants:
            matrix[variants.index(x), variants.index(y)] = found.point
            matrix[variants.index(y), variants.index(x)] = 1 - found.point
    names = [label(v) for v in variants]
    with plt.rc_context(STYLE):
        fig, ax = plt.subplots(figsize=(1.3 * size + 3, 1.1 * size + 1.8), dpi=120)
        image = ax.imshow(matrix, cmap="RdBu", vmin=0, vmax=1)
        for i, j in np.ndindex(size, size):
            if not np.isnan(matrix[i, j]):
                ax.text(j, i, f"{matrix[i, j]:.2f}", ha="center", va="center", fontsize=10,
                        color="white" if abs(matrix[i, j] - 0.5) > 0.3 else "black")
        ax.set_xticks(range(size), names, rotation=30, ha="right")
        ax.set_yticks(range(size), names)
        ax.set_xlabel("column Y")
        ax.set_ylabel("row X")
        ax.spines[:].set_visible(False)
        fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="P(X > Y)")
        ax.set_title(f"P(row > column), final evaluation return, on {environment}")
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)


def sensitivity(entries: list[TunedScores], path: Path) -> None:
    """``--tune``: each variant's tuning scores, one dot a setting (spread sideways by score), its own setting
    circled, the chosen one starred and joined to its score on the fresh seeds (a cross); a panel per environment."""
    envs = list(dict.fromkeys(entry.env for entry in entries))
    with plt.rc_context(STYLE):
        width = max(4.5, 2.2 * len(entries) / len(envs) + 2.5)
        fig, axes = plt.subplots(1, len(envs), figsize=(width * len(envs), 4.8), dpi=120, squeeze=False)
        for ax, env in zip(axes[0], envs):
            own = [entry for entry in entries if entry.env == env]
            colour = colours([entry.variant for entry in own])
            named: set[str] = set()  # each marker named once in the legend, wherever it is first drawn

            def once(name: str) -> str | None:
                first = name not in named
                named.add(name)
                return name if first else None

            for x, entry in enumerate(own):
                rank = np.argsort(np.argsort(entry.scores))
                where = {setting: x - 0.2 + 0.4 * r / max(len(rank) - 1, 1)
                         for setting, r in zip(entry.settings, rank)}
                ax.scatter(list(where.values()), entry.scores, color=colour[entry.variant], alpha=0.75, s=30, zorder=2)
                if entry.own in where:
                    ax.scatter([where[entry.own]], [entry.own_score], marker="o", s=170, facecolors="none",
                               edgecolors="#222222", zorder=3, label=once("own setting"))
                if entry.chosen in where:
                    ax.scatter([where[entry.chosen]], [entry.tuning_score], marker="*", s=200, color="#222222",
                               zorder=3, label=once("chosen: tuning score"))
                    if entry.fresh_score is not None:
                        ax.plot([where[entry.chosen], x + 0.35], [entry.tuning_score, entry.fresh_score],
                                color="#888888", linewidth=1, linestyle=":", zorder=1)
                        ax.scatter([x + 0.35], [entry.fresh_score], marker="X", s=110, color="#CC0000", zorder=3,
                                   label=once("chosen: on fresh seeds"))
            ax.set_xticks(range(len(own)), [label(entry.variant) for entry in own])
            ax.set_xlim(-0.6, len(own) - 0.4)
            ax.set_ylabel(axis_label("tuning score (mean final evaluation return over the tuning seeds)"))
            ax.set_title(f"Sensitivity to settings on {env}")
            _legend_below(ax)
        fig.savefig(path, bbox_inches="tight")
        plt.close(fig)
