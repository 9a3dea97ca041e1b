"""What the pipeline costs over a bare Stable-Baselines3 ``model.learn``, measured side by side.

    python benchmarks/overhead.py                      # tuned preset, 100,000 steps, its checkpoint interval
    python benchmarks/overhead.py --preset contract --timesteps 50000 --checkpoint-interval 1000

For each algorithm, in separate fresh processes (so peak memory is each mode's own):
- bare: ``model.learn`` on the same monitored environments, same hyperparameters and seed, with a
  callback that only notes the time at the steps where the pipeline checkpoints;
- pipeline: the engine (``TrainingRun``), as ``rl-train`` runs it: checkpoints, metrics JSON and CSV,
  logging to its file and the console (here, a pipe).
The overhead is measured over the steps between the first and the last checkpoint, where both do
the same learning (set-up and the final evaluation are excluded from both). The two modes take
turns, ``--repeats`` times each, and the ratio is the median's, since this shared machine's speed
drifts by several per cent from one minute to the next. Figures: wall time of that window, ratio,
steps/s, checkpoint save p50/p99 over every repeat, peak RSS.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from preset_runs import interval_for, preset_run_parser


def bare(algo: str, preset: str, timesteps: int, interval: int) -> dict:
    from stable_baselines3.common.callbacks import BaseCallback

    from rl_sweep.run.algorithms import create_model
    from rl_sweep.run.config import TrainingConfig
    from rl_sweep.run.environments import make_training_env
    from rl_sweep.run.seeding import set_seed

    set_seed(42)
    settings = TrainingConfig(algo=algo, preset=preset).settings
    model = create_model(algo, make_training_env("LunarLander-v3", 42, settings), 42, settings)
    marks: dict[int, float] = {}

    class Clock(BaseCallback):
        """Notes the time at the first step at or past each multiple of ``interval``, as the engine saves."""

        next_mark = interval

        def _on_step(self) -> bool:
            if self.num_timesteps >= self.next_mark:
                marks[self.num_timesteps] = time.perf_counter()
                self.next_mark = (self.num_timesteps // interval + 1) * interval
            return self.num_timesteps < timesteps

    model.learn(timesteps, callback=Clock())
    return {"marks": marks}


def pipeline(algo: str, preset: str, timesteps: int, interval: int) -> dict:
    from rl_sweep.logs import configure_console
    from rl_sweep.run.config import TrainingConfig
    from rl_sweep.run.engine import TrainingRun

    configure_console(verbose=False)
    with tempfile.TemporaryDirectory() as out:
        run = TrainingRun(TrainingConfig(algo=algo, preset=preset, total_timesteps=timesteps,
                                         checkpoint_interval=interval, output_dir=Path(out), eval_episodes=1))
        marks, saves = {}, []
        while not run.done:
            report = run.step()
            marks[report.step] = time.perf_counter()
            saves.append(report.checkpoint_seconds)
        run.close()
    return {"marks": marks, "saves": saves}


def child(mode: str, algo: str, preset: str, timesteps: int, interval: int) -> None:
    """Run one mode in this process and print its figures as JSON."""
    result = (bare if mode == "bare" else pipeline)(algo, preset, timesteps, interval)
    steps = sorted(result["marks"])
    first, last = steps[0], steps[-1]
    result.update(window_steps=last - first, window_seconds=result["marks"][last] - result["marks"][first],
                  peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024)
    del result["marks"]
    print(json.dumps(result))


def measure(mode: str, algo: str, preset: str, timesteps: int, interval: int) -> dict:
    output = subprocess.run([sys.executable, __file__, "--child", mode, "--algos", algo, "--preset", preset,
                             "--timesteps", str(timesteps), "--checkpoint-interval", str(interval)],
                            check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = preset_run_parser(__doc__, timesteps=100000)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", choices=["bare", "pipeline"], help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.algos[0], args.preset, args.timesteps, args.checkpoint_interval)
        return
    print(f"Pipeline overhead over bare SB3, {date.today()}, {os.cpu_count()} CPUs, LunarLander-v3, "
          f"preset {args.preset}, {args.timesteps} steps, median of {args.repeats} alternating repeats")
    print(f"{'algo':<5} {'interval':>8} {'mode':<9} {'window s':>9} {'steps/s':>8} {'ratio':>6} {'ckpt p50 ms':>12} "
          f"{'ckpt p99 ms':>12} {'peak RSS MB':>12}")
    for algo in args.algos:
        interval = interval_for(args, algo)
        runs: dict[str, list[dict]] = {"bare": [], "pipeline": []}
        for _ in range(args.repeats):
            for mode in runs:
                runs[mode].append(measure(mode, algo, args.preset, args.timesteps, interval))
        base = statistics.median(r["window_seconds"] for r in runs["bare"])
        for mode, label in (("bare", "bare SB3"), ("pipeline", "pipeline")):
            seconds = statistics.median(r["window_seconds"] for r in runs[mode])
            steps = runs[mode][0]["window_steps"]
            saves = [s for r in runs[mode] for s in r.get("saves", [])]
            p50 = f"{1000 * percentile(saves, 50):12.1f}" if saves else f"{'-':>12}"
            p99 = f"{1000 * percentile(saves, 99):12.1f}" if saves else f"{'-':>12}"
            rss = max(r["peak_rss_mb"] for r in runs[mode])
            print(f"{algo:<5} {interval:>8} {label:<9} {seconds:9.2f} {steps / seconds:8.0f} {seconds / base:6.3f} "
                  f"{p50} {p99} {rss:12.0f}", flush=True)
        ratios = [p["window_seconds"] / b["window_seconds"] for b, p in zip(runs["bare"], runs["pipeline"])]
        print(f"{algo:<5} pairwise ratios: {', '.join(f'{r:.3f}' for r in ratios)}", flush=True)


if __name__ == "__main__":
    main()
