"""``python -m rl_sweep.sweep``: the same command as ``rl-sweep``."""

import sys

from rl_sweep.sweep.cli import main

sys.exit(main())
