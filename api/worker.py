"""The in-process job pool: worker threads that claim queued jobs, plus a supervisor that keeps leases.

Durability and exactly-once completion live in the store (:mod:`api.store.jobs`); this module only
follows the protocol:

* a worker **claims** the oldest queued job (RUNNING, attempt + 1, a fresh lease token);
* the **supervisor** renews the leases of every job running in this process every ``lease_s / 3`` and
  re-queues jobs whose lease lapsed (their process died), failing those out of attempts; it runs once at
  start-up too, so jobs left RUNNING by a crash are picked up again within one lease;
* the worker **completes** the job (result + state + webhook outbox row in one transaction, guarded by
  the lease); a worker that lost its lease writes nothing;
* cancellation is cooperative: the pipeline's progress callback raises at the next stage boundary.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections.abc import Callable

from api.logcache import LogCache
from api.settings import JobsConfig
from api.store import JobRecord, LeaseStatus, NotFoundError, Store, canonical_json
from engine.errors import EngineError
from engine.service import JobCancelled, Prelabeler, PrelabelOptions

__all__ = ["JobWorker"]

logger = logging.getLogger(__name__)


class _Stop(Exception):
    """The job must stop without writing a result (lease lost, or this process is shutting down)."""

    def __init__(self, requeue: bool) -> None:
        super().__init__("lease lost" if not requeue else "shutting down")
        self.requeue = requeue


class JobWorker:
    """Threads running pre-labeling jobs from the store.

    Parameters
    ----------
    store : Store
        The job store.
    logs : LogCache
        Opens the job's log (tenant-scoped).
    config : JobsConfig
        Worker count, lease, polling, attempts.
    prelabeler : Prelabeler
        The pipeline to run.
    on_finished : callable, optional
        Called after a job reaches a terminal state (wakes the webhook sender).
    """

    def __init__(
        self,
        store: Store,
        logs: LogCache,
        config: JobsConfig,
        prelabeler: Prelabeler,
        on_finished: Callable[[], None] | None = None,
    ) -> None:
        self._store = store
        self._logs = logs
        self._config = config
        self._prelabeler = prelabeler
        self._on_finished = on_finished or (lambda: None)
        self._owner = f"{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self._running: dict[str, JobRecord] = {}
        self._status: dict[str, LeaseStatus] = {}
        self._lock = threading.Lock()
        self._next_purge = time.monotonic() + config.purge_interval_s  # the app purged at start

    def start(self) -> None:
        """Recover lapsed jobs, then start the supervisor and the worker threads."""
        self._supervise_once()
        names = ["supervisor"] + [f"worker-{i}" for i in range(self._config.workers)]
        for name in names:
            target = self._supervise if name == "supervisor" else self._work
            thread = threading.Thread(target=target, name=f"fusionlabel-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def nudge(self) -> None:
        """Wake idle workers (a job was just queued)."""
        self._wake.set()

    def stop(self, timeout_s: float = 10.0) -> None:
        """Ask running jobs to stop at their next stage (they are re-queued) and join the threads."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout_s
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        self._threads = []

    # -- threads ---------------------------------------------------------------------------------------

    def _work(self) -> None:
        name = threading.current_thread().name
        while not self._stop.is_set():
            try:
                job = self._store.jobs.claim(f"{self._owner}/{name}", self._config.lease_s)
            except Exception:  # a store hiccup must not kill the worker
                logger.exception("claiming a job failed")
                job = None
            if job is None:
                self._wake.wait(self._config.poll_s)
                self._wake.clear()
                continue
            with self._lock:
                self._running[job.id] = job
                self._status[job.id] = LeaseStatus.HELD
            try:
                self._run(job)
            finally:
                with self._lock:
                    self._running.pop(job.id, None)
                    self._status.pop(job.id, None)
                self._on_finished()

    def _supervise(self) -> None:
        while not self._stop.wait(self._config.lease_s / 3.0):
            try:
                self._supervise_once()
            except Exception:
                logger.exception("lease supervision failed")

    def _supervise_once(self) -> None:
        with self._lock:
            running = list(self._running.values())
        for job in running:
            status = self._store.jobs.renew(job, self._config.lease_s)
            with self._lock:
                if job.id in self._status:
                    self._status[job.id] = status
        if time.monotonic() >= self._next_purge:
            self._next_purge = time.monotonic() + self._config.purge_interval_s
            self._store.jobs.purge_expired_keys()
        requeued, failed = self._store.jobs.requeue_lapsed(self._config.max_attempts)
        if requeued or failed:
            logger.warning(
                "re-queued %d jobs with lapsed leases; failed %d out of attempts", requeued, failed
            )
            self._wake.set()
            self._on_finished()

    # -- one job -----------------------------------------------------------------------------------------

    def _run(self, job: JobRecord) -> None:
        last = 0.0

        def progress(stage: str, fraction: float) -> None:
            nonlocal last
            if self._stop.is_set():
                raise _Stop(requeue=True)
            with self._lock:
                status = self._status.get(job.id, LeaseStatus.HELD)
            now = time.monotonic()
            if status is LeaseStatus.HELD and now - last >= 0.25:
                last = now
                status = self._store.jobs.renew(job, self._config.lease_s, fraction, stage)
            if status is LeaseStatus.CANCEL:
                raise JobCancelled(stage)
            if status is LeaseStatus.LOST:
                raise _Stop(requeue=False)

        try:
            request = job.request
            log = self._logs.get(job.tenant_id, str(request["log_id"]))
            options = PrelabelOptions(**request.get("options", {}))
            progress("open", 0.0)
            result = self._prelabeler(log, options, progress)
            done = self._store.jobs.complete(job, canonical_json(result.to_dict()))
            if not done:
                logger.warning("job %s finished after losing its lease; result dropped", job.id)
        except JobCancelled:
            self._store.jobs.cancelled(job)
        except _Stop as stop:
            if stop.requeue:
                self._store.jobs.fail(job, "server shut down while running; re-queued", retry=True)
            else:
                logger.warning("job %s lost its lease; stopping without a result", job.id)
        except (EngineError, NotFoundError) as exc:
            self._store.jobs.fail(job, f"{type(exc).__name__}: {exc}"[:2000])
        except Exception as exc:
            logger.exception("job %s failed", job.id)
            self._store.jobs.fail(job, f"internal error ({type(exc).__name__}); see the server log")
