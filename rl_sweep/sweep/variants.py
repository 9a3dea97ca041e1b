"""Variants: what a sweep compares. A variant is a name, an algorithm and its settings: a preset (the sweep's, a name
from ``configs/`` or a YAML file) and optionally values in place of the preset's.

``--algos ppo a2c`` is two variants named ``ppo`` and ``a2c`` on the sweep's preset. ``--variants`` names them on the
command line, ``--variants-file`` in YAML::

    rl-sweep --variants ppo ppo@tuned a2c@tuned         # ALGO, ALGO@PRESET
    rl-sweep --variants ppo mine=ppo@my_ppo.yaml        # ALGO@FILE.yaml (named ppo@my_ppo), NAME=ALGO@...

    # variants.yaml: one block a variant, every key but algo optional
    ppo-lr-low:
      algo: ppo
      preset: tuned            # or config: my_ppo.yaml (relative to this file); neither: the sweep's --preset
      hyperparameters: {learning_rate: 0.0001}
      policy_kwargs: {net_arch: [64, 64]}
      n_envs: 8
      normalize: true

Everything here is checked before Ray starts: a bad variant is one line and exit 3
(:class:`~rl_sweep.errors.ConfigError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from rl_sweep.errors import ConfigError
from rl_sweep.files import names
from rl_sweep.identity import ALGORITHMS, is_variant_name
from rl_sweep.presets import is_positive_int, preset_path

# The sweep's own folders, which a variant's folder must not be (nor tune_round{k}/, tune_{algo}/, earlier_*/).
RESERVED = (names.TUNE, names.TRIALS, names.TUNING, names.REPLAYS)
FILE_KEYS = ("algo", "preset", "config", "hyperparameters", "policy_kwargs", "n_envs", "normalize")
FILES = (".json", ".md", ".html", ".png", ".yaml", ".yml", ".mp4", ".gif")  # what the sweep writes beside its runs


@dataclass(frozen=True)
class Variant:
    """One thing a sweep compares.

    :param name: its name: the folder of its runs and how the report names it.
    :param algo: the algorithm it trains, ``ppo`` or ``a2c``.
    :param preset: its preset, a name from ``configs/`` or a YAML file's absolute path; None: the sweep's.
    :param overrides: values in place of its preset's: hyperparameters, and ``n_envs``, ``normalize`` or
        ``policy_kwargs`` (:meth:`~rl_sweep.presets.AlgoSettings.with_overrides`).
    """

    name: str
    algo: str
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def plain(self) -> bool:
        """An algorithm on the sweep's preset, named after it: what ``--algos`` makes."""
        return self.name == self.algo and self.preset is None and not self.overrides


def plain(algos: list[str]) -> list[Variant]:
    """``--algos``: a variant for each algorithm, named after it, on the sweep's preset."""
    return [Variant(algo, algo) for algo in algos]


def parse_variant(spec: str) -> Variant:
    """One ``--variants`` value: ``ALGO``, ``ALGO@PRESET``, ``ALGO@FILE.yaml`` (named ``ALGO@{file's stem}``), or any of
    them as ``NAME=...``."""
    name, _, spec = spec.partition("=") if "=" in spec else ("", "", spec)
    algo, _, preset = spec.partition("@")
    where = f"--variants {name + '=' if name else ''}{spec}"
    if algo not in ALGORITHMS:
        raise ConfigError(f"{where}: unknown algorithm {algo!r}; give ALGO, ALGO@PRESET or ALGO@FILE.yaml with ALGO "
                          f"one of {', '.join(ALGORITHMS)}")
    if not preset:
        return _checked(Variant(name or algo, algo), where)
    path = preset_path(preset)
    if Path(preset).suffix in (".yaml", ".yml"):
        if not path.is_file():
            raise ConfigError(f"{where}: no file {preset}")
        return _checked(Variant(name or f"{algo}@{path.stem}", algo, str(path.resolve())), where)
    if not path.is_file():
        raise ConfigError(f"{where}: no preset {preset!r} in configs/ (give a name from there or a FILE.yaml)")
    return _checked(Variant(name or f"{algo}@{preset}", algo, preset), where)


def read_variants_file(path: Path) -> list[Variant]:
    """``--variants-file``: one block a variant, in the file's order (see the module's docstring)."""
    try:
        document = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"--variants-file {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"--variants-file {path} cannot be read: {exc}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"--variants-file {path} is not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(document, dict) or not document:
        raise ConfigError(f"--variants-file {path}: give one block a variant, {{name: {{algo: ppo, ...}}}}")
    variants = []
    for name, block in document.items():
        where = f"--variants-file {path}: variant {name}"
        if not isinstance(block, dict):
            raise ConfigError(f"{where} must be a block of settings with at least algo")
        if unknown := sorted(set(block) - set(FILE_KEYS)):
            raise ConfigError(f"{where}: unknown key {', '.join(map(str, unknown))} (keys: {', '.join(FILE_KEYS)})")
        algo = block.get("algo")
        if algo not in ALGORITHMS:
            raise ConfigError(f"{where}: algo must be one of {', '.join(ALGORITHMS)}, not {algo!r}")
        if "preset" in block and "config" in block:
            raise ConfigError(f"{where}: give preset or config, not both")
        preset = block.get("preset")
        if "config" in block:
            config = Path(path).parent / str(block["config"])
            if not config.is_file():
                raise ConfigError(f"{where}: no file {config}")
            preset = str(config.resolve())
        elif preset is not None and not preset_path(str(preset)).is_file():
            raise ConfigError(f"{where}: no preset {preset!r} in configs/ (give config: FILE.yaml for a file)")
        for key, kind, what in (("hyperparameters", dict, "a block"), ("policy_kwargs", dict, "a block"),
                                ("normalize", bool, "true or false")):
            if key in block and not isinstance(block[key], kind):
                raise ConfigError(f"{where}: {key} must be {what}, not {block[key]!r}")
        if misplaced := sorted(set(block.get("hyperparameters") or {}) & {"n_envs", "normalize", "policy_kwargs"}):
            raise ConfigError(f"{where}: {', '.join(misplaced)} goes beside hyperparameters, not among them")
        if "n_envs" in block and not is_positive_int(block["n_envs"]):
            raise ConfigError(f"{where}: n_envs must be a positive integer, not {block['n_envs']!r}")
        overrides = {**dict(block.get("hyperparameters") or {}),
                     **{key: block[key] for key in ("policy_kwargs", "n_envs", "normalize") if key in block}}
        variants.append(_checked(Variant(str(name), algo, None if preset is None else str(preset), overrides), where))
    return variants


def check_variants(variants: list[Variant]) -> None:
    """Names unique, also to a file system that does not tell upper from lower case."""
    seen: set[str] = set()
    for variant in variants:
        if variant.name.lower() in seen:
            raise ConfigError(f"variant {variant.name} is named twice (letter case aside): give each variant its own "
                              "name (NAME=ALGO@...)")
        seen.add(variant.name.lower())


def _checked(variant: Variant, where: str) -> Variant:
    if (not is_variant_name(variant.name) or variant.name.lower() in RESERVED
            or variant.name.lower().startswith((f"{names.TUNE}_", "earlier_")) or variant.name.lower().endswith(FILES)):
        raise ConfigError(f"{where}: {variant.name!r} cannot name a variant's folder: use letters, digits and . _ @ + -, "
                          f"and none of {', '.join(RESERVED)}, tune_*, earlier_*, nor a file's name (*.json, ...)")
    if variant.name.lower() in ALGORITHMS and not variant.plain:
        raise ConfigError(f"{where}: {variant.name} names the algorithm on the sweep's preset; name a variant with "
                          f"settings of its own otherwise (e.g. {variant.algo}@tuned, mine=...)")
    return variant
