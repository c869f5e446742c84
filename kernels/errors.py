"""Errors raised by fusionlabel for bad input.

They live in the lowest package (``kernels``) so that ``calibration``, ``tracking`` and ``engine`` can
all raise them without importing upward; ``engine.errors`` re-exports them.

Every error fusionlabel raises for bad input is a subclass of :class:`EngineError`, so the API can map
them to status codes in one place, and also of the matching builtin (``ValueError``/``TypeError``), so
callers that catch builtins keep working.
"""

from __future__ import annotations


class EngineError(Exception):
    """Base class of every error raised by fusionlabel for bad input or state."""


class InvalidInputError(EngineError, ValueError):
    """An argument or a field has a bad value: wrong shape, NaN, out of order, unknown name."""


class InvalidTypeError(EngineError, TypeError):
    """An argument or a field has the wrong type or dtype."""


class LogFormatError(EngineError, ValueError):
    """A log on disk is missing, unreadable, or of an unknown or unsupported format."""
