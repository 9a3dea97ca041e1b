"""Pinned numerics: the same seed gives bitwise the same run on every x86-64 CPU with AVX2, Intel's and AMD's.

torch's CPU build computes with MKL, which picks its kernels by CPU (AVX2, AVX-512) and by the memory
alignment of the data: float32 sums then differ in their last bits, and a run's weights drift apart after a
few updates (a resumed run against the same run left alone, an Intel machine against an AMD one). MKL's
conditional numerical reproducibility (``MKL_CBWR``) makes it take one code path whatever the CPU and the
alignment. MKL reads the variable when it first computes, so it is set when this package is imported, before
any training; a value the user set stays. Torch also runs on one thread (see :func:`rl_sweep.run.seeding.set_seed`).

MKL honours ``MKL_CBWR`` on Intel's CPUs only: on any other it takes its AUTO branch (oneMKL's developer guide,
"Getting Started with Conditional Numerical Reproducibility"), whose kernels sum in another order, so an AMD EPYC
pinned to AVX2 computed other bits than an Intel Xeon (issue 33). MKL asks one function of its own,
``mkl_serv_intel_cpu_true``, whether the CPU is Intel's; :func:`pin` makes it answer yes on a CPU with AVX2, and MKL
then takes the pinned AVX2 path there too: measured, an AMD EPYC computes the Intel Xeon's golden fingerprint
(docs/numerics.md). The path uses AVX2 and FMA instructions only, which such a CPU has.
"""

from __future__ import annotations

import ctypes
import importlib.util
import mmap
import os
from pathlib import Path
from typing import Any

PINNED_MKL_PATH = "AVX2"  # every x86-64 CPU since 2013 (Intel) and 2015 (AMD)
INSTRUCTION_SETS = ("sse4_2", "avx", "avx2", "fma", "avx512f", "avx512_bf16", "amx_tile")

# Marks a value of ours, so that a process started from this one (a Ray worker) tells it from the user's.
_SET_HERE = "RL_SWEEP_SET_MKL_CBWR"


def pin() -> None:
    """Ask MKL for its reproducible AVX2 code path, unless the user chose one; on a CPU not Intel's, make MKL honour
    it (:func:`mkl_honours_cbwr`)."""
    if "MKL_CBWR" not in os.environ:
        os.environ["MKL_CBWR"] = PINNED_MKL_PATH
        os.environ[_SET_HERE] = "1"
    mkl_honours_cbwr()


# x86-64 for "return 1": mov eax, 1; ret
_RETURN_ONE = bytes([0xB8, 0x01, 0x00, 0x00, 0x00, 0xC3])
_ENDBR64 = bytes([0xF3, 0x0F, 0x1E, 0xFA])
_VENDOR_CHECK = "mkl_serv_intel_cpu_true"
# "off": leave MKL's vendor check alone, so that a CPU not Intel's computes as it did before rl-sweep pinned it (the
# test that MKL's vendor check is what differs: tests/test_numerics.py).
VENDOR_CHECK_SWITCH = "RL_SWEEP_MKL_VENDOR_CHECK"
_patched: bool | None = None  # None: not tried in this process; then whether MKL's vendor check answers yes


def mkl_honours_cbwr() -> bool:
    """Whether MKL takes the ``MKL_CBWR`` path in this process. On Intel's CPUs it does. On another x86-64 CPU with
    AVX2, MKL's vendor check (``mkl_serv_intel_cpu_true``, in torch's ``libtorch_cpu``, which links MKL in) is made
    to answer yes, once per process and before MKL first computes (this package is imported before torch computes);
    False where that cannot be done (no such function, memory that cannot be made writable), and the run's
    ``metadata.numerics`` says so."""
    global _patched
    if _patched is not None:
        return _patched
    if os.environ.get(VENDOR_CHECK_SWITCH) == "off":  # what rl-sweep did before: a diagnosis, not for runs
        _patched = False
        return _patched
    found = cpu()
    if found["vendor"] == "GenuineIntel" or not {"avx2", "fma"} <= set(found["instruction_sets"]):
        _patched = found["vendor"] == "GenuineIntel"
        return _patched
    try:
        _patched = _answer_yes(_VENDOR_CHECK)
    except Exception:  # noqa: BLE001 - whatever stops it, MKL then keeps its own choice, and the record says so
        _patched = False
    return _patched


def _answer_yes(name: str) -> bool:
    """Replace the first instructions of function ``name`` of ``libtorch_cpu`` with "return 1" (after its
    ``endbr64``, if it starts with one, so that it stays a valid target of an indirect call)."""
    spec = importlib.util.find_spec("torch")
    if spec is None or spec.origin is None:
        return False
    library = Path(spec.origin).parent / "lib" / "libtorch_cpu.so"
    try:
        function = ctypes.cast(getattr(ctypes.CDLL(str(library)), name), ctypes.c_void_p).value
    except (OSError, AttributeError):
        return False
    if ctypes.string_at(function, len(_ENDBR64)) == _ENDBR64:
        function += len(_ENDBR64)
    libc = ctypes.CDLL(None, use_errno=True)
    libc.mprotect.argtypes = (ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int)
    start = function - function % mmap.PAGESIZE
    length = function + len(_RETURN_ONE) - start
    writable = mmap.PROT_READ | mmap.PROT_WRITE | mmap.PROT_EXEC
    if libc.mprotect(start, length, writable) != 0:
        return False
    ctypes.memmove(function, _RETURN_ONE, len(_RETURN_ONE))
    libc.mprotect(start, length, mmap.PROT_READ | mmap.PROT_EXEC)  # as it was; the patch holds either way
    return ctypes.string_at(function, len(_RETURN_ONE)) == _RETURN_ONE


def unpin() -> None:
    """``--fast-numerics``: let MKL pick its kernels by CPU (a value the user set stays)."""
    if os.environ.pop(_SET_HERE, None):
        os.environ.pop("MKL_CBWR", None)


def pinning(torch_threads: int) -> dict[str, Any]:
    """What a run's numbers depend on beside its seed, as ``metadata.numerics`` records it."""
    found = cpu()
    # Only where MKL would not honour MKL_CBWR by itself, so that an Intel run's record is as before.
    vendor_check = {} if found["vendor"] == "GenuineIntel" else {"mkl_honours_cbwr": mkl_honours_cbwr()}
    return {"mkl_cbwr": os.environ.get("MKL_CBWR"), "torch_threads": torch_threads, **found, **vendor_check}


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
