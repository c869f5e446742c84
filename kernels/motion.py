"""Ego-motion compensation: deskew, fuse sensors into one frame, camera transforms at capture time.

Time model: every point has its own capture time ``timestamp_us + time_offset_us[i]`` [µs]; the ego
pose ``world_from_ego`` at that time is interpolated from the trajectory (translation linear,
rotation slerp along the short arc). Out-of-range times follow :class:`OutOfRange`.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import numpy.typing as npt

from kernels._math import transform as tf
from kernels.errors import InvalidInputError
from kernels.validation import as_array, check_poses, check_rigid_transform

__all__ = ["Frame", "OutOfRange", "PoseTrack", "TrajectoryArrays", "pack_rigid", "trajectory_arrays"]

F64 = npt.NDArray[np.float64]


class PoseTrack(Protocol):
    """Anything with a ``world_from_ego`` trajectory as arrays (e.g. ``calibration.Trajectory``)."""

    @property
    def timestamps_us(self) -> npt.NDArray[np.int64]:
        """Strictly increasing timestamps [µs], (T,)."""

    @property
    def translations(self) -> F64:
        """Ego positions in the world frame [m], (T, 3)."""

    @property
    def quaternions_wxyz(self) -> F64:
        """Rotations world_from_ego as unit quaternions (w, x, y, z), (T, 4)."""


class Frame(enum.Enum):
    """Output frame of motion-compensated points."""

    EGO = "ego"
    """The ego frame at the reference time."""
    WORLD = "world"
    """The world frame (float32 output: keep world coordinates near the origin)."""

    @classmethod
    def parse(cls, value: str | Frame) -> Frame:
        """Parse ``"ego"`` or ``"world"``, raising with the accepted names otherwise."""
        if isinstance(value, Frame):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown frame {value!r}; expected one of {[f.value for f in cls]}"
            ) from None


class OutOfRange(enum.Enum):
    """What happens to times outside the trajectory (same names as ``calibration.Extrapolation``)."""

    RAISE = "raise"
    """Raise :class:`~kernels.errors.InvalidInputError` naming the time and the covered range."""
    CLAMP = "clamp"
    """Hold the first or last pose (up to ``max_extrapolation_us`` outside)."""
    CONSTANT_VELOCITY = "constant_velocity"
    """Continue the end segment's linear and angular velocity (up to ``max_extrapolation_us``)."""

    @classmethod
    def parse(cls, value: str | enum.Enum) -> OutOfRange:
        """Parse a policy name (or any enum whose value is one), raising otherwise."""
        raw = value.value if isinstance(value, enum.Enum) else value
        try:
            return cls(raw)
        except ValueError:
            raise InvalidInputError(
                f"unknown extrapolation {value!r}; expected one of {[e.value for e in cls]}"
            ) from None


@dataclass(frozen=True, slots=True)
class TrajectoryArrays:
    """A validated trajectory ready for the kernels (``T >= 2``: one pose is duplicated)."""

    timestamps_us: npt.NDArray[np.int64]
    translations: F64
    quaternions_wxyz: F64
    policy: OutOfRange
    max_extrapolation_us: int

    @property
    def clamp(self) -> bool:
        """True when out-of-range times hold the end pose."""
        return self.policy is OutOfRange.CLAMP

    def check_times(self, name: str, lo: int, hi: int) -> None:
        """Raise when times in ``[lo, hi]`` [µs] lie outside what the policy allows, naming ``name``."""
        start, end = int(self.timestamps_us[0]), int(self.timestamps_us[-1])
        allowed = 0 if self.policy is OutOfRange.RAISE else self.max_extrapolation_us
        worst = max(start - lo, hi - end)
        if worst > allowed:
            bad = lo if start - lo >= hi - end else hi
            raise InvalidInputError(
                f"{name} value {bad} lies {worst} µs outside the trajectory range [{start}, {end}] "
                f"(extrapolation {self.policy.value!r}, max_extrapolation_us {self.max_extrapolation_us})"
            )

    def pose(self, t_us: int) -> tuple[F64, F64]:
        """Interpolated ``world_from_ego`` at one time: translation (3,) and quaternion wxyz (4,)."""
        px, py, pz, qw, qx, qy, qz = tf.pose_at(
            self.timestamps_us, self.translations, self.quaternions_wxyz, int(t_us), self.clamp
        )
        return np.array([px, py, pz]), np.array([qw, qx, qy, qz])


def trajectory_arrays(
    trajectory: PoseTrack, extrapolation: str | enum.Enum = "raise", max_extrapolation_us: int = 500_000
) -> TrajectoryArrays:
    """Validate a trajectory once and pack it for the kernels.

    Parameters
    ----------
    trajectory : PoseTrack
        ``world_from_ego`` poses: ``timestamps_us`` (T,) int64 strictly increasing [µs],
        ``translations`` (T, 3) float64 [m], ``quaternions_wxyz`` (T, 4) float64 unit.
    extrapolation : {"raise", "clamp", "constant_velocity"}
        Policy for times outside ``[timestamps_us[0], timestamps_us[-1]]``.
    max_extrapolation_us : int
        For ``clamp`` and ``constant_velocity``: the furthest a time may lie outside [µs].

    Returns
    -------
    TrajectoryArrays
    """
    ts, p, q = check_poses(
        "trajectory.", trajectory.timestamps_us, trajectory.translations, trajectory.quaternions_wxyz
    )
    if isinstance(max_extrapolation_us, bool) or not isinstance(max_extrapolation_us, int | np.integer):
        raise InvalidInputError(f"max_extrapolation_us must be an integer [µs], got {max_extrapolation_us!r}")
    if max_extrapolation_us < 0:
        raise InvalidInputError(f"max_extrapolation_us must be >= 0, got {max_extrapolation_us}")
    if ts.size == 1:  # one pose: a constant trajectory (both segment ends equal)
        ts, p, q = np.array([ts[0], ts[0] + 1]), np.repeat(p, 2, 0), np.repeat(q, 2, 0)
    return TrajectoryArrays(ts, p, q, OutOfRange.parse(extrapolation), int(max_extrapolation_us))


def pack_rigid(name: str, matrices: Any, count: int | None = None) -> F64:
    """Validate rigid ``(4, 4)`` or ``(C, 4, 4)`` transforms and pack them as ``(C, 12)`` ``[R | t]`` rows."""
    m = np.asarray(matrices, dtype=np.float64) if not isinstance(matrices, np.ndarray) else matrices
    if m.ndim == 2:
        m = m[None]
    m = as_array(name, m, np.float64, (count, 4, 4))
    for c in range(m.shape[0]):
        check_rigid_transform(f"{name}[{c}]" if m.shape[0] > 1 else name, m[c])
    return np.ascontiguousarray(m[:, :3, :4].reshape(m.shape[0], 12))


def check_time(name: str, value: Any) -> int:
    """Return ``value`` as an int timestamp [µs] or raise naming ``name``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise InvalidInputError(f"{name} must be an integer [µs], got {value!r}")
    return int(value)


def frame_params(traj: TrajectoryArrays, ref_time_us: int, frame: Frame) -> F64:
    """The 10 output-frame numbers of :func:`kernels._math.transform.deskew_point`."""
    p_ref, q_ref = traj.pose(ref_time_us)
    if frame is Frame.EGO:
        return np.concatenate([q_ref * [1.0, -1.0, -1.0, -1.0], p_ref, np.zeros(3)])
    if frame is Frame.WORLD:
        return np.concatenate([[1.0, 0.0, 0.0, 0.0], p_ref, p_ref])
    raise InvalidInputError(f"unknown frame {frame!r}; expected one of {[f.value for f in Frame]}")


def camera_from_points_at(
    camera_from_ego: Any,
    capture_time_us: Any,
    trajectory: PoseTrack,
    *,
    ref_time_us: int,
    frame: str | Frame = "ego",
    extrapolation: str | enum.Enum = "raise",
    max_extrapolation_us: int = 500_000,
) -> F64:
    """Per-camera transforms that take points of one reference time into each camera at its capture time.

    A point fixed in the world, expressed in the ego frame at ``ref_time_us``, is seen by camera ``c``
    at ``camera_from_ego[c] @ ego(t_c)_from_world @ world_from_ego(t_ref)``. Feed the result to
    :func:`kernels.project_to_cameras` as ``camera_from_points``. Rolling shutter is not modelled.

    Parameters
    ----------
    camera_from_ego : array_like of shape (C, 4, 4), float64
        Inverse extrinsics of each camera (ego frame -> camera optical frame).
    capture_time_us : array_like of shape (C,), int64
        Capture (mid-exposure) time of each camera [µs].
    trajectory : PoseTrack
        ``world_from_ego`` poses.
    ref_time_us : int
        Time of the ego frame the points are expressed in [µs] (ignored for ``frame="world"``).
    frame : {"ego", "world"}
        Frame of the points to project.
    extrapolation, max_extrapolation_us
        Out-of-range policy, see :func:`trajectory_arrays`.

    Returns
    -------
    ndarray of shape (C, 4, 4), float64
        ``camera_from_points`` per camera.
    """
    traj = trajectory_arrays(trajectory, extrapolation, max_extrapolation_us)
    packed = pack_rigid("camera_from_ego", camera_from_ego)
    n = packed.shape[0]
    times = as_array("capture_time_us", capture_time_us, np.int64, (n,))
    ref = check_time("ref_time_us", ref_time_us)
    which = Frame.parse(frame)
    if n:
        traj.check_times("capture_time_us", int(times.min()), int(times.max()))
    if which is Frame.EGO:
        traj.check_times("ref_time_us", ref, ref)
        p_ref, q_ref = traj.pose(ref)
    else:
        p_ref, q_ref = np.zeros(3), np.array([1.0, 0.0, 0.0, 0.0])
    out = np.zeros((n, 4, 4))
    out[:, 3, 3] = 1.0
    for c in range(n):
        p_c, q_c = traj.pose(int(times[c]))
        # ego(t_c)_from_points = R_c^T R_ref | R_c^T (p_ref - p_c): relative first, for precision
        rel = np.empty((4, 4))
        rel[3] = [0.0, 0.0, 0.0, 1.0]
        for k, e in enumerate(np.eye(3)):
            rel[:3, k] = tf.quat_rotate(q_c[0], -q_c[1], -q_c[2], -q_c[3], *tf.quat_rotate(*q_ref, *e))
        rel[:3, 3] = tf.quat_rotate(q_c[0], -q_c[1], -q_c[2], -q_c[3], *(p_ref - p_c))
        cam = np.eye(4)
        cam[:3, :4] = packed[c].reshape(3, 4)
        out[c] = cam @ rel
    return out
