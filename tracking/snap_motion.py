"""Motion snap: correct interpolated cuboids with the object's own frame-to-frame motion from its points.

:func:`snap_by_motion` is the third snap next to :func:`tracking.snap_to_points` (absolute containment
fit) and :func:`tracking.snap_to_faces` (keyframe-calibrated face extents). It takes only the **relative**
motion of the object from the lidar: the points of consecutive sweeps are registered to each other, and
the labeled keyframes anchor the chain at both ends. A fit of a box to the points is never compared with
a label, so the labelers' margins and the unseen parts of the object cancel.

**Registration.** Every cuboid (keyframe or interpolated) gathers the points inside it grown by
``margin_m``, minus those within ``ground_clearance_m`` of its bottom, in its own box frame. For each pair
of consecutive cuboids the later set is registered onto the earlier one by a 4-DOF (x, y, z, yaw)
point-to-plane ICP (target normals from ``normal_neighbours`` neighbours, Cauchy weights of scale
``robust_scale_m``, correspondences within a shrinking radius). If the interpolated boxes were exact, the
two sets would already coincide in their box frames; the registration ``δ = E_i ∘ E_{i+1}⁻¹`` measures
how the boxes' pose errors ``E`` (true pose = box ∘ E) change from one cuboid to the next. To first order
``e_i − e_{i+1} = δ`` with ``e = (x, y, yaw)`` of ``E`` (z is a nuisance parameter and stays
interpolated).

**Solve.** Over a whole track the errors ``e`` of the interpolated cuboids solve one small linear least-
squares problem: keyframes are hard (``e = 0``, the labels are the truth); each accepted pair adds its
``δ`` with the information ``H / step_std_m²``, ``H`` the registration's mean point-to-plane normal
matrix (so a car seen only from the side constrains nothing along its length there); each cuboid adds a
prior pulling it to the interpolation with the interpolation's expected drift ``a/2 (t − ta)(tb − t)``
(``a`` the keyframes' acceleration, ``yaw_accel_radps2`` for the heading) plus a floor. A chain of
registrations thus runs forward from one keyframe and backward from the next, and its closure error is
spread by the weights; where a registration is refused the interpolation bridges the break.

Pairs are consecutive cuboids (up to ``max_lag`` apart) and, with ``keyframe_edges``, every interpolated
cuboid with both bracketing keyframes (a direct, unchained measurement of its error). With
``smooth_terms`` the corrections of one gap are a low-order polynomial vanishing at both keyframes (the
interpolation's error is smooth; the registrations' noise is not), solved in the same least squares.

**Guards.** A pair is refused when either cuboid has fewer than ``min_points`` points, fewer than
``min_inlier_fraction`` of the source points find a correspondence, the robust residual exceeds
``max_rms_m``, or ``δ`` is larger than ``max_step_m`` / ``max_step_rad`` (a disagreement with the
interpolation that one frame of motion cannot explain). A solved correction larger than ``max_shift_m``
or ``max_yaw_rad`` is not applied (the cuboid stays interpolated and is flagged ``needs_keyframe``), nor is
one that grows the containment residual of :mod:`tracking.snap` by more than ``max_residual_growth_m``.
Cuboids that no accepted pair touches stay interpolated (``snapped == False``).

**Time of the points.** Sweeps are expected ego-motion-compensated to the sweep's timestamp (PandaSet's
are, see ``benchmarks/check_pandaset_deskew.py``), but an object's own motion during the sweep is not
removed: its points show it at their capture times. For consecutive sweeps these times differ by one
sweep period plus the change of the object's azimuth, so the registered motion is the object's motion
over (almost) one period; an object cut by the sweep seam is smeared and usually fails the residual or
inlier guards.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from calibration.se3 import yaw_to_quat_wxyz
from kernels.errors import InvalidInputError
from kernels.validation import as_array
from tracking import _icp
from tracking.paths import CuboidPath
from tracking.snap import SnapConfig, SnapReference, SnapResult, _eval
from tracking.snap_faces import _gap_accelerations

__all__ = ["MotionSnapConfig", "Registration", "register_points", "snap_by_motion"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class MotionSnapConfig:
    """Settings of :func:`snap_by_motion`.

    Parameters
    ----------
    margin_m : float
        Points this far outside a cuboid still belong to it [m].
    ground_clearance_m : float
        Points lower than this above the cuboid bottom are ignored (ground returns) [m].
    min_points : int
        Fewer points at either cuboid of a pair refuse its registration.
    max_points : int
        More points are thinned to this many (evenly strided, deterministic).
    normal_neighbours : int
        Neighbours of the plane fit giving each target point its normal.
    iterations : int
        ICP iterations (at most).
    correspondence_m : tuple of float
        Correspondence radii [m], used in turn over equal shares of the iterations.
    robust_scale_m : float
        Scale of the Cauchy weights of the point-to-plane residuals [m].
    step_std_m : float
        Standard deviation of one registration along a fully constrained direction [m] (the
        information of a pair is its mean normal matrix divided by this squared).
    min_inlier_fraction : float
        Smallest share of source points with a correspondence for a pair to count.
    max_rms_m : float
        Largest robust point-to-plane RMS residual for a pair to count [m].
    max_step_m, max_step_rad : float
        Largest registration correction ``δ`` of one pair (translation [m], heading [rad]).
    max_shift_m, max_yaw_rad : float
        Largest solved correction of a cuboid; larger ones are not applied [m], [rad].
    accel_prior_mps2 : float
        Acceleration assumed where the keyframes cannot tell (tracks of two keyframes) [m/s²].
    prior_floor_m : float
        Floor of the interpolation's standard deviation [m].
    yaw_accel_radps2 : float
        Angular acceleration behind the interpolation's heading drift [rad/s²].
    prior_floor_rad : float
        Floor of the interpolation's heading standard deviation [rad].
    max_residual_growth_m : float
        A correction that grows the containment residual (``tracking.snap``) by more is not applied [m].
    max_lag : int
        Cuboids up to this many positions apart in the time-ordered sequence are registered.
    keyframe_edges : bool
        Also register every interpolated cuboid directly with its two bracketing keyframes (no chain).
    lag_exponent : float
        A pair ``m`` positions apart gets the information of one step divided by ``m ** lag_exponent``.
    smooth_terms : int
        With ``n > 0`` the corrections of a gap between keyframes are restricted to
        ``s (1 - s) (c_0 + ... + c_{n-1} s^{n-1})`` per component (``s`` the time fraction of the gap),
        which averages the registrations' noise; 0 leaves every cuboid free.
    """

    margin_m: float = 0.3
    ground_clearance_m: float = 0.25
    min_points: int = 30
    max_points: int = 1500
    normal_neighbours: int = 8
    iterations: int = 20
    correspondence_m: tuple[float, ...] = (0.5, 0.3, 0.2)
    robust_scale_m: float = 0.05
    step_std_m: float = 0.03
    min_inlier_fraction: float = 0.5
    max_rms_m: float = 0.1
    max_step_m: float = 0.3
    max_step_rad: float = 0.1
    max_shift_m: float = 0.6
    max_yaw_rad: float = 0.2
    accel_prior_mps2: float = 1.0
    prior_floor_m: float = 0.01
    yaw_accel_radps2: float = 0.5
    prior_floor_rad: float = 0.002
    max_residual_growth_m: float = 0.05
    max_lag: int = 1
    keyframe_edges: bool = True
    lag_exponent: float = 1.0
    smooth_terms: int = 2

    def __post_init__(self) -> None:
        for name in ("margin_m", "robust_scale_m", "step_std_m", "max_step_m", "max_step_rad"):
            if not getattr(self, name) > 0:
                raise InvalidInputError(f"{name} must be > 0, got {getattr(self, name)}")
        for name in ("max_shift_m", "max_yaw_rad", "prior_floor_m", "prior_floor_rad"):
            if not getattr(self, name) > 0:
                raise InvalidInputError(f"{name} must be > 0, got {getattr(self, name)}")
        if not self.correspondence_m or min(self.correspondence_m) <= 0:
            raise InvalidInputError(f"correspondence_m must hold radii > 0, got {self.correspondence_m}")
        if self.min_points < 3 or self.normal_neighbours < 3 or self.iterations < 1:
            raise InvalidInputError("min_points and normal_neighbours must be >= 3, iterations >= 1")


@dataclass(frozen=True, slots=True)
class Registration:
    """Result of :func:`register_points`.

    Parameters
    ----------
    move : ndarray of shape (4,), float64
        ``(dx, dy, dz, dyaw)``: ``R_z(dyaw) p + (dx, dy, dz)`` maps source points onto the target [m, rad].
    information : ndarray of shape (3, 3), float64
        Mean of ``J Jᵀ`` over the final correspondences, ``J = (n_x, n_y, (p × n)_z)``: how strongly the
        points constrain ``(dx, dy, dyaw)`` (units 1, 1 and m²; a flat side leaves its in-plane direction
        near zero).
    inlier_fraction : float
        The smaller of the shares of source points with a target point and of target points with a
        (moved) source point within the last correspondence radius.
    rms_m : float
        Robust RMS point-to-plane residual (each residual capped at three robust scales) [m].
    """

    move: F64
    information: F64
    inlier_fraction: float
    rms_m: float


def _normals(p: F64, k: int) -> F64:
    """Unit normals (N, 3) of a plane fit to each point's ``k`` nearest neighbours (kd-tree + ``eigh``).

    The reference of :func:`tracking._icp.normals`, and the fallback for targets too spread out for its grid.
    """
    k = min(k, p.shape[0])
    _, idx = cKDTree(p).query(p, k=k)
    nbhd = p[idx]
    nb = nbhd - nbhd.mean(axis=1, keepdims=True)
    _, vecs = np.linalg.eigh(np.einsum("nki,nkj->nij", nb, nb))
    return np.asarray(vecs[:, :, 0])


# Margin [m] of the correspondence reuse bounds (far above the rounding of the kd-tree's distances).
_REUSE_MARGIN_M = 1e-9


def register_points(
    source: npt.ArrayLike, target: npt.ArrayLike, config: MotionSnapConfig | None = None
) -> Registration:
    """4-DOF (x, y, z, yaw about the origin) point-to-plane ICP of ``source`` onto ``target``.

    Parameters
    ----------
    source, target : arrays of shape (N, 3) and (M, 3)
        Points [m], both in one frame (e.g. two sweeps' points of an object, each in its box frame);
        the search starts at the identity.
    config : MotionSnapConfig, optional
        Radii, iterations, robust scale and normal neighbourhood.

    Returns
    -------
    Registration
        The move, its information matrix, inlier fraction and residual (zero information and an infinite
        residual when fewer than 3 correspondences are found).
    """
    cfg = MotionSnapConfig() if config is None else config
    src = as_array("source", source, np.float64, (None, 3))
    dst = as_array("target", target, np.float64, (None, 3))
    if src.shape[0] < 3 or dst.shape[0] < 3:
        return _fail()
    return _register(src, _Target.of(dst, cfg), cfg)


def _fail() -> Registration:
    return Registration(np.zeros(4), np.zeros((3, 3)), 0.0, float("inf"))


@dataclass(frozen=True, slots=True)
class _Target:
    """A registration target prepared once and shared by its pairs: points, normals, grid."""

    points: F64
    normals: F64
    grid: tuple[F64, npt.NDArray[np.int64], npt.NDArray[np.int64], npt.NDArray[np.int64]]
    cell: float

    @classmethod
    def of(cls, points: F64, cfg: MotionSnapConfig) -> _Target:
        pts = np.ascontiguousarray(points, dtype=np.float64)
        cell = float(min(cfg.correspondence_m)) / 2.0
        grid = _icp.grid_build(pts, cell)
        if grid[2].shape[0] == 0:  # too spread out for a dense grid: the kd-tree reference
            return cls(pts, _normals(pts, cfg.normal_neighbours), grid, cell)
        return cls(pts, _icp.normals(pts, cfg.normal_neighbours, grid, cell), grid, cell)


def _register(src: F64, target: _Target, cfg: MotionSnapConfig) -> Registration:
    """:func:`register_points` on a prepared target: the compiled ICP of :mod:`tracking._icp`.

    Falls back to :func:`_register_reference` when the target's grid would be too large (points spread
    over kilometres).
    """
    if target.grid[2].shape[0] == 0:
        return _register_reference(src, target.points, cKDTree(target.points), target.normals, cfg)
    move, info, fraction, rms, ok = _icp.register(
        np.ascontiguousarray(src),
        target.points,
        target.normals,
        target.grid,
        target.cell,
        np.asarray(cfg.correspondence_m, np.float64),
        cfg.iterations,
        cfg.robust_scale_m,
        _REUSE_MARGIN_M,
    )
    if not ok:
        return _fail()
    return Registration(move, info, float(fraction), float(rms))


def _register_reference(src: F64, dst: F64, tree: cKDTree, nrm: F64, cfg: MotionSnapConfig) -> Registration:
    """NumPy + kd-tree version of :func:`_register` (the tests' reference; target prepared by the caller).

    The nearest target point of each source point is exact in every iteration, as a fresh query would
    give it, but a point is only queried again when the bounds of its last query (distances to the
    nearest and second nearest target points, or the query radius) cannot settle it after its
    displacement since: a nearest neighbour ``a`` at distance ``d1`` stays the nearest while
    ``d1 + δ < d2 − δ`` and inside the radius while ``d1 + δ < radius``; no point is within the radius
    while ``d1 − δ > radius`` (``d1`` the last query's radius when it found none).
    """
    m = src.shape[0]
    x = np.zeros(4)
    radii = cfg.correspondence_m
    jac = np.zeros((0, 4))
    r = np.zeros(0)
    ok = np.zeros(m, bool)
    # Each source point's last query: position, lower bounds of the distances to its nearest target point
    # (``b1``, the query radius when none was found) and to any other one (``b2``), whether it found one,
    # its index.
    ref = np.zeros((m, 3))
    b1 = np.zeros(m)
    b2 = np.zeros(m)
    found = np.zeros(m, bool)
    jq = np.zeros(m, np.int64)
    for it in range(cfg.iterations):
        radius = radii[min(it * len(radii) // cfg.iterations, len(radii) - 1)]
        c, s = np.cos(x[3]), np.sin(x[3])
        rx = c * src[:, 0] - s * src[:, 1]
        ry = s * src[:, 0] + c * src[:, 1]
        moved = np.column_stack([rx + x[0], ry + x[1], src[:, 2] + x[2]])
        if it == 0:
            at = np.arange(m)
            ok = np.zeros(m, bool)
        else:
            diff = moved - ref
            delta = np.sqrt(np.einsum("ij,ij->i", diff, diff)) + _REUSE_MARGIN_M
            hi = b1 + delta
            ok = found & (hi < b2 - delta) & (hi < radius)  # same nearest point, inside the radius
            at = np.flatnonzero(~ok & (b1 - delta <= radius + _REUSE_MARGIN_M))  # not surely outside
        if at.size:
            qd, qj = tree.query(moved[at], k=2, distance_upper_bound=radius)
            first = qj[:, 0]
            hit = np.isfinite(qd[:, 0])
            tie = hit & (qd[:, 1] <= qd[:, 0] + 2.0 * _REUSE_MARGIN_M)
            if tie.any():  # (near) equidistant: the index a single-neighbour query gives
                first = first.copy()
                first[tie] = tree.query(moved[at[tie]], distance_upper_bound=radius)[1]
            ref[at] = moved[at]
            b1[at] = np.where(hit, qd[:, 0], radius)
            b2[at] = np.minimum(qd[:, 1], radius)
            found[at] = hit
            jq[at] = first
            ok[at] = hit
        if ok.sum() < 3:
            return _fail()
        jo = jq[ok]
        n = nrm[jo]
        r = np.einsum("ij,ij->i", moved[ok] - dst[jo], n)
        jac = np.column_stack([n[:, 0], n[:, 1], n[:, 2], rx[ok] * n[:, 1] - ry[ok] * n[:, 0]])
        w = 1.0 / (1.0 + (r / cfg.robust_scale_m) ** 2)
        hess = jac.T @ (jac * w[:, None]) + 1e-9 * np.eye(4)
        step = -np.linalg.solve(hess, jac.T @ (w * r))
        x += step
        if it >= 3 and np.abs(step[:3]).max() < 1e-5 and abs(step[3]) < 1e-6:
            break
    sel = [0, 1, 3]
    info = (jac[:, sel].T @ jac[:, sel]) / jac.shape[0]
    rms = float(np.sqrt(np.mean(np.minimum(np.abs(r), 3.0 * cfg.robust_scale_m) ** 2)))
    # Overlap both ways: scattered clutter near a surface matches it one way, not the other.
    c, s = np.cos(x[3]), np.sin(x[3])
    moved = np.column_stack(
        [c * src[:, 0] - s * src[:, 1] + x[0], s * src[:, 0] + c * src[:, 1] + x[1], src[:, 2] + x[2]]
    )
    back = np.isfinite(cKDTree(moved).query(dst, distance_upper_bound=radii[-1])[0]).mean()
    return Registration(x, info, float(min(ok.mean(), back)), rms)


def _local(center: F64, yaw: float, size: F64, points: F64, cfg: MotionSnapConfig) -> F64:
    """The cuboid's points in its box frame (N, 3): inside the grown box, above the ground band."""
    c, s = np.cos(yaw), np.sin(yaw)
    d = points - center
    lx, ly = c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1]
    h = size[2] / 2.0
    keep = (np.abs(lx) <= size[0] / 2.0 + cfg.margin_m) & (np.abs(ly) <= size[1] / 2.0 + cfg.margin_m)
    keep &= (d[:, 2] >= -h + cfg.ground_clearance_m) & (d[:, 2] <= h + cfg.margin_m)
    local = np.stack([lx[keep], ly[keep], d[keep, 2]], axis=1)
    if local.shape[0] > cfg.max_points:
        local = local[np.linspace(0, local.shape[0] - 1, cfg.max_points).astype(np.int64)]
    return local


def _prior_std(kt: F64, kf: CuboidPath, t: F64, cfg: MotionSnapConfig) -> tuple[F64, F64]:
    """Expected interpolation drift (position [m], heading [rad]) at times ``t`` between the keyframes."""
    accel = _gap_accelerations(kf, cfg.accel_prior_mps2)
    a = np.clip(np.searchsorted(kt, t, side="right") - 1, 0, max(len(kt) - 2, 0))
    b = np.minimum(a + 1, len(kt) - 1)
    ta = np.maximum(t - kt[a], 0.0) * 1e-6
    tb = np.maximum(kt[b] - t, 0.0) * 1e-6
    gap = 0.5 * ta * tb
    return accel[np.minimum(a, accel.size - 1)] * gap + cfg.prior_floor_m, (
        cfg.yaw_accel_radps2 * gap + cfg.prior_floor_rad
    )


def _edges(
    var: npt.NDArray[np.int64], kf_pos: npt.NDArray[np.int64], cfg: MotionSnapConfig
) -> list[tuple[int, int]]:
    """Pairs ``(i, j)``, ``i < j``, of sequence positions to register.

    Neighbours up to ``max_lag`` apart and, with ``keyframe_edges``, every interpolated cuboid with its
    two bracketing keyframes.
    """
    n = var.size
    edges = {(i, j) for i in range(n) for j in range(i + 1, min(i + cfg.max_lag, n - 1) + 1)}
    if cfg.keyframe_edges and kf_pos.size:
        for i in np.flatnonzero(var >= 0).tolist():
            b = int(np.searchsorted(kf_pos, i))
            if b > 0:
                edges.add((int(kf_pos[b - 1]), int(i)))
            if b < kf_pos.size:
                edges.add((int(i), int(kf_pos[b])))
    return sorted(e for e in edges if var[e[0]] >= 0 or var[e[1]] >= 0)


def _gap_basis(times: F64, var: npt.NDArray[np.int64], kf_pos: npt.NDArray[np.int64], terms: int) -> F64:
    """Map (3 nv, 3 terms G) from per-gap coefficients to the cuboids' corrections.

    In each gap between keyframes a correction is ``s (1 - s) (c_0 + c_1 s + ...)`` per component, ``s``
    the time fraction (zero at both keyframes; one gap per side past the first or last keyframe).
    """
    nv = int((var >= 0).sum())
    gaps = np.searchsorted(kf_pos, np.flatnonzero(var >= 0))  # gap index of each unknown
    n_gaps = kf_pos.size + 1
    # a gap with u unknowns gets at most u terms: more would make the basis columns dependent
    per_gap = np.minimum(np.bincount(gaps, minlength=n_gaps), terms)
    out = np.zeros((3 * nv, 3 * terms * n_gaps))
    for i in np.flatnonzero(var >= 0).tolist():
        g = int(gaps[var[i]])
        lo = times[kf_pos[g - 1]] if g > 0 else times[0] - 1.0
        hi = times[kf_pos[g]] if g < kf_pos.size else times[-1] + 1.0
        x = (times[i] - lo) / (hi - lo)
        m = int(per_gap[g])
        phi = x * (1.0 - x) * x ** np.arange(m)
        for c in range(3):
            col = 3 * terms * g + c * terms
            out[3 * int(var[i]) + c, col : col + m] = phi
    return out[:, np.abs(out).sum(axis=0) > 0]  # gaps without unknowns have no coefficients


def snap_by_motion(
    path: CuboidPath,
    points: Sequence[npt.ArrayLike],
    reference: SnapReference,
    config: MotionSnapConfig | None = None,
) -> SnapResult:
    """Correct interpolated cuboids with the object's registered frame-to-frame motion (module docstring).

    Parameters
    ----------
    path : CuboidPath
        Interpolated cuboids (e.g. :func:`tracking.interpolate` output at the frames between keyframes),
        z-up frame, inside the keyframes' time range. Rows at a keyframe's timestamp are returned as the
        keyframe.
    points : sequence of Q arrays of shape (N_i, 3), float32
        Cuboid ``i``'s sweep, in the cuboid's frame at its timestamp [m] (empty where none).
    reference : SnapReference
        The track's keyframes and their sweeps (the anchors of the motion chain).
    config : MotionSnapConfig, optional
        Settings.

    Returns
    -------
    SnapResult
        Corrected cuboids (x, y and heading; z, size and roll/pitch kept), the containment residuals
        (:mod:`tracking.snap`) before and after, moves, point counts, ``snapped`` where a registration
        informed the cuboid and the correction was applied, and ``needs_keyframe`` where the cuboid had
        points but no registration was accepted or its correction was out of bounds.

    Raises
    ------
    InvalidInputError
        When ``points`` or ``reference.points`` does not hold one (N, 3) array per cuboid / keyframe.
    """
    cfg = MotionSnapConfig() if config is None else config
    q = len(path)
    if len(points) != q:
        raise InvalidInputError(f"points must hold one array per cuboid ({q}), got {len(points)}")
    kf = reference.keyframes  # SnapReference checked one sweep per keyframe
    qpts = [
        as_array(f"points[{i}]", p, np.float32, (None, 3)).astype(np.float64) for i, p in enumerate(points)
    ]
    kpts = [
        as_array(f"reference.points[{j}]", p, np.float32, (None, 3)).astype(np.float64)
        for j, p in enumerate(reference.points)
    ]
    kt = kf.timestamps_us.astype(np.float64)
    qt = path.timestamps_us.astype(np.float64)
    # One time-ordered sequence of keyframes and query cuboids; a query at a keyframe's time is that keyframe.
    is_kf_time = np.isin(path.timestamps_us, kf.timestamps_us)
    free = np.flatnonzero(~is_kf_time)
    times = np.concatenate([kt, qt[free]])
    order = np.argsort(times, kind="stable")
    n_all = times.size
    centers = np.concatenate([kf.centers, path.centers[free]])[order]
    yaws = np.concatenate([kf.yaws, path.yaws[free]])[order]
    sizes = np.concatenate([kf.sizes, path.sizes[free]])[order]
    pts = [([*kpts, *(qpts[i] for i in free)])[o] for o in order]
    var = np.full(n_all, -1, np.int64)  # index of each cuboid's unknowns, -1 for keyframes
    src_row = np.concatenate([np.full(len(kf), -1), free])[order]  # row of ``path`` or -1
    var[src_row >= 0] = np.arange(int((src_row >= 0).sum()))
    local = [_local(centers[i], float(yaws[i]), sizes[i], pts[i], cfg) for i in range(n_all)]
    counts_all = np.array([p.shape[0] for p in local], np.int64)

    nv = int((var >= 0).sum())
    normal = np.zeros((3 * nv, 3 * nv))
    rhs = np.zeros(3 * nv)
    informed = np.zeros(n_all, bool)
    step_info = 1.0 / cfg.step_std_m**2
    kf_pos = np.flatnonzero(var < 0)  # positions of the keyframes in the sequence
    targets: dict[int, _Target] = {}
    for i, j in _edges(var, kf_pos, cfg):
        if counts_all[i] < cfg.min_points or counts_all[j] < cfg.min_points:
            continue
        if i not in targets:  # normals and grid of a cuboid's points, shared by its pairs
            targets[i] = _Target.of(local[i], cfg)
        reg = _register(local[j], targets[i], cfg)
        d = reg.move[[0, 1, 3]]
        if (
            reg.inlier_fraction < cfg.min_inlier_fraction
            or reg.rms_m > cfg.max_rms_m
            or np.hypot(d[0], d[1]) > cfg.max_step_m
            or abs(d[2]) > cfg.max_step_rad
        ):
            continue
        informed[i] = informed[j] = True
        lam = reg.information * (step_info / float(j - i) ** cfg.lag_exponent)
        # Residual  A_i z_i - A_j z_j - d,  z = (world x, y offset, yaw error), A = blockdiag(R^T, 1).
        blocks = []
        for node, sign in ((i, 1.0), (j, -1.0)):
            if var[node] >= 0:
                c, s = np.cos(yaws[node]), np.sin(yaws[node])
                a = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]]) * sign
                blocks.append((3 * int(var[node]), a))
        for ra, aa in blocks:
            rhs[ra : ra + 3] += aa.T @ lam @ d
            for rb, ab in blocks:
                normal[ra : ra + 3, rb : rb + 3] += aa.T @ lam @ ab
    sig_p, sig_y = _prior_std(kt, kf, times, cfg)
    for i in np.flatnonzero(var >= 0).tolist():
        r = 3 * int(var[i])
        normal[r : r + 3, r : r + 3] += np.diag([sig_p[i] ** -2, sig_p[i] ** -2, sig_y[i] ** -2])
    if nv and cfg.smooth_terms > 0:
        basis = _gap_basis(times, var, kf_pos, cfg.smooth_terms)
        coef = np.linalg.solve(basis.T @ normal @ basis, basis.T @ rhs)
        z = (basis @ coef).reshape(-1, 3)
    else:
        z = np.linalg.solve(normal, rhs).reshape(-1, 3) if nv else np.zeros((0, 3))

    out_c = path.centers.copy()
    out_q = path.rotations_wxyz.copy()
    res, res0 = np.full(q, np.nan), np.full(q, np.nan)
    shift, dyaw = np.zeros(q), np.zeros(q)
    counts = np.zeros(q, np.int64)
    snapped = np.zeros(q, bool)
    flags = np.zeros(q, bool)
    snap_cfg = SnapConfig(margin_m=cfg.margin_m, ground_clearance_m=cfg.ground_clearance_m)
    for i in range(n_all):
        row = int(src_row[i])
        if row < 0:
            continue
        counts[row] = counts_all[i]
        if not informed[i]:
            flags[row] = counts_all[i] >= cfg.min_points
            continue
        u = z[var[i]]
        if np.hypot(u[0], u[1]) > cfg.max_shift_m or abs(u[2]) > cfg.max_yaw_rad:
            flags[row] = True
            continue
        # The containment residual of the points before and after (a sanity check, not the fit).
        c, s = np.cos(yaws[i]), np.sin(yaws[i])
        move = np.array([c * u[0] + s * u[1], -s * u[0] + c * u[1], u[2]])  # in the box frame
        bev = local[i][:, :2]
        half = sizes[i, :2] / 2.0
        res0[row] = _eval(bev, half, np.zeros(3), snap_cfg)
        after = _eval(bev, half, move, snap_cfg)
        if after > res0[row] + cfg.max_residual_growth_m:
            res[row] = res0[row]
            flags[row] = True
            continue
        res[row] = after
        snapped[row] = True
        out_c[row, :2] += u[:2]
        w1, _, _, z1 = yaw_to_quat_wxyz(np.array([u[2]]))[0]
        w2, x2, y2, z2 = out_q[row]
        # Left-multiply by a rotation about +z: the heading turns, roll/pitch of the box are kept.
        out_q[row] = [w1 * w2 - z1 * z2, w1 * x2 - z1 * y2, w1 * y2 + z1 * x2, w1 * z2 + z1 * w2]
        shift[row], dyaw[row] = float(np.hypot(u[0], u[1])), float(u[2])
    out_q[snapped] /= np.linalg.norm(out_q[snapped], axis=1, keepdims=True)
    # Rows at a keyframe's time are the keyframe.
    for row in np.flatnonzero(is_kf_time).tolist():
        j = int(np.searchsorted(kf.timestamps_us, path.timestamps_us[row]))
        out_c[row], out_q[row] = kf.centers[j], kf.rotations_wxyz[j]
    out = CuboidPath(path.timestamps_us, out_c, path.sizes, out_q, path.confidence, path.frame)
    return SnapResult(out, res, res0, shift, dyaw, counts, snapped, flags)
