"""Online tracker and offline refinement on small scripted scenes."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import wrap_angle
from kernels.errors import InvalidInputError
from tracking import (
    ConstantTurnRate,
    ConstantVelocity,
    CostMetric,
    Detections,
    OnlineTracker,
    StitchConfig,
    TrackerConfig,
    refine_offline,
)
from tracking.offline import _agreed_links
from tracking.stitching import stitch_fragments

DT = 100_000


def _scene(
    rng: np.random.Generator, n_frames: int = 60, drop: float = 0.1, jitter: float = 0.2
) -> tuple[list[Detections], np.ndarray]:
    """Three cars: two crossing at right angles, one parked; returns detections and truth (F, 3, 7)."""
    t = np.arange(n_frames) * 0.1
    truth = np.zeros((n_frames, 3, 7))
    truth[:, 0, :2] = np.stack([-15 + 8 * t, np.zeros_like(t)], 1)
    truth[:, 0, 6] = 0.0
    truth[:, 1, :2] = np.stack([np.zeros_like(t), -20 + 7 * t], 1)
    truth[:, 1, 6] = np.pi / 2
    truth[:, 2, :2] = [6.0, 6.0]
    truth[:, 2, 6] = 2.5
    truth[:, :, 3:6] = [4.5, 1.9, 1.6]
    frames = []
    for f in range(n_frames):
        keep = rng.random(3) >= drop
        b = truth[f, keep].copy()
        b[:, :2] += rng.normal(0, jitter, (len(b), 2))
        b[:, 6] += rng.normal(0, 0.03, len(b))
        frames.append(Detections(f * DT, b))
    return frames, truth


def test_online_keeps_identities_through_a_crossing() -> None:
    frames, truth = _scene(np.random.default_rng(0))
    out = OnlineTracker().run(frames)
    owners: dict[int, set[int]] = {}
    for f, o in enumerate(out):
        for tid, box in zip(o.track_ids, o.boxes, strict=True):
            gt = int(np.argmin(np.linalg.norm(truth[f, :, :2] - box[:2], axis=1)))
            owners.setdefault(gt, set()).add(int(tid))
    assert {k: len(v) for k, v in owners.items()} == {0: 1, 1: 1, 2: 1}
    assert len(out[-1].track_ids) == 3


def test_online_reports_assignments_and_rejects_time_going_back() -> None:
    tr = OnlineTracker()
    first = tr.step(Detections(0, np.array([[0.0, 0, 0, 4, 2, 1.5, 0]])))
    assert first.detection_track_ids.tolist() == [0] and first.track_ids.size == 0  # tentative
    second = tr.step(Detections(DT, np.array([[0.5, 0, 0, 4, 2, 1.5, 0]])))
    assert second.track_ids.tolist() == [0] and second.detection_index.tolist() == [0]
    with pytest.raises(InvalidInputError, match="detections.timestamp_us must increase: 0 follows 100000"):
        tr.step(Detections(0, np.zeros((0, 7))))


def test_detections_validation_names_fields() -> None:
    with pytest.raises(InvalidInputError, match=r"boxes must have shape \(N, 7\)"):
        Detections(0, np.zeros((2, 6)))
    with pytest.raises(InvalidInputError, match=r"scores must have shape \(2\), got \(3,\)"):
        Detections(0, np.ones((2, 7)), scores=np.ones(3))
    with pytest.raises(InvalidInputError, match="boxes sizes must be > 0: row 1"):
        Detections(0, np.array([[0, 0, 0, 1, 1, 1, 0], [0, 0, 0, 1, 0, 1, 0.0]]))


class TestOffline:
    def test_smooths_stitches_and_parks(self) -> None:
        rng = np.random.default_rng(3)
        frames, truth = _scene(rng)
        # A 1-second hole in car 0's detections: the online tracker loses it; offline stitches it.
        frames = [
            Detections(
                fr.timestamp_us, fr.boxes[np.linalg.norm(fr.boxes[:, :2] - truth[f, 0, :2], axis=1) > 1.5]
            )
            if 20 <= f < 30
            else fr
            for f, fr in enumerate(frames)
        ]
        tracks = refine_offline(frames)
        assert len(tracks) == 3
        by_gt = {}
        for tr in tracks:
            mid = len(tr.frames) // 2
            gt = int(
                np.argmin(
                    np.linalg.norm(truth[tr.frames[mid], :, :2] - tr.smoothed.path.centers[mid, :2], axis=1)
                )
            )
            by_gt[gt] = tr
        car = by_gt[0]
        assert car.frames[0] <= 1 and car.frames[-1] >= 58  # one track across the hole
        err = np.linalg.norm(car.smoothed.path.centers[:, :2] - truth[car.frames, 0, :2], axis=1)
        assert err.mean() < 0.12  # jitter was 0.2 m per axis
        np.testing.assert_allclose(
            car.smoothed.path.sizes, np.tile([4.5, 1.9, 1.6], (len(car.frames), 1)), atol=0.01
        )
        conf = car.smoothed.path.confidence
        hole = (car.frames >= 22) & (car.frames < 28)
        assert conf[hole].max() < 0.7 and conf[car.smoothed.observed].min() == 1.0
        parked = by_gt[2]
        assert parked.smoothed.parked
        assert np.ptp(parked.smoothed.path.centers, axis=0).max() == 0.0
        assert abs(wrap_angle(parked.smoothed.path.yaws[0] - 2.5)) < 0.05

    def test_heading_follows_motion_despite_flips(self) -> None:
        """Every third detection points backwards: the refined heading never flips and follows motion."""
        rng = np.random.default_rng(4)
        frames, truth = _scene(rng, drop=0.0)
        flipped = []
        for f, fr in enumerate(frames):
            b = fr.boxes.copy()
            if f % 3 == 0:
                b[:, 6] = wrap_angle(b[:, 6] + np.pi)
            flipped.append(Detections(fr.timestamp_us, b))
        for tr in refine_offline(flipped):
            if tr.smoothed.parked:
                continue
            gt = int(
                np.argmin(
                    np.linalg.norm(truth[tr.frames[5], :, :2] - tr.smoothed.path.centers[5, :2], axis=1)
                )
            )
            err = np.abs(wrap_angle(tr.smoothed.path.yaws - truth[tr.frames, gt, 6]))
            assert err.max() < 0.1

    def test_false_positives_are_dropped(self) -> None:
        rng = np.random.default_rng(5)
        frames, _ = _scene(rng, n_frames=30)
        noisy = [
            Detections(
                fr.timestamp_us,
                np.vstack([fr.boxes, [[rng.uniform(-40, 40), rng.uniform(20, 40), 0, 4, 2, 1.5, 0]]]),
            )
            for fr in frames
        ]
        assert len(refine_offline(noisy)) == 3

    def test_empty_and_bad_input(self) -> None:
        assert refine_offline([]) == []
        with pytest.raises(InvalidInputError, match="strictly increasing timestamp_us"):
            refine_offline([Detections(5, np.zeros((0, 7))), Detections(5, np.zeros((0, 7)))])


class TestClassModelsAndMetrics:
    def test_newborn_tracks_use_their_class_model(self) -> None:
        ped = ConstantVelocity(accel_xy=0.2, init_speed_std=1.0)
        cfg = TrackerConfig(class_models={1: ped})
        assert cfg.model_for(1) is ped and cfg.model_for(0) is cfg.model
        tr = OnlineTracker(cfg)
        boxes = np.array([[0.0, 0, 0, 4, 2, 1.5, 0], [10.0, 0, 0, 0.7, 0.6, 1.7, 0]])
        tr.step(Detections(0, boxes, class_ids=np.array([0, 1], np.int32)))
        assert tr.p[0, 4, 4] == pytest.approx(cfg.model.init_speed_std**2)  # type: ignore[attr-defined]
        assert tr.p[1, 4, 4] == pytest.approx(1.0)
        tr.step(Detections(DT, boxes, class_ids=np.array([0, 1], np.int32)))
        assert tr.p[1, 0, 0] < tr.p[0, 0, 0]  # less process noise for the pedestrian
        with pytest.raises(InvalidInputError, match=r"class_models\[3\] must be a ConstantVelocity"):
            TrackerConfig(class_models={3: ConstantTurnRate()})

    @pytest.mark.parametrize("model", [ConstantVelocity(), ConstantTurnRate()])
    def test_per_class_prediction_matches_each_models_predict(self, model: object) -> None:
        slow = type(model)(accel_z=0.3, yaw_accel=0.05)  # type: ignore[call-arg]
        tr = OnlineTracker(TrackerConfig(model=model, class_models={1: slow}))  # type: ignore[arg-type]
        boxes = np.array([[0.0, 0, 0, 4, 2, 1.5, 3.1], [10.0, 0, 0, 0.7, 0.6, 1.7, -3.1]])
        tr.step(Detections(0, boxes, class_ids=np.array([0, 1], np.int32)))
        x0, p0 = tr.x.copy(), tr.p.copy()
        tr.step(Detections(3 * DT, np.zeros((0, 7))))
        for row, m in ((0, model), (1, slow)):
            xw, pw, _ = m.predict(x0[row : row + 1], p0[row : row + 1], 0.3)  # type: ignore[attr-defined]
            np.testing.assert_allclose(tr.x[row], xw[0], atol=1e-12)
            np.testing.assert_allclose(tr.p[row], pw[0], atol=1e-12)

    @pytest.mark.parametrize("metric", [CostMetric.MAHALANOBIS, CostMetric.CENTER_DISTANCE])
    def test_crossing_with_each_metric(self, metric: CostMetric) -> None:
        frames, truth = _scene(np.random.default_rng(0))
        out = OnlineTracker(TrackerConfig(metric=metric)).run(frames)
        owners: dict[int, set[int]] = {}
        for f, o in enumerate(out):
            for tid, box in zip(o.track_ids, o.boxes, strict=True):
                gt = int(np.argmin(np.linalg.norm(truth[f, :, :2] - box[:2], axis=1)))
                owners.setdefault(gt, set()).add(int(tid))
        assert {k: len(v) for k, v in owners.items()} == {0: 1, 1: 1, 2: 1}


class TestStitching:
    @staticmethod
    def _frames(rng: np.random.Generator) -> tuple[list[Detections], list[list[tuple[int, int]]]]:
        """A walker (1.4 m/s along x) seen in frames 0-29 and 35-59; a pedestrian standing on the
        walker's extrapolated path from frame 32 on."""
        frames, walker_a, walker_b, stand = [], [], [], []
        for f in range(60):
            rows = []
            if f < 30 or f >= 35:
                (walker_a if f < 30 else walker_b).append((f, len(rows)))
                rows.append([-5 + 1.4 * f * 0.1, 0.0])
            if f >= 32:
                stand.append((f, len(rows)))
                rows.append([-5 + 1.4 * 3.2, 0.0])
            b = np.zeros((len(rows), 7))
            b[:, :2] = np.array(rows).reshape(-1, 2) + rng.normal(0, 0.05, (len(rows), 2))
            b[:, 3:6] = [0.7, 0.6, 1.7]
            frames.append(Detections(f * DT, b))
        return frames, [walker_a, walker_b, stand]

    def test_joins_by_motion_not_by_nearest_position(self) -> None:
        frames, frags = self._frames(np.random.default_rng(0))
        ped = ConstantVelocity(accel_xy=0.2, init_speed_std=1.0)
        chains = stitch_fragments(frames, frags, [ped] * 3, (0.05, 0.05, 0.05, 0.05))
        assert sorted(map(len, chains)) == [28, 55]
        walker = next(c for c in chains if len(c) == 55)
        assert walker == sorted(frags[0] + frags[1])

    def test_single_detections_are_not_stitched(self) -> None:
        frames, frags = self._frames(np.random.default_rng(1))
        single = [frags[1][0]]
        pieces = [frags[0], single, frags[1][1:]]
        ped = ConstantVelocity(accel_xy=0.2, init_speed_std=1.0)
        chains = stitch_fragments(frames, pieces, [ped] * 3, (0.05, 0.05, 0.05, 0.05), StitchConfig())
        assert single in chains  # left alone (a chain of its own); the two long pieces still join
        assert sorted(frags[0] + frags[1][1:]) in chains

    def test_uncontradicted_one_sided_links_are_kept(self) -> None:
        fwd = {(0, 0, 1, 0), (1, 0, 2, 0)}
        assert _agreed_links(fwd, {(0, 0, 1, 0)}) == fwd
        assert _agreed_links(fwd, {(0, 0, 1, 0), (1, 0, 2, 1)}) == {(0, 0, 1, 0)}
        assert _agreed_links(fwd, {(0, 0, 1, 0), (1, 1, 2, 0)}) == {(0, 0, 1, 0)}
