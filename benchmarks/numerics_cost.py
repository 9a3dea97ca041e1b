"""What pinned numerics cost: rl-train with MKL's reproducible AVX2 path (the default) against
--fast-numerics (MKL's kernels picked by CPU), side by side.

    python benchmarks/numerics_cost.py                  # PPO and A2C, contract and tuned settings, 3 pairs each
    python benchmarks/numerics_cost.py --pairs 5

Each pair runs the same command twice as subprocesses, pinned then fast, in alternating order so that
neither always runs on a warmer machine; the figure is the median of each one's training time (the results
JSON's metrics.training_time_seconds, which leaves out start-up and evaluation) and their ratio. "Fast" is MKL's
own choice on this CPU: on one not Intel's, MKL's vendor check is left alone too (RL_SWEEP_MKL_VENDOR_CHECK=off),
so that the pinned path, Intel's AVX2 kernels there, is compared with the kernels MKL picks for that CPU.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

CASES = {
    "ppo contract, 20,000 steps": ["--algo", "ppo", "--timesteps", "20000"],
    "a2c contract, 20,000 steps": ["--algo", "a2c", "--timesteps", "20000"],
    "ppo tuned, 50,000 steps": ["--algo", "ppo", "--preset", "tuned", "--timesteps", "50000"],
    "a2c tuned, 50,000 steps": ["--algo", "a2c", "--preset", "tuned", "--timesteps", "50000"],
}


def training_seconds(args: list[str], fast: bool) -> float:
    with tempfile.TemporaryDirectory() as folder:
        command = [sys.executable, "-m", "rl_sweep.train", *args, "--eval-episodes", "1", "--output-dir", folder,
                   *(["--fast-numerics"] if fast else [])]
        env = {**os.environ, **({"RL_SWEEP_MKL_VENDOR_CHECK": "off"} if fast else {})}
        subprocess.run(command, check=True, capture_output=True, env=env)
        experiment_id = f"{args[1]}_seed42"
        results = json.loads((Path(folder) / f"{experiment_id}_results.json").read_text())
        return results["experiment_results"]["metrics"]["training_time_seconds"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    print(f"{'run':<28} {'pinned s':>9} {'fast s':>8} {'pinned / fast':>14}")
    for name, case in CASES.items():
        pinned, fast = [], []
        for pair in range(args.pairs):
            for is_fast in ((False, True) if pair % 2 == 0 else (True, False)):
                (fast if is_fast else pinned).append(training_seconds(case, is_fast))
        p, f = statistics.median(pinned), statistics.median(fast)
        print(f"{name:<28} {p:>9.1f} {f:>8.1f} {p / f:>14.3f}", flush=True)


if __name__ == "__main__":
    main()
