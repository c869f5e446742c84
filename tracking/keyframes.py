"""Sparse keyframes of a dense cuboid path, which :func:`tracking.interpolate` turns back into it.

The keyframes are few frames of the path whose interpolation stays within tolerances everywhere.

:func:`keyframe_indices` selects them by refinement, Douglas–Peucker style but with the real
interpolator as the model::

    keyframes = {first, last}
    repeat: interpolate every frame of the path from the keyframes (tracking.interpolate, same method)
            error of a frame = max(centre distance / center_tol_m, rotation angle / yaw_tol_rad,
                                   size difference / size_tol_m)
            every gap between consecutive keyframes whose worst frame exceeds 1 gets that frame
    until no frame exceeds 1
    then one sweep over the inner keyframes drops every one whose removal keeps all frames within
    tolerance

Inserting the worst frame of every failing gap at once (not only the global worst) keeps the number
of interpolation passes logarithmic in the path length for smooth paths; the removal pass undoes
insertions that later ones made unnecessary (the Hermite tangents of one keyframe depend on its
neighbours, so the greedy set is not always minimal). The result is exact at its keyframes (they are
frames of the path) and within tolerance everywhere else; it is small but not proven minimal. A
path that does not move (a parked object) gets its two end frames; a single-frame path its one frame.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from kernels.errors import InvalidInputError
from tracking.interpolation import PositionMethod, _interpolate_arrays, interpolate
from tracking.paths import CuboidPath

__all__ = ["KeyframeTolerance", "keyframe_errors", "keyframe_indices", "keyframes_from_path"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]


@dataclass(frozen=True, slots=True)
class KeyframeTolerance:
    """Largest deviation of the interpolated path from the dense one.

    Parameters
    ----------
    center_tol_m : float
        Centre distance [m] (3D).
    yaw_tol_rad : float
        Rotation angle between the interpolated and the dense cuboid [rad] (the yaw error for
        yaw-only rotations).
    size_tol_m : float
        Largest difference of length, width or height [m].
    """

    center_tol_m: float = 0.05
    yaw_tol_rad: float = 0.0175
    size_tol_m: float = 0.02

    def __post_init__(self) -> None:
        for name in ("center_tol_m", "yaw_tol_rad", "size_tol_m"):
            v = getattr(self, name)
            if not np.isfinite(v) or v <= 0:
                raise InvalidInputError(f"{name} must be finite and > 0, got {v}")


def keyframe_errors(
    path: CuboidPath, keyframes: CuboidPath, method: PositionMethod = PositionMethod.HERMITE
) -> tuple[F64, F64, F64]:
    """Deviation of ``interpolate(keyframes)`` from ``path`` at every frame of ``path``.

    Parameters
    ----------
    path : CuboidPath
        Dense path (the reference), same frame as ``keyframes``.
    keyframes : CuboidPath
        Keyframes spanning ``path``'s timestamps.
    method : PositionMethod
        Centre interpolation.

    Returns
    -------
    center_m, angle_rad, size_m : ndarray of shape (K,), float64
        Centre distance [m], rotation angle [rad] and largest size difference [m] per frame.
    """
    got = interpolate(keyframes, path.timestamps_us, method=method)
    center = np.linalg.norm(got.centers - path.centers, axis=1)
    dot = np.abs(np.einsum("ij,ij->i", got.rotations_wxyz, path.rotations_wxyz))
    angle = 2.0 * np.arccos(np.clip(dot, 0.0, 1.0))
    size = np.abs(got.sizes - path.sizes).max(axis=1)
    return center, angle, size


def _score(
    path: CuboidPath, idx: I64, tol: KeyframeTolerance, method: PositionMethod, lo: int = 0, hi: int = -1
) -> F64:
    """Normalised error (> 1: out of tolerance) of frames ``lo..hi`` of ``path`` from keyframes ``idx``.

    The same math as :func:`keyframe_errors` on raw arrays (no ``CuboidPath`` per trial; the tests
    check both agree).
    """
    hi = len(path) - 1 if hi < 0 else hi
    t = path.timestamps_us
    centers, sizes, rot, _, _, _ = _interpolate_arrays(
        t[idx], path.centers[idx], path.rotations_wxyz[idx], path.sizes[idx], t[lo : hi + 1], method
    )
    c = np.linalg.norm(centers - path.centers[lo : hi + 1], axis=1)
    dot = np.abs(np.einsum("ij,ij->i", rot, path.rotations_wxyz[lo : hi + 1]))
    a = 2.0 * np.arccos(np.clip(dot, 0.0, 1.0))
    s = np.abs(sizes - path.sizes[lo : hi + 1]).max(axis=1)
    return np.asarray(np.maximum(np.maximum(c / tol.center_tol_m, a / tol.yaw_tol_rad), s / tol.size_tol_m))


def keyframe_indices(
    path: CuboidPath,
    tolerance: KeyframeTolerance | None = None,
    method: PositionMethod = PositionMethod.HERMITE,
) -> I64:
    """Indices of a small set of frames of ``path`` that interpolate back to it within ``tolerance``.

    Parameters
    ----------
    path : CuboidPath
        Dense cuboid path (e.g. a refined track's per-frame path), any frame.
    tolerance : KeyframeTolerance, optional
        Allowed deviation (defaults: 5 cm, 1°, 2 cm).
    method : PositionMethod
        The interpolation the keyframes are meant for.

    Returns
    -------
    ndarray of int64
        Increasing indices into ``path``, always including the first and the last frame.

    Examples
    --------
    >>> import numpy as np
    >>> from tracking import CuboidPath
    >>> t = np.arange(50) * 100_000
    >>> boxes = np.zeros((50, 7)); boxes[:, 0] = 0.1 * np.arange(50); boxes[:, 3:6] = [4, 2, 1.5]
    >>> keyframe_indices(CuboidPath.from_boxes(t, boxes)).tolist()  # constant velocity: the ends
    [0, 49]
    """
    tol = KeyframeTolerance() if tolerance is None else tolerance
    if not isinstance(method, PositionMethod):
        raise InvalidInputError(f"unknown method {method!r}; expected one of {list(PositionMethod)}")
    k = len(path)
    if k <= 2:
        return np.arange(k, dtype=np.int64)
    idx = np.array([0, k - 1], np.int64)
    while True:
        err = _score(path, idx, tol, method)
        if err.max() <= 1.0:
            break
        gap = np.searchsorted(idx, np.arange(k), side="right") - 1  # keyframe gap of every frame
        bad = err > 1.0
        worst: dict[int, int] = {}
        for f in np.flatnonzero(bad).tolist():
            g = int(gap[f])
            if g not in worst or err[f] > err[worst[g]]:
                worst[g] = f
        idx = np.union1d(idx, np.fromiter(worst.values(), np.int64)).astype(np.int64)
    # Removal pass, one sweep: drop inner keyframes whose removal keeps every frame within tolerance.
    # Removing keyframe j changes the path only between its second neighbours (Hermite tangents use
    # one neighbour on each side), so only those frames are checked.
    j = 1
    while j < idx.size - 1:
        trial = np.delete(idx, j)
        lo, hi = int(idx[max(j - 2, 0)]), int(idx[min(j + 2, idx.size - 1)])
        if _score(path, trial, tol, method, lo, hi).max() <= 1.0:
            idx = trial
        else:
            j += 1
    return idx


def keyframes_from_path(
    path: CuboidPath,
    tolerance: KeyframeTolerance | None = None,
    method: PositionMethod = PositionMethod.HERMITE,
) -> CuboidPath:
    """The keyframes of :func:`keyframe_indices` as a sub-path of ``path`` (same frame, confidence).

    Parameters
    ----------
    path : CuboidPath
        Dense cuboid path.
    tolerance : KeyframeTolerance, optional
        Allowed deviation of ``interpolate(result, path.timestamps_us)`` from ``path``.
    method : PositionMethod
        The interpolation the keyframes are meant for.

    Returns
    -------
    CuboidPath
        The selected cuboids of ``path``.
    """
    return path.take(keyframe_indices(path, tolerance, method))
