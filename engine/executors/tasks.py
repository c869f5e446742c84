"""The units of work an executor runs: a whole log, one chunk of a log, and a chunked log's finish.

* :func:`run_log`: the whole pipeline on one log; outputs published into the job's folder.
* :func:`run_chunk`: the per-frame stages on one chunk's frames; ``OUT/_chunks/KEY.json`` (+ marker).
* :func:`finish_log`: merge a log's chunks, run the whole-log stages (tracks, links, validation) once,
  publish the outputs, drop ``OUT/_chunks``.

Every unit is idempotent (:mod:`engine.executors.storage`): it is skipped when its marker matches, and
otherwise writes its files under the same names with the same bytes (``stats.json`` and the chunk
markers hold timings and differ run to run; ``_DONE.json`` lists the hash of every other file).
Work items hold paths, the configuration and an optional detector, all picklable, so they can be sent
to other processes and machines (the paths must then be on a shared file system).
"""

from __future__ import annotations

import json
import math
import shutil
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from engine.executors.chunk_files import (
    proposals_from_json,
    proposals_to_json,
    stats_from_json,
    stats_to_json,
)
from engine.executors.chunks import FrameChunk, merge_chunks, merge_stats
from engine.executors.storage import (
    DONE_MARKER,
    atomic_write,
    fingerprint,
    marker_matches,
    publish_files,
    read_marker,
    sha256_file,
    write_marker,
)
from engine.log import Log
from engine.pipeline import FrameStageOutput, PrelabelResult, prelabel, run_frame_stages, run_log_stages
from engine.proposals import Detector
from engine.stages import PipelineConfig, frame_times
from kernels.errors import EngineError

__all__ = [
    "ChunkTask",
    "FinishTask",
    "LogOutcome",
    "PrelabelJob",
    "finish_log",
    "outcome_of",
    "run_chunk",
    "run_log",
]

CHUNKS_DIR = "_chunks"
STAGING_DIR = "_staging"
TIMING_FILES = ("stats.json",)  # hold wall times: not byte-identical between runs


@dataclass(frozen=True, slots=True)
class PrelabelJob:
    """One log to pre-label and where its outputs go.

    Parameters
    ----------
    log_path : str
        The log (any format :func:`engine.open_log` reads); absolute when the work runs elsewhere.
    out_dir : str
        Its output folder (``write_outputs`` layout plus ``_DONE.json``).
    config : PipelineConfig
        Stage settings.
    formats : tuple of str
        Output formats (``native``, ``sfs``).
    detector : Detector, optional
        A picklable proposal source instead of the model-free detector.
    """

    log_path: str
    out_dir: str
    config: PipelineConfig = field(default_factory=PipelineConfig)
    formats: tuple[str, ...] = ("native",)
    detector: Detector | None = None

    @property
    def fingerprint(self) -> str:
        """What the outputs depend on: the configuration, the formats and the detector's type."""
        det = "geometric" if self.detector is None else type(self.detector).__qualname__
        return fingerprint("prelabel/1", self.config.model_dump_json(), ",".join(sorted(self.formats)), det)

    @property
    def marker(self) -> Path:
        """The job's completion marker."""
        return Path(self.out_dir) / DONE_MARKER

    def is_complete(self) -> bool:
        """Whether the outputs are complete for this fingerprint (files present with their hashes)."""
        return marker_matches(self.marker, self.fingerprint)


@dataclass(frozen=True, slots=True)
class ChunkTask:
    """The per-frame stages of one chunk of a job's log."""

    job: PrelabelJob
    chunk: FrameChunk

    @property
    def data_path(self) -> Path:
        """``OUT/_chunks/KEY.json``."""
        return Path(self.job.out_dir) / CHUNKS_DIR / f"{self.chunk.key}.json"

    @property
    def marker(self) -> Path:
        """``OUT/_chunks/KEY.done.json``."""
        return Path(self.job.out_dir) / CHUNKS_DIR / f"{self.chunk.key}.done.json"


@dataclass(frozen=True, slots=True)
class FinishTask:
    """Merge a job's chunks and run the whole-log stages."""

    job: PrelabelJob
    chunks: tuple[FrameChunk, ...]


@dataclass(frozen=True, slots=True)
class LogOutcome:
    """What one job produced.

    Attributes
    ----------
    log_path, out_dir : str
        The job's log and output folder.
    log_name : str
        The log's name.
    frames, tracks : int
        Frames visited and tracks written.
    chunks : int
        Chunks the per-frame stages ran in (1: the whole log in one unit).
    skipped : bool
        True when the outputs were already complete and nothing ran.
    files : dict of str to str
        Deterministic output file name -> SHA-256 (from the completion marker).
    """

    log_path: str
    out_dir: str
    log_name: str
    frames: int
    tracks: int
    chunks: int
    skipped: bool
    files: dict[str, str]


def _open(job: PrelabelJob) -> Log:
    from engine.io import open_log

    return open_log(job.log_path)


def outcome_of(job: PrelabelJob, skipped: bool) -> LogOutcome:
    """The outcome of a job from its completion marker."""
    marker = read_marker(job.marker) or {}
    return LogOutcome(
        job.log_path,
        job.out_dir,
        str(marker.get("log", "")),
        int(marker.get("frames", 0)),
        int(marker.get("tracks", 0)),
        int(marker.get("chunks", 1)),
        skipped,
        dict(marker.get("files", {})),
    )


def _publish(job: PrelabelJob, log: Log, result: PrelabelResult, chunks: int) -> LogOutcome:
    """Write the outputs to a staging folder, move them in atomically, write the marker, drop chunks."""
    from engine.stages.outputs import write_outputs

    out = Path(job.out_dir)
    job.marker.unlink(missing_ok=True)  # outputs are being replaced: not complete until the new marker
    staging = out / STAGING_DIR
    shutil.rmtree(staging, ignore_errors=True)
    written = write_outputs(result, log, staging, job.formats)
    digests = publish_files(staging, out, [p.name for p in written.files.values()])
    write_marker(
        job.marker,
        {
            "format": "fusionlabel.prelabel-done",
            "version": 1,
            "log": log.name,
            "fingerprint": job.fingerprint,
            "frames": int(result.frame_times_us.size),
            "tracks": result.tracks,
            "chunks": chunks,
            "files": {k: v for k, v in digests.items() if k not in TIMING_FILES},
            "timing_files": sorted(set(digests) & set(TIMING_FILES)),
        },
    )
    shutil.rmtree(out / CHUNKS_DIR, ignore_errors=True)  # chunk results are in the outputs now
    return outcome_of(job, skipped=False)


def run_log(job: PrelabelJob) -> LogOutcome:
    """Pre-label one whole log and publish its outputs (skipped when already complete)."""
    if job.is_complete():
        return outcome_of(job, skipped=True)
    log = _open(job)
    result = prelabel(log, job.config, detector=job.detector)
    return _publish(job, log, result, chunks=1)


def _chunk_fingerprint(task: ChunkTask, times_us: Any) -> str:
    return fingerprint(task.job.fingerprint, task.chunk.key, json.dumps(list(map(int, times_us))))


def run_chunk(task: ChunkTask) -> str:
    """The per-frame stages of one chunk, written to ``OUT/_chunks/KEY.json``; returns that path."""
    log = _open(task.job)
    c = task.chunk
    times = frame_times(log, task.job.config.frames)[c.lo : c.hi]
    fp = _chunk_fingerprint(task, times)
    if marker_matches(task.marker, fp):
        return str(task.data_path)
    out = run_frame_stages(log, task.job.config, times, detector=task.job.detector)
    atomic_write(task.data_path, proposals_to_json(out.proposals))
    write_marker(
        task.marker,
        {
            "fingerprint": fp,
            "files": {task.data_path.name: sha256_file(task.data_path)},
            "sensors": list(out.sensors),
            "stats": stats_to_json(out.stats),
        },
    )
    return str(task.data_path)


def finish_log(task: FinishTask) -> LogOutcome:
    """Merge a log's chunks, run tracks, links and validation once, publish (skipped when complete)."""
    job = task.job
    if job.is_complete():
        shutil.rmtree(Path(job.out_dir) / CHUNKS_DIR, ignore_errors=True)  # a crash after the marker
        return outcome_of(job, skipped=True)
    log = _open(job)
    times = frame_times(log, job.config.frames)
    parts, stats, sensors = [], [], ()
    for chunk in task.chunks:
        ct = ChunkTask(job, chunk)
        if not marker_matches(ct.marker, _chunk_fingerprint(ct, times[chunk.lo : chunk.hi])):
            raise EngineError(
                f"chunk {chunk.key} of {job.log_path!r} is missing or stale; run its chunk task"
            )
        marker = read_marker(ct.marker) or {}
        parts.append(proposals_from_json(ct.data_path.read_bytes()))
        stats.append(stats_from_json(marker["stats"]))
        sensors = tuple(marker["sensors"])
    proposals, difference = merge_chunks(task.chunks, parts)
    frames = FrameStageOutput(proposals, merge_stats(task.chunks, stats), sensors)
    result = run_log_stages(log, job.config, times, frames)
    diff = difference if math.isfinite(difference) else "inf"  # "inf": copies differ in count or class
    meta = {**result.metadata, "chunks": len(task.chunks), "chunk_overlap_max_difference": diff}
    return _publish(job, log, replace(result, metadata=meta), chunks=len(task.chunks))
