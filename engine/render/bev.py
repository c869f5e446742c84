"""Bird's-eye view of one frame: points coloured by height, cuboids with ids, velocity arrows and findings.

The view is the ego frame at the frame time seen from above: ego +x (forward) points up the picture,
+y (left) to the left, the ego at the centre; range rings every 10 m. A box is drawn in its track's
colour with its front edge thicker, its id and label beside it, an arrow of its velocity over ground
(length = speed x ``velocity_arrow_s``) and, when a finding concerns it at this time, a ring in the
finding's severity colour.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from engine.render.colors import SEVERITY_COLORS, ramp
from engine.render.draw import arrow, label, short_id, splat
from engine.render.scene import DrawBox
from kernels.errors import InvalidInputError
from kernels.validation import as_array

__all__ = ["BevConfig", "bev_corners", "bev_pixels", "render_bev"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class BevConfig:
    """Size and styling of a bird's-eye view.

    Parameters
    ----------
    range_m : float
        Half the side of the square view [m].
    px_per_m : float
        Scale [px/m]; the picture is ``2 * range_m * px_per_m`` pixels square.
    height_range_m : tuple of 2 float, optional
        Heights [m] (ego frame) mapped to the ends of the colour ramp; the 2nd and 98th percentile of
        the points' heights when None.
    velocity_arrow_s : float
        Arrow length per speed [s] (an arrow shows where the box will be after this long).
    min_speed_mps : float
        No arrow below this speed [m/s].
    point_size : int
        Side of a point's square [px].
    """

    range_m: float = 50.0
    px_per_m: float = 10.0
    height_range_m: tuple[float, float] | None = None
    velocity_arrow_s: float = 1.0
    min_speed_mps: float = 0.5
    point_size: int = 1

    def __post_init__(self) -> None:
        if self.range_m <= 0 or self.px_per_m <= 0:
            raise InvalidInputError(
                f"BevConfig.range_m and px_per_m must be > 0, got {self.range_m} and {self.px_per_m}"
            )

    @property
    def size_px(self) -> int:
        """Side of the picture [px]."""
        return int(round(2 * self.range_m * self.px_per_m))


def bev_pixels(xy: npt.ArrayLike, config: BevConfig) -> F64:
    """Ego-frame ``(x, y)`` [m] -> picture ``(u, v)`` [px] (forward is up, left is left), shape (..., 2)."""
    p = np.asarray(xy, np.float64)
    c = config.size_px / 2.0
    return np.stack([c - p[..., 1] * config.px_per_m, c - p[..., 0] * config.px_per_m], axis=-1)


def bev_corners(box: npt.ArrayLike) -> F64:
    """The four ground corners ``(x, y)`` of a ``[x, y, z, l, w, h, yaw]`` box, shape (4, 2).

    Order: front-left, front-right, rear-right, rear-left.
    """
    b = np.asarray(box, np.float64)
    c, s = np.cos(b[6]), np.sin(b[6])
    local = np.array([[1, 1], [1, -1], [-1, -1], [-1, 1]], np.float64) * (b[3] / 2, b[4] / 2)
    return np.stack([b[0] + c * local[:, 0] - s * local[:, 1], b[1] + s * local[:, 0] + c * local[:, 1]], 1)


def _points(image: Image.Image, points: npt.NDArray[np.float32], config: BevConfig) -> None:
    if points.shape[0] == 0:
        return
    order = np.argsort(points[:, 2], kind="stable")  # high points drawn last
    pts = points[order]
    lo, hi = config.height_range_m or tuple(np.percentile(pts[:, 2], [2.0, 98.0]))
    uv = bev_pixels(pts[:, :2], config)
    splat(image, uv[:, 0], uv[:, 1], ramp(pts[:, 2], float(lo), float(hi)), config.point_size)


def _box(draw: ImageDraw.ImageDraw, b: DrawBox, config: BevConfig) -> None:
    px = bev_pixels(bev_corners(b.box), config)
    poly = [(float(u), float(v)) for u, v in px]
    draw.polygon(poly, outline=b.color, width=2)
    draw.line((*poly[0], *poly[1]), fill=b.color, width=4)  # the front edge
    centre = bev_pixels(b.box[:2], config)
    speed = float(np.hypot(*b.velocity[:2]))
    if speed >= config.min_speed_mps:
        tip = bev_pixels(b.box[:2] + b.velocity[:2] * config.velocity_arrow_s, config)
        arrow(draw, (float(centre[0]), float(centre[1])), (float(tip[0]), float(tip[1])), b.color)
    if b.severity is not None:
        r = 0.5 * float(np.hypot(b.box[3], b.box[4])) * config.px_per_m + 6
        ring = (float(centre[0]) - r, float(centre[1]) - r, float(centre[0]) + r, float(centre[1]) + r)
        draw.ellipse(ring, outline=SEVERITY_COLORS[b.severity], width=3)
    name = short_id(b.track_id)
    label(draw, (float(px[:, 0].max()) + 3, float(px[:, 1].min()) - 2), f"{name} {b.label}", b.color, 12)


def render_bev(
    points: npt.ArrayLike,
    boxes: Sequence[DrawBox],
    config: BevConfig | None = None,
    *,
    title: str = "",
    notes: Sequence[tuple[str, tuple[int, int, int]]] = (),
) -> Image.Image:
    """Draw one bird's-eye view (see the module docstring).

    Parameters
    ----------
    points : array_like of shape (N, 3), float32, ego frame [m]
        Points to draw, coloured by height.
    boxes : sequence of DrawBox
        Boxes in the ego frame (:func:`engine.render.scene.boxes_at` with ``frame="ego"``).
    config : BevConfig, optional
        View size and styling.
    title : str
        Drawn at the top left.
    notes : sequence of (str, RGB)
        Lines drawn under the title (e.g. findings of the frame), each in its colour.

    Returns
    -------
    PIL.Image.Image
        RGB picture, ``config.size_px`` square.
    """
    cfg = config or BevConfig()
    pts = as_array("points", points, np.float32, (None, 3))
    n = cfg.size_px
    image = Image.new("RGB", (n, n), (12, 12, 16))
    draw = ImageDraw.Draw(image)
    c = n / 2.0
    for r_m in range(10, int(cfg.range_m * 1.5) + 1, 10):
        r = r_m * cfg.px_per_m
        draw.ellipse((c - r, c - r, c + r, c + r), outline=(48, 48, 56), width=1)
    _points(image, pts, cfg)
    draw = ImageDraw.Draw(image)
    for b in boxes:
        _box(draw, b, cfg)
    ego = bev_pixels(np.array([[2.0, 0.0], [-1.0, 1.0], [-1.0, -1.0]]), cfg)
    draw.polygon([(float(u), float(v)) for u, v in ego], fill=(255, 255, 255))
    y = 6.0
    for text, color in ((title, (235, 235, 235)), *notes):
        if text:
            label(draw, (8.0, y), text, color, 15)
            y += 19.0
    return image
