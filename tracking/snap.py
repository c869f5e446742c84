"""Snap interpolated cuboids to the lidar points of their sweeps (rigid size, bounded moves, calibrated).

For each cuboid only its bird's-eye-view pose moves: the centre by at most ``max_shift_m`` in x/y and the
heading by at most ``max_yaw_rad`` (< π/2). Size, height and z stay (a track has one rigid size).

**Containment fit.** The cost of a pose is the mean BEV distance of the nearby points *outside* the box,
truncated at ``truncation_m`` so clutter cannot dominate; points inside cost nothing (near objects show
roof, bonnet and windscreen inside the footprint), plus a small pull back to the interpolated pose; a
coarse-to-fine grid search minimises it. Points within ``ground_clearance_m`` of the box bottom are
ignored (ground returns). (A visible-face model, with points pulled onto the faces that face the sensor,
was measured on PandaSet and fitted the labelers' boxes far worse: see benchmarks/RESULTS.md.)

**Keyframe calibration.** Labelers draw boxes with margins, and a partly seen object is fitted short of
its true extent, so a fit to points is biased relative to the labels. With ``reference`` (the track's
keyframes and their sweeps) the same fit is run at each keyframe, where the labeler's box is the truth;
its move there is the fitter's bias in that box's frame. The bias is interpolated in time to every
query and subtracted from the query's fit: only the *change* of the point evidence since the keyframes
moves the box.

**Acceptance.** A move is applied only when the fit lowers the mean point cost by at least
``min_improvement_m`` and the (calibrated) correction is at least ``min_correction_m`` or
``min_correction_rad``; otherwise the cuboid stays as interpolated.

**Heading-flip guard**: a box is symmetric under a turn by π, so a point fit alone cannot tell front from
back. The yaw search is bounded to ``|Δyaw| <= max_yaw_rad < π/2`` around the interpolated heading, which
therefore decides the direction; a snapped cuboid never flips.

A frame **needs a keyframe** when, after snapping, the fit residual exceeds ``max_residual_m`` or the best
pose lies near the search bound (a move of at least 80 % of ``max_shift_m`` or ``max_yaw_rad``). Frames
with fewer than ``min_points`` points are left as interpolated and reported with ``snapped == False`` and
a NaN residual.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.se3 import yaw_to_quat_wxyz
from kernels.errors import InvalidInputError
from kernels.validation import as_array
from tracking.paths import CuboidPath

__all__ = ["SnapConfig", "SnapReference", "SnapResult", "snap_to_points"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class SnapConfig:
    """Bounds and thresholds of :func:`snap_to_points`.

    Parameters
    ----------
    max_shift_m : float
        Largest centre move in x and y [m].
    max_yaw_rad : float
        Largest heading change [rad]; must be < π/2 (heading-flip guard).
    margin_m : float
        Points this far outside the (moved) box outline still take part [m].
    ground_clearance_m : float
        Points lower than this above the box bottom are ignored [m].
    truncation_m : float
        Cap of each point's distance in the cost [m].
    min_improvement_m : float
        A move is kept only when the fit lowers the mean point cost by at least this much [m].
    min_correction_m : float
        ... and the calibrated centre correction is at least this long [m] (or the heading correction
        at least ``min_correction_rad``); smaller corrections are within the fit's noise.
    min_correction_rad : float
        Smallest heading correction that is applied on its own [rad].
    prior_m : float
        Cost added at the search bound to pull the fit back to the interpolated pose [m].
    min_points : int
        Fewer points leave the cuboid as interpolated.
    max_points : int
        More points are thinned to this many (evenly strided, deterministic) before the search.
    max_residual_m : float
        Mean truncated point distance above which a frame needs a keyframe [m].
    grid : int
        Odd number of grid values per dimension and level; four levels, each spanning +-2 steps of the
        previous one.
    """

    max_shift_m: float = 0.6
    max_yaw_rad: float = 0.26
    margin_m: float = 0.3
    ground_clearance_m: float = 0.25
    truncation_m: float = 0.3
    min_improvement_m: float = 0.01
    min_correction_m: float = 0.05
    min_correction_rad: float = 0.02
    prior_m: float = 0.005
    min_points: int = 10
    max_points: int = 256
    max_residual_m: float = 0.12
    grid: int = 9

    def __post_init__(self) -> None:
        if not 0.0 <= self.max_yaw_rad < np.pi / 2:
            raise InvalidInputError(f"max_yaw_rad must lie in [0, pi/2), got {self.max_yaw_rad}")
        for name in ("max_shift_m", "margin_m", "truncation_m"):
            if not getattr(self, name) > 0:
                raise InvalidInputError(f"{name} must be > 0, got {getattr(self, name)}")
        if self.grid < 3 or self.grid % 2 == 0:
            raise InvalidInputError(f"grid must be an odd integer >= 3, got {self.grid}")


@dataclass(frozen=True, slots=True)
class SnapReference:
    """A track's keyframes with their sweeps, to calibrate the fit against the labeler's boxes.

    Parameters
    ----------
    keyframes : CuboidPath
        The labeled cuboids, same frame as the cuboids to snap.
    points : sequence of arrays of shape (N_i, 3), float32
        One sweep per keyframe, in the keyframes' frame at its timestamp [m] (empty where none).
    """

    keyframes: CuboidPath
    points: Sequence[npt.ArrayLike]

    def __post_init__(self) -> None:
        if len(self.points) != len(self.keyframes):
            raise InvalidInputError(
                f"reference.points must hold one array per keyframe ({len(self.keyframes)}), "
                f"got {len(self.points)}"
            )


@dataclass(frozen=True, slots=True)
class SnapResult:
    """Output of :func:`snap_to_points`; arrays have one row per cuboid.

    Parameters
    ----------
    path : CuboidPath
        The snapped cuboids (same frame as the input).
    residual_m : ndarray of shape (Q,), float64
        Mean truncated point-to-face distance of the returned cuboid [m]; NaN when not snapped.
    residual_before_m : ndarray of shape (Q,), float64
        The same for the interpolated cuboid [m]; NaN when not snapped.
    shift_m : ndarray of shape (Q,), float64
        Centre move [m].
    yaw_change_rad : ndarray of shape (Q,), float64
        Heading change [rad].
    n_points : ndarray of shape (Q,), int64
        Points that took part in the fit.
    snapped : ndarray of shape (Q,), bool
        False where too few points left the cuboid as interpolated.
    needs_keyframe : ndarray of shape (Q,), bool
        True where the fit is poor or hit its bound: a labeler should set a keyframe there.
    """

    path: CuboidPath
    residual_m: F64
    residual_before_m: F64
    shift_m: F64
    yaw_change_rad: F64
    n_points: npt.NDArray[np.int64]
    snapped: npt.NDArray[np.bool_]
    needs_keyframe: npt.NDArray[np.bool_]


def _cost(local: F64, half: F64, dx: F64, dy: F64, dyaw: F64, trunc: float) -> F64:
    """Mean truncated BEV distance of the points outside the moved box, ``(C,)``.

    ``local`` (N, 2) in the original box frame; a candidate moves the box by (dx, dy) in its original
    frame and turns it by dyaw. Points inside cost nothing: near objects show their roof, bonnet and
    windscreen inside the footprint, so interior points are no evidence against a pose.
    """
    c, s = np.cos(dyaw)[:, None], np.sin(dyaw)[:, None]
    px = local[None, :, 0] - dx[:, None]
    py = local[None, :, 1] - dy[:, None]
    u = np.abs(c * px + s * py) - half[0]
    v = np.abs(-s * px + c * py) - half[1]
    outside = np.hypot(np.maximum(u, 0.0), np.maximum(v, 0.0))
    return np.asarray(np.minimum(outside, trunc).mean(axis=1))


def _fit(local_xy: F64, half: F64, cfg: SnapConfig) -> tuple[F64, float, float]:
    """Best move (dx, dy, dyaw) by a four-level grid search, with the costs before and after."""
    g = np.linspace(-1.0, 1.0, cfg.grid)
    best = np.zeros(3)
    span = np.array([cfg.max_shift_m, cfg.max_shift_m, cfg.max_yaw_rad])
    step = span.copy()
    for _ in range(4):
        axes = [np.clip(best[d] + g * step[d], -span[d], span[d]) for d in range(3)]
        dx, dy, dyaw = (a.ravel() for a in np.meshgrid(*axes, indexing="ij"))
        prior = cfg.prior_m * (
            (dx**2 + dy**2) / cfg.max_shift_m**2 + (dyaw / max(cfg.max_yaw_rad, 1e-9)) ** 2
        )
        cost = _cost(local_xy, half, dx, dy, dyaw, cfg.truncation_m) + prior
        b = int(np.argmin(cost))
        best = np.array([dx[b], dy[b], dyaw[b]])
        step = step * 4.0 / (cfg.grid - 1)  # next level spans +-2 steps of this one
    before = _eval(local_xy, half, np.zeros(3), cfg)
    return best, before, _eval(local_xy, half, best, cfg)


def _eval(local_xy: F64, half: F64, move: F64, cfg: SnapConfig) -> float:
    return float(_cost(local_xy, half, move[:1], move[1:2], move[2:], cfg.truncation_m)[0])


def _prepare(box_center: F64, yaw: float, size: F64, points: F64, cfg: SnapConfig) -> tuple[F64, F64]:
    """Points near the box in its BEV frame (N, 2), and its half extents (2,)."""
    c, s = np.cos(yaw), np.sin(yaw)
    d = points - box_center
    lx, ly = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
    half = size[:2] / 2.0
    reach = cfg.max_shift_m + cfg.margin_m
    h = size[2] / 2.0
    keep = (np.abs(lx) <= half[0] + reach) & (np.abs(ly) <= half[1] + reach)
    keep &= (d[:, 2] >= -h + cfg.ground_clearance_m) & (d[:, 2] <= h + cfg.margin_m)
    local = np.stack([lx[keep], ly[keep]], axis=1)
    if local.shape[0] > cfg.max_points:
        local = local[np.linspace(0, local.shape[0] - 1, cfg.max_points).astype(np.int64)]
    return local, half


def _biases(ref: SnapReference, cfg: SnapConfig) -> tuple[F64, F64]:
    """Times [µs] and fit moves (K', 3) at the keyframes that have enough points."""
    kf = ref.keyframes
    yaws = kf.yaws
    times, moves = [], []
    for i in range(len(kf)):
        p = as_array(f"reference.points[{i}]", ref.points[i], np.float32, (None, 3)).astype(np.float64)
        local, half = _prepare(kf.centers[i], yaws[i], kf.sizes[i], p, cfg)
        if local.shape[0] >= cfg.min_points:
            times.append(float(kf.timestamps_us[i]))
            moves.append(_fit(local, half, cfg)[0])
    return np.array(times), np.array(moves).reshape(-1, 3)


def snap_to_points(
    path: CuboidPath,
    points: Sequence[npt.ArrayLike],
    config: SnapConfig | None = None,
    *,
    reference: SnapReference | None = None,
) -> SnapResult:
    """Refit each cuboid of ``path`` to the lidar points of its sweep (rigid size, bounded, no flip).

    Parameters
    ----------
    path : CuboidPath
        Cuboids to refit, e.g. the output of :func:`tracking.interpolate`; a z-up frame (world or ego).
    points : sequence of Q arrays of shape (N_i, 3), float32
        For cuboid ``i``, the points of the sweep at its timestamp, **in the same frame as the cuboid at
        that timestamp** [m]. The same array may be passed for several cuboids.
    config : SnapConfig, optional
        Bounds and thresholds (defaults: :class:`SnapConfig`).
    reference : SnapReference, optional
        The track's keyframes and their sweeps: calibrates the fit against the labeler's boxes.

    Returns
    -------
    SnapResult
        Snapped cuboids, per-cuboid residuals, moves, point counts and the needs-keyframe flags.

    Raises
    ------
    InvalidInputError
        When ``points`` (or ``reference.points``) does not hold one array per cuboid or an array is not
        (N, 3).

    See Also
    --------
    tracking.interpolate : produces the cuboids to snap.
    """
    cfg = SnapConfig() if config is None else config
    q = len(path)
    if len(points) != q:
        raise InvalidInputError(f"points must hold one array per cuboid ({q}), got {len(points)}")
    bias_t, bias = _biases(reference, cfg) if reference is not None else (np.zeros(0), np.zeros((0, 3)))
    centers = path.centers.copy()
    rotations = path.rotations_wxyz.copy()
    yaws = path.yaws
    res, res0 = np.full(q, np.nan), np.full(q, np.nan)
    shift, dyaws = np.zeros(q), np.zeros(q)
    counts = np.zeros(q, np.int64)
    flags = np.zeros(q, bool)
    span = np.array([cfg.max_shift_m, cfg.max_shift_m, cfg.max_yaw_rad])
    for i in range(q):
        p = as_array(f"points[{i}]", points[i], np.float32, (None, 3)).astype(np.float64)
        local, half = _prepare(centers[i], yaws[i], path.sizes[i], p, cfg)
        counts[i] = local.shape[0]
        if counts[i] < cfg.min_points:
            continue
        fit, before, after = _fit(local, half, cfg)
        move = fit.copy()
        if bias_t.size:
            t = float(path.timestamps_us[i])
            move -= np.array([np.interp(t, bias_t, bias[:, k]) for k in range(3)])
            move = np.clip(move, -span, span)
        small = np.hypot(move[0], move[1]) < cfg.min_correction_m and abs(move[2]) < cfg.min_correction_rad
        if before - after < cfg.min_improvement_m or small:
            move[:] = 0.0
        dx, dy, dyaw = (float(m) for m in move)
        after = _eval(local, half, move, cfg)
        c, s = np.cos(yaws[i]), np.sin(yaws[i])
        centers[i, 0] += c * dx - s * dy
        centers[i, 1] += s * dx + c * dy
        w1, _, _, z1 = yaw_to_quat_wxyz(np.array([dyaw]))[0]
        w2, x2, y2, z2 = rotations[i]
        # Left-multiply by a rotation about +z: the heading turns, roll/pitch of the box are kept.
        rotations[i] = [w1 * w2 - z1 * z2, w1 * x2 - z1 * y2, w1 * y2 + z1 * x2, w1 * z2 + z1 * w2]
        res[i], res0[i] = after, before
        shift[i], dyaws[i] = float(np.hypot(dx, dy)), dyaw
        on_bound = np.hypot(fit[0], fit[1]) >= 0.8 * cfg.max_shift_m
        on_bound |= cfg.max_yaw_rad > 0 and abs(fit[2]) >= 0.8 * cfg.max_yaw_rad
        flags[i] = after > cfg.max_residual_m or on_bound
    rotations /= np.linalg.norm(rotations, axis=1, keepdims=True)
    out = CuboidPath(path.timestamps_us, centers, path.sizes, rotations, path.confidence, path.frame)
    return SnapResult(out, res, res0, shift, dyaws, counts, counts >= cfg.min_points, flags)
