"""Registered logs, scoped by tenant; paths must stay inside the logs folder of the data root."""

from __future__ import annotations

import json
import time
import uuid
from pathlib import Path, PurePosixPath
from typing import Any

from api.store.db import Database
from api.store.records import LogRecord, NotFoundError

__all__ = ["Logs", "PathOutsideRoot", "resolve_inside"]


class PathOutsideRoot(Exception):
    """A path that is absolute, climbs with ``..``, or resolves (symlinks followed) outside the root."""


def resolve_inside(root: Path, relative: str) -> Path:
    """``root / relative`` with every symlink resolved, refusing anything that leaves ``root``.

    Parameters
    ----------
    root : Path
        The allowed root (resolved here too).
    relative : str
        A relative POSIX path; absolute paths, ``..`` parts, NUL bytes and backslashes are refused
        before touching the file system.

    Returns
    -------
    Path
        The resolved path (it may not exist).

    Raises
    ------
    PathOutsideRoot
        Naming the path.
    """
    if "\x00" in relative or "\\" in relative or not relative.strip():
        raise PathOutsideRoot(f"path {relative[:200]!r} is not a plain relative path")
    pure = PurePosixPath(relative)
    if pure.is_absolute() or ".." in pure.parts:
        raise PathOutsideRoot(f"path {relative[:200]!r} must be relative to the logs folder without '..'")
    base = root.resolve()
    try:
        resolved = (base / pure).resolve()
    except (OSError, RuntimeError) as exc:  # name too long, symlink loop
        raise PathOutsideRoot(f"path {relative[:200]!r} cannot be resolved: {type(exc).__name__}") from None
    if resolved != base and base not in resolved.parents:
        raise PathOutsideRoot(f"path {relative[:200]!r} resolves outside the logs folder")
    return resolved


class Logs:
    """Log registrations."""

    def __init__(self, db: Database) -> None:
        self._db = db

    def add(self, tenant_id: str, name: str, source: str, path: Path, summary: dict[str, Any]) -> LogRecord:
        """Register a log that has already been opened successfully."""
        rec = LogRecord(f"log_{uuid.uuid4().hex}", tenant_id, name, source, str(path), summary, time.time())
        with self._db.write() as conn:
            conn.execute(
                "INSERT INTO logs (id, tenant_id, name, source, path, summary, created_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (rec.id, tenant_id, name, source, rec.path, json.dumps(summary), rec.created_at),
            )
        return rec

    def get(self, tenant_id: str, log_id: str) -> LogRecord:
        """The log ``log_id`` of ``tenant_id`` (another tenant's log is not found)."""
        row = (
            self._db.connection()
            .execute("SELECT * FROM logs WHERE id = ? AND tenant_id = ?", (log_id, tenant_id))
            .fetchone()
        )
        if row is None:
            raise NotFoundError(f"log {log_id!r} not found")
        return LogRecord.from_row(row)

    def list(self, tenant_id: str, limit: int, offset: int) -> list[LogRecord]:
        """The tenant's logs, newest first."""
        rows = (
            self._db.connection()
            .execute(
                "SELECT * FROM logs WHERE tenant_id = ? ORDER BY created_at DESC, id LIMIT ? OFFSET ?",
                (tenant_id, limit, offset),
            )
            .fetchall()
        )
        return [LogRecord.from_row(r) for r in rows]

    def delete(self, tenant_id: str, log_id: str) -> LogRecord:
        """Forget a registration (files stay); raises when absent."""
        rec = self.get(tenant_id, log_id)
        with self._db.write() as conn:
            conn.execute("DELETE FROM logs WHERE id = ? AND tenant_id = ?", (log_id, tenant_id))
        return rec
