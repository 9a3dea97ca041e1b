"""A run's name: ``{algo}_seed{seed}``, the stem of its files and the name of its folder; the folder of an
environment in a sweep of several; and how a variant (what a comparison compares) is named, in one place."""

from __future__ import annotations

import re
from datetime import datetime, timezone

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
ALGORITHMS = ("ppo", "a2c")  # what a run trains, as rl-train --algo names it
_VARIANT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@+-]*$")
_NAME = re.compile(r"^(?P<algo>[a-z0-9]+)(?:_s(?P<setting>\d+))?_seed(?P<seed>\d+)$")


def experiment_id(algo: str, seed: int, setting: int | None = None) -> str:
    """``{algo}_seed{seed}``; ``{algo}_s{setting:02d}_seed{seed}`` for a search trial, whose seeds repeat."""
    return f"{algo}{'' if setting is None else f'_s{setting:02d}'}_seed{seed}"


def parse_experiment_id(name: str) -> tuple[str, int | None]:
    """The algorithm and seed a run's name says, for a folder that holds no results to read them from."""
    match = _NAME.match(name)
    if match is None:
        return name.partition("_seed")[0], None
    return match["algo"], int(match["seed"])


def split_env_id(env_name: str) -> tuple[str, str]:
    """Gymnasium's ``module:id`` form as (module, id): the module to import first ("" for none) and the id it
    registers."""
    module, _, env_id = env_name.rpartition(":")
    return module, env_id


def env_folder(env_id: str) -> str:
    """An environment id as one safe folder name: every character but letters, digits, ``.``, ``_`` and ``-``
    becomes ``-`` (``ALE/Pong-v5``: ``ALE-Pong-v5``; ``pkg.mod:Env-v0``: ``pkg.mod-Env-v0``)."""
    return _UNSAFE.sub("-", env_id)


def earlier_name(folder_name: str) -> str:
    """The name of the sibling a folder's earlier files are set aside in: ``earlier_{UTC time}_{folder}``, so
    that a glob of run folders (``ppo_seed4*``) does not take it for one more run."""
    return f"earlier_{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S%fZ')}_{folder_name}"


def label(variant: str) -> str:
    """How the report and the console name a variant: an algorithm on the sweep's settings (``ppo``) in capitals, as
    papers write it (PPO); any other name as its user wrote it (``ppo@tuned``)."""
    return variant.upper() if variant in ALGORITHMS else variant


def is_variant_name(name: str) -> bool:
    """Whether ``name`` can name a variant: one safe folder name of letters, digits and ``. _ @ + -``."""
    return bool(_VARIANT.match(name)) and name not in (".", "..")
