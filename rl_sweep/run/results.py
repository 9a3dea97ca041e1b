"""A run's results JSON as the run writes it: the facts a run knows of itself, and the document built from them
(its shape: :mod:`rl_sweep.files.results`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from stable_baselines3.common.vec_env import VecEnv

from rl_sweep.files.results import (
    ExperimentResults, ResultsDocument, ResultsEnvironment, ResultsMetadata, ResultsMetrics, ResultsModel,
)
from rl_sweep.files.status import RunStatus
from rl_sweep.run.algorithms import POLICY
from rl_sweep.run.config import TrainingConfig
from rl_sweep.run.environments import describe_space, reward_threshold
from rl_sweep.run.evaluation import Evaluation
from rl_sweep.run.metrics import EpisodeStats


@dataclass
class RunFacts:
    """What a run knows about itself when it writes its results."""

    experiment_id: str
    algo: str
    variant: str
    env_name: str
    env_kwargs: dict[str, Any]
    seed: int
    location: str  # the run's folder: a local path ending in /, or its URI in storage
    checkpoint_interval: int
    target_timesteps: int
    policy: str
    preset: str
    n_envs: int
    normalize: bool
    hyperparameters: dict[str, Any]
    observation_space: str
    action_space: str
    reward_threshold: float | None
    conda_environment: str | None
    resumed_from: str | None
    start_time: str
    run_id: str | None
    numerics: dict[str, Any]

    @classmethod
    def of(cls, config: TrainingConfig, env: VecEnv, conda_environment: str | None, start_time: str,
           run_id: str | None, numerics: dict[str, Any]) -> RunFacts:
        """The facts of the run ``config`` describes, training on ``env``."""
        settings = config.settings
        return cls(
            experiment_id=config.experiment_id, algo=config.algo, variant=config.variant, env_name=config.env_name,
            env_kwargs=dict(config.env_kwargs), seed=config.seed,
            location=config.location or f"{config.output_dir.as_posix().rstrip('/')}/",
            checkpoint_interval=config.checkpoint_interval,
            target_timesteps=config.total_timesteps, policy=POLICY, preset=config.preset,
            n_envs=settings.n_envs, normalize=settings.normalize,
            hyperparameters={**settings.hyperparameters,
                             **({"policy_kwargs": settings.policy_kwargs} if settings.policy_kwargs else {})},
            observation_space=describe_space(env.observation_space),
            action_space=describe_space(env.action_space),
            reward_threshold=reward_threshold(env), conda_environment=conda_environment,
            resumed_from=str(config.resume_from) if config.resume_from else None,
            start_time=start_time, run_id=run_id, numerics=numerics,
        )


def build_results(
    facts: RunFacts,
    *,
    status: RunStatus,
    end_time: str,
    steps: int,
    episodes: EpisodeStats,
    evaluation: Evaluation | None,
    training_time: float,
    checkpoints: list[str],
    model_file: str | None,
    warnings: list[str],
) -> ResultsDocument:
    """The results document; evaluation figures are None when the run did not complete."""
    final_mean = evaluation["reward_mean"] if evaluation else None
    threshold = facts.reward_threshold
    converged = final_mean is not None and threshold is not None and final_mean >= threshold
    recent_reward, _ = episodes.recent_means()
    return ResultsDocument(experiment_results=ExperimentResults(
        metadata=ResultsMetadata(
            experiment_id=facts.experiment_id,
            algorithm=facts.algo.upper(),
            environment=facts.env_name,
            seed=facts.seed,
            start_time=facts.start_time,
            end_time=end_time,
            total_timesteps=steps,
            conda_environment=facts.conda_environment,
            status=status,
            target_timesteps=facts.target_timesteps,
            resumed_from=facts.resumed_from,
            warnings=warnings,
            preset=facts.preset,
            n_envs=facts.n_envs,
            normalize=facts.normalize,
            run_id=facts.run_id,
            numerics=facts.numerics,
            variant=facts.variant,
        ),
        model=ResultsModel(
            algorithm=facts.algo.upper(),
            policy=facts.policy,
            model_file=model_file,
            model_path=facts.location,
            checkpoint_interval=facts.checkpoint_interval,
            checkpoints=checkpoints,
        ),
        metrics=ResultsMetrics(
            final_reward_mean=final_mean,
            final_reward_std=evaluation["reward_std"] if evaluation else None,
            episode_length_mean=evaluation["episode_length_mean"] if evaluation else None,
            total_episodes=episodes.count,
            training_time_seconds=training_time,
            converged=converged,
            total_timesteps=steps,
            eval_episodes=evaluation["episodes"] if evaluation else 0,
            steps_per_second=steps / training_time if training_time > 0 else None,
            training_reward_mean=recent_reward,
            eval_cut_at_time_limit=evaluation["cut_at_time_limit"] if evaluation else 0,
        ),
        hyperparameters=facts.hyperparameters,
        environment=ResultsEnvironment(
            name=facts.env_name,
            observation_space=facts.observation_space,
            action_space=facts.action_space,
            reward_threshold=threshold,
            kwargs=facts.env_kwargs,
        ),
    ))
