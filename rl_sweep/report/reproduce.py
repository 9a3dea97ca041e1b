"""What the report's "Reproduce" and "Versions" sections say: the command that runs a report's runs again
(``rl-sweep`` with the options the runs' files record), and the versions of Python and of the libraries the
report names, as installed where the report is written."""

from __future__ import annotations

import platform
from importlib.metadata import PackageNotFoundError, version
from typing import Any, Callable

from rl_sweep.report.runs import RunRecord, arguments_of
from rl_sweep.presets import DEFAULT_PRESET
from rl_sweep.run.config import DEFAULT_SEED
from rl_sweep.run.environments import format_kwargs

PACKAGES = ("rl-sweep", "stable-baselines3", "gymnasium", "torch", "numpy", "ray", "rliable", "matplotlib")


def reproduce_command(runs: list[RunRecord]) -> str:
    """The rl-sweep command that runs these runs again, its ``--algos`` (or ``--variants``, each named variant as
    ``NAME=ALGO@PRESET``: values a variants file put on top of its preset are in the report's "Settings", not here)
    in the runs' order. A setting on which the environments' runs differ (a preset gives each environment its own)
    is left to the preset. Runs made with different environment arguments get a command for each set (a sweep gives
    all its runs the same), joined by ``; ``."""
    sets = list(dict.fromkeys(arguments_of(r) for r in runs if r.config))
    if len(sets) > 1:
        return "; ".join(reproduce_command([r for r in runs if r.config and arguments_of(r) == these])
                         for these in sets)
    seeds = sorted({r.seed for r in runs if r.seed is not None})
    envs = list(dict.fromkeys(r.env_name for r in runs if r.env_name))
    known: dict[str | None, RunRecord] = {}  # the first run of each environment that says how it was run
    for run in runs:
        if run.config:
            known.setdefault(run.env_name, run)
    parts = ["rl-sweep", *_compared(runs), "--seeds", str(len(seeds))]
    if seeds and seeds[0] != DEFAULT_SEED:
        parts += ["--seed-start", str(seeds[0])]
    if not known:
        return " ".join(parts)

    def shared(setting: Callable[[RunRecord], Any]) -> Any:
        values = [setting(run) for run in known.values()]
        return values[0] if all(value == values[0] for value in values) else None

    options = [("--timesteps", shared(lambda r: r.config["timesteps"])),
               ("--checkpoint-interval", shared(lambda r: r.config["checkpoint_interval"])),
               ("--env" if len(envs) == 1 else "--envs", " ".join(envs)),
               ("--eval-episodes", shared(lambda r: r.eval_episodes))]
    # The sweep's preset, as its algorithms' runs say it (a named variant's preset is its own, in --variants).
    plain = [run for run in runs if run.config and not run.named]
    presets = {run.config.get("preset", DEFAULT_PRESET) for run in plain}
    preset = presets.pop() if len(presets) == 1 else None
    if preset not in (None, DEFAULT_PRESET):
        options.append(("--config" if preset.endswith((".yaml", ".yml")) else "--preset", preset))
    if env_kwargs := shared(lambda r: r.env_kwargs):
        options.append(("--env-kwargs", format_kwargs(env_kwargs)))
    return " ".join(parts + [f"{option} {value}" for option, value in options if value is not None])


def _compared(runs: list[RunRecord]) -> list[str]:
    """``--algos ppo a2c``, or ``--variants ppo ppo@tuned mine=ppo@/path/mine.yaml`` when a run is of a named
    variant."""
    if not any(r.named for r in runs):
        return ["--algos", *dict.fromkeys(r.algo for r in runs)]
    first = {}
    for run in runs:
        if run.config:
            first.setdefault(run.variant, run)

    def spec(variant: str) -> str:
        if variant not in first or not first[variant].named:
            return variant
        given = f"{first[variant].algo}@{first[variant].config['preset']}"
        return variant if variant == given else f"{variant}={given}"

    return ["--variants", *map(spec, dict.fromkeys(r.variant for r in runs))]


def versions() -> dict[str, str]:
    """Python's version and the installed version of each of ``PACKAGES`` ("not installed" for one that is not)."""
    found = {"python": platform.python_version()}
    for package in PACKAGES:
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            found[package] = "not installed"
    return found
