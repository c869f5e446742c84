"""Compiled per-frame kernels of the online tracker (numba; private).

The public, NumPy reference versions live in :mod:`tracking.motion` (``ConstantVelocity.predict``,
``kalman_update``) and :mod:`tracking.association` (dense cost matrices); the tests compare these
kernels with them. Everything here works in place on the tracker's structure-of-arrays state and
trusts its inputs (the tracker validated them). The kernels are cached on disk (``cache=True``, keyed on
this file); :func:`pair_ious` inlines the polygon math of ``kernels._math`` and uses
``kernels._cache.cached_njit`` (a cache that follows those files) where it exists.

* :func:`cv_predict` — constant-velocity predict of every track, closed form of ``F P Fᵀ + Q``.
* :func:`kalman_update_rows` — the ``H = [I4, 0]`` update of the matched rows (4 x 4 Cholesky).
* :func:`gate_pairs` — candidate (track, detection) pairs of the same class whose BEV centres are
  within ``radius[t] + extra[d]``: tracks and detections sorted by x and swept once, so a frame
  costs two sorts plus the pairs inside the x window instead of a dense ``T x D`` matrix.
* :func:`pair_ious` — exact rotated-box (G)IoU of listed pairs only (the polygon math of
  :mod:`kernels._math.polygon`).
* :func:`mahalanobis_pairs` — squared Mahalanobis distance and ``+ ln det S`` of listed pairs.
* :func:`components` — connected components of the bipartite candidate graph (union-find).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from kernels._math import polygon as _polygon_math
from kernels._math.retarget import retarget

__all__ = [
    "components",
    "cv_predict",
    "gate_pairs",
    "kalman_update_rows",
    "mahalanobis_pairs",
    "pair_ious",
]

try:  # a disk cache that also follows kernels/_math edits (pair_ious inlines that math)
    from kernels._cache import cached_njit as _math_njit
except ImportError:  # pragma: no cover - kernels without it: compile in memory on first use

    def _math_njit(*, key: str | None = None, **options: Any) -> Callable[[Callable[..., Any]], Any]:
        return numba.njit(**options)  # type: ignore[no-any-return]


_POLY = retarget(_polygon_math.DEVICE_FUNCTIONS, numba.njit(inline="always"))
_pair_iou = _POLY["pair_iou"]
_pair_giou = _POLY["pair_giou"]
_SCRATCH = _polygon_math.SCRATCH_SIZE
_TWO_PI = 2.0 * math.pi


@numba.njit(inline="always")
def _wrap(a: float) -> float:  # pragma: no cover - compiled
    out = (a + math.pi) % _TWO_PI - math.pi  # Python float % is numpy's mod (sign of the divisor)
    return out - _TWO_PI if out >= math.pi else out


@numba.njit(cache=True)
def cv_predict(x: Any, p: Any, dt: float, q: Any, model_idx: Any) -> None:  # pragma: no cover - compiled
    """Constant-velocity predict in place: ``x = F x``, ``P = F P Fᵀ + Q[model_idx[t]]``.

    ``x`` (T, 8), ``p`` (T, 8, 8), ``q`` (G, 8, 8), ``model_idx`` (T,) int8;
    ``F = [[I4, dt I4], [0, I4]]``.
    """
    for t in range(x.shape[0]):
        for k in range(4):
            x[t, k] += dt * x[t, k + 4]
        x[t, 3] = _wrap(x[t, 3])
        for i in range(4):  # F P: row i += dt row i+4
            for j in range(8):
                p[t, i, j] += dt * p[t, i + 4, j]
        for i in range(8):  # (F P) F^T: column j += dt column j+4
            for j in range(4):
                p[t, i, j] += dt * p[t, i, j + 4]
        g = model_idx[t]
        for i in range(8):
            for j in range(8):
                p[t, i, j] += q[g, i, j]


@numba.njit(cache=True)
def kalman_update_rows(x: Any, p: Any, rows: Any, z: Any, r: Any) -> None:  # pragma: no cover - compiled
    """``tracking.motion.kalman_update`` of rows ``rows`` of ``x`` (T, n) / ``p`` (T, n, n), in place.

    ``z`` (K, 4) observations of those rows, ``r`` (4, 4) observation covariance.
    """
    n = x.shape[1]
    s = np.empty((4, 4))
    low = np.empty((4, 4))
    innov = np.empty(4)
    gain = np.empty((n, 4))
    top = np.empty((4, n))
    for k in range(rows.shape[0]):
        t = rows[k]
        for i in range(4):
            innov[i] = z[k, i] - x[t, i]
        d_yaw = _wrap(innov[3])
        if abs(d_yaw) > 0.5 * math.pi:  # front/back confusion: turn the observation by pi
            d_yaw = _wrap(d_yaw + math.pi)
        innov[3] = d_yaw
        for i in range(4):
            for j in range(4):
                s[i, j] = p[t, i, j] + r[i, j]
        for i in range(4):  # Cholesky S = L L^T
            for j in range(i + 1):
                acc = s[i, j]
                for m in range(j):
                    acc -= low[i, m] * low[j, m]
                if i == j:
                    low[i, i] = math.sqrt(acc)
                else:
                    low[i, j] = acc / low[j, j]
        for a in range(n):  # gain row a solves S g = P[a, :4] (S symmetric)
            for i in range(4):
                acc = p[t, a, i]
                for m in range(i):
                    acc -= low[i, m] * gain[a, m]
                gain[a, i] = acc / low[i, i]
            for i in range(3, -1, -1):
                acc = gain[a, i]
                for m in range(i + 1, 4):
                    acc -= low[m, i] * gain[a, m]
                gain[a, i] = acc / low[i, i]
        for a in range(n):
            acc = 0.0
            for i in range(4):
                acc += gain[a, i] * innov[i]
            x[t, a] += acc
        x[t, 3] = _wrap(x[t, 3])
        for i in range(4):
            for b in range(n):
                top[i, b] = p[t, i, b]
        for a in range(n):
            for b in range(n):
                acc = 0.0
                for i in range(4):
                    acc += gain[a, i] * top[i, b]
                p[t, a, b] -= acc
        for a in range(n):
            for b in range(a + 1, n):
                m = 0.5 * (p[t, a, b] + p[t, b, a])
                p[t, a, b] = m
                p[t, b, a] = m


@numba.njit(cache=True)
def gate_pairs(
    txy: Any, tcls: Any, radius: Any, dxy: Any, dcls: Any, extra: Any
) -> tuple[Any, Any, Any]:  # pragma: no cover - compiled
    """Same-class (track, detection) pairs with BEV centre distance ``<= radius[t] + extra[d]``.

    Tracks and detections are both sorted by x and swept once: the window
    ``[x - w, x + w]`` (``w`` the largest reach) only moves forward. Returns
    ``(track_rows, detection_rows, distances)``, int64 / int64 / float64, in track x order.
    """
    nt, nd = txy.shape[0], dxy.shape[0]
    d_order = np.argsort(dxy[:, 0])
    t_order = np.argsort(txy[:, 0])
    xs = np.empty(nd)
    for s in range(nd):
        xs[s] = dxy[d_order[s], 0]
    w = 0.0
    for d in range(nd):
        w = max(w, extra[d])
    reach = 0.0
    for t in range(nt):
        reach = max(reach, radius[t])
    w += reach
    cap = 4 * (nt + nd) + 16
    ti = np.empty(cap, np.int64)
    di = np.empty(cap, np.int64)
    dist = np.empty(cap)
    k = 0
    lo = 0
    for u in range(nt):
        t = t_order[u]
        tx, ty = txy[t, 0], txy[t, 1]
        while lo < nd and xs[lo] < tx - w:
            lo += 1
        s = lo
        while s < nd and xs[s] <= tx + w:
            d = d_order[s]
            s += 1
            if dcls[d] != tcls[t]:
                continue
            ex = tx - dxy[d, 0]
            ey = ty - dxy[d, 1]
            dd = math.sqrt(ex * ex + ey * ey)
            if dd <= radius[t] + extra[d]:
                if k == cap:
                    cap *= 2
                    ti2, di2, dist2 = np.empty(cap, np.int64), np.empty(cap, np.int64), np.empty(cap)
                    ti2[:k], di2[:k], dist2[:k] = ti[:k], di[:k], dist[:k]
                    ti, di, dist = ti2, di2, dist2
                ti[k] = t
                di[k] = d
                dist[k] = dd
                k += 1
    return ti[:k], di[:k], dist[:k]


@_math_njit()
def pair_ious(  # pragma: no cover - compiled
    pa: Any, pb: Any, ti: Any, di: Any, three_d: bool, generalized: bool
) -> Any:
    """(G)IoU of boxes ``pa[ti[k]]`` and ``pb[di[k]]`` (parameter rows of ``kernels._box_host``)."""
    out = np.empty(ti.shape[0])
    scratch = np.empty(_SCRATCH, np.float64)
    for k in range(ti.shape[0]):
        if generalized:
            out[k] = _pair_giou(pa, ti[k], pb, di[k], three_d, scratch)
        else:
            out[k] = _pair_iou(pa, ti[k], pb, di[k], three_d, scratch)
    return out


@numba.njit(cache=True)
def mahalanobis_pairs(txy: Any, cov: Any, dxy: Any, ti: Any, di: Any) -> tuple[Any, Any]:  # pragma: no cover
    """``(d2, d2 + ln det S)`` of listed pairs; ``cov`` (T, 2, 2) innovation covariances."""
    d2 = np.empty(ti.shape[0])
    cost = np.empty(ti.shape[0])
    for k in range(ti.shape[0]):
        t, d = ti[k], di[k]
        a, b, c = cov[t, 0, 0], cov[t, 0, 1], cov[t, 1, 1]
        det = a * c - b * b
        dx = dxy[d, 0] - txy[t, 0]
        dy = dxy[d, 1] - txy[t, 1]
        d2[k] = (c * dx * dx - 2.0 * b * dx * dy + a * dy * dy) / det
        cost[k] = d2[k] + math.log(det)
    return d2, cost


@numba.njit(inline="always")
def _root(parent: Any, i: int) -> int:  # pragma: no cover - compiled
    while parent[i] != i:
        parent[i] = parent[parent[i]]
        i = parent[i]
    return i


@numba.njit(cache=True)
def components(ti: Any, di: Any, n_tracks: int, n_detections: int) -> tuple[Any, Any]:  # pragma: no cover
    """Component labels of the pairs of the bipartite graph tracks + detections.

    Returns ``(label, alone)``: a root node id per pair, and whether the pair is alone in its component.
    """
    parent = np.arange(n_tracks + n_detections)
    for k in range(ti.shape[0]):
        a = _root(parent, ti[k])
        b = _root(parent, n_tracks + di[k])
        if a != b:
            parent[max(a, b)] = min(a, b)
    out = np.empty(ti.shape[0], np.int64)
    size = np.zeros(n_tracks + n_detections, np.int64)
    for k in range(ti.shape[0]):
        out[k] = _root(parent, ti[k])
        size[out[k]] += 1
    alone = np.empty(ti.shape[0], np.bool_)
    for k in range(ti.shape[0]):
        alone[k] = size[out[k]] == 1
    return out, alone


@numba.njit(cache=True)
def bookkeeping(
    rows: Any,
    det_rows: Any,
    det_sizes: Any,
    det_scores: Any,
    size_weight: float,
    sizes: Any,
    scores: Any,
    hits: Any,
    misses: Any,
    state: Any,
    lifecycle: Any,
    report_max_misses: int,
) -> tuple[Any, Any]:  # pragma: no cover - compiled
    """Running sizes and scores, hit / miss counters and the lifecycle transition, in place.

    ``rows`` matched track rows and ``det_rows`` their detections; ``lifecycle`` int64
    ``(min_hits, max_tentative_misses, max_misses)``. State codes are ``TrackState`` values
    (0 tentative, 1 confirmed, 2 lost, 3 dead; the table of :func:`tracking.lifecycle.next_state`).
    Returns ``(alive, shown)`` masks: not dead, and reported (confirmed, or lost for at most
    ``report_max_misses`` frames).
    """
    nt = state.shape[0]
    hit = np.zeros(nt, np.bool_)
    for k in range(rows.shape[0]):
        t, d = rows[k], det_rows[k]
        hit[t] = True
        for i in range(3):
            sizes[t, i] = (1.0 - size_weight) * sizes[t, i] + size_weight * det_sizes[d, i]
        scores[t] = np.float32(0.7) * scores[t] + np.float32(0.3) * det_scores[d]
    alive = np.empty(nt, np.bool_)
    shown = np.empty(nt, np.bool_)
    for t in range(nt):
        s = state[t]
        if hit[t]:
            hits[t] += 1
            misses[t] = 0
        else:
            misses[t] += 1
            scores[t] *= np.float32(0.5)
        if s == 0:
            if hit[t]:
                s = 1 if hits[t] >= lifecycle[0] else 0
            elif misses[t] > lifecycle[1]:
                s = 3
        elif s == 1 or s == 2:
            if hit[t]:
                s = 1
            else:
                s = 3 if misses[t] > lifecycle[2] else 2
        state[t] = s
        alive[t] = s != 3
        shown[t] = s == 1 or (s == 2 and misses[t] <= report_max_misses)
    return alive, shown
