"""TrainingConfig: one training run, exactly as the contract specifies it."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Optional

from rl_sweep.errors import ConfigError
from rl_sweep.identity import ALGORITHMS, experiment_id
from rl_sweep.presets import DEFAULT_ENV, DEFAULT_PRESET, AlgoSettings, is_positive_int, load_settings

# Seeds are taken by NumPy up to 2**32 - 1; a run also seeds seed + step and seed + 1,000,000 (evaluation),
# so seeds stop at 2**31 - 1 to leave room for them.
MAX_SEED = 2**31 - 1
# The run's defaults, wherever a run is made (rl-train, rl-sweep, the report's reproduce command):
DEFAULT_SEED = 42  # a sweep's first seed
DEFAULT_CONDA_ENV = "rocm"
DEFAULT_EVAL_EPISODES = 10


@dataclass
class TrainingConfig:
    """Configuration for RL agent training.

    :param algo: "ppo" or "a2c".
    :param env_name: Gymnasium environment id; ``package.module:EnvId-v0`` imports the module that
        registers it (Gymnasium's own form).
    :param env_kwargs: arguments for ``gym.make`` (``{"continuous": True}``); None: none.
    :param location: where the run's folder is as others reach it, when ``output_dir`` is a staging copy of it
        (a sweep trial on remote storage: the folder's URI); recorded as ``model.model_path``. None: ``output_dir``.
    :param fast_numerics: let MKL pick its kernels by CPU: faster on some, but the numbers then depend on
        the CPU (see :mod:`rl_sweep.numerics`).
    :param seed: seed for Python, NumPy, PyTorch and the environment.
    :param total_timesteps: environment steps to train, exactly; None: the preset's (50,000 for
        ``contract``).
    :param checkpoint_interval: steps between checkpoints; None: the preset's (1,000 for ``contract``).
    :param output_dir: where the run's files go; default ``results/experiments/{algo}_seed{seed}/``.
    :param resume_from: checkpoint zip to continue from.
    :param verbose: DEBUG-level console logging.
    :param conda_env: the conda environment the run must be in, when one is active.
    :param eval_episodes: episodes of deterministic evaluation of the final model.
    :param preset: hyperparameter preset: a name from ``configs/`` or a path to a YAML file.
    :param overrides: values that replace the preset's: ``n_envs``, ``normalize``, ``net_arch`` or
        hyperparameters (search trials).
    :param variant: the name of what a comparison compares this run as (``ppo@tuned``: see
        :mod:`rl_sweep.sweep.variants`), recorded in its results; None: ``algo``, on its preset.
    :param settings: the preset's block for ``algo``, already resolved (a sweep resolves it once, on the
        driver, and each trial carries it); None: read from ``preset``, with ``overrides`` applied.

    ``settings``, ``total_timesteps`` and ``checkpoint_interval`` are resolved once, when the config is
    made: ``dataclasses.replace`` keeps them, so a config for another preset is made anew, not replaced.
    """

    algo: str
    env_name: str = DEFAULT_ENV
    seed: int = DEFAULT_SEED
    total_timesteps: Optional[int] = None
    checkpoint_interval: Optional[int] = None
    output_dir: Optional[Path] = None
    resume_from: Optional[Path] = None
    verbose: bool = False
    conda_env: str = DEFAULT_CONDA_ENV
    eval_episodes: int = DEFAULT_EVAL_EPISODES
    preset: str = DEFAULT_PRESET
    overrides: Optional[dict[str, Any]] = None
    settings: Optional[AlgoSettings] = None
    env_kwargs: Optional[dict[str, Any]] = None
    fast_numerics: bool = False
    location: Optional[str] = None
    variant: Optional[str] = None

    def __post_init__(self) -> None:
        if self.algo not in ALGORITHMS:
            raise ConfigError(f"--algo must be one of {', '.join(ALGORITHMS)}, not {self.algo!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or not 0 <= self.seed <= MAX_SEED:
            raise ConfigError(f"--seed must be an integer from 0 to {MAX_SEED}, not {self.seed!r}")
        self.preset = str(self.preset)
        self.env_kwargs = dict(self.env_kwargs or {})
        if isinstance(self.settings, dict):
            self.settings = AlgoSettings(**self.settings)
        if self.settings is None:
            self.settings = load_settings(self.preset, self.algo, self.env_name).with_overrides(self.overrides or {})
        # The preset's defaults, resolved here and nowhere else.
        if self.total_timesteps is None:
            self.total_timesteps = self.settings.timesteps
        if self.checkpoint_interval is None:
            self.checkpoint_interval = self.settings.checkpoint_interval
        for name in ("total_timesteps", "checkpoint_interval", "eval_episodes"):
            value = getattr(self, name)
            if not is_positive_int(value):
                raise ConfigError(f"{name} must be a positive integer, not {value!r}")
        if self.variant is None:
            self.variant = self.algo
        if self.output_dir is None:
            self.output_dir = Path(f"results/experiments/{self.experiment_id}/")
        self.output_dir = Path(self.output_dir)
        if self.resume_from is not None:
            self.resume_from = Path(self.resume_from)

    @property
    def experiment_id(self) -> str:
        """``{algo}_seed{seed}``, the stem of every file the run names after itself."""
        return experiment_id(self.algo, self.seed)

    @classmethod
    def from_dict(cls, values: dict[str, Any]) -> "TrainingConfig":
        """Build from a mapping of field names, ignoring keys that are not fields (Ray adds some)."""
        fields = cls.__dataclass_fields__
        return cls(**{key: value for key, value in values.items() if key in fields})

    def to_dict(self) -> dict[str, Any]:
        """Field values, paths as strings, settings as a mapping: what a Ray trial's config carries."""
        return {key: str(value) if isinstance(value, Path) else value for key, value in asdict(self).items()}
