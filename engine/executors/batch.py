"""Batch pre-labeling on an executor: many logs, each as one unit or as chunks plus a finish.

:func:`prelabel_batch` runs, on any :class:`~engine.executors.base.Executor`::

    unchunked:  run_log per log                                   (one task per log)
    chunked:    run_chunk per chunk of every log, then finish_log per log
                (per-frame stages on the workers; tracks, links and validation once per log)

Jobs whose outputs are complete (matching ``_DONE.json``) are skipped on the driver; ``overwrite``
removes their markers first so everything runs again (and writes the same bytes).
"""

from __future__ import annotations

import logging
import re
import shutil
from collections.abc import Sequence
from pathlib import Path

from engine.executors.base import Executor
from engine.executors.chunks import Chunking, plan_chunks
from engine.executors.inprocess import InProcessExecutor
from engine.executors.tasks import (
    CHUNKS_DIR,
    ChunkTask,
    FinishTask,
    LogOutcome,
    PrelabelJob,
    finish_log,
    outcome_of,
    run_chunk,
    run_log,
)
from engine.proposals import Detector
from engine.stages import PipelineConfig, frame_times
from kernels.errors import InvalidInputError

__all__ = ["batch_jobs", "prelabel_batch"]

log = logging.getLogger(__name__)


def _safe_name(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "log"


def batch_jobs(
    log_paths: Sequence[str | Path],
    out_root: str | Path,
    config: PipelineConfig | None = None,
    *,
    formats: Sequence[str] = ("native",),
    detector: Detector | None = None,
) -> list[PrelabelJob]:
    """One job per log, writing to ``out_root/LOG_NAME`` (the log's name, made file-name safe).

    Raises :class:`InvalidInputError` when two logs have the same name (their outputs would collide).
    """
    from engine.io import open_log

    cfg = config or PipelineConfig()
    jobs: list[PrelabelJob] = []
    seen: dict[str, Path] = {}
    for path in log_paths:
        p = Path(path).resolve()
        name = _safe_name(open_log(p).name)
        if name in seen:
            raise InvalidInputError(f"logs {str(seen[name])!r} and {str(p)!r} are both named {name!r}")
        seen[name] = p
        out = Path(out_root).resolve() / name
        jobs.append(PrelabelJob(str(p), str(out), cfg, tuple(formats), detector))
    return jobs


def prelabel_batch(
    jobs: Sequence[PrelabelJob],
    executor: Executor | None = None,
    *,
    chunking: Chunking | None = None,
    overwrite: bool = False,
) -> list[LogOutcome]:
    """Pre-label every job's log on ``executor`` (the in-process one by default).

    Parameters
    ----------
    jobs : sequence of PrelabelJob
        Logs and output folders (folders must differ).
    executor : Executor, optional
        Where units run; :class:`InProcessExecutor` when None.
    chunking : Chunking, optional
        Cut each log into chunks for the per-frame stages; one unit per log when None.
    overwrite : bool
        Run complete jobs again instead of skipping them.

    Returns
    -------
    list of LogOutcome
        One per job, in order.
    """
    from engine.io import open_log

    outs = [str(Path(j.out_dir).resolve()) for j in jobs]
    if len(set(outs)) != len(outs):
        raise InvalidInputError(f"jobs must write to distinct folders, got {outs}")
    ex = executor or InProcessExecutor()
    if overwrite:
        for j in jobs:
            j.marker.unlink(missing_ok=True)
            shutil.rmtree(Path(j.out_dir) / CHUNKS_DIR, ignore_errors=True)
    pending = [j for j in jobs if not j.is_complete()]
    log.info("%d of %d logs to pre-label on %s", len(pending), len(jobs), ex.name)
    if chunking is None:
        done = ex.map(run_log, pending)
    else:
        plans = [plan_chunks(frame_times(open_log(j.log_path), j.config.frames), chunking) for j in pending]
        ex.map(run_chunk, [ChunkTask(j, c) for j, plan in zip(pending, plans, strict=True) for c in plan])
        done = ex.map(finish_log, [FinishTask(j, p) for j, p in zip(pending, plans, strict=True)])
    by_out = {o.out_dir: o for o in done}
    return [by_out.get(j.out_dir) or outcome_of(j, skipped=True) for j in jobs]
