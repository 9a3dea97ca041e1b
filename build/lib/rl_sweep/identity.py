"""A run's name: ``{algo}_seed{seed}``, the stem of its files and the name of its folder, in one place."""

from __future__ import annotations

import re

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
