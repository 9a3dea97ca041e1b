"""Deterministic against stochastic evaluation of finished runs: does the greedy policy land?

    python benchmarks/eval_modes.py results/experiments/a2c_seed42 [more experiment folders ...]

The contract's final_reward_mean evaluates the greedy (deterministic) policy. A policy that lands by
dithering between engines can score far lower when it always takes its most likely action: it
hovers until the episode's time limit. For each run this prints the mean return and episode length
of both modes over the same evaluation episodes (seeded apart from any training environment, as the
pipeline's own evaluation is), and two figures of the greedy episodes that show why: how sure the
policy is of its greedy action (its mean probability over the states visited; 0.25 is a uniform
choice among LunarLander's four actions) and how often the greedy policy does nothing (action 0).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch
from stable_baselines3.common.evaluation import evaluate_policy
from stable_baselines3.common.vec_env import VecNormalize

from rl_sweep.presets import AlgoSettings
from rl_sweep.run.checkpoints import inspect_checkpoint, load_checkpoint
from rl_sweep.run.environments import make_env
from rl_sweep.run.evaluation import evaluation_env


def evaluate_both(experiment_dir: Path, episodes: int) -> dict[str, tuple[float, ...]]:
    """Of the final model: deterministic (mean return, mean length, mean probability of the greedy
    action, share of steps doing nothing) and stochastic (mean return, mean length)."""
    [results_file] = experiment_dir.glob("*_results.json")
    results = json.loads(results_file.read_text())["experiment_results"]
    metadata = results["metadata"]
    model_file = experiment_dir / results["model"]["model_file"]
    training_env = make_env(metadata["environment"], metadata["seed"])
    if metadata.get("normalize"):
        training_env = VecNormalize(training_env)  # its statistics come from the model file
    algo = metadata["algorithm"].lower()
    hyperparameters = dict(results["hyperparameters"])
    settings = AlgoSettings(timesteps=metadata["target_timesteps"], n_envs=metadata.get("n_envs", 1),
                            normalize=bool(metadata.get("normalize")),
                            policy_kwargs=hyperparameters.pop("policy_kwargs", {}), hyperparameters=hyperparameters)
    model = load_checkpoint(inspect_checkpoint(model_file, algo), algo, training_env, settings)
    greedy_probabilities: list[float] = []
    greedy_actions: list[int] = []

    def note_greedy_step(local: dict, _: dict) -> None:
        # evaluate_policy calls this after each step, with the observation the action was chosen in.
        if local["deterministic"]:
            obs, i = local["observations"], local["i"]
            with torch.no_grad():
                probabilities = model.policy.get_distribution(model.policy.obs_to_tensor(obs)[0]).distribution.probs
            greedy_probabilities.append(float(probabilities[i].max()))
            greedy_actions.append(int(local["actions"][i]))

    figures = {}
    for mode, deterministic in (("deterministic", True), ("stochastic", False)):
        env = evaluation_env(metadata["environment"], metadata["seed"], model.get_env())
        try:
            returns, lengths = evaluate_policy(model, env, n_eval_episodes=episodes, deterministic=deterministic,
                                               return_episode_rewards=True, callback=note_greedy_step)
        finally:
            env.close()
        figures[mode] = (float(np.mean(returns)), float(np.mean(lengths)))
    figures["deterministic"] += (float(np.mean(greedy_probabilities)),
                                 float(np.mean(np.array(greedy_actions) == 0)))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("experiments", nargs="+", type=Path, help="experiment folders of finished runs")
    parser.add_argument("--episodes", type=int, default=20, help="episodes per mode (default: %(default)s)")
    args = parser.parse_args()
    print(f"{'run':<24} {'deterministic':>14} {'length':>7} {'p(greedy)':>10} {'nothing':>8} "
          f"{'stochastic':>11} {'length':>7}")
    for folder in args.experiments:
        figures = evaluate_both(folder, args.episodes)
        (det, det_len, sure, idle), (sto, sto_len) = figures["deterministic"], figures["stochastic"]
        print(f"{folder.name:<24} {det:14.1f} {det_len:7.0f} {sure:10.2f} {idle:8.0%} {sto:11.1f} {sto_len:7.0f}",
              flush=True)


if __name__ == "__main__":
    main()
