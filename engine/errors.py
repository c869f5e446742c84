"""Errors raised by the engine (re-exported from :mod:`kernels.errors`, the lowest layer)."""

from kernels.errors import EngineError, InvalidInputError, InvalidTypeError, LogFormatError

__all__ = ["EngineError", "InvalidInputError", "InvalidTypeError", "LogFormatError"]
