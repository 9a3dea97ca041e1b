"""rl-sweep: reproducible PPO and A2C training runs (the contract's CLI) and Ray Tune sweeps of them.

Three layers: :mod:`rl_sweep.run` (one training run), :mod:`rl_sweep.sweep` (many runs on Ray) and
:mod:`rl_sweep.report` (the comparison report); the modules at this level are what all three share.
"""

from __future__ import annotations

from typing import Any

from rl_sweep.numerics import pin

pin()  # before torch first computes: see rl_sweep.numerics

__version__ = "0.1.0"

__all__ = ["RunTrainable", "TrainingConfig", "__version__"]


def __getattr__(name: str) -> Any:
    # Lazy, so that `rl-train` never pays for importing Ray.
    if name == "RunTrainable":
        from rl_sweep.sweep.trainable import RunTrainable

        return RunTrainable
    if name == "TrainingConfig":
        from rl_sweep.run.config import TrainingConfig

        return TrainingConfig
    raise AttributeError(f"module 'rl_sweep' has no attribute {name!r}")
