"""Uploaded logs, kept under the data root: SFS or MCAP files as they came, tar archives unpacked safely.

A tar (optionally gzip) archive holds a log folder (native, PandaSet, ...); the kind of an upload is read
from its content, as :func:`engine.open_log` does.

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

__all__ = ["place_upload", "receive_archive", "unpack_archive"]


async def receive_archive(chunks: AsyncIterator[bytes], tmp_dir: Path) -> Path:
    """Write a streamed request body to a temporary file; returns its path."""
    tmp_dir.mkdir(parents=True, exist_ok=True)
    path = tmp_dir / f"upload-{uuid.uuid4().hex}.part"
    with path.open("wb") as f:
        async for chunk in chunks:
            f.write(chunk)
    return path


def place_upload(upload: Path, target: Path, max_unpacked_bytes: int) -> Path:
    """Put the uploaded file under ``target`` (created); returns the path to open as the log.

    An SFS scene (``scene.sfs``) or an MCAP file (``log.mcap``) is moved there as it is; anything else
    must be a tar archive (:func:`unpack_archive`).
    """
    from engine.io.mcap_ros2 import is_mcap
    from engine.io.sfs import is_sfs

    for recognise, name in ((is_sfs, "scene.sfs"), (is_mcap, "log.mcap")):
        if recognise(upload):
            target.mkdir(parents=True, exist_ok=False)
            return Path(shutil.move(upload, target / name))
    return unpack_archive(upload, target, max_unpacked_bytes)


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
