"""Hyperparameter presets: YAML files, one per name in ``configs/``, or a user's own file.

A preset has one block per algorithm (``ppo``, ``a2c``) with ``timesteps`` (the default length of a
run), ``checkpoint_interval`` (its default, 1000 if absent), ``n_envs`` (parallel environments in one
run), ``normalize`` (running normalisation of observations and rewards, SB3's ``VecNormalize``; off if
absent), ``hyperparameters`` (passed to the SB3 constructor; ``"lin_<value>"`` is a linear schedule from
<value> to 0, the RL Zoo's convention) and optionally ``policy_kwargs`` and ``search``, the space
``rl-sweep --search`` samples (see :mod:`rl_sweep.search`), which a plain run ignores.

Such a block applies to every environment. A preset may instead hold, per algorithm, one block per
environment id (the RL Zoo's convention) and optionally ``default``, the block for any other environment::

    ppo:
      LunarLander-v3: {timesteps: 600000, ...}
      CartPole-v1: {timesteps: 100000, ...}
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml

from rl_sweep.errors import ConfigError
from rl_sweep.identity import split_env_id

def _configs_dir() -> Path:
    """The presets: ``rl_sweep/configs/`` in an installed package (pyproject.toml ships ``configs/`` there),
    the repository's ``configs/`` in a checkout or an editable install."""
    package = Path(__file__).resolve().parent
    installed = package / "configs"
    return installed if installed.is_dir() else package.parent / "configs"


CONFIGS_DIR = _configs_dir()
DEFAULT_PRESET = "contract"
DEFAULT_ENV = "LunarLander-v3"
ANY_ENVIRONMENT = "default"  # the block of a per-environment preset that serves every other environment


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
        """These settings with some values replaced: ``n_envs``, ``normalize``, ``policy_kwargs`` (a variant's:
        its keys replace the preset's), ``net_arch`` (of ``policy_kwargs``: a search trial's) or hyperparameters."""
        overrides = dict(overrides)
        n_envs = overrides.pop("n_envs", self.n_envs)
        normalize = overrides.pop("normalize", self.normalize)
        policy_kwargs = {**self.policy_kwargs, **overrides.pop("policy_kwargs", {})}
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


def load_settings(preset: str, algo: str, env_name: str = DEFAULT_ENV) -> AlgoSettings:
    """``algo``'s settings in ``preset`` for ``env_name``; a ConfigError (exit code 3) for anything unusable,
    and for a per-environment preset with no block for ``env_name`` and no ``default``."""
    path = preset_path(preset)
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        if Path(preset).suffix in (".yaml", ".yml"):  # a file given, not a name from configs/
            raise ConfigError(f"no file {path} (a preset file for --config)") from None
        known = ", ".join(available_presets())
        raise ConfigError(f"no preset {preset!r} ({path} not found); presets: {known}, or --config FILE.yaml") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path} is not valid YAML: {exc}") from None
    block = document.get(algo) if isinstance(document, dict) else None
    if not isinstance(block, dict):
        raise ConfigError(f"{path} has no settings for {algo}")
    where = algo
    if not set(block) & set(AlgoSettings.__dataclass_fields__):  # one block per environment
        environments = [name for name in block if name != ANY_ENVIRONMENT]
        # Gymnasium's module:id form names the environment of the id after the colon.
        found = next((name for name in (env_name, split_env_id(env_name)[1], ANY_ENVIRONMENT) if name in block),
                     None)
        if found is None:
            raise ConfigError(f"preset {preset} has no {algo} settings for {env_name}; it has settings for "
                              f"{', '.join(environments) or 'no environment'} (give --config FILE.yaml for others)")
        block, where = block[found], f"{algo} {found}"
        if not isinstance(block, dict):
            raise ConfigError(f"{path}: {where} must be a block of settings")
    unknown = set(block) - set(AlgoSettings.__dataclass_fields__)
    if unknown:
        raise ConfigError(f"{path}: unknown keys for {where}: {', '.join(sorted(unknown))}")
    if "timesteps" not in block:
        raise ConfigError(f"{path}: {where} has no timesteps")
    settings = AlgoSettings(**block)
    for name in ("timesteps", "checkpoint_interval", "n_envs"):
        value = getattr(settings, name)
        if not is_positive_int(value):
            raise ConfigError(f"{path}: {where} {name} must be a positive integer, not {value!r}")
    if not isinstance(settings.normalize, bool):
        raise ConfigError(f"{path}: {where} normalize must be true or false, not {settings.normalize!r}")
    return settings
