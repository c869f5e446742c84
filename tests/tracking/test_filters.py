"""Motion models, Kalman steps, association and lifecycle: each against a slow obvious oracle."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from kernels.errors import InvalidInputError
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
from tracking.lifecycle import LifecycleConfig, TrackState, next_state, next_states
from tracking.motion import ConstantTurnRate, ConstantVelocity, kalman_update, update_radial_velocity


class TestConstantVelocity:
    def test_transition_built_from_dt(self) -> None:
        m = ConstantVelocity()
        x = np.array([[1.0, 2.0, 0.5, 0.1, 3.0, -1.0, 0.0, 0.2]])
        xp, pp, f = m.predict(x, np.eye(8)[None] * 0.1, 0.5)
        np.testing.assert_allclose(xp[0, :4], [2.5, 1.5, 0.5, 0.2])
        np.testing.assert_allclose(f[0], m.transition(0.5))
        np.testing.assert_allclose(pp[0], pp[0].T)
        assert np.all(np.linalg.eigvalsh(pp[0]) > 0)

    def test_noise_matches_white_noise_blocks(self) -> None:
        m = ConstantVelocity(accel_xy=2.0)
        q = m.noise(0.1)
        np.testing.assert_allclose(q[np.ix_([0, 4], [0, 4])], 2.0 * np.array([[1e-3 / 3, 5e-3], [5e-3, 0.1]]))
        assert q[0, 1] == 0.0

    def test_update_matches_textbook_formula(self) -> None:
        rng = np.random.default_rng(0)
        m = ConstantVelocity()
        x = rng.normal(size=(5, 8)) * 0.3
        a = rng.normal(size=(5, 8, 8))
        p = a @ np.swapaxes(a, 1, 2) + np.eye(8)
        z = x[:, :4] + rng.normal(size=(5, 4)) * 0.2
        r = np.diag([0.04, 0.04, 0.04, 0.01])
        xn, pn, flipped = kalman_update(x, p, z, r)
        h = np.hstack([np.eye(4), np.zeros((4, 4))])
        for i in range(5):
            k = p[i] @ h.T @ np.linalg.inv(h @ p[i] @ h.T + r)
            np.testing.assert_allclose(xn[i], x[i] + k @ (z[i] - h @ x[i]), atol=1e-9)
            np.testing.assert_allclose(pn[i], (np.eye(8) - k @ h) @ p[i], atol=1e-9)
        assert not flipped.any()
        assert m.n == 8

    def test_backwards_heading_is_flipped_not_followed(self) -> None:
        """A detection pointing backwards (front/back confusion) must not spin the track around."""
        x, p = ConstantVelocity().initial(np.array([[0.0, 0.0, 0.0, 3.0]]))
        xn, _, flipped = kalman_update(
            x, p, np.array([[0.0, 0.0, 0.0, 3.0 - np.pi + 0.05]]), np.eye(4) * 0.01
        )
        assert flipped[0]
        assert abs(xn[0, 3] - 3.0) < 0.06 or abs(xn[0, 3] + 2 * np.pi - 3.0) < 0.06

    def test_converges_to_constant_velocity(self) -> None:
        m = ConstantVelocity()
        x, p = m.initial(np.array([[0.0, 0.0, 0.0, 0.0]]))
        rng = np.random.default_rng(1)
        for k in range(1, 40):
            x, p, _ = m.predict(x, p, 0.1)
            z = np.array([[0.8 * k + rng.normal(0, 0.05), -0.3 * k, 0.0, 0.0]])
            x, p, _ = kalman_update(x, p, z, np.diag([0.0025, 0.0025, 0.0025, 0.01]))
        np.testing.assert_allclose(x[0, 4:6], [8.0, -3.0], atol=0.3)


class TestConstantTurnRate:
    def test_straight_line_limit(self) -> None:
        m = ConstantTurnRate()
        x = np.array([[0.0, 0.0, 0.0, 0.5, 10.0, 0.0, 0.0]])
        xp, _, _ = m.predict(x, np.eye(7)[None], 0.2)
        np.testing.assert_allclose(xp[0, :2], [2 * np.cos(0.5), 2 * np.sin(0.5)])

    def test_quarter_circle(self) -> None:
        """v = pi/2 m/s and yaw rate pi/2 rad/s for 1 s: a quarter of a unit-radius circle."""
        m = ConstantTurnRate()
        x = np.array([[0.0, 0.0, 0.0, 0.0, np.pi / 2, np.pi / 2, 0.0]])
        xp, _, _ = m.predict(x, np.eye(7)[None], 1.0)
        np.testing.assert_allclose(xp[0, :2], [1.0, 1.0], atol=1e-12)
        np.testing.assert_allclose(xp[0, 3], np.pi / 2)

    @pytest.mark.parametrize("w", [0.0, 0.3, -1.2])
    def test_jacobian_matches_finite_differences(self, w: float) -> None:
        m = ConstantTurnRate()
        x0 = np.array([1.0, -2.0, 0.3, 0.7, 6.0, w, 0.1])
        _, _, f = m.predict(x0[None], np.eye(7)[None], 0.1)
        num = np.zeros((7, 7))
        for j in range(7):
            e = np.zeros(7)
            e[j] = 1e-6
            hi = m.predict((x0 + e)[None], np.eye(7)[None], 0.1)[0][0]
            lo = m.predict((x0 - e)[None], np.eye(7)[None], 0.1)[0][0]
            num[:, j] = (hi - lo) / 2e-6
        np.testing.assert_allclose(f[0], num, atol=1e-5)


def test_radial_velocity_observes_velocity_along_line_of_sight() -> None:
    m = ConstantVelocity()
    x, p = m.initial(np.array([[20.0, 0.0, 0.0, 0.0]]))
    for _ in range(10):
        x, p = update_radial_velocity(m, x, p, np.array([[1.0, 0.0, 0.0]]), np.array([5.0]), 0.1)
    assert abs(x[0, 4] - 5.0) < 0.05
    assert abs(x[0, 5]) < 1e-9  # nothing learnt across the line of sight


class TestAssociation:
    def test_center_distance_cost(self) -> None:
        a = np.array([[0.0, 0, 0, 4, 2, 1, 0], [10, 0, 5, 4, 2, 1, 0]])
        b = np.array([[3.0, 4, 9, 4, 2, 1, 1]])
        np.testing.assert_allclose(cost_matrix(a, b, CostMetric.CENTER_DISTANCE), [[5.0], [np.hypot(7, 4)]])

    def test_matches_brute_force(self) -> None:
        rng = np.random.default_rng(7)
        for _ in range(30):
            t, d = (int(v) for v in rng.integers(0, 6, 2))
            cost = rng.uniform(0, 3, (t, d))
            allowed = cost < 2.0
            got = associate(cost, allowed)
            best, best_n = np.inf, -1
            for perm in itertools.permutations(range(max(t, d)), t) if t <= d else []:
                pairs = [(i, j) for i, j in enumerate(perm) if j < d and allowed[i, j]]
                n, c = len(pairs), sum(cost[i, j] for i, j in pairs)
                if n > best_n or (n == best_n and c < best):
                    best_n, best = n, c
            if t <= d:
                assert len(got.matches) == best_n
                assert got.costs.sum() == pytest.approx(best)
            assert np.all(allowed[got.matches[:, 0], got.matches[:, 1]])
            assert len(got.unmatched_tracks) == t - len(got.matches)
            assert len(got.unmatched_detections) == d - len(got.matches)

    def test_per_class_gates(self) -> None:
        tracks = np.zeros((2, 7))
        dets = np.array([[1.2, 0, 0, 1, 1, 1, 0], [1.2, 0, 0, 1, 1, 1, 0]])
        cost = cost_matrix(tracks, dets, CostMetric.CENTER_DISTANCE)
        classes = np.array([0, 1])
        limits = gate_limits(
            classes, CostMetric.CENTER_DISTANCE, {1: ClassGate(max_distance_m=1.0)}, ClassGate()
        )
        allowed = gate_matrix(cost, limits, classes, np.array([0, 1]))
        np.testing.assert_array_equal(allowed, [[True, False], [False, False]])

    def test_innovation_costs_match_textbook(self) -> None:
        rng = np.random.default_rng(3)
        a = rng.normal(size=(4, 2, 2))
        s = a @ np.swapaxes(a, 1, 2) + 0.1 * np.eye(2)
        trk, det = rng.normal(size=(4, 2)), rng.normal(size=(5, 2))
        d2, cost = innovation_costs(trk, s, det)
        for i, j in itertools.product(range(4), range(5)):
            nu = det[j] - trk[i]
            want = nu @ np.linalg.inv(s[i]) @ nu
            assert d2[i, j] == pytest.approx(want)
            assert cost[i, j] == pytest.approx(want + np.log(np.linalg.det(s[i])))
        lim = gate_limits(
            np.array([0, 1]), CostMetric.MAHALANOBIS, {1: ClassGate(max_sigma=2.0)}, ClassGate()
        )
        np.testing.assert_allclose(lim, [9.0, 4.0])

    def test_staged_association_serves_established_tracks_first(self) -> None:
        """A tentative track nearer to the only detection must not take it from a confirmed track."""
        cost = np.array([[0.9], [0.1]])
        allowed = np.ones((2, 1), bool)
        assert associate(cost, allowed).matches.tolist() == [[1, 0]]
        staged = associate_in_stages(cost, allowed, np.array([True, False]))
        assert staged.matches.tolist() == [[0, 0]]
        assert staged.unmatched_tracks.tolist() == [1] and staged.unmatched_detections.size == 0
        cost = np.array([[0.9, 5.0], [0.1, 0.2]])
        staged = associate_in_stages(cost, np.ones((2, 2), bool), np.array([True, False]))
        assert sorted(staged.matches.tolist()) == [[0, 0], [1, 1]]  # the tentative one gets the rest

    def test_unknown_metric(self) -> None:
        with pytest.raises(InvalidInputError, match="unknown metric 'iou'"):
            cost_matrix(np.zeros((1, 7)), np.zeros((1, 7)), "iou")  # type: ignore[arg-type]


def test_lifecycle_vectorised_matches_reference() -> None:
    cfg = LifecycleConfig(min_hits=2, max_tentative_misses=1, max_misses=3)
    rows = list(itertools.product(TrackState, [False, True], range(0, 5), range(0, 6)))
    codes = np.array([s.value for s, *_ in rows], np.int8)
    hit = np.array([h for _, h, _, _ in rows])
    hits = np.array([n for *_, n, _ in rows], np.int32)
    misses = np.array([m for *_, m in rows], np.int32)
    got = next_states(codes, hit, hits, misses, cfg)
    want = [next_state(s, h, n, m, cfg).value for s, h, n, m in rows]
    np.testing.assert_array_equal(got, want)
    assert next_state(TrackState.LOST, True, 5, 0, cfg) is TrackState.CONFIRMED
    assert next_state(TrackState.CONFIRMED, False, 5, 4, cfg) is TrackState.DEAD
    with pytest.raises(InvalidInputError, match="min_hits must be >= 1"):
        LifecycleConfig(min_hits=0)
