"""Scale-out on Ray: each unit of work is a Ray task with its own CPU/GPU reservation.

``ray`` is imported lazily (the ``ray`` extra: ``pip install 'fusionlabel[ray]'``); nothing else in the
engine needs it. ``address=None`` starts a private local Ray instance whose servers (GCS, raylet,
object manager, workers, agents) listen on 127.0.0.1 only, without the dashboard; any other address
connects to a running cluster (``"auto"``, ``"HOST:PORT"`` or ``"ray://HOST:PORT"``) and
:meth:`RayExecutor.close` only disconnects from it. When Ray is already initialised in this process
(e.g. by the caller), that session is used and left running.

Loopback-only binding: on Linux, ``ray.init(_node_ip_address="127.0.0.1")`` alone still resolves the
node to a routable address and binds every interface. Ray's single-node mode
(``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``, its default on macOS and Windows) keeps the node IP at
127.0.0.1 and binds the servers to it; :func:`start_local_ray` sets it (and usage statistics off)
while the local instance starts, so the processes it spawns inherit it, patches the constant Ray read
at import time, and restores both afterwards. ``tests/engine/test_executors_ray.py`` checks every
listening socket of the Ray processes.

Tasks whose worker process dies (killed, out of memory, node lost) are re-run by Ray up to
``max_retries`` times; exceptions raised by the work itself are not retried (they are deterministic)
and are re-raised here as the original engine error.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

from kernels.errors import EngineError, InvalidInputError

__all__ = ["RayExecutor", "import_ray", "start_local_ray"]

log = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

_LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0", "RAY_USAGE_STATS_ENABLED": "0"}


def import_ray() -> ModuleType:
    """The ``ray`` module, or an :class:`EngineError` saying how to install it."""
    try:
        import ray
    except ImportError as exc:
        raise EngineError(
            f"the ray executor needs the 'ray' package ({exc}); install it with "
            "pip install 'fusionlabel[ray]' or use --executor inprocess"
        ) from None
    return ray


@contextmanager
def _loopback_only(ray: ModuleType) -> Iterator[None]:
    """Ray's single-node loopback mode while a local instance starts (environment restored after)."""
    saved = {k: os.environ.get(k) for k in _LOOPBACK_ENV}
    os.environ.update(_LOOPBACK_ENV)
    constants = getattr(getattr(ray, "_private", None), "ray_constants", None)
    had = getattr(constants, "ENABLE_RAY_CLUSTER", None)
    if constants is not None and had is not None:
        constants.ENABLE_RAY_CLUSTER = False  # read at import time: ray may already be imported
    try:
        yield
    finally:
        if constants is not None and had is not None:
            constants.ENABLE_RAY_CLUSTER = had
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def start_local_ray(num_cpus: int | None = None, num_gpus: int | None = None) -> ModuleType:
    """Start a private local Ray instance reachable on 127.0.0.1 only (no dashboard).

    Parameters
    ----------
    num_cpus, num_gpus : int, optional
        Resources of the local node; Ray detects them when None.

    Returns
    -------
    module
        ``ray``, initialised.
    """
    ray = import_ray()
    with _loopback_only(ray):
        ray.init(
            address="local",
            num_cpus=num_cpus,
            num_gpus=num_gpus,
            include_dashboard=False,
            _node_ip_address="127.0.0.1",
            log_to_driver=False,
        )
    return ray


def _run_limited(fn: Callable[[T], R], threads: int, item: T) -> R:
    """Run ``fn(item)`` in a Ray worker with numba's threads limited to the task's CPUs."""
    import numba

    ceiling = int(getattr(numba.config, "NUMBA_NUM_THREADS", threads))
    numba.set_num_threads(max(1, min(threads, ceiling)))
    return fn(item)


class RayExecutor:
    """Run units of work as Ray tasks (see the module docstring).

    Parameters
    ----------
    address : str, optional
        Cluster address; None starts a local loopback-only instance.
    num_cpus : float
        CPUs each task reserves (numba's thread pool in the task is limited to it).
    num_gpus : float
        GPUs each task reserves (Ray sets ``CUDA_VISIBLE_DEVICES``; ``backend="auto"`` then uses it).
    max_retries : int
        Re-runs of a task whose worker process died.
    local_cpus, local_gpus : int, optional
        Resources of the local instance when ``address`` is None (detected when None).
    """

    name = "ray"

    def __init__(
        self,
        address: str | None = None,
        *,
        num_cpus: float = 1.0,
        num_gpus: float = 0.0,
        max_retries: int = 3,
        local_cpus: int | None = None,
        local_gpus: int | None = None,
    ) -> None:
        if num_cpus < 0 or num_gpus < 0 or (num_cpus == 0 and num_gpus == 0):
            raise InvalidInputError(
                f"num_cpus and num_gpus must be >= 0 and not both 0, got {num_cpus} and {num_gpus}"
            )
        if max_retries < 0:
            raise InvalidInputError(f"max_retries must be >= 0, got {max_retries}")
        self.num_cpus = float(num_cpus)
        self.num_gpus = float(num_gpus)
        self.max_retries = int(max_retries)
        self._ray = import_ray()
        self._owned = False
        if self._ray.is_initialized():
            log.info("using the Ray session already initialised in this process")
        elif address is None:
            start_local_ray(local_cpus, local_gpus)
            self._owned = True
        else:
            self._ray.init(address=address, log_to_driver=False)
            self._owned = True

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """One Ray task per item; results in input order (see :meth:`Executor.map`)."""
        ray = self._ray
        remote = ray.remote(_run_limited).options(
            num_cpus=self.num_cpus,
            num_gpus=self.num_gpus,
            max_retries=self.max_retries,
            retry_exceptions=False,
        )
        threads = max(1, round(self.num_cpus))
        refs = [remote.remote(fn, threads, item) for item in items]
        name = getattr(fn, "__name__", str(fn))
        try:
            pending = list(refs)
            while pending:  # as tasks finish: progress in the log, and the first failure at once
                ready, pending = ray.wait(pending, num_returns=1)
                ray.get(ready)
                log.info("%s: %d of %d tasks done", name, len(refs) - len(pending), len(refs))
            return list(ray.get(refs))
        except ray.exceptions.RayTaskError as exc:
            self._cancel(refs)
            cause = getattr(exc, "cause", None)
            if isinstance(cause, EngineError):
                raise cause from None
            raise EngineError(f"a ray task of {name!r} failed: {exc}") from exc
        except ray.exceptions.RayError as exc:  # worker died more than max_retries times, node lost...
            self._cancel(refs)
            raise EngineError(f"ray could not run {name!r}: {exc}") from exc

    def _cancel(self, refs: Sequence[Any]) -> None:
        for ref in refs:
            try:
                self._ray.cancel(ref)
            except Exception:  # noqa: BLE001 - best effort: finished tasks cannot be cancelled
                log.debug("could not cancel %s", ref)

    def close(self) -> None:
        """Shut down the local instance (or disconnect from the cluster) if this executor started it."""
        if self._owned and self._ray.is_initialized():
            self._ray.shutdown()
        self._owned = False

    def __enter__(self) -> RayExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
