"""Seeding and the checks that keep a run reproducible."""

from __future__ import annotations

import os
import random

import numpy as np
import torch

from rl_sweep.errors import CondaEnvError


def set_seed(seed: int) -> None:
    """Set global seeds for reproducibility (the contract's ``set_seed``).

    Torch runs on one thread: tiny policy networks gain nothing from more, parallel trials
    would oversubscribe the cores, and the same thread count everywhere keeps floating-point
    sums, and so results, identical between the CLI and a sweep trial.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.backends.cudnn.deterministic = True
    torch.backends.cudnn.benchmark = False
    torch.set_num_threads(1)


def active_conda_env() -> str | None:
    """The name of the active conda environment, or None outside conda."""
    return os.environ.get("CONDA_DEFAULT_ENV") or None


def check_conda_env(expected: str) -> str | None:
    """Fail unless the active conda environment, if any, is ``expected``; return the active one."""
    active = active_conda_env()
    if active is not None and active != expected:
        raise CondaEnvError(
            f"conda environment {active!r} is active but the run requires {expected!r}; "
            f"run `conda activate {expected}` or pass --conda-env {active}"
        )
    return active
