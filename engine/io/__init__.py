"""Readers and writers: every foreign convention is converted at this boundary (docs/CONVENTIONS.md)."""

from __future__ import annotations

from pathlib import Path

from engine.io.native import LogWriter, is_native_log, read_native_log, write_native_log
from engine.log import Log
from kernels.errors import LogFormatError

__all__ = ["LogWriter", "open_log", "read_native_log", "write_native_log"]


def open_log(path: str | Path) -> Log:
    """Open a drive log, picking the reader by the folder's content.

    Parameters
    ----------
    path : str or Path
        A native fusionlabel log directory, or a PandaSet sequence folder.

    Returns
    -------
    Log
        The log; sweeps are loaded lazily.
    """
    p = Path(path)
    if not p.exists():
        raise LogFormatError(f"log path {str(p)!r} does not exist")
    if is_native_log(p):
        return read_native_log(p)
    from engine.io import pandaset

    if pandaset.is_pandaset(p):
        return pandaset.read_pandaset(p)
    raise LogFormatError(
        f"cannot tell the format of {str(p)!r}: expected a native log (manifest.json) or a PandaSet folder "
        f"(lidar/, meta/, labels/, camera/)"
    )
