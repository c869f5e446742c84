"""Timestamped poses and pose interpolation (``world_from_ego`` over time).

A :class:`Trajectory` holds poses at strictly increasing int64 microsecond timestamps. The pose at any time
is the linear interpolation of the translations and the spherical linear interpolation (short arc) of the
rotations of the two bracketing poses. Outside the covered range the :class:`Extrapolation` policy decides:
raise, hold the end pose, or continue at the end segment's constant linear and angular velocity, the last
two for at most ``max_extrapolation_us``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.se3 import SE3, quat_wxyz_to_xyzw
from kernels.errors import InvalidInputError
from kernels.motion import OutOfRange
from kernels.validation import as_array, check_poses

__all__ = ["Extrapolation", "Trajectory", "slerp_wxyz"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


Extrapolation = OutOfRange
"""What :meth:`Trajectory.poses_at` does outside the covered range: ``RAISE``, ``CLAMP`` or
``CONSTANT_VELOCITY``. The one policy enum, defined beside the kernels (:class:`kernels.motion.OutOfRange`)
so the deskew and projection kernels apply the same policy without importing calibration."""


def slerp_wxyz(q0: F64, q1: F64, alpha: F64) -> F64:
    """Spherical linear interpolation of unit quaternions (w, x, y, z) along the short arc.

    Parameters
    ----------
    q0, q1 : ndarray of shape (K, 4), float64
        Unit quaternions at ``alpha = 0`` and ``alpha = 1``. Not modified.
    alpha : ndarray of shape (K,), float64
        Interpolation weight; values outside [0, 1] extrapolate along the same great circle.

    Returns
    -------
    ndarray of shape (K, 4), float64
        Unit quaternions.
    """
    dot = np.sum(q0 * q1, axis=-1)
    q1 = np.where(dot[:, None] < 0.0, -q1, q1)  # short arc: q and -q are the same rotation
    dot = np.abs(dot)
    theta = np.arccos(np.clip(dot, -1.0, 1.0))
    sin_theta = np.sin(theta)
    small = sin_theta < 1e-9
    safe = np.where(small, 1.0, sin_theta)
    w0 = np.where(small, 1.0 - alpha, np.sin((1.0 - alpha) * theta) / safe)
    w1 = np.where(small, alpha, np.sin(alpha * theta) / safe)
    out = w0[:, None] * q0 + w1[:, None] * q1
    return np.asarray(out / np.linalg.norm(out, axis=-1, keepdims=True))


@dataclass(frozen=True, slots=True)
class Trajectory:
    """Poses ``world_from_ego`` (or any ``a_from_b``) at strictly increasing timestamps.

    Parameters
    ----------
    timestamps_us : ndarray of shape (T,), int64
        Strictly increasing timestamps [µs]. ``T >= 1``.
    translations : ndarray of shape (T, 3), float64
        Positions [m] of the ego origin in the world frame.
    quaternions_wxyz : ndarray of shape (T, 4), float64
        Unit quaternions (w, x, y, z) of the rotation world_from_ego.
    extrapolation : Extrapolation
        Policy outside ``[timestamps_us[0], timestamps_us[-1]]``.
    max_extrapolation_us : int
        For CLAMP and CONSTANT_VELOCITY: the furthest a query may lie outside the range [µs]; beyond it
        the query raises.
    """

    timestamps_us: I64
    translations: F64
    quaternions_wxyz: F64
    extrapolation: Extrapolation = Extrapolation.CONSTANT_VELOCITY
    max_extrapolation_us: int = 500_000

    def __post_init__(self) -> None:
        t, p, q = check_poses("", self.timestamps_us, self.translations, self.quaternions_wxyz)
        if not isinstance(self.extrapolation, Extrapolation):
            raise InvalidInputError(
                f"extrapolation must be an Extrapolation, got {self.extrapolation!r}; "
                f"expected one of {[e.value for e in Extrapolation]}"
            )
        if self.max_extrapolation_us < 0:
            raise InvalidInputError(f"max_extrapolation_us must be >= 0, got {self.max_extrapolation_us}")
        for name, arr in (("timestamps_us", t), ("translations", p), ("quaternions_wxyz", q)):
            if arr.flags.writeable:
                arr = arr.copy()
                arr.flags.writeable = False
            object.__setattr__(self, name, arr)

    def __len__(self) -> int:
        return int(self.timestamps_us.size)

    @property
    def start_us(self) -> int:
        """First covered timestamp [µs]."""
        return int(self.timestamps_us[0])

    @property
    def end_us(self) -> int:
        """Last covered timestamp [µs]."""
        return int(self.timestamps_us[-1])

    def poses_at(self, timestamps_us: npt.ArrayLike) -> tuple[F64, F64]:
        """Interpolated poses at the given times.

        Parameters
        ----------
        timestamps_us : array_like of shape (K,) or scalar, int64
            Query times [µs], any order.

        Returns
        -------
        translations : ndarray of shape (K, 3), float64
            Positions [m].
        quaternions_wxyz : ndarray of shape (K, 4), float64
            Unit quaternions (w, x, y, z).
        """
        t = as_array("timestamps_us", np.atleast_1d(np.asarray(timestamps_us)), np.int64, (None,))
        ts = self.timestamps_us
        if len(ts) == 1:
            self._check_range(t)
            return np.repeat(self.translations, t.size, 0), np.repeat(self.quaternions_wxyz, t.size, 0)
        self._check_range(t)
        # Segment i brackets [ts[i], ts[i+1]]; queries outside use the end segments.
        i = np.clip(np.searchsorted(ts, t, side="right") - 1, 0, len(ts) - 2)
        t0, t1 = ts[i], ts[i + 1]
        alpha = (t - t0).astype(np.float64) / (t1 - t0).astype(np.float64)
        if self.extrapolation is Extrapolation.CLAMP:
            alpha = np.clip(alpha, 0.0, 1.0)
        p = self.translations[i] + alpha[:, None] * (self.translations[i + 1] - self.translations[i])
        q = slerp_wxyz(self.quaternions_wxyz[i], self.quaternions_wxyz[i + 1], alpha)
        return p, q

    def pose_at(self, timestamp_us: int) -> SE3:
        """The interpolated pose at one time [µs] as an :class:`~calibration.se3.SE3`."""
        p, q = self.poses_at(np.array([timestamp_us], dtype=np.int64))
        return SE3.from_quaternion(q[0], p[0])

    def matrices_at(self, timestamps_us: npt.ArrayLike) -> F64:
        """Interpolated poses as homogeneous ``(K, 4, 4)`` matrices."""
        from scipy.spatial.transform import Rotation

        p, q = self.poses_at(timestamps_us)
        m = np.zeros((p.shape[0], 4, 4))
        m[:, :3, :3] = Rotation.from_quat(quat_wxyz_to_xyzw(q)).as_matrix()
        m[:, :3, 3] = p
        m[:, 3, 3] = 1.0
        return m

    def with_extrapolation(self, extrapolation: Extrapolation, max_extrapolation_us: int) -> Trajectory:
        """A copy with another out-of-range policy."""
        return Trajectory(
            self.timestamps_us,
            self.translations,
            self.quaternions_wxyz,
            extrapolation,
            max_extrapolation_us,
        )

    @classmethod
    def from_matrices(
        cls, timestamps_us: npt.ArrayLike, matrices: npt.ArrayLike, **kwargs: object
    ) -> Trajectory:
        """Build from ``(T, 4, 4)`` homogeneous matrices (rotations re-orthonormalised by scipy)."""
        from scipy.spatial.transform import Rotation

        from calibration.se3 import quat_xyzw_to_wxyz

        m = as_array("matrices", matrices, np.float64, (None, 4, 4))
        q = quat_xyzw_to_wxyz(Rotation.from_matrix(m[:, :3, :3]).as_quat())
        return cls(np.asarray(timestamps_us), m[:, :3, 3].copy(), q, **kwargs)  # type: ignore[arg-type]

    def _check_range(self, t: I64) -> None:
        lo, hi = self.start_us, self.end_us
        outside = np.maximum(lo - t, t - hi)
        worst = int(outside.max()) if outside.size else 0
        if worst <= 0:
            return
        if self.extrapolation is Extrapolation.RAISE or worst > self.max_extrapolation_us:
            j = int(np.argmax(outside))
            raise InvalidInputError(
                f"timestamps_us value {int(t[j])} lies {worst} µs outside the trajectory range "
                f"[{lo}, {hi}] (policy {self.extrapolation.value}, max_extrapolation_us "
                f"{self.max_extrapolation_us})"
            )
