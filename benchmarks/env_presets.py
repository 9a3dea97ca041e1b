"""The tuned preset's settings per environment (CartPole-v1, Acrobot-v1 from the RL Zoo): does every seed
reach the environment's reward threshold, and how fast?

    python benchmarks/env_presets.py                       # rl-sweep --envs CartPole-v1 Acrobot-v1 --preset tuned --seeds 5
    python benchmarks/env_presets.py --envs CartPole-v1    # one environment
    python benchmarks/env_presets.py --sweep NAME          # read a finished sweep in results/sweeps/NAME instead

The sweep runs as a user runs it, as a subprocess, in a fresh results folder. Per trial: the final
evaluation (10 deterministic episodes), whether it reaches the threshold, the training time, and the steps
and wall time until the training curve (mean of the last 100 episodes) first reaches the threshold. Then,
per environment and algorithm, how many seeds reached it.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

from tuned_sweep import trial_figures

BIN = Path(sys.executable).parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sweep", help="read this finished sweep instead of running one")
    parser.add_argument("--results-dir", default="results", help="with --sweep: where it is (default: results)")
    parser.add_argument("--envs", nargs="+", default=["CartPole-v1", "Acrobot-v1"])
    parser.add_argument("--algos", nargs="+", default=["ppo", "a2c"])
    parser.add_argument("--seeds", type=int, default=5)
    args = parser.parse_args()
    wall = None
    if args.sweep:
        sweep_dir = Path(args.results_dir) / "sweeps" / args.sweep
    else:
        results_dir = Path(tempfile.mkdtemp(prefix="env_presets_"))
        command = [str(BIN / "rl-sweep"), "--preset", "tuned", "--envs", *args.envs, "--algos", *args.algos,
                   "--seeds", str(args.seeds), "--name", "env_presets", "--results-dir", str(results_dir),
                   "--no-dashboard"]
        print("$", " ".join(command[1:]).replace(str(results_dir), "RESULTS"), flush=True)
        started = time.perf_counter()
        subprocess.run(command, check=False, stdout=subprocess.DEVNULL)
        wall = time.perf_counter() - started
        sweep_dir = results_dir / "sweeps" / "env_presets"
    summary = json.loads((sweep_dir / "summary.json").read_text())
    print(f"\n{date.today()}; {len(summary['trials'])} trials\n")
    print("| environment | run | final evaluation | threshold | reached | training s | steps to threshold "
          "| s to threshold |")
    print("|---|---|---|---|---|---|---|---|")
    reached: dict[tuple[str, str], list[bool]] = {}
    for trial in summary["trials"]:
        env, name = trial["env"], trial["trial"].rpartition("/")[2]
        if trial["status"] != "completed":
            print(f"| {env} | {name} | {trial['status']} | | | | | |")
            reached.setdefault((env, trial["algo"]), []).append(False)
            continue
        out = Path(trial["experiment_dir"])
        threshold = json.loads((out / f"{name}_results.json").read_text())[
            "experiment_results"]["environment"]["reward_threshold"]
        figures = trial_figures(out, name, threshold)
        ok = figures["final"] >= threshold
        reached.setdefault((env, trial["algo"]), []).append(ok)
        print(f"| {env} | {name} | {figures['final']:.1f} ± {figures['std']:.1f} | {threshold:g} | "
              f"{'yes' if ok else 'no'} | {figures['train_s']:.0f} | {figures['steps_to_threshold'] or 'not reached'} "
              f"| {figures['time_to_threshold'] or '-'} |")
    print()
    for (env, algo), hits in reached.items():
        times = [t["wall_time_seconds"] for t in summary["trials"]
                 if t["env"] == env and t["algo"] == algo and t["wall_time_seconds"]]
        print(f"{env} {algo}: {sum(hits)} of {len(hits)} seeds reach the threshold in evaluation; "
              f"median wall time per run {statistics.median(times):.0f} s" if times else "")
    if wall is not None:
        print(f"whole sweep: {wall / 60:.1f} min")


if __name__ == "__main__":
    main()
