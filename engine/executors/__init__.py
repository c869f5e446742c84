"""Executors for batch pre-labeling: in-process (the embedded default) or on a Ray cluster.

* :mod:`~engine.executors.base`: the :class:`Executor` protocol and :func:`make_executor`.
* :mod:`~engine.executors.inprocess`: :class:`InProcessExecutor`, one unit after another, here.
* :mod:`~engine.executors.ray_executor`: :class:`RayExecutor`, one Ray task per unit (``ray`` imported
  lazily; a local instance listens on 127.0.0.1 only).
* :mod:`~engine.executors.chunks`: cutting a long log into chunks (with overlap) and merging them.
* :mod:`~engine.executors.tasks`: the units of work (a log; a chunk; a chunked log's finish).
* :mod:`~engine.executors.storage` and :mod:`~engine.executors.chunk_files`: idempotent outputs.
* :mod:`~engine.executors.batch`: :func:`prelabel_batch`, many logs on any executor.
"""

from engine.executors.base import Executor, ExecutorKind, make_executor
from engine.executors.batch import batch_jobs, prelabel_batch
from engine.executors.chunks import Chunking, ChunkUnit, FrameChunk, merge_chunks, plan_chunks
from engine.executors.inprocess import InProcessExecutor
from engine.executors.tasks import LogOutcome, PrelabelJob

__all__ = [
    "ChunkUnit",
    "Chunking",
    "Executor",
    "ExecutorKind",
    "FrameChunk",
    "InProcessExecutor",
    "LogOutcome",
    "PrelabelJob",
    "batch_jobs",
    "make_executor",
    "merge_chunks",
    "plan_chunks",
    "prelabel_batch",
]
