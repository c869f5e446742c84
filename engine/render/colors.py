"""Colours of the pictures: one stable colour per track, a height/depth ramp for points, severities."""

from __future__ import annotations

import colorsys
import zlib

import numpy as np
import numpy.typing as npt

__all__ = ["SEVERITY_COLORS", "ramp", "track_color"]

RGB = tuple[int, int, int]

SEVERITY_COLORS: dict[str, RGB] = {"error": (255, 40, 40), "warning": (255, 170, 0), "info": (120, 180, 255)}
"""Marker colour of a finding by severity."""

# Anchors of the point ramp (low -> high): deep blue, cyan, green, yellow, red (a perceptually ordered
# rainbow; points against a black background).
_RAMP = np.array(
    [[40, 60, 200], [0, 190, 230], [60, 210, 90], [240, 220, 40], [240, 70, 40]], dtype=np.float64
)


def track_color(track_id: str) -> RGB:
    """A bright colour fixed by the track id (CRC32 -> hue), the same in every picture and run."""
    h = (zlib.crc32(track_id.encode()) * 0.618033988749895) % 1.0
    r, g, b = colorsys.hsv_to_rgb(h, 0.8, 1.0)
    return int(r * 255), int(g * 255), int(b * 255)


def ramp(values: npt.ArrayLike, lo: float, hi: float) -> npt.NDArray[np.uint8]:
    """Colour every value on the low-to-high ramp; values outside ``[lo, hi]`` take the end colours.

    Parameters
    ----------
    values : array_like of shape (N,)
        E.g. point heights [m] or depths [m].
    lo, hi : float
        The values mapped to the first and last ramp colour.

    Returns
    -------
    ndarray of shape (N, 3), uint8
        RGB colours.
    """
    v = np.asarray(values, np.float64)
    span = hi - lo if hi > lo else 1.0
    x = np.clip((v - lo) / span, 0.0, 1.0) * (len(_RAMP) - 1)
    grid = np.arange(len(_RAMP), dtype=np.float64)
    out = np.stack([np.interp(x, grid, _RAMP[:, c]) for c in range(3)], axis=1)
    return np.asarray(np.round(out), np.uint8)
