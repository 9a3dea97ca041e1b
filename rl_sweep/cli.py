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
