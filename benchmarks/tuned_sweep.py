"""The tuned preset, end to end: does every seed land the lander, how fast, and within 30 minutes?

    python benchmarks/tuned_sweep.py                     # runs rl-sweep --preset tuned --algos ppo a2c --seeds 5
    python benchmarks/tuned_sweep.py --sweep NAME        # reads a finished sweep in results/sweeps/NAME instead

The sweep runs as a user runs it, as a subprocess (Ray start-up and the report included), in a
fresh results folder. Per trial it prints the final model's evaluation (the contract's
final_reward_mean over 10 deterministic episodes), whether it clears 200, and how long the run took
to reach 200: the first recorded step at which the mean training reward of the last 100 episodes is
200 or more, and the wall time from the run's start to that step. Then, per algorithm, how many
seeds cleared 200, and the whole sweep's wall time.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date, datetime
from pathlib import Path

BIN = Path(sys.executable).parent
THRESHOLD = 200.0


def _seconds_between(start: str, end: str) -> float:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return (datetime.strptime(end, fmt) - datetime.strptime(start, fmt)).total_seconds()


def trial_figures(experiment_dir: Path, experiment_id: str, threshold: float = THRESHOLD) -> dict:
    """Final evaluation, speed and time to the threshold (200) of one finished run, from its contract files."""
    results = json.loads((experiment_dir / f"{experiment_id}_results.json").read_text())["experiment_results"]
    series = json.loads((experiment_dir / f"{experiment_id}_metrics.json").read_text())[
        "training_metrics"]["time_series"]
    metrics, metadata = results["metrics"], results["metadata"]
    reached = next((e for e in series if e["reward"] is not None and e["reward"] >= threshold), None)
    return {
        "final": metrics["final_reward_mean"], "std": metrics["final_reward_std"],
        "steps": metrics["total_timesteps"], "train_s": metrics["training_time_seconds"],
        "steps_per_s": metrics["steps_per_second"],
        "steps_to_threshold": reached["timestep"] if reached else None,
        "time_to_threshold": _seconds_between(metadata["start_time"], reached["timestamp"]) if reached else None,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", help="read this finished sweep instead of running one")
    parser.add_argument("--results-dir", default="results", help="with --sweep: where it is (default: results)")
    parser.add_argument("--preset", default="tuned")
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    if args.sweep:
        sweep_dir = Path(args.results_dir) / "sweeps" / args.sweep
    else:
        results_dir = Path(tempfile.mkdtemp(prefix="tuned_sweep_"))
        command = [str(BIN / "rl-sweep"), "--preset", args.preset, "--algos", "ppo", "a2c",
                   "--seeds", str(args.seeds), "--results-dir", str(results_dir), "--name", "bench",
                   "--no-dashboard"]
        print("$", " ".join(command), flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
        print(f"wall time of the whole command: {time.perf_counter() - started:.0f} s", flush=True)
        sweep_dir = results_dir / "sweeps" / "bench"
        print(f"files in {results_dir}", flush=True)
    summary = json.loads((sweep_dir / "summary.json").read_text())
    print(f"\nTuned preset ({summary['options']['preset']}), {date.today()}, {os.cpu_count()} CPUs: "
          f"sweep {summary['sweep']} {summary['status']}, {summary['started']} to {summary['finished']} "
          f"({_seconds_between(summary['started'], summary['finished']) / 60:.1f} min)")
    print(f"{'trial':<14} {'final reward':>15} {'>=200':>6} {'steps':>8} {'train s':>8} {'steps/s':>8} "
          f"{'steps to 200':>13} {'s to 200':>9}")
    by_algo: dict[str, list[dict]] = {}
    for trial in summary["trials"]:
        if trial["status"] != "completed":
            print(f"{trial['trial']:<14} {trial['status']}")
            continue
        f = trial_figures(Path(trial["experiment_dir"]), trial["trial"])
        by_algo.setdefault(trial["algo"], []).append(f)
        to_steps = "-" if f["steps_to_threshold"] is None else str(f["steps_to_threshold"])
        to_time = "-" if f["time_to_threshold"] is None else f"{f['time_to_threshold']:.0f}"
        print(f"{trial['trial']:<14} {f['final']:8.1f} ± {f['std']:5.1f} {'yes' if f['final'] >= THRESHOLD else 'no':>6} "
              f"{f['steps']:>8} {f['train_s']:8.0f} {f['steps_per_s']:8.0f} {to_steps:>13} {to_time:>9}")
    for algo, figures in by_algo.items():
        landed = sum(f["final"] >= THRESHOLD for f in figures)
        times = [f["time_to_threshold"] for f in figures if f["time_to_threshold"] is not None]
        reached = (f"median time to 200 (training reward) {statistics.median(times):.0f} s over {len(times)} seed(s)"
                   if times else "the training reward never reached 200")
        print(f"{algo}: {landed}/{len(figures)} seeds at 200 or more; mean final reward "
              f"{statistics.mean(f['final'] for f in figures):.1f}; {reached}")

if __name__ == "__main__":
    main()
