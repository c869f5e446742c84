"""Face-registration snap: move interpolated cuboids so the point extents match the keyframes' (translation).

:func:`snap_to_faces` is the alternative to :func:`tracking.snap_to_points` that works from the labels
rather than from a box model of the points. For every cuboid and every keyframe it measures, in the box's
own frame, the robust extents of the object's points along the box axes (the ``q`` and ``1 - q``
quantiles of the points' x, the length axis, and y, the width axis: the four faces' positions as the
lidar sees them). At a keyframe the label is the truth, so the extents relative to the label are the
object's **calibration** (how far its returns reach short of or past the labeler's faces, margins and
unseen parts included). Between the bracketing keyframes the calibration is interpolated in time; at an
interpolated cuboid, the extents minus the calibration are the box's translation error along each face
normal. Per axis the face whose calibration changed least between the two keyframes is trusted (it was
seen alike at both: the sensor-facing face). The move is then **blended with the interpolation by
variance**: the interpolation is exact at the keyframes and drifts by about ``a/2 (t - ta)(tb - t)``
between them (``a`` the acceleration the keyframes show), the face estimate has a fixed standard
deviation ``face_std_m`` per axis, so the move is scaled by ``e² / (e² + σ²)``; it is bounded by
``max_shift_m`` and rotated back to the world. Size and heading are kept (rigid box; a heading from
extents would need the yaw search of :func:`tracking.snap_to_points`).

A move is accepted only when (a) the query and both keyframes have at least ``min_points`` points,
(b) the two faces of an axis agree on the move within ``agree_m`` or one face is clearly more stable,
and (c) the containment residual of :mod:`tracking.snap` (mean truncated BEV distance of the points
outside the box) does not grow. Frames where it is refused keep the interpolated cuboid; they are
flagged ``needs_keyframe`` when the faces disagree by more than ``agree_m`` on both axes.

Measured on PandaSet (benchmarks/RESULTS.md, tracking section): it lowers the error of moving objects at
sparse keyframes (k = 20) and ties with plain interpolation at k <= 10, where the face estimates are
noisier than the interpolation error.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from kernels.validation import as_array
from tracking.paths import CuboidPath
from tracking.snap import SnapConfig, SnapReference, SnapResult, _eval, _prepare

__all__ = ["FaceSnapConfig", "snap_to_faces"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class FaceSnapConfig:
    """Settings of :func:`snap_to_faces`.

    Parameters
    ----------
    quantile : float
        Extent quantile ``q`` of the points along each axis (robust to a few stray points), in (0, 0.5).
    max_shift_m : float
        Largest move along each box axis [m].
    margin_m : float
        Points up to this far outside the box (plus ``max_shift_m``) take part [m].
    ground_clearance_m : float
        Points lower than this above the box bottom are ignored [m].
    agree_m : float
        Largest disagreement of the two faces of an axis before only the more stable face is used [m].
    min_points : int
        Fewer points (at the cuboid or at a bracketing keyframe) leave the cuboid as interpolated.
    max_residual_growth_m : float
        A move is refused when it grows the containment residual by more than this [m].
    face_std_m : tuple of 2 float
        Standard deviation of a face-based translation estimate along the box's length and width axes
        [m] (the blend's measurement noise; along the length axis it is larger: the front and rear
        faces are often half seen).
    accel_prior_mps2 : float
        Acceleration assumed where the keyframes cannot tell (a track of two keyframes) [m/s²].
    """

    quantile: float = 0.05
    max_shift_m: float = 0.5
    margin_m: float = 0.3
    ground_clearance_m: float = 0.25
    agree_m: float = 0.15
    min_points: int = 20
    max_residual_growth_m: float = 0.0
    face_std_m: tuple[float, float] = (0.2, 0.1)
    accel_prior_mps2: float = 1.0

    def __post_init__(self) -> None:
        if not 0.0 < self.quantile < 0.5:
            raise InvalidInputError(f"quantile must lie in (0, 0.5), got {self.quantile}")
        for name in ("max_shift_m", "margin_m", "agree_m"):
            if not getattr(self, name) > 0:
                raise InvalidInputError(f"{name} must be > 0, got {getattr(self, name)}")

    def _snap(self) -> SnapConfig:
        return SnapConfig(
            max_shift_m=self.max_shift_m,
            margin_m=self.margin_m,
            ground_clearance_m=self.ground_clearance_m,
            max_points=100_000,
        )


def _extents(center: F64, yaw: float, size: F64, points: F64, cfg: FaceSnapConfig) -> tuple[F64, F64, int]:
    """Face positions ``(x_lo, x_hi, y_lo, y_hi)`` of the points in the box frame, the points, count."""
    local, _ = _prepare(center, yaw, size, points, cfg._snap())
    if local.shape[0] < cfg.min_points:
        return np.full(4, np.nan), local, int(local.shape[0])
    q = cfg.quantile
    qx = np.quantile(local[:, 0], [q, 1 - q])
    qy = np.quantile(local[:, 1], [q, 1 - q])
    return np.array([qx[0], qx[1], qy[0], qy[1]]), local, int(local.shape[0])


def _axis_move(ext: F64, cal_a: F64, cal_b: F64, cal: F64, agree: float) -> tuple[float, bool]:
    """Move along one axis from its two faces: (move, faces agreed)."""
    d = ext - cal  # how far the points sit past their calibrated place, per face
    if abs(d[0] - d[1]) <= agree:
        return float(d.mean()), True
    drift = np.abs(cal_b - cal_a)  # the face seen alike at both keyframes is the visible one
    if abs(drift[0] - drift[1]) > 0.5 * agree:
        return float(d[int(np.argmin(drift))]), False
    return 0.0, False


def _gap_accelerations(kf: CuboidPath, prior: float) -> F64:
    """Per keyframe gap, the largest BEV acceleration [m/s²] of the secant velocities around it."""
    n = len(kf)
    if n < 3:
        return np.full(max(n - 1, 1), prior)
    t = kf.timestamps_us.astype(np.float64) * 1e-6
    h = np.diff(t)
    v = np.diff(kf.centers[:, :2], axis=0) / h[:, None]
    acc = np.linalg.norm(np.diff(v, axis=0), axis=1) / (0.5 * (h[:-1] + h[1:]))  # at inner keyframes
    out = np.empty(n - 1)
    out[0], out[-1] = acc[0], acc[-1]
    out[1:-1] = np.maximum(acc[:-1], acc[1:])
    return out


def snap_to_faces(
    path: CuboidPath,
    points: Sequence[npt.ArrayLike],
    reference: SnapReference,
    config: FaceSnapConfig | None = None,
) -> SnapResult:
    """Translate each cuboid so its points' face extents match the keyframes' (see the module docstring).

    Parameters
    ----------
    path : CuboidPath
        Cuboids to refit (e.g. :func:`tracking.interpolate` output), z-up frame, within the keyframes'
        time range.
    points : sequence of Q arrays of shape (N_i, 3), float32
        Cuboid ``i``'s sweep, in the cuboid's frame at its timestamp [m] (empty where none).
    reference : SnapReference
        The track's keyframes and their sweeps (the calibration).
    config : FaceSnapConfig, optional
        Settings.

    Returns
    -------
    SnapResult
        Moved cuboids (heading unchanged), containment residuals before/after, moves and flags.

    Raises
    ------
    InvalidInputError
        When ``points`` or ``reference.points`` does not hold one (N, 3) array per cuboid / keyframe.
    """
    cfg = FaceSnapConfig() if config is None else config
    q = len(path)
    if len(points) != q:
        raise InvalidInputError(f"points must hold one array per cuboid ({q}), got {len(points)}")
    kf = reference.keyframes  # SnapReference checked one sweep per keyframe
    kyaw = kf.yaws
    cal = np.full((len(kf), 4), np.nan)
    for j in range(len(kf)):
        p = as_array(f"reference.points[{j}]", reference.points[j], np.float32, (None, 3)).astype(np.float64)
        cal[j] = _extents(kf.centers[j], float(kyaw[j]), kf.sizes[j], p, cfg)[0]
    ok_kf = ~np.isnan(cal[:, 0])
    accel = _gap_accelerations(kf, cfg.accel_prior_mps2)
    kt = kf.timestamps_us.astype(np.float64)
    snap_cfg = cfg._snap()
    centers = path.centers.copy()
    yaws = path.yaws
    res, res0 = np.full(q, np.nan), np.full(q, np.nan)
    shift = np.zeros(q)
    counts = np.zeros(q, np.int64)
    used = np.zeros(q, bool)
    flags = np.zeros(q, bool)
    for i in range(q):
        p = as_array(f"points[{i}]", points[i], np.float32, (None, 3)).astype(np.float64)
        ext, local, counts[i] = _extents(centers[i], float(yaws[i]), path.sizes[i], p, cfg)
        t = float(path.timestamps_us[i])
        a = int(np.searchsorted(kt, t, side="right")) - 1
        b = min(a + 1, len(kf) - 1)
        if np.isnan(ext[0]) or a < 0 or b == a or not (ok_kf[a] and ok_kf[b]):
            continue  # outside the keyframes (or at the last one) there is nothing to blend
        w = 0.0 if b == a or kt[b] == kt[a] else (t - kt[a]) / (kt[b] - kt[a])
        c_t = (1 - w) * cal[a] + w * cal[b]
        mx, agree_x = _axis_move(ext[:2], cal[a, :2], cal[b, :2], c_t[:2], cfg.agree_m)
        my, agree_y = _axis_move(ext[2:], cal[a, 2:], cal[b, 2:], c_t[2:], cfg.agree_m)
        # Blend with the interpolation by their variances: the interpolation is exact at keyframes
        # and drifts by about a/2 (t - ta)(tb - t) between them (a: the keyframes' acceleration).
        ta, tb = (t - kt[a]) * 1e-6, (kt[b] - t) * 1e-6
        e_int = 0.5 * accel[a] * ta * tb
        gain = e_int**2 / (e_int**2 + np.square(cfg.face_std_m))
        move = np.clip(gain * np.array([mx, my]), -cfg.max_shift_m, cfg.max_shift_m)
        half = path.sizes[i, :2] / 2.0
        before = _eval(local, half, np.zeros(3), snap_cfg)
        after = _eval(local, half, np.array([move[0], move[1], 0.0]), snap_cfg)
        used[i] = True
        res0[i] = before
        flags[i] = not (agree_x or agree_y)
        if after > before + cfg.max_residual_growth_m or not np.any(move):
            res[i] = before
            continue
        c, s = np.cos(yaws[i]), np.sin(yaws[i])
        centers[i, 0] += c * move[0] - s * move[1]
        centers[i, 1] += s * move[0] + c * move[1]
        res[i] = after
        shift[i] = float(np.hypot(move[0], move[1]))
    out = CuboidPath(
        path.timestamps_us, centers, path.sizes, path.rotations_wxyz, path.confidence, path.frame
    )
    return SnapResult(out, res, res0, shift, np.zeros(q), counts, used, flags)
