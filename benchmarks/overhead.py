"""What the pipeline costs over a bare Stable-Baselines3 ``model.learn``, measured side by side.

    python benchmarks/overhead.py                      # PPO and A2C, contract settings, 50,000 steps
    python benchmarks/overhead.py --algos ppo --timesteps 20000 --checkpoint-interval 1000

For each algorithm, in separate fresh processes (so peak memory is each mode's own):
- bare: ``model.learn`` on the same monitored environment, same hyperparameters and seed, with a
  callback that only notes the time at the steps where the pipeline checkpoints;
- pipeline: the engine (``TrainingRun``), as ``rl-train`` runs it: checkpoints, metrics JSON and CSV,
  logging.
The overhead is measured over the steps between the first and the last checkpoint, where both do
the same learning (set-up and the final evaluation are excluded from both). Figures: wall time of
that window, ratio, steps/s, checkpoint save p50/p99, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path


def bare(algo: str, timesteps: int, interval: int) -> dict:
    from stable_baselines3.common.callbacks import BaseCallback

    from rl_sweep.algorithms import create_model
    from rl_sweep.environments import make_env
    from rl_sweep.presets import load_settings
    from rl_sweep.seeding import set_seed

    set_seed(42)
    model = create_model(algo, make_env("LunarLander-v3", 42), 42, load_settings("contract", algo))
    marks: dict[int, float] = {}

    class Clock(BaseCallback):
        def _on_step(self) -> bool:
            if self.num_timesteps % interval == 0:
                marks[self.num_timesteps] = time.perf_counter()
            return self.num_timesteps < timesteps

    model.learn(timesteps, callback=Clock())
    return {"marks": marks}


def pipeline(algo: str, timesteps: int, interval: int) -> dict:
    from rl_sweep.config import TrainingConfig
    from rl_sweep.engine import TrainingRun

    with tempfile.TemporaryDirectory() as out:
        run = TrainingRun(TrainingConfig(algo=algo, total_timesteps=timesteps, checkpoint_interval=interval,
                                         output_dir=Path(out), eval_episodes=1))
        marks, saves = {}, []
        while not run.done:
            report = run.step()
            marks[report.step] = time.perf_counter()
            saves.append(report.checkpoint_seconds)
        run.close()
    return {"marks": marks, "saves": saves}


def child(mode: str, algo: str, timesteps: int, interval: int) -> None:
    """Run one mode in this process and print its figures as JSON."""
    import logging

    logging.getLogger("rl_sweep").setLevel(logging.WARNING)
    result = (bare if mode == "bare" else pipeline)(algo, timesteps, interval)
    steps = sorted(result["marks"])
    first, last = steps[0], steps[-1]
    result.update(window_steps=last - first, window_seconds=result["marks"][last] - result["marks"][first],
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    del result["marks"]
    print(json.dumps(result))


def measure(mode: str, algo: str, timesteps: int, interval: int) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", mode, "--algos", algo, "--timesteps",
                             str(timesteps), "--checkpoint-interval", str(interval)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", nargs="+", default=["ppo", "a2c"])
    parser.add_argument("--timesteps", type=int, default=50000)
    parser.add_argument("--checkpoint-interval", type=int, default=1000)
    parser.add_argument("--child", choices=["bare", "pipeline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.algos[0], args.timesteps, args.checkpoint_interval)
        return
    print(f"Pipeline overhead over bare SB3, {date.today()}, {os.cpu_count()} CPUs, LunarLander-v3, "
          f"contract settings, {args.timesteps} steps, checkpoint every {args.checkpoint_interval}")
    print(f"{'algo':<5} {'mode':<9} {'window s':>9} {'steps/s':>8} {'ratio':>6} {'ckpt p50 ms':>12} "
          f"{'ckpt p99 ms':>12} {'peak RSS MB':>12}")
    for algo in args.algos:
        base = measure("bare", algo, args.timesteps, args.checkpoint_interval)
        ours = measure("pipeline", algo, args.timesteps, args.checkpoint_interval)
        for mode, r in (("bare SB3", base), ("pipeline", ours)):
            saves = r.get("saves")
            p50 = f"{1000 * percentile(saves, 50):12.1f}" if saves else f"{'-':>12}"
            p99 = f"{1000 * percentile(saves, 99):12.1f}" if saves else f"{'-':>12}"
            print(f"{algo:<5} {mode:<9} {r['window_seconds']:9.2f} {r['window_steps'] / r['window_seconds']:8.0f} "
                  f"{r['window_seconds'] / base['window_seconds']:6.3f} {p50} {p99} {r['peak_rss_mb']:12.0f}")


if __name__ == "__main__":
    main()
