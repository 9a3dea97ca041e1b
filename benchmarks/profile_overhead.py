"""Where a run's CPU time goes, from a py-spy profile: Stable-Baselines3's learning vs the pipeline.

    python benchmarks/profile_overhead.py                          # tuned preset, PPO and A2C, 200,000 steps
    python benchmarks/profile_overhead.py --preset contract --algos ppo --checkpoint-interval 1000

Wall-time comparisons on a shared 2-CPU machine drift by 10 to 20% between runs, more than the
overhead to be measured. A profile divides one run's own samples instead, so drift cancels out.
``rl-train`` runs under ``py-spy record`` (install it with ``pip install py-spy``), sampling every
thread 200 times a second; each sample is put in one bucket by the innermost frame it passes through:

- pipeline: our code while training runs: the per-step callback (``Stepper._on_step``, episode
  and time-series bookkeeping), checkpoint saves, metrics JSON and CSV, logging;
- learning: everything else inside SB3's ``model.learn``: rollouts, environments, gradient steps;
- evaluation and set-up/shutdown, reported apart (the overhead target is about the training window).

The overhead is pipeline / learning. The caller's thread waiting for the worker is not counted.
"""

from __future__ import annotations

import os
import subprocess
import sys
import tempfile
from collections import Counter
from datetime import date
from pathlib import Path

from preset_runs import interval_for, preset_run_parser

BIN = Path(sys.executable).parent
PIPELINE_FRAMES = ("Stepper._on_step", "TrainingRun.step", "TrainingRun._save_checkpoint", "MetricsRecorder.")


def bucket(stack: list[str]) -> str:
    """The bucket of one sampled stack (outermost frame first)."""
    names = [frame.split(" (")[0] for frame in stack]
    if "TrainingRun.finish" in names:
        return "evaluation"
    if "Queue.get" in names:
        # One thread blocked on the queue while the other works: py-spy does not always see that a
        # thread blocked on a lock is idle.
        return "waiting"
    if any(name.startswith(PIPELINE_FRAMES) for name in names):
        return "pipeline"
    if any(name.endswith(".learn") for name in names):
        return "learning"
    return "set-up and shutdown"


def profile(algo: str, preset: str, timesteps: int, interval: int | None) -> Counter:
    with tempfile.TemporaryDirectory() as out:
        raw = Path(out) / "profile.txt"
        command = [str(BIN / "rl-train"), "--algo", algo, "--preset", preset, "--timesteps", str(timesteps),
                   "--output-dir", str(Path(out) / "run"), "--eval-episodes", "10"]
        if interval:
            command += ["--checkpoint-interval", str(interval)]
        subprocess.run([str(BIN / "py-spy"), "record", "--rate", "200", "--format", "raw", "--output", str(raw),
                        "--", *command], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        samples: Counter = Counter()
        for line in raw.read_text().splitlines():
            stack, _, count = line.rpartition(" ")
            samples[bucket(stack.split(";"))] += int(count)
    return samples


def main() -> None:
    parser = preset_run_parser(__doc__, timesteps=200000)
    args = parser.parse_args()
    print(f"py-spy profile of rl-train, {date.today()}, {os.cpu_count()} CPUs, preset {args.preset}, "
          f"{args.timesteps} steps, 200 samples/s")
    print(f"{'algo':<5} {'interval':>8} {'learning':>9} {'pipeline':>9} {'evaluation':>11} {'set-up':>7} "
          f"{'overhead':>9}")
    for algo in args.algos:
        interval = interval_for(args, algo)
        s = profile(algo, args.preset, args.timesteps, interval)
        print(f"{algo:<5} {interval:>8} {s['learning']:>9} {s['pipeline']:>9} {s['evaluation']:>11} "
              f"{s['set-up and shutdown']:>7} {100 * s['pipeline'] / s['learning']:8.2f}%", flush=True)


if __name__ == "__main__":
    main()
