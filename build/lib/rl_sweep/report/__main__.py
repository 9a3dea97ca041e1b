"""``python -m rl_sweep.report``: the same command as ``rl-report``."""

import sys

from rl_sweep.report.cli import main

sys.exit(main())
