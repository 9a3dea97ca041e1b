"""Failures with a meaning: each maps to one exit code of the contract."""

from __future__ import annotations

import errno
from enum import IntEnum


class ExitCode(IntEnum):
    """The contract's exit codes."""

    OK = 0
    WARNINGS = 1
    FAILED = 2
    BAD_ARGUMENTS = 3
    CONDA_MISMATCH = 4
    ENV_CREATION = 5
    MODEL_LOAD = 6
    INTERRUPTED = 7


class PipelineError(Exception):
    """A failure the pipeline knows how to report; the message is the one line a user sees."""

    exit_code = ExitCode.FAILED


class ConfigError(PipelineError, ValueError):
    """An invalid argument or configuration value."""

    exit_code = ExitCode.BAD_ARGUMENTS


class CondaEnvError(PipelineError):
    """The active conda environment is not the expected one."""

    exit_code = ExitCode.CONDA_MISMATCH


class EnvCreationError(PipelineError):
    """The Gymnasium environment could not be created."""

    exit_code = ExitCode.ENV_CREATION


class ModelLoadError(PipelineError):
    """A checkpoint given to --resume-from cannot be used."""

    exit_code = ExitCode.MODEL_LOAD


class DiskFullError(PipelineError):
    """The file system refused a write for lack of space."""

    exit_code = ExitCode.FAILED


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached the run; a BaseException like KeyboardInterrupt."""

    def __init__(self, signal_name: str) -> None:
        super().__init__(signal_name)
        self.signal_name = signal_name


# What stops a run as interrupted (exit code 7): Ctrl-C as Python raises it, and the pipeline's own stop.
INTERRUPTIONS = (KeyboardInterrupt, Interrupted)

DISK_FULL_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EFBIG})


def is_disk_full(exc: BaseException) -> bool:
    """Whether an OSError means the disk (or the file size limit) is exhausted."""
    return isinstance(exc, OSError) and exc.errno in DISK_FULL_ERRNOS


def exit_code_for(exc: BaseException) -> ExitCode:
    """The single place where a failure becomes an exit code."""
    if isinstance(exc, INTERRUPTIONS):
        return ExitCode.INTERRUPTED
    if isinstance(exc, PipelineError):
        return exc.exit_code
    return ExitCode.FAILED


def one_line(exc: BaseException) -> str:
    """What a user reads of a failure, on one line: a pipeline error's own message, else the exception's type
    and message (a NumPy repr or a wrapped message spans lines: they are joined)."""
    if isinstance(exc, INTERRUPTIONS):
        return "interrupted"
    text = str(exc) if isinstance(exc, PipelineError) else f"{type(exc).__name__}: {exc}"
    return " ".join(text.split()) or type(exc).__name__
