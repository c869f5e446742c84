"""Snap interpolated cuboids to the lidar points of their sweeps (bounded, heading-flip-safe refit).

For each cuboid only its bird's-eye-view pose moves: the centre by at most ``max_shift_m`` in x/y and the
heading by at most ``max_yaw_rad`` (< π/2). Size, height and z stay. The fit minimises the mean
truncated distance of the nearby points to the box outline in bird's-eye view (points inside count their
distance to the nearest side, points outside their distance to the box; both capped at
``truncation_m`` so clutter and ground cannot dominate), plus a small pull back to the interpolated pose,
by a coarse-to-fine grid search. Points within ``ground_clearance_m`` of the box bottom are ignored
(ground returns).

**Heading-flip guard**: a box is symmetric under a turn by π, so a point fit alone cannot tell front from
back. The yaw search is bounded to ``|Δyaw| <= max_yaw_rad < π/2`` around the interpolated heading, which
therefore decides the direction; a snapped cuboid never flips.

A frame **needs a keyframe** when, after snapping, the fit residual exceeds ``max_residual_m`` or the best
pose lies near the search bound (a move of at least 80 % of ``max_shift_m`` or ``max_yaw_rad``: the
interpolation was far off there and the true pose may lie beyond the bound). Frames with fewer than
``min_points`` points are left as interpolated and reported with ``snapped == False`` and a NaN residual.
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

__all__ = ["SnapConfig", "SnapResult", "snap_to_points"]

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
    inside_weight : float
        Weight of an inside point's distance to the nearest side relative to an outside point's distance
        to the box. Zero by default: near objects show their roof and bonnet, not only their sides, so
        points deep inside a box are no evidence against it.
    min_improvement_m : float
        A move is kept only when it lowers the mean point cost by at least this much [m]; otherwise
        the cuboid stays as interpolated (clutter must not nudge good interpolations).
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
    inside_weight: float = 0.0
    min_improvement_m: float = 0.01
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
class SnapResult:
    """Output of :func:`snap_to_points`; arrays have one row per cuboid.

    Parameters
    ----------
    path : CuboidPath
        The snapped cuboids (same frame as the input).
    residual_m : ndarray of shape (Q,), float64
        Mean truncated point-to-outline distance after snapping [m]; NaN when not snapped.
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


def _cost(local_xy: F64, half: F64, dx: F64, dy: F64, dyaw: F64, trunc: float, inside_weight: float) -> F64:
    """Mean truncated outline distance for candidate moves; ``local_xy`` (N, 2) in the original box frame.

    Candidates are ``(C,)`` arrays; a candidate moves the box by (dx, dy) in its original frame and turns
    it by dyaw. Returns ``(C,)``.
    """
    c, s = np.cos(dyaw)[:, None], np.sin(dyaw)[:, None]
    px = local_xy[None, :, 0] - dx[:, None]
    py = local_xy[None, :, 1] - dy[:, None]
    u = np.abs(c * px + s * py) - half[0]
    v = np.abs(-s * px + c * py) - half[1]
    outside = np.hypot(np.maximum(u, 0.0), np.maximum(v, 0.0))
    inside = np.minimum(-np.minimum(u, 0.0), -np.minimum(v, 0.0)) * ((u < 0) & (v < 0))
    return np.asarray(np.minimum(outside + inside_weight * inside, trunc).mean(axis=1))


def _fit(local_xy: F64, half: F64, cfg: SnapConfig) -> tuple[float, float, float, float, float]:
    """Best (dx, dy, dyaw) by a four-level grid search; returns them with the costs before and after."""
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
        cost = _cost(local_xy, half, dx, dy, dyaw, cfg.truncation_m, cfg.inside_weight) + prior
        b = int(np.argmin(cost))
        best = np.array([dx[b], dy[b], dyaw[b]])
        step = step * 4.0 / (cfg.grid - 1)  # next level spans +-2 steps of this one
    zero = np.zeros(1)
    before = float(_cost(local_xy, half, zero, zero, zero, cfg.truncation_m, cfg.inside_weight)[0])
    after = float(
        _cost(local_xy, half, best[:1], best[1:2], best[2:], cfg.truncation_m, cfg.inside_weight)[0]
    )
    return float(best[0]), float(best[1]), float(best[2]), before, after


def snap_to_points(
    path: CuboidPath, points: Sequence[npt.ArrayLike], config: SnapConfig | None = None
) -> SnapResult:
    """Refit each cuboid of ``path`` to the lidar points of its sweep (bounded move, no heading flip).

    Parameters
    ----------
    path : CuboidPath
        Cuboids to refit, e.g. the output of :func:`tracking.interpolate`; a z-up frame (world or ego).
    points : sequence of Q arrays of shape (N_i, 3), float32
        For cuboid ``i``, the points of the sweep at its timestamp, **in the same frame as the cuboid at
        that timestamp** [m]. The same array may be passed for several cuboids.
    config : SnapConfig, optional
        Bounds and thresholds (defaults: :class:`SnapConfig`).

    Returns
    -------
    SnapResult
        Snapped cuboids, per-cuboid residuals, moves, point counts and the needs-keyframe flags.

    Raises
    ------
    InvalidInputError
        When ``points`` does not hold one array per cuboid or an array is not (N, 3).

    See Also
    --------
    tracking.interpolate : produces the cuboids to snap.
    """
    cfg = SnapConfig() if config is None else config
    q = len(path)
    if len(points) != q:
        raise InvalidInputError(f"points must hold one array per cuboid ({q}), got {len(points)}")
    centers = path.centers.copy()
    rotations = path.rotations_wxyz.copy()
    yaws = path.yaws
    res, res0 = np.full(q, np.nan), np.full(q, np.nan)
    shift, dyaws = np.zeros(q), np.zeros(q)
    counts = np.zeros(q, np.int64)
    flags = np.zeros(q, bool)
    for i in range(q):
        p = as_array(f"points[{i}]", points[i], np.float32, (None, 3)).astype(np.float64)
        c, s = np.cos(yaws[i]), np.sin(yaws[i])
        d = p - centers[i]
        lx, ly = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
        half = path.sizes[i, :2] / 2.0
        reach = cfg.max_shift_m + cfg.margin_m
        h = path.sizes[i, 2] / 2.0
        keep = (np.abs(lx) <= half[0] + reach) & (np.abs(ly) <= half[1] + reach)
        keep &= (d[:, 2] >= -h + cfg.ground_clearance_m) & (d[:, 2] <= h + cfg.margin_m)
        counts[i] = int(keep.sum())
        if counts[i] < cfg.min_points:
            continue
        local = np.stack([lx[keep], ly[keep]], axis=1)
        if local.shape[0] > cfg.max_points:
            local = local[np.linspace(0, local.shape[0] - 1, cfg.max_points).astype(np.int64)]
        dx, dy, dyaw, before, after = _fit(local, half, cfg)
        if before - after < cfg.min_improvement_m:
            dx = dy = dyaw = 0.0
            after = before
        centers[i, 0] += c * dx - s * dy
        centers[i, 1] += s * dx + c * dy
        turn = yaw_to_quat_wxyz(np.array([dyaw]))[0]
        # Left-multiply by a rotation about +z: the heading turns, roll/pitch of the box are kept.
        w1, x1, y1, z1 = turn
        w2, x2, y2, z2 = rotations[i]
        rotations[i] = [
            w1 * w2 - z1 * z2,
            w1 * x2 - z1 * y2,
            w1 * y2 + z1 * x2,
            w1 * z2 + z1 * w2,
        ]
        res[i], res0[i] = after, before
        shift[i], dyaws[i] = float(np.hypot(dx, dy)), dyaw
        on_bound = np.hypot(dx, dy) >= 0.8 * cfg.max_shift_m
        on_bound |= cfg.max_yaw_rad > 0 and abs(dyaw) >= 0.8 * cfg.max_yaw_rad
        flags[i] = after > cfg.max_residual_m or on_bound
    rotations /= np.linalg.norm(rotations, axis=1, keepdims=True)
    out = CuboidPath(path.timestamps_us, centers, path.sizes, rotations, path.confidence, path.frame)
    return SnapResult(out, res, res0, shift, dyaws, counts, counts >= cfg.min_points, flags)
