"""Camera overlays: cuboids projected into a camera image, edges sampled so that fisheye edges curve.

Each of a cuboid's 12 edges is sampled at ``edge_samples + 1`` points in the world frame, moved into
the camera with ``camera_from_world`` at the capture time and projected with the camera's own model
(:meth:`calibration.camera.CameraModel.project`, every distortion model); runs of consecutive valid
samples are drawn as polylines, so an edge bends with the lens and is cut where it leaves the model's
valid field of view or passes behind the camera. The front face is drawn thicker. Frames without
pixels get a dark background with the lidar points projected and coloured by depth.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image, ImageDraw

from calibration.camera import CameraModel
from calibration.se3 import SE3
from engine.render.colors import SEVERITY_COLORS, ramp
from engine.render.draw import label, short_id, splat
from engine.render.scene import DrawBox
from kernels.errors import InvalidInputError

__all__ = ["CameraConfig", "cuboid_polylines", "load_image", "render_camera"]

F64 = npt.NDArray[np.float64]

# Corner order: bit 0 = front (+x), bit 1 = left (+y), bit 2 = top (+z).
_SIGNS = np.array(
    [[1 if i & 1 else -1, 1 if i & 2 else -1, 1 if i & 4 else -1] for i in range(8)], np.float64
)
_EDGES = [(a, b) for a in range(8) for b in range(a + 1, 8) if bin(a ^ b).count("1") == 1]
_FRONT = {(a, b) for a, b in _EDGES if a & 1 and b & 1}


@dataclass(frozen=True, slots=True)
class CameraConfig:
    """Styling of camera overlays.

    Parameters
    ----------
    scale : float
        Output size relative to the camera's image size.
    edge_samples : int
        Segments per cuboid edge (more: smoother curves on fisheye lenses).
    near_m : float
        Samples closer than this in front of the camera [m] are not drawn.
    max_depth_m : float
        Depth [m] at the far end of the point colour ramp.
    points_on_images : bool
        Also draw lidar points over real images (always drawn where there are no pixels).
    """

    scale: float = 0.5
    edge_samples: int = 16
    near_m: float = 0.2
    max_depth_m: float = 60.0
    points_on_images: bool = False

    def __post_init__(self) -> None:
        if not 0 < self.scale <= 4 or self.edge_samples < 1:
            raise InvalidInputError(
                f"CameraConfig.scale must lie in (0, 4] and edge_samples >= 1, "
                f"got {self.scale} and {self.edge_samples}"
            )


def _corners_world(box: F64) -> F64:
    c, s = np.cos(box[6]), np.sin(box[6])
    local = _SIGNS * (box[3:6] / 2.0)
    rot = np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])
    return np.asarray(local @ rot.T + box[:3], np.float64)


def _runs(uv: F64, ok: npt.NDArray[np.bool_]) -> list[F64]:
    """Maximal runs of consecutive valid samples (at least 2 samples each)."""
    out, start = [], None
    for i, good in enumerate([*ok.tolist(), False]):
        if good and start is None:
            start = i
        elif not good and start is not None:
            if i - start >= 2:
                out.append(uv[start:i])
            start = None
    return out


def cuboid_polylines(
    box: npt.ArrayLike,
    camera: CameraModel,
    camera_from_world: SE3,
    edge_samples: int = 16,
    near_m: float = 0.2,
) -> list[tuple[F64, bool]]:
    """Projected edges of one cuboid as pixel polylines.

    Parameters
    ----------
    box : array_like of shape (7,), world frame
        ``[x, y, z, length, width, height, yaw]`` [m, rad].
    camera : CameraModel
        Intrinsics (any model).
    camera_from_world : SE3
        World -> camera optical frame at the capture time.
    edge_samples : int
        Segments per edge.
    near_m : float
        Minimum depth of a drawn sample [m].

    Returns
    -------
    list of (ndarray of shape (K, 2), bool)
        Polylines in full-resolution pixels, each with whether it belongs to the front face.
    """
    corners = _corners_world(np.asarray(box, np.float64))
    alpha = np.linspace(0.0, 1.0, edge_samples + 1)[:, None]
    out: list[tuple[F64, bool]] = []
    pts = np.concatenate([corners[a] + alpha * (corners[b] - corners[a]) for a, b in _EDGES])
    cam = camera_from_world.transform_points(pts)
    uv, _, valid = camera.project(cam)
    ok = valid & (cam[:, 2] > near_m)
    n = edge_samples + 1
    for e, edge in enumerate(_EDGES):
        sl = slice(e * n, (e + 1) * n)
        out += [(run, edge in _FRONT) for run in _runs(uv[sl], ok[sl])]
    return out


def load_image(path: str | Path, size: tuple[int, int]) -> Image.Image:
    """Open an image as RGB, resized to ``size`` (width, height)."""
    try:
        with Image.open(path) as im:
            return im.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    except OSError as exc:
        raise InvalidInputError(f"cannot read camera image {str(path)!r}: {exc}") from exc


def render_camera(
    camera: CameraModel,
    camera_from_world: SE3,
    boxes: Sequence[DrawBox],
    *,
    image: Image.Image | None = None,
    points_world: npt.ArrayLike | None = None,
    config: CameraConfig | None = None,
    title: str = "",
) -> Image.Image:
    """Draw world-frame cuboids (and optionally points) over one camera frame.

    Parameters
    ----------
    camera : CameraModel
        The camera's intrinsics.
    camera_from_world : SE3
        World -> camera optical frame at the capture time.
    boxes : sequence of DrawBox
        Boxes in the world frame at the capture time (:func:`engine.render.scene.boxes_at`).
    image : PIL.Image.Image, optional
        The photo, already at the output size; a dark background when None.
    points_world : array_like of shape (N, 3), optional
        Lidar points in the world frame [m], coloured by depth.
    config : CameraConfig, optional
        Styling.
    title : str
        Drawn at the top left.

    Returns
    -------
    PIL.Image.Image
        RGB, ``scale`` times the camera's image size.
    """
    cfg = config or CameraConfig()
    w, h = max(1, round(camera.width * cfg.scale)), max(1, round(camera.height * cfg.scale))
    canvas = image.copy() if image is not None else Image.new("RGB", (w, h), (14, 14, 18))
    if canvas.size != (w, h):
        canvas = canvas.resize((w, h), Image.Resampling.BILINEAR)
    if points_world is not None and (image is None or cfg.points_on_images):
        pts = camera_from_world.transform_points(np.asarray(points_world, np.float64))
        ahead = pts[:, 2] > cfg.near_m
        uv, depth, ok = camera.project(pts[ahead])
        order = np.argsort(-depth[ok])  # near points drawn last
        uvk = uv[ok][order] * cfg.scale
        splat(canvas, uvk[:, 0], uvk[:, 1], ramp(depth[ok][order], 0.0, cfg.max_depth_m), 2)
    draw = ImageDraw.Draw(canvas)
    for b in boxes:
        lines = cuboid_polylines(b.box, camera, camera_from_world, cfg.edge_samples, cfg.near_m)
        if not lines:
            continue
        for run, front in lines:
            draw.line(
                [(float(u), float(v)) for u, v in run * cfg.scale], fill=b.color, width=3 if front else 2
            )
        every = np.concatenate([run for run, _ in lines]) * cfg.scale
        every = every[(every[:, 0] >= 0) & (every[:, 0] < w) & (every[:, 1] >= 0) & (every[:, 1] < h)]
        if every.shape[0] == 0:
            continue
        top = every[np.argmin(every[:, 1])]
        x, y = float(np.clip(top[0], 0, w - 80)), float(np.clip(top[1] - 16, 0, h - 16))
        color = SEVERITY_COLORS[b.severity] if b.severity else b.color
        label(draw, (x, y), f"{short_id(b.track_id)} {b.label}", color, 12)
    if title:
        label(draw, (8.0, 6.0), title, (235, 235, 235), 15)
    return canvas
