"""``python -m rl_sweep.report``: the same command as ``rl-report``."""

from rl_sweep.report.cli import entry

entry()
