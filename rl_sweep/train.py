"""``python -m rl_sweep.train``: the contract's command line (:mod:`rl_sweep.run.cli`)."""

from rl_sweep.run.cli import entry

if __name__ == "__main__":
    entry()
