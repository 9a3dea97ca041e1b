"""The same small sweep with local storage and with S3-compatible storage: wall times, their ratio, and the
bytes a trial writes to storage per checkpoint (to estimate a cloud bill).

    python benchmarks/storage_overhead.py                       # ppo, a2c x 2 seeds, 20,000 steps, 2 repeats
    python benchmarks/storage_overhead.py --timesteps 50000 --checkpoint-interval 1000 --repeats 3

The S3 side is moto's server mode on 127.0.0.1 (a test dependency: no network, no bill), reached as
``s3://bench/...?scheme=http&endpoint_override=127.0.0.1:PORT``. Both sides run ``rl-sweep`` as a
subprocess, in pairs (local first, then S3 first, in turn: an even --repeats cancels a steady drift of
the machine's speed), each in a fresh results location, on the local Ray cluster rl-sweep starts.
A cloud store adds network latency that a server on loopback does not: the ratio is a lower bound of
what the mirroring costs, the bytes are what a cloud store would bill for.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

BIN = Path(sys.executable).parent
BUCKET = "bench"
CREDENTIALS = {"AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench", "AWS_DEFAULT_REGION": "us-east-1"}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_moto(log) -> tuple[subprocess.Popen, int]:
    """moto's server on a free port, one line per request in ``log``, with the benchmark's bucket."""
    port = free_port()
    server = subprocess.Popen([BIN / "moto_server", "-H", "127.0.0.1", "-p", str(port)],
                              stdout=subprocess.DEVNULL, stderr=log)
    for _ in range(300):
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                break
        time.sleep(0.1)
    s3(port).create_bucket(Bucket=BUCKET)
    return server, port


def s3(port: int):
    import boto3

    return boto3.client("s3", endpoint_url=f"http://127.0.0.1:{port}", aws_access_key_id="bench",
                        aws_secret_access_key="bench", region_name="us-east-1")


def sweep(results_dir: str, name: str, args: argparse.Namespace) -> float:
    command = [str(BIN / "rl-sweep"), "--algos", *args.algos, "--seeds", str(args.seeds), "--timesteps",
               str(args.timesteps), "--checkpoint-interval", str(args.checkpoint_interval), "--eval-episodes", "2",
               "--no-dashboard", "--no-replays", "--name", name, "--results-dir", results_dir]
    started = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, **CREDENTIALS})
    return time.perf_counter() - started


def moto_counters(server: subprocess.Popen, log_path: str) -> tuple[int, float]:
    """Requests moto's server has answered so far (its log's lines, some coloured) and its CPU seconds."""
    lines = Path(log_path).read_text(errors="replace").splitlines()
    requests = sum(line.startswith("127.0.0.1 - - [") for line in lines)
    fields = Path(f"/proc/{server.pid}/stat").read_text().rpartition(")")[2].split()
    return requests, (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def storage_figures(port: int, name: str) -> tuple[float, float]:
    """Per trial checkpoint: bytes uploaded (every file a trial wrote, each time it changed, from Tune's
    result log) and bytes stored at the end (the trial's folder)."""
    client = s3(port)
    keys = [item for page in client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=f"{name}/")
            for item in page.get("Contents", [])]
    uploaded, stored, checkpoints = 0, 0, 0
    for item in keys:
        parts = item["Key"].split("/")
        if parts[3:4] == ["tune"] and parts[-1] == "result.json":
            last = client.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read().decode().splitlines()[-1]
            uploaded += json.loads(last)["storage_bytes_uploaded"]
        elif len(parts) > 4 and parts[3] != "tune":
            stored += item["Size"]
            checkpoints += parts[-1].startswith("checkpoint_")
    return uploaded / checkpoints, stored / checkpoints


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--algos", nargs="+", default=["ppo", "a2c"])
    parser.add_argument("--seeds", type=int, default=2)
    parser.add_argument("--timesteps", type=int, default=20000)
    parser.add_argument("--checkpoint-interval", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    times: dict[str, list[float]] = {"local": [], "s3": []}
    requests, cpu = [], []  # per S3 sweep: requests to moto, moto's CPU seconds
    with tempfile.TemporaryDirectory() as local_root:
        log_path = f"{local_root}/moto.log"
        with open(log_path, "w") as log:
            server, port = start_moto(log)
        try:
            for i in range(args.repeats):
                where = {"local": (local_root, f"local{i}"),
                         "s3": (f"s3://{BUCKET}/r{i}?scheme=http&endpoint_override=127.0.0.1:{port}", f"s3{i}")}
                # Local first, then S3 first, and so on: a machine that speeds up or slows down during the pairs
                # favours neither side.
                for side in (("local", "s3") if i % 2 == 0 else ("s3", "local")):
                    before = moto_counters(server, log_path)
                    times[side].append(sweep(*where[side], args))
                    if side == "s3":
                        after = moto_counters(server, log_path)
                        requests.append(after[0] - before[0])
                        cpu.append(after[1] - before[1])
            uploaded, stored = storage_figures(port, "r0")
        finally:
            server.kill()
    local, remote = statistics.median(times["local"]), statistics.median(times["s3"])
    trials = len(args.algos) * args.seeds
    print(f"Storage overhead, {date.today()}, {os.cpu_count()} CPUs: {trials} trials ({' '.join(args.algos)} x "
          f"{args.seeds} seeds) of {args.timesteps} steps, a checkpoint every {args.checkpoint_interval}, "
          f"median of {args.repeats} pairs, in turn local or S3 first")
    print(f"{'storage':<28} {'wall s':>8} {'ratio':>6}  runs")
    print(f"{'local folder':<28} {local:8.1f} {1.0:6.3f}  {', '.join(f'{t:.1f}' for t in times['local'])}")
    print(f"{'S3 (moto on 127.0.0.1)':<28} {remote:8.1f} {remote / local:6.3f}  {', '.join(f'{t:.1f}' for t in times['s3'])}")
    print(f"goal (issue 20): S3 at most 1.05 times local: {'met' if remote / local <= 1.05 else 'NOT met'}")
    # Each pair ran back to back: its ratio is less moved by the machine's speed drifting between pairs.
    pairs = [on_s3 / on_disk for on_disk, on_s3 in zip(times["local"], times["s3"])]
    print(f"each pair's ratio: {', '.join(f'{r:.3f}' for r in pairs)} (median {statistics.median(pairs):.3f})")
    print(f"requests to S3 per sweep: {statistics.median(requests):.0f} (median of {', '.join(map(str, requests))}); "
          f"moto's CPU per sweep: {statistics.median(cpu):.1f} s, on the CPUs the trials use (a cloud store's is not)")
    print(f"bytes written to S3 per trial checkpoint: {uploaded / 1024:.1f} KiB uploaded "
          f"(every changed file: checkpoint zip, metrics JSON, logs), {stored / 1024:.1f} KiB stored at the end")


if __name__ == "__main__":
    main()
