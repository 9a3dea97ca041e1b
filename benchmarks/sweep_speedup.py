"""Sequential CLI runs vs one rl-sweep over the same trials: wall time and speed-up.

A third row runs the same CLI commands as plain concurrent processes, one per CPU, with no Ray:
the ceiling this machine allows, so that the sweep's own overhead reads apart from the machine's.

    python benchmarks/sweep_speedup.py                       # 4 trials (ppo, a2c x 2 seeds) of 20,000 steps
    python benchmarks/sweep_speedup.py --seeds 8 --timesteps 50000
    python benchmarks/sweep_speedup.py --fixed-cost          # a sweep's fixed cost: 2 runs of 4,096 steps

--fixed-cost times ``rl-sweep --algos ppo --seeds 2 --timesteps 4096`` (as it is, without replays, and
without replays or dashboard; and without replays on a Ray cluster started beforehand, ``--address``)
against the same 2 runs as plain rl-train processes at once, in rounds, and prints every time and the
medians of --repeat rounds: what a sweep costs beyond its runs.

Both sides run as a user runs them, as subprocesses, from process start to exit (Python and
Ray start-up included), in fresh temporary folders. Also checks that both produced the same
final rewards, since a sweep must not change what a run learns.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import date
from pathlib import Path

from storage_overhead import free_port

BIN = Path(sys.executable).parent
STANDING = "--no-replays on a running cluster"


def timed(command: list[str], cwd: Path, env: dict[str, str] | None = None) -> float:
    started = time.perf_counter()
    subprocess.run(command, cwd=cwd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - started


def timed_concurrently(commands: list[list[str]], cwd: Path, slots: int) -> float:
    """Run ``commands`` with at most ``slots`` at once; wall time of the whole batch."""
    started = time.perf_counter()
    with ThreadPoolExecutor(slots) as pool:
        list(pool.map(lambda command: timed(command, cwd), commands))
    return time.perf_counter() - started


def final_rewards(runs: Path) -> dict[str, float]:
    """Each run's final reward, by run name, from the results JSON in the folders under ``runs``."""
    return {
        path.parent.name: json.loads(path.read_text())["experiment_results"]["metrics"]["final_reward_mean"]
        for path in sorted(runs.glob("*/*_results.json"))
    }


class StandingCluster:
    """A local Ray cluster of ``cpus`` started before a sweep, as a user starts one (``ray start --head``), in
    its own mount namespace so that all of it can be stopped by PID (not by Ray's own stop command, which would
    stop every Ray process on the machine). ``env``: what a client needs to connect (the cluster's token)."""

    def __init__(self, cpus: int, temp_dir: Path) -> None:
        self.port = free_port()
        self.env = {**os.environ, "RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}
        command = [str(BIN / "ray"), "start", "--block", "--head", "--port", str(self.port), "--num-cpus", str(cpus),
                   "--temp-dir", str(temp_dir), "--node-ip-address", "127.0.0.1", "--include-dashboard=false",
                   "--disable-usage-stats"]
        self.node = subprocess.Popen(["unshare", "-m", *command], env=self.env, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.DEVNULL)
        ready = (f"import ray; ray.init(address='127.0.0.1:{self.port}'); "
                 f"assert ray.cluster_resources()['CPU'] == {cpus}")
        self.namespace = None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and self.node.poll() is None:
            if subprocess.run([sys.executable, "-c", ready], env=self.env, capture_output=True).returncode == 0:
                self.namespace = self.own_namespace()
                if self.namespace:
                    return
                break
            time.sleep(1)
        self.stop()
        raise RuntimeError("the Ray cluster did not start in a mount namespace of its own")

    def own_namespace(self) -> str | None:
        """The node's mount namespace while its ``ray start`` runs, if it is not this process's (None otherwise)."""
        if self.node.poll() is not None:  # ended (and reaped): its PID may be another process's
            return None
        namespace = os.readlink(f"/proc/{self.node.pid}/ns/mnt")
        return namespace if namespace != os.readlink("/proc/self/ns/mnt") else None

    def stop(self) -> None:
        """SIGKILL every process in the node's own mount namespace: the node, and only it."""
        namespace = self.namespace or self.own_namespace()
        for entry in Path("/proc").iterdir() if namespace else ():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                if os.readlink(entry / "ns/mnt") == namespace:
                    os.kill(int(entry.name), 9)
            except OSError:
                pass
        if self.node.poll() is None:
            self.node.kill()
        self.node.wait(timeout=30)


def on_standing_cluster(command: list[str], cwd: Path) -> float:
    """``command`` timed on a cluster of 2 CPUs started (and stopped) outside the time."""
    cluster = StandingCluster(2, cwd / "ray")
    try:
        return timed([*command, "--address", f"127.0.0.1:{cluster.port}"], cwd, cluster.env)
    finally:
        cluster.stop()


def fixed_cost(repeat: int) -> None:
    """The sweep's cost beyond its runs: rl-sweep of 2 short runs against the same runs as plain processes."""
    import statistics

    common = ["--timesteps", "4096"]
    runs = [[str(BIN / "rl-train"), "--algo", "ppo", "--seed", str(seed), *common] for seed in (42, 43)]
    sweep = [str(BIN / "rl-sweep"), "--algos", "ppo", "--seeds", "2", *common, "--name", "bench"]
    modes = {"plain": None, "rl-sweep": sweep, "rl-sweep --no-replays": [*sweep, "--no-replays"],
             "rl-sweep --no-replays --no-dashboard": [*sweep, "--no-replays", "--no-dashboard"],
             STANDING: [*sweep, "--no-replays"]}
    rows: dict[str, list[float]] = {mode: [] for mode in modes}
    for _ in range(repeat):
        for mode, command in modes.items():
            with tempfile.TemporaryDirectory() as folder:
                rows[mode].append(timed_concurrently(runs, Path(folder), 2) if command is None
                                  else on_standing_cluster(command, Path(folder)) if mode == STANDING
                                  else timed(command, Path(folder)))
    print(f"a sweep's fixed cost, {date.today()}, {os.cpu_count()} CPUs: 2 PPO runs of 4,096 steps, "
          f"median of {repeat} rounds")
    print(f"{'mode':<38} {'wall s (each round)':<22} {'median s':>9} {'over plain s':>13}")
    plain = statistics.median(rows["plain"])
    for mode, times in rows.items():
        median = statistics.median(times)
        print(f"{mode:<38} {' '.join(f'{t:.1f}' for t in times):<22} {median:9.1f} "
              f"{median - plain if mode != 'plain' else 0.0:13.1f}")
    over = statistics.median(rows["rl-sweep"]) - plain
    print(f"goal (issue 20): rl-sweep at most 4 s over plain processes: {'met' if over <= 4 else 'NOT met'} "
          f"({over:.1f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", nargs="+", default=["ppo", "a2c"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--timesteps", type=int, default=20000)
    parser.add_argument("--eval-episodes", type=int, default=10)
    parser.add_argument("--fixed-cost", action="store_true", help="measure a sweep's fixed cost instead")
    parser.add_argument("--repeat", type=int, default=3, help="rounds of --fixed-cost (default: 3)")
    args = parser.parse_args()
    if args.fixed_cost:
        fixed_cost(args.repeat)
        return
    common = ["--timesteps", str(args.timesteps), "--eval-episodes", str(args.eval_episodes)]
    trials = [(algo, 42 + i) for algo in args.algos for i in range(args.seeds)]

    runs = [[str(BIN / "rl-train"), "--algo", algo, "--seed", str(seed), *common] for algo, seed in trials]
    with tempfile.TemporaryDirectory() as sequential_dir, tempfile.TemporaryDirectory() as sweep_dir, \
            tempfile.TemporaryDirectory() as plain_dir:
        sequential = sum(timed(run, Path(sequential_dir)) for run in runs)
        plain = timed_concurrently(runs, Path(plain_dir), os.cpu_count() or 1)
        sweep = timed([str(BIN / "rl-sweep"), "--algos", *args.algos, "--seeds", str(args.seeds),
                       "--no-dashboard", "--name", "bench", *common], Path(sweep_dir))
        same = (final_rewards(Path(sequential_dir) / "results/experiments")
                == final_rewards(Path(sweep_dir) / "results/sweeps/bench"))

    print(f"rl-sweep speed-up, {date.today()}, {os.cpu_count()} CPUs: "
          f"{len(trials)} trials ({' '.join(args.algos)} x {args.seeds} seeds) of {args.timesteps} steps")
    print(f"{'mode':<28} {'wall s':>8} {'speed-up':>9}")
    print(f"{'sequential rl-train runs':<28} {sequential:8.1f} {1.0:9.2f}")
    print(f"{'plain processes, 1 per CPU':<28} {plain:8.1f} {sequential / plain:9.2f}  (machine ceiling, no Ray)")
    print(f"{'one rl-sweep':<28} {sweep:8.1f} {sequential / sweep:9.2f}")
    print(f"identical final rewards: {'yes' if same else 'NO'}")


if __name__ == "__main__":
    main()
