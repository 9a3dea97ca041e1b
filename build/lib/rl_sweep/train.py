"""``python -m rl_sweep.train``: the contract's command line (:mod:`rl_sweep.run.cli`)."""

import sys

from rl_sweep.run.cli import main

if __name__ == "__main__":
    sys.exit(main())
