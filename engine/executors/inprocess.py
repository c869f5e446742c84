"""The embedded default executor: every unit of work runs in this process, one after another."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

__all__ = ["InProcessExecutor"]

T = TypeVar("T")
R = TypeVar("R")


class InProcessExecutor:
    """Runs work items sequentially in the calling process (no extra dependency, no servers)."""

    name = "inprocess"

    def map(self, fn: Callable[[T], R], items: Sequence[T]) -> list[R]:
        """``[fn(item) for item in items]`` in order; the first exception propagates."""
        return [fn(item) for item in items]

    def close(self) -> None:
        """Nothing to release."""

    def __enter__(self) -> InProcessExecutor:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
