"""Job results in other formats: an SFS scene (the job's log with the pre-labels as its annotations).

The native result (JSON in the store) is the source of truth; an SFS file is derived from it and the
job's registered log on first request, written atomically under ``data_root/results/<tenant>/`` and
served from there afterwards (a result never changes once stored, so the file never goes stale).
"""

from __future__ import annotations

import dataclasses
import enum
import json
import logging
import os
import threading
import uuid
from pathlib import Path

from api.logcache import LogCache
from api.store import ConflictError, NotFoundError, Store
from engine.io.annotations_json import annotations_from_dict
from engine.io.sfs import write_sfs

__all__ = ["SFS_MEDIA_TYPE", "ResultFormat", "sfs_result"]

logger = logging.getLogger(__name__)

SFS_MEDIA_TYPE = "application/octet-stream"
"""SFS has no registered media type; the scene is a binary JSON container."""

_LOCK = threading.Lock()
"""One conversion at a time in this process (processes race harmlessly: unique temporary files, and
``os.replace`` of identical content)."""


class ResultFormat(enum.StrEnum):
    """Download format of a job's results."""

    NATIVE = "native"
    """fusionlabel JSON: annotations, stage reports, findings, metadata."""
    SFS = "sfs"
    """Scale Sensor Fusion Scene: the job's log with the pre-labels as annotations."""


def sfs_result(store: Store, logs: LogCache, results_dir: Path, tenant_id: str, job_id: str) -> Path:
    """The SFS scene of a succeeded job of ``tenant_id`` (written on first call).

    Parameters
    ----------
    store : Store
        Jobs and results (tenant-scoped).
    logs : LogCache
        Opens the job's log (tenant-scoped).
    results_dir : Path
        Root of derived result files; each tenant has its own folder below.
    tenant_id, job_id : str
        The caller's tenant and the job.

    Returns
    -------
    Path
        The ``.sfs`` file.

    Raises
    ------
    NotFoundError
        Unknown job, or another tenant's.
    ConflictError
        The job has not succeeded, or its log is no longer registered.
    """
    result = store.jobs.result(tenant_id, job_id)  # 404 / 409 before anything is read or written
    path = results_dir / tenant_id / f"{job_id}.sfs"
    if path.is_file():
        return path
    job = store.jobs.get(tenant_id, job_id)
    try:
        log = logs.get(tenant_id, str(job.request["log_id"]))
    except NotFoundError:
        raise ConflictError(
            f"the log of job {job_id!r} is no longer registered; an SFS scene needs its sensors "
            "(format=native still works)"
        ) from None
    annotations = annotations_from_dict(json.loads(result)["annotations"])
    with _LOCK:
        if not path.is_file():
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_name(f".{job_id}.{uuid.uuid4().hex}.sfs")  # unique: other processes may race
            try:
                write_sfs(dataclasses.replace(log, annotations=annotations), tmp)
                os.replace(tmp, path)
            finally:
                tmp.unlink(missing_ok=True)
            logger.info("wrote SFS result of job %s (%d bytes)", job_id, path.stat().st_size)
    return path
