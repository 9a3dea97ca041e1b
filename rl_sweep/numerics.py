"""Pinned numerics: the same seed gives bitwise the same run on every x86-64 CPU with AVX2.

torch's CPU build computes with MKL, which picks its kernels by CPU (AVX2, AVX-512) and by the memory
alignment of the data: float32 sums then differ in their last bits, and a run's weights drift apart after a
few updates (a resumed run against the same run left alone, an Intel machine against an AMD one). MKL's
conditional numerical reproducibility (``MKL_CBWR``) makes it take one code path whatever the CPU and the
alignment. MKL reads the variable when it first computes, so it is set when this package is imported, before
any training; a value the user set stays. Torch also runs on one thread (see :func:`rl_sweep.run.seeding.set_seed`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

PINNED_MKL_PATH = "AVX2"  # every x86-64 CPU since 2013 (Intel) and 2015 (AMD)
INSTRUCTION_SETS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")

# Marks a value of ours, so that a process started from this one (a Ray worker) tells it from the user's.
_SET_HERE = "RL_SWEEP_SET_MKL_CBWR"


def pin() -> None:
    """Ask MKL for its reproducible AVX2 code path, unless the user chose one."""
    if "MKL_CBWR" not in os.environ:
        os.environ["MKL_CBWR"] = PINNED_MKL_PATH
        os.environ[_SET_HERE] = "1"


def unpin() -> None:
    """``--fast-numerics``: let MKL pick its kernels by CPU (a value the user set stays)."""
    if os.environ.pop(_SET_HERE, None):
        os.environ.pop("MKL_CBWR", None)


def pinning(torch_threads: int) -> dict[str, Any]:
    """What a run's numbers depend on beside its seed, as ``metadata.numerics`` records it."""
    return {"mkl_cbwr": os.environ.get("MKL_CBWR"), "torch_threads": torch_threads, **cpu()}


def cpu() -> dict[str, Any]:
    """The CPU's model, its vendor (MKL documents its pinned paths for Intel's CPUs only: see docs/numerics.md)
    and the instruction sets among ``INSTRUCTION_SETS`` it has (Linux; unknown and empty elsewhere)."""
    first = {"model name": "unknown", "vendor_id": "unknown", "flags": ""}
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if first.get(key.strip()) in ("unknown", ""):
                first[key.strip()] = value.strip()
    except OSError:
        pass
    flags = set(first["flags"].split())
    return {"cpu": first["model name"], "vendor": first["vendor_id"],
            "instruction_sets": [name for name in INSTRUCTION_SETS if name in flags]}
