"""Pillow drawing helpers shared by the pictures: fonts, labels, arrows and point splats."""

from __future__ import annotations

import functools

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw, ImageFont

from engine.render.colors import RGB

__all__ = ["arrow", "font", "label", "short_id", "splat"]


def short_id(track_id: str) -> str:
    """A compact id for pictures: ``track-0012`` -> ``0012``; long ids (UUIDs) cut to 6 characters."""
    s = track_id.removeprefix("track-")
    return s if len(s) <= 8 else s[:6]


@functools.lru_cache(maxsize=8)
def font(size: int) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    """Pillow's bundled font at ``size`` px."""
    return ImageFont.load_default(size=size)


def label(draw: ImageDraw.ImageDraw, xy: tuple[float, float], text: str, color: RGB, size: int = 13) -> None:
    """Text with a dark backing box so it reads on points and photos alike."""
    f = font(size)
    x0, y0, x1, y1 = draw.textbbox(xy, text, font=f)
    draw.rectangle((x0 - 2, y0 - 1, x1 + 2, y1 + 1), fill=(0, 0, 0))
    draw.text(xy, text, fill=color, font=f)


def arrow(
    draw: ImageDraw.ImageDraw,
    start: tuple[float, float],
    end: tuple[float, float],
    color: RGB,
    width: int = 2,
) -> None:
    """A line from ``start`` to ``end`` with a head at ``end`` (pixels)."""
    (x0, y0), (x1, y1) = start, end
    draw.line((x0, y0, x1, y1), fill=color, width=width)
    d = np.hypot(x1 - x0, y1 - y0)
    if d < 1e-6:
        return
    ux, uy = (x1 - x0) / d, (y1 - y0) / d
    head = min(8.0, 0.5 * d)
    for side in (1.0, -1.0):
        hx = x1 - head * (ux * 0.87 - side * uy * 0.5)
        hy = y1 - head * (uy * 0.87 + side * ux * 0.5)
        draw.line((x1, y1, hx, hy), fill=color, width=width)


def splat(
    image: Image.Image, u: npt.ArrayLike, v: npt.ArrayLike, colors: npt.ArrayLike, size: int = 1
) -> None:
    """Write point colours into ``image`` (RGB) at pixels ``(u, v)``; later points win, off-image ones drop.

    Parameters
    ----------
    image : PIL.Image.Image
        RGB image, modified in place.
    u, v : array_like of shape (N,)
        Pixel coordinates (column, row), floats.
    colors : array_like of shape (N, 3), uint8
        Point colours.
    size : int
        Side of the square each point covers [px].
    """
    arr = np.asarray(image).copy()
    h, w = arr.shape[:2]
    uu = np.floor(np.asarray(u, np.float64)).astype(np.int64)
    vv = np.floor(np.asarray(v, np.float64)).astype(np.int64)
    col = np.asarray(colors, np.uint8)
    for du in range(size):
        for dv in range(size):
            x, y = uu + du, vv + dv
            ok = (x >= 0) & (x < w) & (y >= 0) & (y < h)
            arr[y[ok], x[ok]] = col[ok]
    image.paste(Image.fromarray(arr))
