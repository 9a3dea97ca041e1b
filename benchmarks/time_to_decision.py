"""No idle CPU (issue 37), before and after, in one run: the time a sweep takes and how busy it keeps the CPUs, with
the trials in grid order and one Tune run per round (before: what rl-sweep did until 2026-12-06) and as rl-sweep runs
them now (longest first, the next round's seeds speculatively on CPUs that would idle, a trial paused at a round's
tail where that ends the round sooner).

    python benchmarks/time_to_decision.py              # rl-sweep --until-decided --preset tuned --algos ppo a2c
    python benchmarks/time_to_decision.py --tuned      # make tuned: rl-sweep --preset tuned --algos ppo a2c --seeds 5
    python benchmarks/time_to_decision.py --timesteps 20000 --env CartPole-v1   # a quick look

Each sweep runs as a user runs it, a subprocess in a fresh results folder; "before" is the same command with
rl-sweep's longest-first order replaced by the grid order (environment, variant, seed) and --no-speculate. Printed
side by side, from each summary.json: the decision and its rounds; the CPU-seconds of the trials the sweep needed
and of speculative ones it did not; the span from the first trial's start to the last one's end against its ideal
(needed CPU-seconds over the CPUs); the CPU utilisation; the command's wall time and its fixed cost (wall time
minus span). The goals: utilisation at least 0.95, and a span within 5% of the ideal. Beside them, the best any order
of whole trials could do with the same trial times (the best split of the needed trials over 2 CPUs, none paused):
when a decision takes one round, speculation cannot help (its trials are not needed) and uneven trials bound such an
order's span above the ideal, which pausing a trial at the tail can still reach.
Both sweeps must compute the same trials: their final rewards are compared to the bit.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

GRID_ORDER = ("import sys, rl_sweep.sweep.schedule as schedule; "
              "schedule.longest_first = lambda runs, finished=(): list(runs); "
              "from rl_sweep.sweep.cli import main; sys.exit(main(sys.argv[1:]))")
AS_NOW = "import sys; from rl_sweep.sweep.cli import main; sys.exit(main(sys.argv[1:]))"


def run(name: str, args: list[str], before: bool, results: Path) -> dict:
    """One sweep as a subprocess; its summary, with the command's wall time."""
    argv = [*args, "--name", name, "--results-dir", str(results), "--no-dashboard", "--no-replays",
            *(["--no-speculate"] if before and "--until-decided" in args else [])]
    print(f"$ rl-sweep {' '.join(argv)}{'   (grid order)' if before else ''}", flush=True)
    started = time.perf_counter()
    subprocess.run([sys.executable, "-c", GRID_ORDER if before else AS_NOW, *argv], check=False,
                   stdout=subprocess.DEVNULL)
    summary = json.loads((results / "sweeps" / name / "summary.json").read_text())
    summary["wall"] = time.perf_counter() - started
    return summary


def best_span(seconds: list[float], cpus: float) -> float | None:
    """The shortest span any order of these trials (their measured wall times) can reach on 2 CPUs, one trial per CPU
    at a time and none paused: the best split of them into two sets, exactly (a subset-sum over tenths of seconds).
    No order reaches the ideal (the sum over the CPUs) when the trials do not split evenly; None for other CPUs.
    One CPU per trial; rounds are ignored, so for a decision of several rounds this is a lower bound that an order
    may not reach (a round's trials wait for the earlier round's decision unless speculated)."""
    if cpus != 2 or not seconds:
        return None
    tenths = [round(s * 10) for s in seconds]
    reachable = 1  # bit k: some subset sums to k tenths
    for t in tenths:
        reachable |= reachable << t
    half = sum(tenths) // 2
    below = reachable & ((1 << (half + 1)) - 1)
    return (sum(tenths) - (below.bit_length() - 1)) / 10


def figures(summary: dict) -> dict[str, str]:
    busy = summary.get("utilisation") or {}
    decision = summary.get("decision")
    said = ("; ".join(f"{c['first']} {c['decision']} than {c['second']} (round {c['round']})"
                      for c in decision["comparisons"]) + f", {decision['rounds']} round(s)") if decision else "-"
    cpus, span, needed = busy.get("cpus", 0), busy.get("wall_seconds", 0), busy.get("trial_cpu_seconds", 0)
    ideal = needed / cpus if cpus else 0
    best = best_span([t["wall_time_seconds"] for t in summary["trials"]
                      if t["status"] == "completed" and t.get("wall_time_seconds")], cpus)
    return {"status": summary["status"], "decision": said,
            "trials needed": str(sum(t["status"] == "completed" for t in summary["trials"])),
            "needed CPU-s": f"{needed:,.0f}", "not needed CPU-s": f"{busy.get('not_needed_cpu_seconds', 0):,.0f}",
            "span s (first start to last end)": f"{span:,.0f}", "ideal s (needed / CPUs)": f"{ideal:,.0f}",
            "span / ideal (goal <= 1.05)": f"{span / ideal:.3f}" if ideal else "-",
            "best order's span / ideal": f"{best / ideal:.3f}" if best and ideal else "-",
            "CPU utilisation (goal >= 0.95)": f"{busy.get('value', 0):.3f}",
            "wall time of the command s": f"{summary['wall']:,.0f}",
            "fixed cost s (wall - span)": f"{summary['wall'] - span:,.0f}"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tuned", action="store_true", help="make tuned's fixed 5 seeds instead of the decision")
    parser.add_argument("--timesteps", type=int, help="steps per run instead of the preset's")
    parser.add_argument("--env", default="LunarLander-v3")
    args = parser.parse_args()
    command = ["--preset", "tuned", "--algos", "ppo", "a2c", "--env", args.env,
               *(["--seeds", "5"] if args.tuned else ["--until-decided"]),
               *(["--timesteps", str(args.timesteps)] if args.timesteps else [])]
    results = Path(tempfile.mkdtemp(prefix="time_to_decision_"))
    print(f"{date.today()}, {os.cpu_count()} CPUs; files in {results}", flush=True)
    before, after = run("before", command, True, results), run("after", command, False, results)
    rows = {"before": figures(before), "after": figures(after)}
    print(f"\n{'':<34} {'before: grid order, a Tune run a round':<40} {'after: longest first, speculating':<40}")
    for key in rows["before"]:
        print(f"{key:<34} {rows['before'][key]:<40} {rows['after'][key]:<40}")

    def rewards(summary: dict) -> dict:
        return {t["trial"]: t["final_reward_mean"] for t in summary["trials"] if t["status"] == "completed"}

    print(f"\nthe same trials and final rewards, to the bit: {rewards(before) == rewards(after)}")


if __name__ == "__main__":
    main()
