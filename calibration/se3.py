"""Rigid transforms (SE(3)) and quaternion conversions.

Conventions (docs/CONVENTIONS.md): a transform is named ``a_from_b`` and maps coordinates in frame ``b`` to
frame ``a``; ``world_from_sensor = world_from_ego @ ego_from_sensor``. Quaternions in the Python API are
scalar-first ``(w, x, y, z)``; SFS and scipy are scalar-last, converted with :func:`quat_wxyz_to_xyzw` and
:func:`quat_xyzw_to_wxyz` at the boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.spatial.transform import Rotation

from calibration.units import wrap_angle
from kernels.errors import InvalidInputError
from kernels.validation import as_array, check_unit_quaternions

__all__ = [
    "OPTICAL_FROM_FORWARD",
    "SE3",
    "quat_wxyz_to_xyzw",
    "quat_xyzw_to_wxyz",
    "yaw_to_quat_wxyz",
    "quat_wxyz_to_yaw",
]

F64 = npt.NDArray[np.float64]

#: Rotation from a z-up frame with x forward, y left (``ego``, or a box) to the optical frame of a camera
#: looking along its +x: x right, y down, z forward (docs/CONVENTIONS.md §1). Read-only.
OPTICAL_FROM_FORWARD: F64 = np.array([[0.0, -1.0, 0.0], [0.0, 0.0, -1.0], [1.0, 0.0, 0.0]])
OPTICAL_FROM_FORWARD.flags.writeable = False


def quat_wxyz_to_xyzw(q: npt.ArrayLike) -> F64:
    """Reorder scalar-first ``(..., 4)`` quaternions ``(w, x, y, z)`` to scalar-last ``(x, y, z, w)``."""
    a = np.asarray(q, dtype=np.float64)
    return np.concatenate([a[..., 1:], a[..., :1]], axis=-1)


def quat_xyzw_to_wxyz(q: npt.ArrayLike) -> F64:
    """Reorder scalar-last ``(..., 4)`` quaternions ``(x, y, z, w)`` to scalar-first ``(w, x, y, z)``."""
    a = np.asarray(q, dtype=np.float64)
    return np.concatenate([a[..., 3:], a[..., :3]], axis=-1)


def yaw_to_quat_wxyz(yaw: npt.ArrayLike) -> F64:
    """Quaternions ``(..., 4)`` (w, x, y, z) of rotations by ``yaw`` [rad] about +z."""
    y = np.asarray(yaw, dtype=np.float64)
    out = np.zeros(y.shape + (4,))
    out[..., 0] = np.cos(y / 2)
    out[..., 3] = np.sin(y / 2)
    return out


def quat_wxyz_to_yaw(q: npt.ArrayLike) -> F64:
    """Heading [rad, in [-pi, pi)] of the rotated +x axis on the xy plane, for ``(..., 4)`` (w, x, y, z)."""
    a = np.asarray(q, dtype=np.float64)
    w, x, y, z = a[..., 0], a[..., 1], a[..., 2], a[..., 3]
    return np.asarray(wrap_angle(np.arctan2(2.0 * (w * z + x * y), 1.0 - 2.0 * (y * y + z * z))))


@dataclass(frozen=True, slots=True)
class SE3:
    """A rigid transform ``a_from_b``: ``p_a = rotation @ p_b + translation``.

    Parameters
    ----------
    rotation : ndarray of shape (3, 3), float64
        Proper rotation matrix (orthonormal, determinant +1, checked to 1e-6).
    translation : ndarray of shape (3,), float64
        Translation [m], the origin of frame b expressed in frame a.
    """

    rotation: F64
    translation: F64

    def __post_init__(self) -> None:
        r = as_array("rotation", self.rotation, np.float64, (3, 3))
        t = as_array("translation", self.translation, np.float64, (3,))
        err = np.abs(r @ r.T - np.eye(3)).max()
        if err > 1e-6 or np.linalg.det(r) < 0:
            raise InvalidInputError(
                f"rotation must be a proper rotation matrix (R R^T = I, det = +1), got {r.tolist()}"
            )
        r = r.copy()
        t = t.copy()
        r.flags.writeable = False
        t.flags.writeable = False
        object.__setattr__(self, "rotation", r)
        object.__setattr__(self, "translation", t)

    # --- factories -------------------------------------------------------------------------------------
    @classmethod
    def identity(cls) -> SE3:
        """The identity transform."""
        return cls(np.eye(3), np.zeros(3))

    @classmethod
    def from_quaternion(cls, quaternion_wxyz: npt.ArrayLike, translation: npt.ArrayLike) -> SE3:
        """Build from a unit quaternion ``(w, x, y, z)`` and a translation [m]."""
        q = as_array("quaternion_wxyz", quaternion_wxyz, np.float64, (4,))
        check_unit_quaternions("quaternion_wxyz", q)
        rot = Rotation.from_quat(quat_wxyz_to_xyzw(q)).as_matrix()
        return cls(rot, np.asarray(translation, dtype=np.float64))

    @classmethod
    def from_matrix(cls, matrix: npt.ArrayLike) -> SE3:
        """Build from a homogeneous ``(4, 4)`` matrix whose last row is ``[0, 0, 0, 1]``."""
        m = as_array("matrix", matrix, np.float64, (4, 4))
        if not np.allclose(m[3], [0.0, 0.0, 0.0, 1.0], atol=1e-9):
            raise InvalidInputError(f"matrix last row must be [0, 0, 0, 1], got {m[3].tolist()}")
        return cls(m[:3, :3], m[:3, 3])

    @classmethod
    def from_yaw(cls, yaw: float, translation: npt.ArrayLike) -> SE3:
        """Rotation by ``yaw`` [rad] about +z followed by ``translation`` [m]."""
        return cls.from_quaternion(yaw_to_quat_wxyz(yaw), translation)

    # --- views -----------------------------------------------------------------------------------------
    @property
    def matrix(self) -> F64:
        """The homogeneous ``(4, 4)`` matrix."""
        m = np.eye(4)
        m[:3, :3] = self.rotation
        m[:3, 3] = self.translation
        return m

    @property
    def quaternion_wxyz(self) -> F64:
        """The rotation as a unit quaternion ``(w, x, y, z)`` with ``w >= 0``."""
        q = quat_xyzw_to_wxyz(Rotation.from_matrix(self.rotation).as_quat())
        return q if q[0] >= 0 else -q

    # --- algebra ---------------------------------------------------------------------------------------
    def __matmul__(self, other: SE3) -> SE3:
        """Compose: ``(a_from_b @ b_from_c)`` is ``a_from_c``."""
        if not isinstance(other, SE3):
            return NotImplemented
        return SE3(self.rotation @ other.rotation, self.rotation @ other.translation + self.translation)

    def inverse(self) -> SE3:
        """The inverse transform: ``a_from_b.inverse()`` is ``b_from_a``."""
        rt = self.rotation.T
        return SE3(rt, -rt @ self.translation)

    def transform_points(self, points: npt.ArrayLike) -> npt.NDArray[Any]:
        """Map ``(N, 3)`` points from frame b to frame a; float32 stays float32 (computed in float64)."""
        p = np.asarray(points)
        if p.ndim != 2 or p.shape[1] != 3:
            raise InvalidInputError(f"points must have shape (N, 3), got {p.shape}")
        out = p.astype(np.float64) @ self.rotation.T + self.translation
        return out.astype(p.dtype) if p.dtype == np.float32 else out

    def isclose(self, other: SE3, atol: float = 1e-9) -> bool:
        """Whether two transforms agree element-wise within ``atol`` (``==`` is exact)."""
        return bool(
            np.allclose(self.rotation, other.rotation, atol=atol)
            and np.allclose(self.translation, other.translation, atol=atol)
        )

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, SE3):
            return NotImplemented
        return bool(
            np.array_equal(self.rotation, other.rotation)
            and np.array_equal(self.translation, other.translation)
        )

    def __hash__(self) -> int:
        return hash((self.rotation.tobytes(), self.translation.tobytes()))

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form ``{"translation": [x, y, z], "rotation": 3x3 rows}`` (exact round trip)."""
        return {
            "translation": [float(v) for v in self.translation],
            "rotation": [[float(v) for v in row] for row in self.rotation],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> SE3:
        """Inverse of :meth:`to_dict`; also accepts ``{"translation", "rotation_wxyz"}``."""
        if "rotation_wxyz" in data:
            return cls.from_quaternion(data["rotation_wxyz"], data["translation"])
        return cls(np.asarray(data["rotation"], dtype=np.float64), np.asarray(data["translation"]))
