"""A run's results JSON (the contract's ``experiment_results`` document): its typed shape, which the run layer
writes (:func:`rl_sweep.run.results.build_results`), and :func:`read_results`, the one reader of it.

Files written by earlier releases lack some of the keys added to the contract's: the reader fills them as those
releases meant them."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Optional, TypedDict

from rl_sweep.files.status import COMPLETED, RunStatus
from rl_sweep.presets import AlgoSettings




class ResultsMetadata(TypedDict):
    experiment_id: str
    algorithm: str
    environment: str
    seed: int
    start_time: str
    end_time: str
    total_timesteps: int
    conda_environment: Optional[str]
    # Added to the contract's keys:
    status: RunStatus
    target_timesteps: int
    resumed_from: Optional[str]
    warnings: list[str]
    preset: str
    n_envs: int
    normalize: bool
    run_id: Optional[str]
    numerics: dict[str, Any]  # MKL's code path, torch's threads, the CPU (rl_sweep.numerics)
    variant: str  # what a comparison compares the run as: its algorithm (ppo), or a named variant (ppo@tuned)


class ResultsModel(TypedDict):
    algorithm: str
    policy: str
    model_file: Optional[str]
    model_path: str
    checkpoint_interval: int
    checkpoints: list[str]


class ResultsMetrics(TypedDict):
    final_reward_mean: Optional[float]
    final_reward_std: Optional[float]
    episode_length_mean: Optional[float]
    total_episodes: int
    training_time_seconds: float
    converged: bool
    # Added to the contract's keys:
    total_timesteps: int
    eval_episodes: int
    steps_per_second: Optional[float]
    training_reward_mean: Optional[float]
    eval_cut_at_time_limit: int  # evaluation episodes cut at EVAL_TIME_LIMIT: the environment has no limit


class ResultsEnvironment(TypedDict):
    name: str
    observation_space: str
    action_space: str
    reward_threshold: Optional[float]
    # Added to the contract's keys:
    kwargs: dict[str, Any]  # the arguments given to gym.make


class ExperimentResults(TypedDict):
    metadata: ResultsMetadata
    model: ResultsModel
    metrics: ResultsMetrics
    hyperparameters: dict[str, Any]
    environment: ResultsEnvironment


class ResultsDocument(TypedDict):
    experiment_results: ExperimentResults


@dataclass
class RunResults:
    """What the report reads of a run's results JSON."""

    experiment_id: str
    algo: str  # lower case: ppo
    variant: str  # ppo, ppo@tuned (files written before variants: the algorithm)
    seed: int
    status: RunStatus
    env_name: str
    env_kwargs: dict[str, Any]
    final_reward: float | None
    timesteps: int  # the steps trained
    target_timesteps: int  # the steps the run was to train
    checkpoint_interval: int
    preset: str
    training_time: float
    steps_per_second: float | None
    threshold: float | None
    eval_episodes: int | None
    eval_cut_at_time_limit: int
    model_file: str | None
    settings: AlgoSettings | None = field(default=None)  # None in files written before they recorded them


def read_results(path: Path) -> RunResults:
    """The results JSON at ``path``. Raises ValueError, KeyError, TypeError or AttributeError for a file that is
    not the contract's JSON, and OSError for one that cannot be read."""
    document: ExperimentResults = json.loads(Path(path).read_text())["experiment_results"]
    meta, metrics, model, environment = (document["metadata"], document["metrics"], document["model"],
                                         document["environment"])
    target = meta.get("target_timesteps", meta["total_timesteps"])
    return RunResults(
        experiment_id=meta["experiment_id"], algo=meta["algorithm"].lower(),
        variant=meta.get("variant") or meta["algorithm"].lower(), seed=meta["seed"],
        status=meta.get("status", COMPLETED), env_name=meta["environment"],
        env_kwargs=environment.get("kwargs") or {}, final_reward=metrics["final_reward_mean"],
        timesteps=metrics.get("total_timesteps", meta["total_timesteps"]), target_timesteps=target,
        checkpoint_interval=model["checkpoint_interval"], preset=meta.get("preset", "contract"),
        training_time=metrics["training_time_seconds"], steps_per_second=metrics.get("steps_per_second"),
        threshold=environment["reward_threshold"], eval_episodes=metrics.get("eval_episodes"),
        eval_cut_at_time_limit=metrics.get("eval_cut_at_time_limit", 0), model_file=model.get("model_file"),
        settings=_settings(document, target),
    )


def _settings(document: ExperimentResults, target: int) -> AlgoSettings | None:
    """The settings a run trained with, ``policy_kwargs`` apart again (the results record them among the
    hyperparameters, as SB3 takes them)."""
    meta = document["metadata"]
    if "hyperparameters" not in document or "n_envs" not in meta:
        return None
    hyperparameters = dict(document["hyperparameters"])
    policy_kwargs = hyperparameters.pop("policy_kwargs", {})
    return AlgoSettings(timesteps=target, n_envs=meta["n_envs"], normalize=meta.get("normalize", False),
                        hyperparameters=hyperparameters, policy_kwargs=policy_kwargs)


def run_id_of(path: Path) -> str | None:
    """The run id a results or metrics JSON names (None in files written before run ids). Raises like
    :func:`read_results` for a file that is not one."""
    document = json.loads(Path(path).read_text())
    return next(iter(document.values()))["metadata"].get("run_id")
