"""What the report's replays cost: the time to render one replay, and the report's time with and without them,
side by side.

    python benchmarks/replay_cost.py                                  # LunarLander-v3, 2 seeds of PPO and A2C
    python benchmarks/replay_cost.py --env CartPole-v1 --timesteps 5000 --seeds 3

Trains the runs first (the contract's settings, briefly: a LunarLander-v3 policy this young often hovers until
the time limit, the longest replay there is), then times one replay of each run (load the final model safely,
play its evaluation's first episode, render and encode every frame), then the whole report, without replays and
with them, in alternating order, ``--repeats`` times each; the figures are the medians.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from rl_sweep.errors import ExitCode
from rl_sweep.report.document import write_report
from rl_sweep.report.replays import Encoder, local_model, play
from rl_sweep.report.runs import load_run
from rl_sweep.run.cli import run_training
from rl_sweep.run.config import TrainingConfig


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--env", default="LunarLander-v3")
    parser.add_argument("--timesteps", type=int, default=10_000)
    parser.add_argument("--seeds", type=int, default=2, help="seeds per algorithm")
    parser.add_argument("--repeats", type=int, default=2, help="reports timed with and without replays, each")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="replay_cost_") as scratch:
        folders = []
        for algo in ("ppo", "a2c"):
            for seed in range(args.seeds):
                folder = Path(scratch, "runs", f"{algo}_seed{seed}")
                config = TrainingConfig(algo=algo, seed=seed, env_name=args.env, total_timesteps=args.timesteps,
                                        checkpoint_interval=args.timesteps, eval_episodes=3, output_dir=folder)
                started = time.perf_counter()
                assert run_training(config) in (ExitCode.OK, ExitCode.WARNINGS), folder
                print(f"trained {folder.name}: {args.timesteps:,} steps in {time.perf_counter() - started:.0f} s",
                      flush=True)
                folders.append(folder)
        runs = [load_run(folder) for folder in folders]
        encoder = Encoder.find()
        print(f"\nOne replay ({args.env}, {encoder.suffix[1:]}):")
        print(f"{'run':<12} {'steps':>6} {'frames':>6} {'seconds':>8} {'ms/frame':>9}")
        for run in runs:
            started = time.perf_counter()
            _, steps, frames = play(run, local_model(run), Path(scratch, f"{run.name}{encoder.suffix}"), encoder)
            seconds = time.perf_counter() - started
            print(f"{run.name:<12} {steps:>6} {frames:>6} {seconds:>8.2f} {1000 * seconds / frames:>9.1f}", flush=True)
        timings: dict[bool, list[float]] = {False: [], True: []}
        rendered: set[str] = set()
        for repeat in range(args.repeats):
            for replays in ((False, True) if repeat % 2 == 0 else (True, False)):
                started = time.perf_counter()
                numbers = write_report(runs, Path(scratch, f"report_{repeat}_{replays}"), replays=replays)
                timings[replays].append(time.perf_counter() - started)
                if replays:
                    rendered = {r["path"] for r in numbers["replays"]["rendered"]}
        without, with_replays = (statistics.median(timings[key]) for key in (False, True))
        print(f"\nThe report of {len(runs)} runs (median of {args.repeats}):")
        print(f"{'without replays':>16} {'with replays':>13} {'replays':>8} {'added':>7}")
        print(f"{without:>14.1f} s {with_replays:>11.1f} s {len(rendered):>8} {with_replays - without:>5.1f} s")


if __name__ == "__main__":
    main()
