"""The executor abstraction: where independent units of pre-labeling work run.

An :class:`Executor` maps a picklable, module-level function over a sequence of picklable work items
and returns the results in input order. The embedded :class:`~engine.executors.inprocess.InProcessExecutor`
(the default) runs them one after another in this process;
:class:`~engine.executors.ray_executor.RayExecutor` runs each as a Ray task with its own CPU/GPU
reservation and retries tasks whose worker process died. Units of work are idempotent
(:mod:`engine.executors.storage`), so a retried or re-run unit writes the same files again.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from typing import Protocol, TypeVar, runtime_checkable

from kernels.errors import InvalidInputError

__all__ = ["Executor", "ExecutorKind", "make_executor"]

T = TypeVar("T")
R = TypeVar("R")


class ExecutorKind(enum.Enum):
    """The executors :func:`make_executor` builds."""

    INPROCESS = "inprocess"
    RAY = "ray"

    @classmethod
    def parse(cls, value: str | ExecutorKind) -> ExecutorKind:
        """Parse an executor name, raising with the accepted names otherwise."""
        if isinstance(value, ExecutorKind):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown executor {value!r}; expected one of {[k.value for k in cls]}"
            ) from None


@runtime_checkable
class Executor(Protocol):
    """Runs independent units of work and returns their results in input order."""

    name: str

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(item) for item in items]``, possibly in parallel and elsewhere.

        Parameters
        ----------
        fn : callable
            A module-level (importable, picklable) function of one argument.
        items : sequence
            Picklable work items.

        Returns
        -------
        list
            ``fn(item)`` per item, in the order of ``items``; the first failure is raised.
        """
        ...

    def close(self) -> None:
        """Release what the executor started (idempotent)."""
        ...

    def __enter__(self) -> Executor:
        """The executor itself; :meth:`close` on exit."""
        ...

    def __exit__(self, *exc: object) -> None:
        """Call :meth:`close`."""
        ...


def make_executor(
    kind: str | ExecutorKind = ExecutorKind.INPROCESS,
    *,
    address: str | None = None,
    num_cpus: float = 1.0,
    num_gpus: float = 0.0,
    max_retries: int = 3,
) -> Executor:
    """Build an executor by name.

    Parameters
    ----------
    kind : {"inprocess", "ray"}
        ``inprocess`` (default, embedded) or ``ray``.
    address : str, optional
        Ray cluster address (``"auto"``, ``"HOST:PORT"``, ``"ray://HOST:PORT"``); None starts a local
        Ray instance bound to 127.0.0.1. Only for ``ray``.
    num_cpus, num_gpus : float
        Resources each Ray task reserves. Only for ``ray``.
    max_retries : int
        Times Ray re-runs a task whose worker process died. Only for ``ray``.

    Returns
    -------
    Executor
    """
    k = ExecutorKind.parse(kind)
    if k is ExecutorKind.INPROCESS:
        if address is not None:
            raise InvalidInputError(f"address {address!r} needs executor 'ray', got 'inprocess'")
        from engine.executors.inprocess import InProcessExecutor

        return InProcessExecutor()
    from engine.executors.ray_executor import RayExecutor

    return RayExecutor(address=address, num_cpus=num_cpus, num_gpus=num_gpus, max_retries=max_retries)
