"""Cuboids -> per-camera 2D footprints at each camera's capture time (for linking 3D tracks to images).

Each cuboid's eight corners are projected with :func:`engine.shared_frame.project_points` (every
camera at its capture nearest the cuboid's timestamp, ego motion between the two times applied). The
footprint is the axis-aligned rectangle around the corners in front of the camera, clipped to the
image; a cuboid with no corner in front, or whose rectangle misses the image, has no footprint there.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.se3 import SE3
from engine.log import Log
from engine.shared_frame import project_points
from kernels.projection import DenseProjection
from tracking import CuboidPath

__all__ = ["Footprint", "cuboid_corners", "project_cuboids"]

_UNIT = np.array([[x, y, z] for x in (0.5, -0.5) for y in (0.5, -0.5) for z in (0.5, -0.5)], np.float64)


@dataclass(frozen=True, slots=True)
class Footprint:
    """One cuboid seen by one camera.

    Attributes
    ----------
    cuboid : int
        Row of the cuboid in the request.
    camera_id : str
        The camera.
    capture_time_us : int
        Timestamp of the camera capture used [µs].
    box : tuple of 4 float
        ``(u_min, v_min, u_max, v_max)`` [px], clipped to the image.
    corners_in_front : int
        Corners with positive depth (8: the whole box is in front of the camera).
    corners_in_image : int
        Corners the camera model projects validly inside the image.
    min_depth_m : float
        Nearest corner depth [m].
    """

    cuboid: int
    camera_id: str
    capture_time_us: int
    box: tuple[float, float, float, float]
    corners_in_front: int
    corners_in_image: int
    min_depth_m: float


def cuboid_corners(path: CuboidPath) -> npt.NDArray[np.float32]:
    """The eight corners of every cuboid, (8 K, 3) float32, in the path's frame [m]."""
    out = np.empty((len(path) * 8, 3), np.float32)
    for i in range(len(path)):
        pose = SE3.from_quaternion(path.rotations_wxyz[i], path.centers[i])
        out[i * 8 : i * 8 + 8] = pose.transform_points(_UNIT * path.sizes[i])
    return out


def project_cuboids(
    log: Log, path: CuboidPath, *, camera_ids: Sequence[str] | None = None, max_gap_us: int = 100_000
) -> list[Footprint]:
    """Footprints of every cuboid of ``path`` (each at its own timestamp) in the log's cameras.

    Parameters
    ----------
    log : Log
        Supplies the cameras, their captures and the ego trajectory.
    path : CuboidPath
        The cuboids, in the world frame or the ego frame at their timestamps.
    camera_ids : sequence of str, optional
        Cameras to use (default: every camera).
    max_gap_us : int
        Cameras without a capture this close to a cuboid's timestamp are skipped for it.

    Returns
    -------
    list of Footprint
        Ordered by cuboid, then camera id.
    """
    corners = cuboid_corners(path)
    out: list[Footprint] = []
    for i, t in enumerate(path.timestamps_us.tolist()):
        proj = project_points(
            log,
            corners[i * 8 : i * 8 + 8],
            ref_time_us=int(t),
            frame=path.frame.value,
            camera_ids=camera_ids,
            max_gap_us=max_gap_us,
            output="dense",
            backend="cpu",
        )
        dense = proj.projection
        assert isinstance(dense, DenseProjection)  # output="dense"
        for c, cid in enumerate(proj.camera_ids):
            camera = log.sensors[cid].camera
            if camera is None:  # pragma: no cover - Sensor guarantees a model for cameras
                continue
            depth = np.asarray(dense.depth[c], np.float64)
            u, v = np.asarray(dense.u[c], np.float64), np.asarray(dense.v[c], np.float64)
            front = (depth > 0) & np.isfinite(u) & np.isfinite(v)
            if not front.any():
                continue
            u0, u1 = np.clip([u[front].min(), u[front].max()], 0.0, camera.width)
            v0, v1 = np.clip([v[front].min(), v[front].max()], 0.0, camera.height)
            if u1 <= u0 or v1 <= v0:
                continue
            out.append(
                Footprint(
                    i,
                    cid,
                    int(proj.capture_time_us[c]),
                    (float(u0), float(v0), float(u1), float(v1)),
                    int(front.sum()),
                    int(np.asarray(dense.valid[c]).sum()),
                    float(depth[front].min()),
                )
            )
    return out
