"""Calibration: rigid transforms, ego trajectories, units, and camera models."""

from calibration.camera import CameraModel
from calibration.camera_formats import camera_from_opencv, camera_from_scale_legacy, camera_from_sfs
from calibration.se3 import (
    OPTICAL_FROM_FORWARD,
    SE3,
    quat_wxyz_to_xyzw,
    quat_wxyz_to_yaw,
    quat_xyzw_to_wxyz,
    yaw_to_quat_wxyz,
)
from calibration.trajectory import Extrapolation, Trajectory, slerp_wxyz
from calibration.units import ns_to_us, seconds_to_us, wrap_angle

__all__ = [
    "OPTICAL_FROM_FORWARD",
    "SE3",
    "CameraModel",
    "Extrapolation",
    "Trajectory",
    "camera_from_opencv",
    "camera_from_scale_legacy",
    "camera_from_sfs",
    "ns_to_us",
    "quat_wxyz_to_xyzw",
    "quat_wxyz_to_yaw",
    "quat_xyzw_to_wxyz",
    "seconds_to_us",
    "slerp_wxyz",
    "wrap_angle",
    "yaw_to_quat_wxyz",
]
