"""Online tracker and offline refinement on small scripted scenes."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import wrap_angle
from kernels.errors import InvalidInputError
from tracking import Detections, OnlineTracker, refine_offline

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
