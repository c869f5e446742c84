"""Moving cuboid paths between the world frame and the (moving) ego frame through the ego trajectory.

A cuboid in the ego frame at time ``t`` is in the world frame ``world_from_ego(t) @ cuboid``:
``centre_world = R(t) centre_ego + p(t)`` and ``q_world = q(t) ⊗ q_ego`` (docs/CONVENTIONS.md §6,
"Changing frame"). Each cuboid uses the pose at its own timestamp, so a static object keeps one world
pose while its ego-frame pose moves.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from calibration.se3 import quat_wxyz_to_xyzw, quat_xyzw_to_wxyz
from calibration.trajectory import Trajectory
from kernels.errors import InvalidInputError
from tracking.paths import CuboidPath, PoseFrame

__all__ = ["to_ego", "to_frame", "to_world"]

F64 = npt.NDArray[np.float64]


def _apply(translations: F64, quaternions_wxyz: F64, centers: F64, rotations_wxyz: F64) -> tuple[F64, F64]:
    """Apply per-row rigid transforms ``(p, q)`` to centres and box rotations."""
    rot = Rotation.from_quat(quat_wxyz_to_xyzw(quaternions_wxyz))
    c = rot.apply(np.array(centers)) + translations  # scipy rejects read-only buffers
    q = quat_xyzw_to_wxyz((rot * Rotation.from_quat(quat_wxyz_to_xyzw(np.array(rotations_wxyz)))).as_quat())
    return np.asarray(c, dtype=np.float64), q


def to_world(path: CuboidPath, world_from_ego: Trajectory) -> CuboidPath:
    """The path in the world frame (unchanged when it already is).

    Parameters
    ----------
    path : CuboidPath
        Cuboids in the ego frame at their own timestamps (or in the world frame).
    world_from_ego : Trajectory
        Ego poses; its extrapolation policy decides timestamps outside its range.

    Returns
    -------
    CuboidPath
        Same timestamps, sizes and confidence; poses in the world frame.
    """
    if path.frame is PoseFrame.WORLD:
        return path
    p, q = world_from_ego.poses_at(path.timestamps_us)
    c, r = _apply(p, q, path.centers, path.rotations_wxyz)
    return CuboidPath(path.timestamps_us, c, path.sizes, r, path.confidence, PoseFrame.WORLD)


def to_ego(path: CuboidPath, world_from_ego: Trajectory) -> CuboidPath:
    """The path in the ego frame at each cuboid's timestamp (unchanged when it already is).

    Parameters
    ----------
    path : CuboidPath
        Cuboids in the world frame (or in the ego frame).
    world_from_ego : Trajectory
        Ego poses; its extrapolation policy decides timestamps outside its range.

    Returns
    -------
    CuboidPath
        Same timestamps, sizes and confidence; poses in the ego frame.
    """
    if path.frame is PoseFrame.EGO:
        return path
    p, q = world_from_ego.poses_at(path.timestamps_us)
    inv = Rotation.from_quat(quat_wxyz_to_xyzw(q)).inv()
    ego_p = -inv.apply(p)
    c, r = _apply(ego_p, quat_xyzw_to_wxyz(inv.as_quat()), path.centers, path.rotations_wxyz)
    return CuboidPath(path.timestamps_us, c, path.sizes, r, path.confidence, PoseFrame.EGO)


def to_frame(path: CuboidPath, frame: PoseFrame, world_from_ego: Trajectory | None) -> CuboidPath:
    """The path in ``frame``; ``world_from_ego`` is required only when the frame changes."""
    if path.frame is frame:
        return path
    if world_from_ego is None:
        raise InvalidInputError(
            f"world_from_ego is required to convert cuboids from the {path.frame.value} frame "
            f"to the {frame.value} frame, got None"
        )
    return to_world(path, world_from_ego) if frame is PoseFrame.WORLD else to_ego(path, world_from_ego)
