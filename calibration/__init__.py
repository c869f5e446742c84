"""Calibration: rigid transforms, ego trajectories, and camera models."""

from calibration.se3 import SE3, quat_wxyz_to_xyzw, quat_wxyz_to_yaw, quat_xyzw_to_wxyz, yaw_to_quat_wxyz
from calibration.trajectory import Extrapolation, Trajectory, slerp_wxyz

__all__ = [
    "SE3",
    "Extrapolation",
    "Trajectory",
    "quat_wxyz_to_xyzw",
    "quat_wxyz_to_yaw",
    "quat_xyzw_to_wxyz",
    "slerp_wxyz",
    "yaw_to_quat_wxyz",
]

# Camera models (calibration.camera) are exported below once that module exists.
try:
    from calibration.camera import (  # noqa: F401
        CameraModel,
        camera_from_opencv,
        camera_from_sfs,
        camera_from_scale_legacy,
    )

    __all__ += ["CameraModel", "camera_from_opencv", "camera_from_sfs", "camera_from_scale_legacy"]
except ImportError:  # pragma: no cover - only while calibration.camera is being written
    pass
