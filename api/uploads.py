"""Uploaded logs: a tar (optionally gzip) archive of a native log, unpacked safely under the data root.

Unpacking refuses absolute names, ``..``, links, devices and anything the ``tarfile`` ``"data"`` filter
refuses, and caps the unpacked size (a gzip bomb stops at ``max_unpacked_bytes``).
"""

from __future__ import annotations

import shutil
import tarfile
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

from engine.errors import InvalidInputError

__all__ = ["receive_archive", "unpack_archive"]


async def receive_archive(chunks: AsyncIterator[bytes], tmp_dir: Path) -> Path:
    """Write a streamed request body to a temporary file; returns its path."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / f"upload-{uuid.uuid4().hex}.tar"
    with path.open("wb") as f:
        async for chunk in chunks:
            f.write(chunk)
    return path


def unpack_archive(archive: Path, target: Path, max_unpacked_bytes: int) -> Path:
    """Unpack ``archive`` into ``target`` (created); returns the folder holding the log.

    The log is ``target`` itself when the archive's files sit at its top level, else the single
    top-level folder.

    Raises
    ------
    InvalidInputError
        Not a tar archive, unsafe members, or too large unpacked.
    """
    try:
        with tarfile.open(archive, "r:*") as tar:
            members = tar.getmembers()
            total = 0
            for m in members:
                if not (m.isfile() or m.isdir()):
                    raise InvalidInputError(f"archive member {m.name!r} is not a regular file or folder")
                total += max(m.size, 0)
            if total > max_unpacked_bytes:
                raise InvalidInputError(
                    f"archive unpacks to {total} bytes; the limit is {max_unpacked_bytes}"
                )
            target.mkdir(parents=True, exist_ok=False)
            tar.extractall(target, members=members, filter="data")
    except (tarfile.TarError, OSError, EOFError) as exc:
        shutil.rmtree(target, ignore_errors=True)
        raise InvalidInputError(
            f"upload is not a readable tar archive of a log: {type(exc).__name__}: {exc}"
        ) from None
    except InvalidInputError:
        shutil.rmtree(target, ignore_errors=True)
        raise
    entries = list(target.iterdir())
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return target
