"""Hyperparameter presets: YAML files, one per name in ``configs/``, or a user's own file.

A preset has one block per algorithm (``ppo``, ``a2c``) with ``timesteps`` (the default length of a
run), ``checkpoint_interval`` (its default, 1000 if absent), ``n_envs`` (parallel environments in one
run), ``normalize`` (running normalisation of observations and rewards, SB3's ``VecNormalize``; off if
absent), ``hyperparameters`` (passed to the SB3 constructor; ``"lin_<value>"`` is a linear schedule from
<value> to 0, the RL Zoo's convention) and optionally ``policy_kwargs`` and ``search``, the space
``rl-sweep --search`` samples (see :mod:`rl_sweep.search`), which a plain run ignores.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from rl_sweep.errors import ConfigError

def _configs_dir() -> Path:
    """The presets: ``rl_sweep/configs/`` in an installed package (pyproject.toml ships ``configs/`` there),
    the repository's ``configs/`` in a checkout or an editable install."""
    package = Path(__file__).resolve().parent
    installed = package / "configs"
    return installed if installed.is_dir() else package.parent / "configs"


CONFIGS_DIR = _configs_dir()
DEFAULT_PRESET = "contract"


@dataclass(frozen=True)
class AlgoSettings:
    """One algorithm's block of a preset."""

    timesteps: int
    checkpoint_interval: int = 1000
    n_envs: int = 1
    normalize: bool = False
    hyperparameters: dict[str, Any] = field(default_factory=dict)
    policy_kwargs: dict[str, Any] = field(default_factory=dict)
    search: dict[str, Any] = field(default_factory=dict)

    def with_overrides(self, overrides: dict[str, Any]) -> AlgoSettings:
        """These settings with some values replaced: ``n_envs``, ``normalize``, ``net_arch`` (of
        ``policy_kwargs``) or hyperparameters (a search trial's)."""
        overrides = dict(overrides)
        n_envs = overrides.pop("n_envs", self.n_envs)
        normalize = overrides.pop("normalize", self.normalize)
        policy_kwargs = dict(self.policy_kwargs)
        if "net_arch" in overrides:
            policy_kwargs["net_arch"] = overrides.pop("net_arch")
        return replace(self, n_envs=n_envs, normalize=normalize, policy_kwargs=policy_kwargs,
                       hyperparameters={**self.hyperparameters, **overrides})


def is_positive_int(value: Any) -> bool:
    """An int above zero (and not a bool, which Python counts as an int)."""
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


def available_presets() -> list[str]:
    """Names of the presets in ``configs/``."""
    return sorted(path.stem for path in CONFIGS_DIR.glob("*.yaml"))


def preset_path(preset: str) -> Path:
    """A preset name from ``configs/``, or a path to a YAML file."""
    path = Path(preset)
    if path.suffix in (".yaml", ".yml"):
        return path
    return CONFIGS_DIR / f"{preset}.yaml"


def load_settings(preset: str, algo: str) -> AlgoSettings:
    """``algo``'s block of ``preset``; a ConfigError (exit code 3) for anything unusable."""
    path = preset_path(preset)
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        known = ", ".join(available_presets())
        raise ConfigError(f"no preset {preset!r} ({path} not found); presets: {known}, or --config FILE.yaml") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    block = document.get(algo) if isinstance(document, dict) else None
    if not isinstance(block, dict):
        raise ConfigError(f"{path} has no settings for {algo}")
    unknown = set(block) - set(AlgoSettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{path}: unknown keys for {algo}: {', '.join(sorted(unknown))}")
    settings = AlgoSettings(**block)
    for name in ("timesteps", "checkpoint_interval", "n_envs"):
        value = getattr(settings, name)
        if not is_positive_int(value):
            raise ConfigError(f"{path}: {algo} {name} must be a positive integer, not {value!r}")
    if not isinstance(settings.normalize, bool):
        raise ConfigError(f"{path}: {algo} normalize must be true or false, not {settings.normalize!r}")
    return settings
