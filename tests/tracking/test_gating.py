"""The tracker's compiled per-frame path against the dense NumPy references it replaced."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.errors import InvalidInputError
from tracking import _fast
from tracking.association import (
    ClassGate,
    CostMetric,
    associate,
    associate_in_stages,
    cost_matrix,
    gate_limits,
    gate_matrix,
    innovation_costs,
)
from tracking.gating import Candidates, associate_pairs, candidate_pairs
from tracking.lifecycle import LifecycleConfig, TrackState, next_state
from tracking.motion import ConstantVelocity, kalman_update
from tracking.tracker import Detections, OnlineTracker, TrackerConfig


def _boxes(rng: np.random.Generator, n: int, spread: float) -> np.ndarray:
    b = np.zeros((n, 7))
    b[:, :2] = rng.uniform(-spread, spread, (n, 2))
    b[:, 2] = rng.normal(0, 0.3, n)
    b[:, 3:6] = rng.uniform([1.0, 0.5, 1.0], [5.0, 2.5, 2.0], (n, 3))
    b[:, 6] = rng.uniform(-np.pi, np.pi, n)
    return b


def _spd(rng: np.random.Generator, t: int, n: int) -> np.ndarray:
    a = rng.normal(0, 0.5, (t, n, n))
    return a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(n)


def test_cv_predict_matches_model_predict_per_class() -> None:
    rng = np.random.default_rng(0)
    models = [ConstantVelocity(), ConstantVelocity(accel_xy=0.2, yaw_accel=0.1)]
    x, p = rng.normal(0, 2, (30, 8)), _spd(rng, 30, 8)
    idx = rng.integers(0, 2, 30).astype(np.int8)
    q = np.stack([m.noise(0.1) for m in models])
    xf, pf = x.copy(), p.copy()
    _fast.cv_predict(xf, pf, 0.1, q, idx)
    for g, m in enumerate(models):
        xr, pr, _ = m.predict(x[idx == g], p[idx == g], 0.1)
        np.testing.assert_allclose(xf[idx == g], xr, atol=1e-12)
        np.testing.assert_allclose(pf[idx == g], pr, atol=1e-12)


@pytest.mark.parametrize("n", [7, 8])
def test_kalman_update_rows_matches_reference(n: int) -> None:
    rng = np.random.default_rng(n)
    x, p = rng.normal(0, 1, (20, n)), _spd(rng, 20, n)
    rows = np.array([0, 3, 4, 11, 19])
    z = x[rows, :4] + rng.normal(0, 0.3, (5, 4))
    z[1, 3] += np.pi  # a backwards heading: flipped like the reference
    r = np.diag([0.04, 0.04, 0.04, 0.01])
    xr, pr, flipped = kalman_update(x[rows], p[rows], z, r)
    assert flipped[1]
    xf, pf = x.copy(), p.copy()
    _fast.kalman_update_rows(xf, pf, rows, z, r)
    np.testing.assert_allclose(xf[rows], xr, atol=1e-10)
    np.testing.assert_allclose(pf[rows], pr, atol=1e-10)
    others = np.setdiff1d(np.arange(20), rows)
    np.testing.assert_array_equal(xf[others], x[others])


def _dense_allowed(tracks, dets, tc, dc, metric, limits, dist_limits, cov):  # type: ignore[no-untyped-def]
    cost = cost_matrix(tracks, dets, metric)
    if metric is CostMetric.MAHALANOBIS:
        allowed = gate_matrix(cost, dist_limits, tc, dc)
        d2, cost = innovation_costs(tracks[:, :2], cov, dets[:, :2])
        allowed &= d2 <= limits[:, None]
    else:
        allowed = gate_matrix(cost, limits, tc, dc)
    return cost, allowed


@pytest.mark.parametrize(
    ("metric", "gate"),
    [
        (CostMetric.CENTER_DISTANCE, ClassGate(max_distance_m=3.0)),
        (CostMetric.MAHALANOBIS, ClassGate(max_distance_m=4.0, max_sigma=2.5)),
        (CostMetric.BEV_IOU, ClassGate(min_iou=0.05)),
        (CostMetric.GIOU_3D, ClassGate(min_iou=0.05)),
        (CostMetric.GIOU_3D, ClassGate(min_iou=-0.5)),  # admits disjoint boxes: no circle gate
    ],
)
@pytest.mark.parametrize("seed", [1, 2])
def test_candidate_pairs_equal_dense_gate(metric: CostMetric, gate: ClassGate, seed: int) -> None:
    rng = np.random.default_rng(seed)
    tracks = _boxes(rng, 40, 12.0)
    near = tracks[:30] + rng.normal(0, 0.6, (30, 7)) * [1, 1, 0, 0, 0, 0, 0.3]
    dets = np.concatenate([near, _boxes(rng, 15, 12)])
    dets[:, 3:6] = np.abs(dets[:, 3:6])
    tc, dc = rng.integers(0, 2, 40).astype(np.int32), rng.integers(0, 2, 45).astype(np.int32)
    dc[:30] = tc[:30]
    limits = gate_limits(tc, metric, {1: gate}, gate)
    dist = gate_limits(tc, CostMetric.CENTER_DISTANCE, {1: gate}, gate)
    cov = _spd(rng, 40, 2)
    cost, allowed = _dense_allowed(tracks, dets, tc, dc, metric, limits, dist, cov)
    got = candidate_pairs(tracks, dets, tc, dc, metric, limits, dist, cov)
    mask = np.zeros_like(allowed)
    mask[got.tracks, got.detections] = True
    np.testing.assert_array_equal(mask, allowed)
    assert got.tracks.size == allowed.sum()  # no pair twice
    np.testing.assert_allclose(got.costs, cost[got.tracks, got.detections], atol=1e-9)


def test_candidate_pairs_need_covariances_for_mahalanobis() -> None:
    z = np.zeros((0, 7))
    with pytest.raises(InvalidInputError, match="MAHALANOBIS needs"):
        c = np.zeros(0, np.int32)
        candidate_pairs(z, z, c, c, CostMetric.MAHALANOBIS, np.zeros(0))


@settings(max_examples=60, deadline=None)
@given(
    st.integers(0, 12),
    st.integers(0, 12),
    st.integers(0, 2**32 - 1),
    st.booleans(),
)
def test_sparse_assignment_is_as_good_as_dense(nt: int, nd: int, seed: int, staged: bool) -> None:
    rng = np.random.default_rng(seed)
    # Few distinct x values: ties in the sweep, crowded components, empty sides.
    txy = rng.integers(0, 4, (nt, 2)).astype(np.float64)
    dxy = rng.integers(0, 4, (nd, 2)).astype(np.float64) + rng.normal(0, 0.3, (nd, 2))
    tracks, dets = np.zeros((nt, 7)), np.zeros((nd, 7))
    tracks[:, :2], dets[:, :2] = txy, dxy
    tracks[:, 3:6] = dets[:, 3:6] = 1.0
    zeros_t, zeros_d = np.zeros(nt, np.int32), np.zeros(nd, np.int32)
    limits = np.full(nt, 1.5)
    metric = CostMetric.CENTER_DISTANCE
    cost, allowed = _dense_allowed(tracks, dets, zeros_t, zeros_d, metric, limits, None, None)
    first = rng.random(nt) < 0.6
    ref = associate_in_stages(cost, allowed, first) if staged else associate(cost, allowed)
    pairs = candidate_pairs(tracks, dets, zeros_t, zeros_d, CostMetric.CENTER_DISTANCE, limits)
    got = associate_pairs(pairs, nt, nd, first if staged else None)
    assert got.matches.shape == ref.matches.shape
    assert got.costs.sum() == pytest.approx(ref.costs.sum(), abs=1e-9)
    assert allowed[got.matches[:, 0], got.matches[:, 1]].all()
    assert np.unique(got.matches[:, 0]).size == np.unique(got.matches[:, 1]).size == len(got.matches)
    if staged:  # the first-stage tracks get as many (and as cheap) matches as on their own
        assert np.sum(first[got.matches[:, 0]]) == np.sum(first[ref.matches[:, 0]])
    assert set(got.unmatched_tracks) == set(range(nt)) - set(got.matches[:, 0])
    assert set(got.unmatched_detections) == set(range(nd)) - set(got.matches[:, 1])


def test_big_components_are_solved_one_by_one() -> None:
    # 3 clusters of 40 tracks x 40 detections each: 120 x 120 > the packing bound -> per component.
    rng = np.random.default_rng(5)
    centres = np.repeat([[0.0, 0.0], [100.0, 0.0], [0.0, 100.0]], 40, axis=0)
    tracks, dets = np.zeros((120, 7)), np.zeros((120, 7))
    tracks[:, :2] = centres + rng.uniform(-1, 1, (120, 2))
    dets[:, :2] = centres + rng.uniform(-1, 1, (120, 2))
    z = np.zeros(120, np.int32)
    limits = np.full(120, 3.0)
    cost, allowed = _dense_allowed(tracks, dets, z, z, CostMetric.CENTER_DISTANCE, limits, None, None)
    ref = associate(cost, allowed)
    got = associate_pairs(candidate_pairs(tracks, dets, z, z, CostMetric.CENTER_DISTANCE, limits), 120, 120)
    assert len(got.matches) == 120
    assert got.costs.sum() == pytest.approx(ref.costs.sum(), rel=1e-12)


def test_empty_candidates() -> None:
    got = associate_pairs(Candidates(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)), 3, 2)
    assert got.matches.shape == (0, 2)
    np.testing.assert_array_equal(got.unmatched_tracks, [0, 1, 2])


def test_bookkeeping_lifecycle_matches_reference() -> None:
    rng = np.random.default_rng(3)
    cfg = LifecycleConfig(min_hits=3, max_tentative_misses=1, max_misses=4)
    n = 400
    state = rng.integers(0, 4, n).astype(np.int8)
    hits = rng.integers(0, 6, n).astype(np.int32)
    misses = rng.integers(0, 7, n).astype(np.int32)
    rows = np.flatnonzero(rng.random(n) < 0.5)
    det = np.arange(rows.size)
    sizes, scores = np.ones((n, 3)), np.ones(n, np.float32)
    st0, h0, m0 = state.copy(), hits.copy(), misses.copy()
    lc = np.array([cfg.min_hits, cfg.max_tentative_misses, cfg.max_misses], np.int64)
    alive, shown = _fast.bookkeeping(
        rows, det, np.full((rows.size, 3), 3.0), np.zeros(rows.size, np.float32), 0.5,
        sizes, scores, hits, misses, state, lc, 1,
    )  # fmt: skip
    hit = np.zeros(n, bool)
    hit[rows] = True
    np.testing.assert_array_equal(hits, h0 + hit)
    np.testing.assert_array_equal(misses, np.where(hit, 0, m0 + 1))
    for i in range(n):
        ref = next_state(TrackState(int(st0[i])), bool(hit[i]), int(hits[i]), int(misses[i]), cfg)
        assert state[i] == ref.value
    assert np.array_equal(alive, state != TrackState.DEAD.value)
    lost_ok = (state == TrackState.LOST.value) & (misses <= 1)
    np.testing.assert_array_equal(shown, (state == TrackState.CONFIRMED.value) | lost_ok)
    np.testing.assert_allclose(sizes[rows], 2.0)
    np.testing.assert_allclose(scores[rows], 0.7)
    np.testing.assert_allclose(scores[~hit], 0.5)


def test_thousand_objects_track_cleanly() -> None:
    """Many objects far apart: every detection keeps its track (the sparse path at scale)."""
    rng = np.random.default_rng(9)
    n = 1000
    pos = rng.uniform(-500, 500, (n, 2))
    vel = rng.normal(0, 5, (n, 2))
    tracker = OnlineTracker(TrackerConfig())
    for f in range(6):
        b = np.zeros((n, 7))
        b[:, :2] = pos + vel * f * 0.1 + rng.normal(0, 0.1, (n, 2))
        b[:, 3:6] = [4.5, 1.9, 1.6]
        out = tracker.step(Detections(f * 100_000, b))
    assert len(out.track_ids) == n
    np.testing.assert_array_equal(np.sort(out.detection_track_ids), np.arange(n))


def test_radar_radial_velocity_updates_matched_tracks() -> None:
    from tracking import RadarPoints

    def run(with_radar: bool) -> float:
        tracker = OnlineTracker(TrackerConfig())
        for f in range(3):
            box = np.array([[20.0 + 1.0 * f, 0.0, 0.0, 4.5, 1.9, 1.6, 0.0]])
            radar = None
            if with_radar:
                pts = np.array([[20.0 + f, -0.3, 0.2], [20.5 + f, 0.3, 0.0]], np.float32)
                radar = RadarPoints(pts, np.full(2, 10.0, np.float32), np.zeros(3))
            tracker.step(Detections(f * 100_000, box), radar)
        return float(tracker.x[0, 4])

    assert abs(run(True) - 10.0) < 0.5 * abs(run(False) - 10.0)
