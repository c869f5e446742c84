"""What every benchmark shares: the machine/version/commit record, RESULTS.md sections, a small CLI.

One place for the facts that make a number quotable: :func:`machine_info` (CPU, cores, GPU when
CuPy sees one, package versions, numba threads, git commit and whether the tree had uncommitted
changes, 1-minute load average), :func:`update_results_md` (replaces one ``## `` section of
``benchmarks/RESULTS.md`` in place, under a file lock, so benchmarks that run at the same time do
not lose each other's sections) and :func:`bench_parser` / :func:`finish` (the ``--quick``,
``--json``, ``--no-results-md`` command line of the single-stage benchmarks).
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import platform
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

__all__ = [
    "RESULTS_MD",
    "ROOT",
    "CompileClock",
    "bench_parser",
    "finish",
    "git_commit",
    "load_average",
    "machine_info",
    "replace_section",
    "update_results_md",
]

ROOT = Path(__file__).resolve().parents[1]
RESULTS_MD = ROOT / "benchmarks" / "RESULTS.md"
# (key in the record, module to import); a module that is not installed is recorded as None.
PACKAGES: tuple[tuple[str, str], ...] = (
    ("numpy", "numpy"),
    ("numba", "numba"),
    ("scipy", "scipy"),
    ("opencv", "cv2"),
    ("open3d", "open3d"),
    ("shapely", "shapely"),
    ("torch", "torch"),
    ("cupy", "cupy"),
)


def git_commit(root: Path = ROOT) -> tuple[str, bool | None]:
    """Short commit hash of ``HEAD`` and whether tracked files differ from it.

    Returns
    -------
    tuple of (str, bool or None)
        ``("unknown", None)`` when git or the repository is not available.
    """
    try:
        head = subprocess.run(
            ["git", "-C", str(root), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            check=False,
        ).stdout.strip()
        status = subprocess.run(
            ["git", "-C", str(root), "status", "--porcelain", "--untracked-files=no"],
            capture_output=True,
            text=True,
            check=False,
        )
    except OSError:
        return "unknown", None
    if not head:
        return "unknown", None
    return head, bool(status.stdout.strip()) if status.returncode == 0 else None


#: glibc allocator settings every NumPy peer runs under (this process via mallopt, subprocesses via the
#: environment): arrays up to 32 MB come from the heap and freed memory is kept, so a NumPy chain's
#: temporaries are not page-faulted afresh on every call. Without them the same NumPy chain measured
#: 9-20 ms instead of 3.4 ms per 250k points here, depending only on what the process had freed before.
MALLOC_SETTINGS = {"MALLOC_MMAP_THRESHOLD_": 32 << 20, "MALLOC_TRIM_THRESHOLD_": 128 << 20}


def pin_malloc_thresholds() -> bool:
    """Apply :data:`MALLOC_SETTINGS` to this process (glibc ``mallopt``); False where there is no glibc."""
    import ctypes
    import ctypes.util

    name = ctypes.util.find_library("c")
    if platform.system() != "Linux" or name is None:
        return False
    libc = ctypes.CDLL(name)
    m_trim_threshold, m_mmap_threshold = -1, -3  # <malloc.h>
    ok_mmap = libc.mallopt(m_mmap_threshold, MALLOC_SETTINGS["MALLOC_MMAP_THRESHOLD_"])
    ok_trim = libc.mallopt(m_trim_threshold, MALLOC_SETTINGS["MALLOC_TRIM_THRESHOLD_"])
    return bool(ok_mmap and ok_trim)


def load_average() -> float:
    """1-minute load average of this machine (0.0 where the OS does not report one)."""
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return 0.0


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _gpu(info: dict[str, Any]) -> None:
    """Name and driver of CUDA device 0 when CuPy can reach a real GPU; else ``gpu`` is None."""
    info["gpu"] = None
    try:
        from kernels import cuda_status

        st = cuda_status()
        if st.driver_devices > 0 and not st.simulator and st.cupy:
            import cupy

            props = cupy.cuda.runtime.getDeviceProperties(0)
            name = props["name"]
            info["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
            info["cuda_driver"] = cupy.cuda.runtime.driverGetVersion()
            info["cuda_runtime"] = cupy.cuda.runtime.runtimeGetVersion()
    except Exception as exc:  # noqa: BLE001 - device probing must never fail a benchmark
        info["gpu_error"] = repr(exc)[:200]


def machine_info(gpu: bool = True) -> dict[str, Any]:
    """Device, versions, git commit and load of this run (JSON-safe).

    Parameters
    ----------
    gpu : bool, optional
        Probe CUDA device 0 (imports CuPy when installed).

    Returns
    -------
    dict
        ``python``, ``cpu``, ``cores``, one key per package of :data:`PACKAGES` (version or None),
        ``numba_threads``, ``git_commit`` (short hash), ``git_dirty``, ``git`` (hash plus
        "+ uncommitted changes" when dirty), ``load_average_1min``, ``gpu`` (name or None) and, with
        a GPU, ``cuda_driver`` / ``cuda_runtime``.
    """
    info: dict[str, Any] = {
        "python": platform.python_version(),
        "cpu": _cpu_name(),
        "cores": os.cpu_count(),
    }
    for key, module in PACKAGES:
        try:
            info[key] = str(__import__(module).__version__)
        except Exception:  # noqa: BLE001 - optional packages: record that they are absent
            info[key] = None
    try:
        import numba

        info["numba_threads"] = numba.get_num_threads()
    except ImportError:
        info["numba_threads"] = None
    commit, dirty = git_commit()
    info["git_commit"], info["git_dirty"] = commit, dirty
    info["git"] = commit + (" + uncommitted changes" if dirty else "")
    info["load_average_1min"] = load_average()
    if gpu:
        _gpu(info)
    else:
        info["gpu"] = None
    return info


@contextlib.contextmanager
def _locked(path: Path) -> Iterator[None]:
    # the lock lives in the temp folder, not beside the file: nothing new appears in the repository
    digest = hashlib.sha1(str(path.resolve()).encode()).hexdigest()[:16]
    lock = Path(tempfile.gettempdir()) / f"fusionlabel-results-{digest}.lock"
    with lock.open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def replace_section(document: str, heading: str, section: str) -> str:
    """``document`` with the section under the line ``heading`` replaced by ``section`` (or appended).

    A section runs from its heading line to the next line starting with ``## `` (or the end).
    """
    body = section if section.startswith(heading) else f"{heading}\n\n{section}"
    body = body.rstrip("\n") + "\n"
    lines = document.splitlines(keepends=True)
    starts = [i for i, ln in enumerate(lines) if ln.rstrip("\n") == heading]
    if not starts:
        return document.rstrip("\n") + "\n\n" + body
    i = starts[0]
    j = next((k for k in range(i + 1, len(lines)) if lines[k].startswith("## ")), len(lines))
    tail = "".join(lines[j:])
    return "".join(lines[:i]) + body + ("\n" + tail if tail else "")


def update_results_md(heading: str, section: str, path: Path = RESULTS_MD) -> None:
    """Replace one ``## `` section of RESULTS.md in place (append it when new); other sections stay.

    Parameters
    ----------
    heading : str
        The section's heading line, e.g. ``"## Boxes (bench_boxes)"``.
    section : str
        The new section; its heading line is added when it does not start with ``heading``.
    path : Path, optional
        The Markdown file (default ``benchmarks/RESULTS.md``).
    """
    if not heading.startswith("## ") or "\n" in heading:
        raise ValueError(f"heading must be one line starting with '## ', got {heading!r}")
    path.parent.mkdir(parents=True, exist_ok=True)
    with _locked(path):
        text = path.read_text() if path.exists() else "# Benchmark results\n"
        tmp = path.with_name(path.name + f".tmp{os.getpid()}")
        tmp.write_text(replace_section(text, heading, section))
        tmp.replace(path)


def bench_parser(description: str, default_json: Path) -> argparse.ArgumentParser:
    """The single-stage benchmarks' command line: ``--quick``, ``--json PATH``, ``--no-results-md``."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, default=default_json, help="where the JSON record goes")
    parser.add_argument("--no-results-md", action="store_true", help="do not update benchmarks/RESULTS.md")
    return parser


def finish(
    result: dict[str, Any],
    heading: str,
    section: str,
    json_path: Path | None,
    results_md: bool = True,
) -> None:
    """Write the JSON record, print the Markdown section and (optionally) put it into RESULTS.md."""
    if json_path is not None:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(result, indent=2, default=str))
    print(section)
    if results_md:
        update_results_md(heading, section)


class CompileClock:
    """Wall time numba spends compiling (cache misses only), measured with numba's event API.

    Use as a context manager; ``seconds``, ``kernels`` and ``names`` (module.qualname of each
    outermost compile) grow while it is active. Nested compiles
    (a kernel compiling the functions it calls) count once, from the outermost start to its end;
    loading a kernel from numba's on-disk cache is not a compile and is not counted.
    """

    def __init__(self) -> None:
        self.seconds = 0.0
        self.kernels = 0
        self.names: list[str] = []
        self._depth = 0
        self._t0 = 0.0
        self._listener: Any = None

    def __enter__(self) -> CompileClock:
        from numba.core import event

        clock = self

        class _Listener(event.Listener):  # type: ignore[misc]
            def on_start(self, ev: Any) -> None:
                if clock._depth == 0:
                    clock._t0 = time.perf_counter()
                    disp = (ev.data or {}).get("dispatcher")
                    func = getattr(disp, "py_func", None)
                    if func is not None:
                        clock.names.append(f"{func.__module__}.{func.__qualname__}")
                clock._depth += 1

            def on_end(self, ev: Any) -> None:
                clock._depth -= 1
                if clock._depth == 0:
                    clock.seconds += time.perf_counter() - clock._t0
                    clock.kernels += 1

        self._listener = _Listener()
        event.register("numba:compile", self._listener)  # type: ignore[no-untyped-call]
        return self

    def __exit__(self, *exc: object) -> None:
        from numba.core import event

        event.unregister("numba:compile", self._listener)  # type: ignore[no-untyped-call]
