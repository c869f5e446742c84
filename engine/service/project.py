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

from calibration.se3 import SE3, yaw_to_quat_wxyz
from engine.log import Log
from engine.shared_frame import LogProjection, project_points
from kernels.errors import InvalidInputError
from kernels.projection import DenseProjection
from kernels.validation import as_array, check_unit_quaternions
from tracking import PoseFrame

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


def cuboid_corners(
    centers: npt.NDArray[np.float64], sizes: npt.NDArray[np.float64], rotations_wxyz: npt.NDArray[np.float64]
) -> npt.NDArray[np.float32]:
    """The eight corners of every cuboid, (K, 8, 3) float32, in the cuboids' frame [m]."""
    out = np.empty((centers.shape[0], 8, 3), np.float32)
    for i in range(centers.shape[0]):
        pose = SE3.from_quaternion(rotations_wxyz[i], centers[i])
        out[i] = pose.transform_points(_UNIT * sizes[i])
    return out


def project_cuboids(
    log: Log,
    timestamps_us: npt.ArrayLike,
    centers: npt.ArrayLike,
    sizes: npt.ArrayLike,
    *,
    rotations_wxyz: npt.ArrayLike | None = None,
    yaws: npt.ArrayLike | None = None,
    frame: PoseFrame = PoseFrame.WORLD,
    camera_ids: Sequence[str] | None = None,
    max_gap_us: int = 100_000,
) -> list[Footprint]:
    """Footprints of cuboids (each at its own timestamp; timestamps may repeat) in the log's cameras.

    Parameters
    ----------
    log : Log
        Supplies the cameras, their captures and the ego trajectory.
    timestamps_us : array_like of shape (K,), int64
        Time of each cuboid [µs], any order.
    centers, sizes : array_like of shape (K, 3), float64
        Box centres and ``(length, width, height)`` [m].
    rotations_wxyz : array_like of shape (K, 4), optional
        Unit quaternions (w, x, y, z); give this or ``yaws``.
    yaws : array_like of shape (K,), optional
        Headings about +z [rad].
    frame : PoseFrame
        World, or the ego frame at each cuboid's timestamp.
    camera_ids : sequence of str, optional
        Cameras to use (default: every camera).
    max_gap_us : int
        Cameras without a capture this close to a cuboid's timestamp are skipped for it.

    Returns
    -------
    list of Footprint
        Ordered by cuboid, then camera id.
    """
    t = as_array("timestamps_us", timestamps_us, np.int64, (None,))
    k = t.size
    c = as_array("centers", centers, np.float64, (k, 3))
    s = as_array("sizes", sizes, np.float64, (k, 3))
    if np.any(s <= 0):
        raise InvalidInputError(f"sizes must be > 0: row {int(np.argwhere(s <= 0)[0][0])}")
    if (rotations_wxyz is None) == (yaws is None):
        raise InvalidInputError("give exactly one of rotations_wxyz and yaws")
    if rotations_wxyz is not None:
        q = as_array("rotations_wxyz", rotations_wxyz, np.float64, (k, 4))
        check_unit_quaternions("rotations_wxyz", q)
    else:
        q = yaw_to_quat_wxyz(as_array("yaws", yaws, np.float64, (k,))).reshape(k, 4)
    if not isinstance(frame, PoseFrame):
        raise InvalidInputError(f"unknown frame {frame!r}; expected one of {list(PoseFrame)}")
    corners = cuboid_corners(c, s, q)
    found: list[Footprint] = []
    for time_us in np.unique(t).tolist():
        rows = np.flatnonzero(t == time_us)
        proj = project_points(
            log,
            corners[rows].reshape(-1, 3),
            ref_time_us=int(time_us),
            frame=frame.value,
            camera_ids=camera_ids,
            max_gap_us=max_gap_us,
            output="dense",
            backend="cpu",
        )
        found.extend(_footprints(log, proj, rows))
    return sorted(found, key=lambda f: (f.cuboid, f.camera_id))


def _footprints(log: Log, proj: LogProjection, rows: npt.NDArray[np.int64]) -> list[Footprint]:
    dense = proj.projection
    if not isinstance(dense, DenseProjection):  # pragma: no cover - output="dense"
        raise InvalidInputError("expected a dense projection")
    out = []
    for ci, cid in enumerate(proj.camera_ids):
        camera = log.sensors[cid].camera
        if camera is None:  # pragma: no cover - Sensor guarantees a model for cameras
            continue
        depth = np.asarray(dense.depth[ci], np.float64).reshape(-1, 8)
        u = np.asarray(dense.u[ci], np.float64).reshape(-1, 8)
        v = np.asarray(dense.v[ci], np.float64).reshape(-1, 8)
        valid = np.asarray(dense.valid[ci]).reshape(-1, 8)
        for j, row in enumerate(rows.tolist()):
            front = (depth[j] > 0) & np.isfinite(u[j]) & np.isfinite(v[j])
            if not front.any():
                continue
            u0, u1 = np.clip([u[j][front].min(), u[j][front].max()], 0.0, camera.width)
            v0, v1 = np.clip([v[j][front].min(), v[j][front].max()], 0.0, camera.height)
            if u1 <= u0 or v1 <= v0:
                continue
            box = (float(u0), float(v0), float(u1), float(v1))
            t_cap = int(proj.capture_time_us[ci])
            out.append(
                Footprint(
                    row, cid, t_cap, box, int(front.sum()), int(valid[j].sum()), float(depth[j][front].min())
                )
            )
    return out
