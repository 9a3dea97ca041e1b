"""What a sweep checks before anything is written or Ray starts: each failure here is one line and its exit code,
where inside a trial it would be a failed trial minutes later."""

from __future__ import annotations

import socket
from collections.abc import Sequence

from rl_sweep.errors import ConfigError, PipelineError
from rl_sweep.run.config import TrainingConfig


def check_before_start(runs: Sequence[TrainingConfig], address: str | None) -> None:
    """Fail fast, before anything is written or Ray starts, on what would make a trial fail: the conda
    environment, hyperparameters the SB3 constructor does not take, an environment id that cannot be created,
    and a cluster address nothing answers at."""
    from rl_sweep.run.algorithms import check_settings
    from rl_sweep.run.environments import make_env
    from rl_sweep.run.seeding import check_conda_env

    for run in runs:
        check_settings(run.algo, run.settings,
                       run.preset if run.variant == run.algo else f"variant {run.variant} ({run.preset})")
    for conda_env in {run.conda_env for run in runs}:
        check_conda_env(conda_env)
    for env_name in dict.fromkeys(run.env_name for run in runs):
        make_env(env_name, 0, env_kwargs=runs[0].env_kwargs).close()
    if address and address != "auto":
        _check_reachable(address)


def _check_reachable(address: str, timeout: float = 10.0) -> None:
    """Fail at once, not after minutes of Ray's retries, when nothing answers at ``address`` (host:port)."""
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host or "127.0.0.1", int(port)), timeout=timeout).close()
    except ValueError:
        raise ConfigError(f"--address {address}: give host:port or auto") from None
    except OSError as exc:
        raise PipelineError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}); is its head "
                            "node started (ray start --head) and the port open?") from None
