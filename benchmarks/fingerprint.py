"""This machine's numerical fingerprint: does it compute the same bits as the golden file says?

    python benchmarks/fingerprint.py            # print this machine's fingerprint
    python benchmarks/fingerprint.py --check    # compare it with benchmarks/fingerprint_golden.json (exit 1 if not)
    python benchmarks/fingerprint.py --write    # (re)write the golden file from this machine
    MKL_CBWR=COMPATIBLE python benchmarks/fingerprint.py   # the fingerprint under another MKL path

Runs rl-train as a user runs it, with the numerics pinning in effect (a MKL_CBWR of yours stays, as in
rl-train): PPO and A2C, the contract's settings (the default preset), LunarLander-v3, seed 42, 4,096 steps
each (two of PPO's rollouts and updates, 819 of A2C's), side by side (one torch thread each), one
evaluation episode. The fingerprint of each run is the SHA-256 of its final policy's tensors and of its
optimizer's tensors (names, dtypes, shapes and bytes, from the model zip) and its first evaluation return
(final_reward_mean of its one episode, the results JSON's float as it is: SB3's Monitor rounds an episode's
return to 6 decimals, so the hashes are the finer test).

--check compares the hashes and returns, one line per mismatch. The CPU, the numerics the runs recorded
(metadata.numerics) and the library versions are printed and kept in the golden file as information: a
check says when they differ from the golden file's, but only the bits decide. docs/numerics.md lists each
CPU model's fingerprint.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import subprocess
import sys
import tempfile
import zipfile
from importlib.metadata import version
from pathlib import Path
from typing import Any, TypedDict

import torch

GOLDEN = Path(__file__).resolve().parent / "fingerprint_golden.json"
ALGOS = ("ppo", "a2c")
TIMESTEPS = 4096
LIBRARIES = ("torch", "numpy", "stable-baselines3", "gymnasium")
COMPARED = ("policy_sha256", "optimizer_sha256", "first_eval_return")


class RunFingerprint(TypedDict):
    policy_sha256: str
    optimizer_sha256: str
    first_eval_return: float


class Fingerprint(TypedDict):
    numerics: dict[str, Any]  # what the PPO run recorded in metadata.numerics, the CPU's model and vendor among it
    versions: dict[str, str]
    runs: dict[str, RunFingerprint]


def tensors_sha256(state: Any) -> str:
    """SHA-256 over every tensor in a (nested) state dict, in its order: each one's path, dtype, shape and bytes."""
    digest = hashlib.sha256()

    def walk(path: str, value: Any) -> None:
        if isinstance(value, torch.Tensor):
            digest.update(f"{path} {value.dtype} {tuple(value.shape)}\n".encode())
            digest.update(value.detach().cpu().contiguous().numpy().tobytes())
        elif isinstance(value, dict):
            for key, item in value.items():
                walk(f"{path}/{key}", item)
        elif isinstance(value, (list, tuple)):
            for index, item in enumerate(value):
                walk(f"{path}/{index}", item)

    walk("", state)
    return digest.hexdigest()


def fingerprint_of(folder: Path, algo: str) -> tuple[RunFingerprint, dict[str, Any]]:
    """One finished run's fingerprint, and the numerics it recorded."""
    experiment_id = f"{algo}_seed42"
    results = json.loads((folder / f"{experiment_id}_results.json").read_text())["experiment_results"]
    with zipfile.ZipFile(folder / f"{experiment_id}_model.zip") as model:
        policy, optimizer = (torch.load(io.BytesIO(model.read(entry)), weights_only=True)
                             for entry in ("policy.pth", "policy.optimizer.pth"))
    return RunFingerprint(policy_sha256=tensors_sha256(policy), optimizer_sha256=tensors_sha256(optimizer),
                          first_eval_return=results["metrics"]["final_reward_mean"]), results["metadata"]["numerics"]


def measure() -> Fingerprint:
    """Train both runs side by side, each a ``python -m rl_sweep.train`` subprocess, and fingerprint them."""
    with tempfile.TemporaryDirectory(prefix="fingerprint_") as folder:
        processes = {algo: subprocess.Popen(
            [sys.executable, "-m", "rl_sweep.train", "--algo", algo, "--timesteps", str(TIMESTEPS),
             "--eval-episodes", "1", "--output-dir", str(Path(folder) / algo)],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True) for algo in ALGOS}
        for algo, process in processes.items():
            _, stderr = process.communicate()
            if process.returncode != 0:
                sys.exit(f"rl-train --algo {algo} failed (exit {process.returncode}): {stderr.strip()}")
        runs = {algo: fingerprint_of(Path(folder) / algo, algo) for algo in ALGOS}
    return Fingerprint(numerics=runs[ALGOS[0]][1], versions={name: version(name) for name in LIBRARIES},
                       runs={algo: run for algo, (run, _) in runs.items()})


def cpu_of(fingerprint: Fingerprint) -> str:
    return f"{fingerprint['numerics']['cpu']} ({fingerprint['numerics']['vendor']})"


def show(fingerprint: Fingerprint) -> None:
    print(f"rl-train --algo {' / '.join(ALGOS)} --timesteps {TIMESTEPS} --eval-episodes 1 "
          "(the contract's settings, LunarLander-v3, seed 42)")
    print(f"cpu: {cpu_of(fingerprint)}")
    print(f"numerics: {json.dumps(fingerprint['numerics'])}")
    print("versions: " + ", ".join(f"{name} {v}" for name, v in fingerprint["versions"].items()))
    for algo, run in fingerprint["runs"].items():
        for key in COMPARED:
            print(f"{algo} {key}: {run[key]!r}")


def mismatches(fingerprint: Fingerprint, golden: Fingerprint) -> list[str]:
    """One line per value that differs from the golden file's, then what else differs that may explain it."""
    lines = [f"{algo} {key}: {run[key]!r} here, {golden['runs'][algo][key]!r} in {GOLDEN.name}"
             for algo, run in fingerprint["runs"].items() for key in COMPARED
             if run[key] != golden["runs"][algo][key]]
    if not lines:
        return []
    versions = [f"{name} {v} (golden {golden['versions'].get(name)})" for name, v in fingerprint["versions"].items()
                if golden["versions"].get(name) != v]
    if versions:
        lines.append("the installed versions differ from the golden file's: " + ", ".join(versions))
    pinning, golden_pinning = ({key: f["numerics"].get(key) for key in ("mkl_cbwr", "torch_threads")}
                               for f in (fingerprint, golden))
    if pinning != golden_pinning:
        lines.append(f"the pinning differs from the golden file's: {pinning} (golden {golden_pinning})")
    lines.append(f"this machine ({cpu_of(fingerprint)}) computes other bits than the golden file, recorded on "
                 f"{cpu_of(golden)}: see each CPU model's fingerprint in docs/numerics.md")
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help=f"compare with {GOLDEN.name}; exit 1 on a mismatch")
    mode.add_argument("--write", action="store_true", help=f"(re)write {GOLDEN.name} from this machine")
    args = parser.parse_args()
    fingerprint = measure()
    show(fingerprint)
    if args.write:
        GOLDEN.write_text(json.dumps(fingerprint, indent=2) + "\n")
        print(f"wrote {GOLDEN}")
    elif args.check:
        lines = mismatches(fingerprint, json.loads(GOLDEN.read_text()))
        if lines:
            sys.exit("\n".join(lines))
        print(f"same fingerprint as {GOLDEN.name}")


if __name__ == "__main__":
    main()
