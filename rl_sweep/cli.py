"""What the two command lines share: argument parsing with the contract's exit code 3."""

from __future__ import annotations

import argparse
import sys
from typing import NoReturn

from rl_sweep.errors import ExitCode


class Parser(argparse.ArgumentParser):
    """argparse with the contract's exit code 3 (not argparse's 2) for invalid arguments."""

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(ExitCode.BAD_ARGUMENTS, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    """An argparse type: an integer above zero."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be a positive integer, not {value}")
    return value


def add_training_options(parser: argparse.ArgumentParser) -> None:
    """The options a single run and a sweep share, with the contract's defaults."""
    parser.add_argument("--env", default="LunarLander-v3", dest="env_name", metavar="ENV",
                        help="Gymnasium environment id (default: %(default)s)")
    parser.add_argument("--timesteps", type=positive_int, default=50000, dest="total_timesteps", metavar="N",
                        help="environment steps per run, exactly (default: %(default)s)")
    parser.add_argument("--checkpoint-interval", type=positive_int, default=1000, metavar="N",
                        help="steps between checkpoints (default: %(default)s)")
    parser.add_argument("--eval-episodes", type=positive_int, default=10, metavar="N",
                        help="deterministic evaluation episodes of the final model (default: %(default)s)")
    parser.add_argument("--conda-env", default="rocm", metavar="NAME",
                        help="conda environment required when conda is active (default: %(default)s)")
