"""Idempotent outputs: deterministic paths, temp file + atomic rename, completion markers.

A unit of work (a log, or a chunk of one) writes its files under deterministic names, each through a
temporary file in the same folder and an atomic ``os.replace``, and then a completion marker naming
a fingerprint of its inputs and the SHA-256 of every deterministic file it wrote. A unit whose marker
matches is skipped; a unit that died half-way left no marker, so it runs again and replaces its
files with the same bytes (no second copy, no stray temporary file once it completes).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

__all__ = [
    "DONE_MARKER",
    "atomic_write",
    "fingerprint",
    "marker_matches",
    "publish_files",
    "read_marker",
    "sha256_file",
    "write_marker",
]

DONE_MARKER = "_DONE.json"
"""The completion marker of a log's output folder (written last)."""


def fingerprint(*parts: str) -> str:
    """SHA-256 (hex) of the parts, joined by newlines: what a unit's outputs depend on."""
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()


def sha256_file(path: str | Path) -> str:
    """SHA-256 (hex) of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def atomic_write(path: str | Path, data: bytes) -> Path:
    """Write ``data`` to ``path`` through ``.NAME.tmp`` beside it, fsync and ``os.replace`` (atomic)."""
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, out)
    return out


def write_marker(path: str | Path, content: Mapping[str, Any]) -> Path:
    """Write a completion marker (sorted-key JSON, atomically)."""
    return atomic_write(path, (json.dumps(content, indent=1, sort_keys=True) + "\n").encode())


def read_marker(path: str | Path) -> dict[str, Any] | None:
    """A marker's content, or None when it is missing or unreadable (the unit is then not complete)."""
    try:
        data = json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def marker_matches(path: str | Path, fp: str) -> bool:
    """Whether the marker exists, names fingerprint ``fp``, and every file it lists has its hash."""
    marker = read_marker(path)
    if marker is None or marker.get("fingerprint") != fp:
        return False
    folder = Path(path).parent
    files = marker.get("files", {})
    try:
        return all(sha256_file(folder / name) == digest for name, digest in files.items())
    except OSError:
        return False


def publish_files(staging: Path, out: Path, names: Sequence[str]) -> dict[str, str]:
    """Move files from ``staging`` into ``out`` (atomic renames), remove ``staging``; name -> SHA-256."""
    out.mkdir(parents=True, exist_ok=True)
    digests = {}
    for name in names:
        digests[name] = sha256_file(staging / name)
        os.replace(staging / name, out / name)
    shutil.rmtree(staging, ignore_errors=True)
    return digests
