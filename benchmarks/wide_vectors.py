"""Opt-in 512-bit vectors for numba kernels: ``--wide-vectors`` on the projection benchmarks.

LLVM tunes Sapphire/Emerald Rapids CPUs for 256-bit vectors (its ``prefer-256-bit`` tuning), so the
float32 kernels run 8 lanes per instruction although the CPU has AVX-512. numba exposes no
per-function switch, only the process-wide ``NUMBA_CPU_FEATURES``, read when numba is imported:
:func:`enable_from_argv` sets it (the host's features plus ``-prefer-256-bit``) and must run before
anything imports numba. A deployment sets the variable itself (``python -m
benchmarks.wide_vectors`` prints the value). The disk cache keys kernels by CPU features, so both
builds coexist. Measured effect: see the shared-frame notes in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import os
import sys

__all__ = ["FLAG", "enable_from_argv", "wide_vector_features"]

FLAG = "--wide-vectors"


def wide_vector_features() -> str:
    """The host's LLVM CPU features with 256-bit preference switched off (comma-separated)."""
    import llvmlite.binding as ll

    ll.initialize_native_target()
    return str(ll.get_host_cpu_features().flatten()) + ",-prefer-256-bit"


def enable_from_argv() -> bool:
    """Set ``NUMBA_CPU_FEATURES`` when :data:`FLAG` is on the command line; True when it is.

    Raises
    ------
    RuntimeError
        numba was already imported (the setting would silently not apply).
    """
    if FLAG not in sys.argv:
        return False
    features = wide_vector_features()
    if os.environ.get("NUMBA_CPU_FEATURES") == features:
        return True  # already set (e.g. by the script that imported this module's caller)
    if "numba" in sys.modules:
        raise RuntimeError(f"{FLAG} must be handled before numba is imported")
    os.environ["NUMBA_CPU_FEATURES"] = features
    return True


if __name__ == "__main__":
    print(wide_vector_features())
