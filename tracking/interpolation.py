"""Keyframe interpolation of cuboid tracks: world-frame cubic Hermite positions and slerp rotations.

Method (all in the world frame; ego-frame keyframes are moved there first through ``world_from_ego``):

* **Positions** follow a cubic Hermite spline through the keyframe centres, parametrised by time. The
  tangent (velocity) at an inner keyframe is the derivative of the parabola through it and its two
  neighbours, ``m_i = (h_i s_{i-1} + h_{i-1} s_i) / (h_{i-1} + h_i)`` with ``h`` the time gaps and ``s``
  the secant velocities (non-uniform Catmull–Rom); at the ends the one-sided three-point derivative
  (the secant when there are only two keyframes). Each tangent is then **limited** so the path cannot
  overshoot: zero where the neighbouring secants point against each other (the object stops or turns
  back, ``s_{i-1} · s_i <= 0``), and at most ``3 min(|s_{i-1}|, |s_i|)`` long (the vector form of
  Fritsch–Carlson's monotonicity bound), so a parked stretch stays parked and long gaps do not swing out.
  The path is C¹ (continuous velocity) and passes through every keyframe.
* **Rotations** are slerped between the two bracketing keyframes along the short arc
  (``calibration.slerp_wxyz``), never by interpolating Euler angles, so yaw crosses ±π correctly.
  Keyframe quaternions are first sign-aligned along the track, so the returned quaternions are a
  continuous curve; at a keyframe's own timestamp the stored keyframe is returned exactly.
* **Sizes** (and confidence) are interpolated linearly between the bracketing keyframes: constant when
  the keyframes agree, exact at keyframes.
* Weights are ``alpha = (t - t0) / (t1 - t0)``: 0 at ``t0``, 1 at ``t1``.

Outside the keyframe range the :class:`OutOfRange` policy applies: raise (default) or hold the first or
last cuboid in the world frame.
"""

from __future__ import annotations

import enum

import numpy as np
import numpy.typing as npt

from calibration.trajectory import Trajectory, slerp_wxyz
from kernels.errors import InvalidInputError
from kernels.validation import as_array, check_sorted
from tracking.frames import to_frame
from tracking.paths import CuboidPath, PoseFrame

__all__ = ["OutOfRange", "PositionMethod", "hermite_tangents", "interpolate"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


class OutOfRange(enum.Enum):
    """What :func:`interpolate` does with timestamps before the first or after the last keyframe."""

    RAISE = "raise"
    """Raise :class:`~kernels.errors.InvalidInputError` naming the timestamp and the keyframe range."""
    HOLD = "hold"
    """Hold the first or last keyframe's world-frame pose and size."""


class PositionMethod(enum.Enum):
    """How centres move between keyframes (rotations are always slerped)."""

    HERMITE = "hermite"
    """Cubic Hermite with limited three-point tangents (the default; see the module docstring)."""
    LINEAR = "linear"
    """Straight lines at constant speed between keyframes (a baseline)."""


def hermite_tangents(times_s: F64, points: F64) -> F64:
    """Limited three-point tangents of a time-parametrised path (see the module docstring).

    Parameters
    ----------
    times_s : ndarray of shape (K,), float64
        Strictly increasing times [s].
    points : ndarray of shape (K, D), float64
        Positions [m].

    Returns
    -------
    ndarray of shape (K, D), float64
        Velocities [m/s] at the keyframes; zeros when ``K == 1``.
    """
    k = points.shape[0]
    m = np.zeros_like(points)
    if k < 2:
        return m
    h = np.diff(times_s)
    s = np.diff(points, axis=0) / h[:, None]
    if k == 2:
        m[:] = s[0]
        return m
    h0, h1 = h[:-1, None], h[1:, None]
    m[1:-1] = (h1 * s[:-1] + h0 * s[1:]) / (h0 + h1)
    m[0] = ((2 * h[0] + h[1]) * s[0] - h[0] * s[1]) / (h[0] + h[1])
    m[-1] = ((2 * h[-1] + h[-2]) * s[-1] - h[-1] * s[-2]) / (h[-1] + h[-2])
    # Limit: zero where the object stops or turns back; cap at 3x the slower neighbouring secant.
    left = np.concatenate([s[:1], s])  # secant before each keyframe (the first uses its right one)
    right = np.concatenate([s, s[-1:]])
    reverse = np.sum(left * right, axis=1) <= 0.0
    reverse |= np.sum(m * left, axis=1) <= 0.0
    m[reverse] = 0.0
    cap = 3.0 * np.minimum(np.linalg.norm(left, axis=1), np.linalg.norm(right, axis=1))
    norm = np.linalg.norm(m, axis=1)
    scale = np.where(norm > cap, cap / np.where(norm > 0, norm, 1.0), 1.0)
    return np.asarray(m * scale[:, None])


def _aligned(q: F64) -> F64:
    """Flip quaternion signs so consecutive rows have non-negative dot products (same rotations)."""
    # Row i flips when its dot with the (already aligned) row i-1 is negative: the sign of row i is the
    # product of the signs of the original consecutive dots up to i (negation is exact, so bit-equal
    # to flipping row by row).
    dots = np.einsum("ij,ij->i", q[:-1], q[1:])
    signs = np.cumprod(np.concatenate([[1.0], np.where(dots < 0.0, -1.0, 1.0)]))
    return np.asarray(q * signs[:, None])


def _check_range(t: I64, lo: int, hi: int, policy: OutOfRange) -> None:
    outside = (t < lo) | (t > hi)
    if not outside.any():
        return
    if policy is OutOfRange.RAISE:
        j = int(np.argmax(outside))
        raise InvalidInputError(
            f"timestamps_us value {int(t[j])} lies outside the keyframe range [{lo}, {hi}] "
            f"({int(outside.sum())} outside); pass out_of_range=OutOfRange.HOLD to hold the end cuboids"
        )
    if policy is not OutOfRange.HOLD:
        raise InvalidInputError(f"unknown out_of_range {policy!r}; expected one of {list(OutOfRange)}")


def _interpolate_arrays(
    kt: I64, kc: F64, kq: F64, ks: F64, tq: I64, method: PositionMethod
) -> tuple[F64, F64, F64, I64, I64, F64]:
    """World-frame core of :func:`interpolate` on raw keyframe arrays (no validation, no exact copy).

    ``kt`` keyframe times, ``kc`` centres, ``kq`` quaternions (w, x, y, z), ``ks`` sizes; ``tq`` query
    times clipped to ``[kt[0], kt[-1]]``. Returns centres, sizes, rotations and the bracketing rows
    ``i``, ``j`` with the weights ``alpha``.
    """
    k = kt.size
    if k == 1:
        i = np.zeros(tq.size, np.int64)
        alpha = np.zeros(tq.size)
        j = i
    else:
        i = np.clip(np.searchsorted(kt, tq, side="right") - 1, 0, k - 2)
        j = i + 1
        alpha = (tq - kt[i]).astype(np.float64) / (kt[j] - kt[i]).astype(np.float64)
    a = alpha[:, None]
    sizes = ks[i] + a * (ks[j] - ks[i])
    q = _aligned(kq)
    rot = slerp_wxyz(q[i], q[j], alpha) if k > 1 else q[i]
    if method is PositionMethod.LINEAR or k == 1:
        centers = kc[i] + a * (kc[j] - kc[i])
    else:
        times_s = (kt - kt[0]).astype(np.float64) * 1e-6
        m = hermite_tangents(times_s, kc)
        h = (times_s[j] - times_s[i])[:, None]
        a2, a3 = a * a, a * a * a
        centers = (
            (2 * a3 - 3 * a2 + 1) * kc[i]
            + (a3 - 2 * a2 + a) * h * m[i]
            + (-2 * a3 + 3 * a2) * kc[j]
            + (a3 - a2) * h * m[j]
        )
    return centers, sizes, rot, i, j, alpha


def interpolate(
    keyframes: CuboidPath,
    timestamps_us: npt.ArrayLike,
    *,
    world_from_ego: Trajectory | None = None,
    output_frame: PoseFrame | None = None,
    method: PositionMethod = PositionMethod.HERMITE,
    out_of_range: OutOfRange = OutOfRange.RAISE,
) -> CuboidPath:
    """Cuboids of one track at the requested timestamps, interpolated from its keyframes.

    Parameters
    ----------
    keyframes : CuboidPath
        The track's keyframes at any (strictly increasing) timestamps, in the world or the ego frame.
    timestamps_us : array_like of shape (Q,), int64
        Strictly increasing query times [µs]; may coincide with keyframes.
    world_from_ego : Trajectory, optional
        Ego poses. Required when ``keyframes`` or the output is in the ego frame: ego keyframes are moved
        to the world frame at their own timestamps, interpolated there, and moved back at the query
        timestamps.
    output_frame : PoseFrame, optional
        Frame of the result; defaults to the keyframes' frame.
    method : PositionMethod
        Centre interpolation; :attr:`PositionMethod.HERMITE` by default (see the module docstring).
    out_of_range : OutOfRange
        Policy for queries before the first or after the last keyframe (raise by default).

    Returns
    -------
    CuboidPath
        Q cuboids at ``timestamps_us`` in ``output_frame``, unit quaternions; at a keyframe's timestamp
        (same frame) the keyframe itself, bit for bit.

    Raises
    ------
    InvalidInputError
        When ``timestamps_us`` is not strictly increasing, a query lies outside the keyframe range under
        :attr:`OutOfRange.RAISE`, or ``world_from_ego`` is missing for an ego-frame conversion.

    See Also
    --------
    tracking.snap_to_points : refit interpolated cuboids to the lidar points of their sweeps.

    Examples
    --------
    >>> import numpy as np
    >>> from tracking import CuboidPath, interpolate
    >>> kf = CuboidPath.from_boxes([0, 1_000_000], [[0, 0, 0, 4, 2, 1.5, 3.0], [10, 0, 0, 4, 2, 1.5, -3.0]])
    >>> mid = interpolate(kf, [500_000])
    >>> round(float(abs(mid.yaws[0])), 6)  # the short arc through +-pi, not through 0
    3.141593
    """
    t = as_array("timestamps_us", np.atleast_1d(np.asarray(timestamps_us)), np.int64, (None,))
    if t.size == 0:
        raise InvalidInputError("timestamps_us must hold at least one query time, got 0")
    check_sorted("timestamps_us", t)
    if not isinstance(method, PositionMethod):
        raise InvalidInputError(f"unknown method {method!r}; expected one of {list(PositionMethod)}")
    if not isinstance(out_of_range, OutOfRange):
        raise InvalidInputError(f"unknown out_of_range {out_of_range!r}; expected one of {list(OutOfRange)}")
    out_frame = keyframes.frame if output_frame is None else output_frame
    if not isinstance(out_frame, PoseFrame):
        raise InvalidInputError(f"unknown output_frame {out_frame!r}; expected one of {list(PoseFrame)}")
    kf = to_frame(keyframes, PoseFrame.WORLD, world_from_ego)
    kt = kf.timestamps_us
    _check_range(t, int(kt[0]), int(kt[-1]), out_of_range)
    tq = np.clip(t, kt[0], kt[-1])

    k = len(kf)
    centers, sizes, rot, i, j, alpha = _interpolate_arrays(
        kt, kf.centers, kf.rotations_wxyz, kf.sizes, tq, method
    )
    kconf = np.asarray(kf.confidence, dtype=np.float32)
    conf = kconf[i] + alpha.astype(np.float32) * (kconf[j] - kconf[i])
    # Where a query hits a keyframe, return that keyframe (bit-exact in the keyframes' own frame).
    # (held queries are clamped onto the end keyframes, so they copy them too).
    hit = np.minimum(np.searchsorted(kt, tq), k - 1)
    held = kt[hit] == tq
    for dst, src in ((centers, kf.centers), (sizes, kf.sizes), (rot, kf.rotations_wxyz), (conf, kconf)):
        dst[held] = src[hit[held]]
    exact = held & (tq == t)
    # The inputs were validated once; the samples are valid by construction (times checked above,
    # sizes interpolate positive ones, slerp keeps unit quaternions: renormalised as CuboidPath does).
    norm = np.linalg.norm(rot, axis=1, keepdims=True)
    rot = np.where(np.abs(norm - 1.0) > 1e-15, rot / norm, rot)
    conf = np.clip(conf, np.float32(0.0), np.float32(1.0))
    for name, arr in (("centers", centers), ("sizes", sizes)):
        if not np.isfinite(arr).all():  # only keyframe values near the float64 limit overflow
            row = int(np.argmax(~np.isfinite(arr).all(axis=1)))
            raise InvalidInputError(f"interpolated {name} overflowed at timestamps_us {int(t[row])}")
    world = CuboidPath._trusted(t.copy(), centers, sizes, rot, conf, PoseFrame.WORLD)
    out = to_frame(world, out_frame, world_from_ego)
    if out_frame is PoseFrame.WORLD or keyframes.frame is not out_frame or not exact.any():
        return out
    c, r = out.centers.copy(), out.rotations_wxyz.copy()
    c[exact] = keyframes.centers[hit[exact]]
    r[exact] = keyframes.rotations_wxyz[hit[exact]]
    out_conf = np.asarray(out.confidence, dtype=np.float32)  # never None after construction
    return CuboidPath._trusted(out.timestamps_us, c, out.sizes, r, out_conf, out_frame)
