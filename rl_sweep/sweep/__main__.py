"""``python -m rl_sweep.sweep``: the same command as ``rl-sweep``."""

from rl_sweep.sweep.cli import entry

entry()
