"""Fragment stitching for offline refinement: join track fragments across short gaps by motion consistency.

A fragment is a time-ordered chain of ``(frame, detection)`` pairs of one object. Stitching decides which
fragment end continues as which later fragment start:

1. **End states.** Each fragment's class motion model is run as a Kalman filter over (at most)
   ``window`` detections at each end: forward in time over the tail, giving the state and covariance at
   its last detection, and backward in time (time-reversed) over the head, giving them at its first
   detection. Both use every detection of the window, not the noisy end detection alone.
2. **Coarse gate** (vectorised over all pairs): same class, a gap in ``(0, max_gap_s]``, and the ends'
   constant-velocity extrapolations across the gap within ``stitch_gate_m + stitch_gate_mps · gap``.
3. **Motion-consistency test** (gated pairs): the tail state of fragment ``a`` is predicted across the
   gap with the motion model and compared with the head state of fragment ``b`` on BEV position and
   velocity, ``d² = wᵀ S⁻¹ w`` with ``w = [p_a - p_b, v_a - v_b]`` and ``S`` the sum of both covariances
   (a track-to-track test: the two estimates use disjoint detections). A walker that would continue as
   a standing pedestrian, or a fragment that would jump 1 m sideways, fails it.
4. **Assignment**: pairs with ``d² <= max_chi2`` are matched by ``linear_sum_assignment`` on ``d²``,
   with a no-stitch option of cost ``max_chi2`` for every end and start (so the solver never stitches
   a worse pair only to stitch more pairs).

This runs twice: first among the fragments with at least ``min_detections`` detections (their end
states carry velocity), then over the resulting chains and the short fragments. A one- or two-detection
fragment knows its position but hardly its velocity, so in a single round it could serve as a free
bridge between two long fragments that motion alone would never join (e.g. where two pedestrians pass
0.4 m apart); short fragments left inside a chain's span stay apart (and are usually dropped as too
short).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from tracking.detections import Detections
from tracking.motion import MotionModel, kalman_update

__all__ = ["StitchConfig", "stitch_fragments"]

F64 = npt.NDArray[np.float64]
Fragment = list[tuple[int, int]]


@dataclass(frozen=True, slots=True)
class StitchConfig:
    """Thresholds of :func:`stitch_fragments`.

    Parameters
    ----------
    max_gap_s : float
        Longest gap between two fragments that may be stitched [s].
    stitch_gate_m : float
        Coarse gate: largest mismatch of the extrapolated ends [m], plus ``stitch_gate_mps`` per second
        of gap.
    stitch_gate_mps : float
        Growth of the coarse gate with the gap [m/s].
    max_chi2 : float
        Largest motion-consistency ``d²`` (4 degrees of freedom). A calibrated test would use 18.5 (99.9 %
        of true continuations); the default is looser because the end states of fragments that end where
        two objects meet are biased (chosen on simulated logs with seeds 1-4, not the reported one).
    window : int
        Detections at each end that the end states are estimated from.
    min_detections : int
        Fragments with at least this many detections are stitched in the first round.
    min_length : int
        Shorter fragments are never stitched. A single detection has no velocity, and the chain it
        would start or end could continue with the wrong object where two objects are near.
    """

    max_gap_s: float = 2.0
    stitch_gate_m: float = 1.5
    stitch_gate_mps: float = 1.0
    max_chi2: float = 30.0
    window: int = 20
    min_detections: int = 5
    min_length: int = 2


def _end_state(
    model: MotionModel, frames: Sequence[Detections], part: Fragment, r: F64
) -> tuple[F64, F64, F64]:
    """Filtered state, covariance and BEV velocity at the last element of ``part`` (in its order).

    The velocity's sign follows the order of ``part`` (reversed time gives the negated velocity).
    """
    t = np.array([frames[f].timestamp_us for f, _ in part], dtype=np.int64)
    z = np.array([frames[f].boxes[d, [0, 1, 2, 6]] for f, d in part])
    x, p = model.initial(z[:1])
    for i in range(1, len(part)):
        x, p, _ = model.predict(x, p, abs(int(t[i] - t[i - 1])) * 1e-6)
        x, p, _ = kalman_update(x, p, z[i : i + 1], r)
    return x[0], p[0], np.asarray(model.velocity(x))[0, :2]


def _bev(model: MotionModel, x: F64, p: F64, sign: float) -> tuple[F64, F64]:
    """``[px, py, vx, vy]`` (T, 4) and its covariance (T, 4, 4) from states; ``sign`` -1 for reversed time."""
    jv = model.velocity_jacobian(x)[:, :2, :]  # (T, 2, n)
    j = np.zeros((x.shape[0], 4, x.shape[1]))
    j[:, 0, 0] = j[:, 1, 1] = 1.0
    j[:, 2:, :] = jv
    v = sign * np.asarray(model.velocity(x))[:, :2]
    return np.column_stack([x[:, :2], v]), j @ p @ np.swapaxes(j, 1, 2)


def _stitch_once(
    frames: Sequence[Detections],
    frags: list[Fragment],
    models: Sequence[MotionModel],
    r: F64,
    cfg: StitchConfig,
) -> dict[int, int]:
    """One round: the successor of each fragment that gets one."""
    n = len(frags)
    if n < 2:
        return {}
    cls = np.array([int(frames[fr[0][0]].class_ids[fr[0][1]]) for fr in frags])  # type: ignore[index]
    ends = [_end_state(models[i], frames, frags[i][-cfg.window :], r) for i in range(n)]
    heads = [_end_state(models[i], frames, frags[i][: cfg.window][::-1], r) for i in range(n)]
    ta = np.array([frames[fr[-1][0]].timestamp_us for fr in frags]) * 1e-6
    tb = np.array([frames[fr[0][0]].timestamp_us for fr in frags]) * 1e-6
    pa, va = np.array([e[0][:2] for e in ends]), np.array([e[2] for e in ends])
    pb, vb = np.array([h[0][:2] for h in heads]), -np.array([h[2] for h in heads])
    gap = tb[None, :] - ta[:, None]  # (end a, start b)
    fwd = pa[:, None, :] + va[:, None, :] * gap[..., None] - pb[None, :, :]
    bwd = pb[None, :, :] - vb[None, :, :] * gap[..., None] - pa[:, None, :]
    coarse = 0.5 * (np.linalg.norm(fwd, axis=2) + np.linalg.norm(bwd, axis=2))
    ok = (gap > 1e-9) & (gap <= cfg.max_gap_s) & (cls[:, None] == cls[None, :])
    ok &= coarse <= cfg.stitch_gate_m + cfg.stitch_gate_mps * gap
    ia, ib = np.nonzero(ok)
    d2 = np.full(ia.size, np.inf)
    for g in np.unique(np.round(gap[ia, ib], 6)):  # predict every tail across its gap, grouped by gap
        sel = np.flatnonzero(np.abs(gap[ia, ib] - g) < 1e-6)
        for m_id in {id(models[int(a)]) for a in ia[sel]}:
            s = sel[[id(models[int(ia[k])]) == m_id for k in sel]]
            model = models[int(ia[s[0]])]
            xa, paa, _ = model.predict(
                np.array([ends[int(a)][0] for a in ia[s]]),
                np.array([ends[int(a)][1] for a in ia[s]]),
                float(g),
            )
            wa, sa = _bev(model, xa, paa, 1.0)
            xb = np.array([heads[int(b)][0] for b in ib[s]])
            wb, sb = _bev(model, xb, np.array([heads[int(b)][1] for b in ib[s]]), -1.0)
            w = wa - wb
            d2[s] = np.einsum("ti,ti->t", w, np.linalg.solve(sa + sb, w[..., None])[..., 0])
    keep = d2 <= cfg.max_chi2
    ia, ib, d2 = ia[keep], ib[keep], d2[keep]
    nxt: dict[int, int] = {}
    if ia.size:
        rows, ri = np.unique(ia, return_inverse=True)
        cols, ci = np.unique(ib, return_inverse=True)
        nr, nc = rows.size, cols.size
        big = 1e9
        cost = np.full((nr + nc, nc + nr), big)
        cost[ri, ci] = d2
        cost[np.arange(nr), nc + np.arange(nr)] = 0.5 * cfg.max_chi2  # end a: no successor
        cost[nr + np.arange(nc), np.arange(nc)] = 0.5 * cfg.max_chi2  # start b: no predecessor
        cost[nr:, nc:] = 0.0
        r_idx, c_idx = linear_sum_assignment(cost)
        for i, j in zip(r_idx, c_idx, strict=True):
            if i < nr and j < nc and cost[i, j] < big:
                nxt[int(rows[i])] = int(cols[j])
    return nxt


def _chains(frags: list[Fragment], nxt: dict[int, int]) -> tuple[list[Fragment], list[list[int]]]:
    """Follow the successor links; returns the chains and the fragment indices of each."""
    out, members = [], []
    for h in sorted(set(range(len(frags))) - set(nxt.values())):
        idx, i = [h], h
        while i in nxt:
            i = nxt[i]
            idx.append(i)
        out.append(sorted(d for k in idx for d in frags[k]))
        members.append(idx)
    return out, members


def stitch_fragments(
    frames: Sequence[Detections],
    frags: list[Fragment],
    models: Sequence[MotionModel],
    obs_std: tuple[float, float, float, float],
    config: StitchConfig | None = None,
) -> list[Fragment]:
    """Join fragment ends to later fragment starts (see the module docstring).

    Parameters
    ----------
    frames : sequence of Detections
        The log's frames, world frame.
    frags : list of list of (frame, detection)
        Fragments, each sorted by frame.
    models : sequence of MotionModel
        The motion model of each fragment (of its class).
    obs_std : tuple of 4 float
        Detection noise: centre x, y, z [m] and heading [rad].
    config : StitchConfig, optional
        Thresholds.

    Returns
    -------
    list of list of (frame, detection)
        The stitched chains, each sorted by frame.
    """
    cfg = StitchConfig() if config is None else config
    if not frags:
        return []
    r = np.diag(np.square(obs_std))
    long_ = [i for i, f in enumerate(frags) if len(f) >= cfg.min_detections]
    nxt = _stitch_once(frames, [frags[i] for i in long_], [models[i] for i in long_], r, cfg)
    chains, members = _chains([frags[i] for i in long_], nxt)
    short = [i for i, f in enumerate(frags) if cfg.min_length <= len(f) < cfg.min_detections]
    pool = chains + [frags[i] for i in short]
    pool_models = [models[long_[m[0]]] for m in members] + [models[i] for i in short]
    tiny = [f for f in frags if len(f) < min(cfg.min_length, cfg.min_detections)]
    return _chains(pool, _stitch_once(frames, pool, pool_models, r, cfg))[0] + tiny
