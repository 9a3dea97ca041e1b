"""What the three command lines share: argument parsing with the contract's exit code 3, the
training options of a run, and the one way a command turns a failure into its message and exit code."""

from __future__ import annotations

import argparse
import atexit
import logging
import os
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, NoReturn

import yaml

from rl_sweep.errors import INTERRUPTIONS, ConfigError, ExitCode, exit_code_for, one_line
from rl_sweep.presets import DEFAULT_ENV, DEFAULT_PRESET, available_presets
from rl_sweep.run.config import DEFAULT_CONDA_ENV, DEFAULT_EVAL_EPISODES

log = logging.getLogger("rl_sweep.cli")


class Parser(argparse.ArgumentParser):
    """argparse with the contract's exit code 3 (not argparse's 2) for invalid arguments, said in one line:
    what is wrong and where the options are listed, not argparse's usage block before it."""

    def error(self, message: str) -> NoReturn:
        self.exit(ExitCode.BAD_ARGUMENTS, f"{self.prog}: error: {' '.join(message.split())} "
                                          f"(see {self.prog} --help)\n")


def positive_float(text: str) -> float:
    """An argparse type: a number above zero."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"must be above zero, not {text}")
    return value


def positive_int(text: str) -> int:
    """An argparse type: an integer above zero."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


class Once(argparse.Action):
    """An option that may be given once: a second ``--env`` is refused, not silently taken instead."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        if getattr(namespace, self.dest) is not None:
            several = " (rl-sweep takes several as --envs ID [ID ...])" if option_string == "--env" else ""
            parser.error(f"{option_string} is given twice{several}")
        setattr(namespace, self.dest, values)


def env_argument(text: str) -> tuple[str, Any]:
    """An argparse type: ``KEY=VALUE``, the value read as a YAML scalar (``true``, ``0.5``, ``-9.8``, ``name``)."""
    key, equals, value = text.partition("=")
    if not equals or not key.isidentifier():
        raise argparse.ArgumentTypeError(f"{text!r} is not KEY=VALUE")
    try:
        parsed = yaml.safe_load(value) if value else ""
    except yaml.YAMLError:
        raise argparse.ArgumentTypeError(f"{text!r}: {value!r} is not a YAML value") from None
    if not isinstance(parsed, (bool, int, float, str, list, dict, type(None))):  # a date, say: not JSON
        raise argparse.ArgumentTypeError(f"{text!r}: give a number, true/false, null or text (quote it: "
                                         f"{key}='\"{value}\"')")
    return key, parsed


def env_kwargs_of(args: argparse.Namespace) -> dict[str, Any]:
    """The environment arguments the options give; one given twice is refused."""
    kwargs: dict[str, Any] = {}
    for key, value in args.env_kwargs:
        if key in kwargs:
            raise ConfigError(f"--env-kwargs gives {key} twice")
        kwargs[key] = value
    return kwargs


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The options a single run and a sweep share, with the contract's defaults."""
    parser.add_argument("--env", default=None, dest="env_name", metavar="ENV", action=Once,
                        help="Gymnasium environment id, or package.module:EnvId-v0 for one a module of yours "
                             f"registers (default: {DEFAULT_ENV})")
    parser.add_argument("--env-kwargs", nargs="+", action="extend", type=env_argument, default=[], metavar="KEY=VALUE",
                        help="arguments for the environment, values read as YAML (continuous=true "
                             "enable_wind=true gravity=-9.8)")
    parser.add_argument("--timesteps", type=positive_int, default=None, dest="total_timesteps", metavar="N",
                        help="environment steps per run, exactly (default: the preset's; 50000 for contract)")
    parser.add_argument("--checkpoint-interval", type=positive_int, default=None, metavar="N",
                        help="steps between checkpoints (default: the preset's; 1000 for contract)")
    parser.add_argument("--eval-episodes", type=positive_int, default=DEFAULT_EVAL_EPISODES, metavar="N",
                        help="deterministic evaluation episodes of the final model (default: %(default)s)")
    parser.add_argument("--conda-env", default=DEFAULT_CONDA_ENV, metavar="NAME",
                        help="conda environment required when conda is active (default: %(default)s)")
    parser.add_argument("--fast-numerics", action="store_true",
                        help="let MKL pick its kernels by CPU: results then depend on the CPU (default: pinned, "
                             "the same numbers on x86-64 CPUs with AVX2 and FMA, Intel's and AMD's, as checked by the "
                             "golden fingerprint)")
    presets = parser.add_mutually_exclusive_group()
    presets.add_argument("--preset", default=DEFAULT_PRESET, metavar="NAME",
                         help=f"hyperparameter preset: {', '.join(available_presets())} "
                              "(default: %(default)s, the contract's settings)")
    presets.add_argument("--config", type=Path, dest="config_file", metavar="FILE.yaml",
                         help="your own preset file, in the format of configs/contract.yaml")


def preset_of(args: argparse.Namespace) -> str:
    """The preset the options name: --config's file, else --preset's name."""
    return str(args.config_file) if args.config_file else args.preset


def exit_code_of(command: Callable[[], int]) -> int:
    """Run a command's body and return its exit code; a failure is one line on stderr (the traceback
    too with --verbose, which logs DEBUG) and the contract's exit code for it."""
    try:
        return int(command())
    except (Exception, *INTERRUPTIONS) as exc:
        log.debug("failure details", exc_info=True)
        log.error("%s", one_line(exc))
        return int(exit_code_for(exc))


def ignore_signals_from_now_on() -> None:
    """A command's work is done and its files are written: a signal now has nothing left to stop. Python's
    shutdown puts back the default disposition of every signal it handled, and a Ctrl-C during that second or
    so (torch's and Ray's modules are torn down then) would kill the process by SIGINT instead of letting it
    exit with its code. A signal ignored at the OS level stays ignored to the end."""
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, signal.SIG_IGN)


def program(main: Callable[[], int]) -> Callable[[], NoReturn]:
    """A command's program (its console script): ``main()``, then the process ends with its exit code once
    Python's exit handlers have run (logging's last flush, Ray's, the progress display's), without the
    teardown of every module after them, which takes about a second with torch's, Ray's and the report's
    libraries loaded. Every file is written by then, and signals are ignored (:func:`ignore_signals_from_now_on`)."""
    def run() -> NoReturn:
        code = main()
        atexit._run_exitfuncs()
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except (OSError, ValueError):  # a closed pipe: nothing more can be said
                pass
        os._exit(code)

    return run


def invoked_as(program: str) -> str:
    """How to run ``program`` (``rl-sweep``, ``ray``) of this installation again from here: its name when the shell's
    PATH finds this very one, else its path (relative to this folder when under it): ``make sweep`` runs
    ``.venv/bin/rl-sweep``, and a shell without the virtual environment active has no ``rl-sweep``."""
    installed = Path(sys.executable).parent / program
    if not installed.exists():
        return program  # not an installed console script (a test's python -m): its name, as the README gives it
    found = shutil.which(program)
    if found and Path(found).resolve() == installed.resolve():
        return program
    try:
        return str(installed.absolute().relative_to(Path.cwd()))
    except ValueError:
        return str(installed.absolute())
