"""Deterministic against stochastic evaluation of finished runs: does the greedy policy land?

    python benchmarks/eval_modes.py results/experiments/a2c_seed42 [more experiment folders ...]

The contract's final_reward_mean evaluates the greedy (deterministic) policy. A policy that lands by
dithering between engines can score far lower when it always takes its most likely action: it
hovers until the episode's time limit. For each run this prints the mean return and episode length
of both modes over the same evaluation episodes (seeded apart from any training environment, as the
pipeline's own evaluation is).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecNormalize

from rl_sweep.checkpoints import load_checkpoint
from rl_sweep.environments import make_env, make_eval_env
from rl_sweep.evaluation import EVAL_SEED_OFFSET


def evaluate_both(experiment_dir: Path, episodes: int) -> dict[str, tuple[float, float]]:
    """(mean return, mean length) of the final model, deterministic and stochastic."""
    [results_file] = experiment_dir.glob("*_results.json")
    results = json.loads(results_file.read_text())["experiment_results"]
    metadata = results["metadata"]
    model_file = experiment_dir / results["model"]["model_file"]
    training_env = make_env(metadata["environment"], metadata["seed"])
    if metadata.get("normalize"):
        training_env = VecNormalize(training_env)  # its statistics come from the model file
    model, _ = load_checkpoint(model_file, metadata["algorithm"].lower(), training_env)
    figures = {}
    for mode, deterministic in (("deterministic", True), ("stochastic", False)):
        env = make_eval_env(metadata["environment"], metadata["seed"] + EVAL_SEED_OFFSET, model.get_env())
        try:
            returns, lengths = evaluate_policy(model, env, n_eval_episodes=episodes, deterministic=deterministic,
                                               return_episode_rewards=True)
        finally:
            env.close()
        figures[mode] = (float(np.mean(returns)), float(np.mean(lengths)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="+", type=Path, help="experiment folders of finished runs")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per mode (default: %(default)s)")
    args = parser.parse_args()
    print(f"{'run':<40} {'deterministic':>14} {'length':>7} {'stochastic':>11} {'length':>7}")
    for folder in args.experiments:
        figures = evaluate_both(folder, args.episodes)
        (det, det_len), (sto, sto_len) = figures["deterministic"], figures["stochastic"]
        print(f"{folder.name:<40} {det:14.1f} {det_len:7.0f} {sto:11.1f} {sto_len:7.0f}", flush=True)


if __name__ == "__main__":
    main()
