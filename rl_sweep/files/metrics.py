"""A run's metrics JSON (the contract's ``training_metrics`` document): its typed shape, which the run layer writes
(:class:`rl_sweep.run.metrics.MetricsRecorder`), and its readers: the time series a resumed run continues, and the
learning curve the report draws."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional, TypedDict

import numpy as np


class TimeSeriesEntry(TypedDict):
    """One record of the time series, every ``recording_interval`` steps."""

    timestep: int
    episode: int
    reward: Optional[float]
    episode_length: Optional[float]
    loss: Optional[float]
    timestamp: str


class MetricsMetadata(TypedDict):
    experiment_id: str
    algorithm: str
    environment: str
    seed: int
    recording_interval: int
    # Added to the contract's keys:
    run_id: Optional[str]


class Aggregated(TypedDict):
    reward_mean: Optional[float]
    reward_std: Optional[float]
    reward_min: Optional[float]
    reward_max: Optional[float]
    episode_length_mean: Optional[float]
    total_timesteps: int


class TrainingMetrics(TypedDict):
    metadata: MetricsMetadata
    time_series: list[TimeSeriesEntry]
    aggregated: Aggregated


class MetricsDocument(TypedDict):
    """``{experiment_id}_metrics.json``."""

    training_metrics: TrainingMetrics


def read_time_series(path: Path, up_to_step: int) -> list[TimeSeriesEntry]:
    """The entries of an existing metrics JSON up to ``up_to_step``: what a resumed run continues; none when
    there is no such file or it is not a readable metrics JSON."""
    try:
        document = json.loads(Path(path).read_text())
        return [e for e in document["training_metrics"]["time_series"] if e["timestep"] <= up_to_step]
    except (FileNotFoundError, ValueError, KeyError, TypeError):
        return []


def read_curve(path: Path) -> tuple[np.ndarray, np.ndarray]:
    """The learning curve a metrics JSON holds: its steps, and the training return at each (NaN before the first
    episode ended). Raises like ``json.loads`` and ``KeyError`` for a file that is not one."""
    series: list[TimeSeriesEntry] = json.loads(Path(path).read_text())["training_metrics"]["time_series"]
    return (np.array([e["timestep"] for e in series], dtype=float),
            np.array([np.nan if e["reward"] is None else e["reward"] for e in series]))
