"""What the overhead benchmarks run: each algorithm of a preset, for a number of steps, checkpointing
at the preset's interval unless told otherwise."""

from __future__ import annotations

import argparse


def preset_run_parser(description: str, timesteps: int) -> argparse.ArgumentParser:
    """--algos, --preset, --timesteps and --checkpoint-interval, as both overhead benchmarks take them."""
    parser = argparse.ArgumentParser(description=description, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", nargs="+", default=["ppo", "a2c"])
    parser.add_argument("--preset", default="tuned")
    parser.add_argument("--timesteps", type=int, default=timesteps)
    parser.add_argument("--checkpoint-interval", type=int, default=None, help="default: the preset's")
    return parser


def interval_for(args: argparse.Namespace, algo: str) -> int:
    """--checkpoint-interval, or the preset's for ``algo`` (as every run resolves it: in TrainingConfig)."""
    from rl_sweep.run.config import TrainingConfig

    return TrainingConfig(algo=algo, preset=args.preset, checkpoint_interval=args.checkpoint_interval).checkpoint_interval
