"""Fusion rules, golden-set QA and consensus on the simulator's 'tiny' rig (simulated annotators)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from calibration.se3 import yaw_to_quat_wxyz
from engine.annotations import Annotations
from engine.log import Stream
from engine.sim import ATTRIBUTES, SimResult, simulate
from engine.sim.ground_truth import Box2D, CameraBoxes
from engine.sweeps import RadarSweep
from engine.validation import validate, validate_report
from engine.validation.annotators import AnnotatorQuality, noisy_annotations
from engine.validation.consensus import average_quaternions, consensus, dawid_skene
from engine.validation.golden import GoldenThresholds, score, scorecard

FUSION = ["fusion.radar_velocity", "fusion.box2d", "fusion.attribute_modality"]


@pytest.fixture(scope="module")
def tiny() -> SimResult:
    return simulate("tiny", 2.0, 3)


@pytest.fixture(scope="module")
def annotators(tiny: SimResult) -> dict[str, Annotations]:
    gt = tiny.ground_truth.annotations
    qs = {
        "a": AnnotatorQuality(0.08, 0.03, 0.03, 0.02, 0.10, 0.10),
        "b": AnnotatorQuality(0.12, 0.04, 0.04, 0.03, 0.15, 0.15),
        "c": AnnotatorQuality(0.20, 0.06, 0.06, 0.05, 0.20, 0.20),
    }
    return {
        n: noisy_annotations(gt, q, seed, attribute_values=ATTRIBUTES)
        for seed, (n, q) in enumerate(qs.items())
    }


def test_clean_sim_gt_passes_fusion_rules(tiny: SimResult) -> None:
    gt = tiny.ground_truth
    rep = validate_report(tiny.log, gt.annotations, rules=FUSION, boxes_2d=gt.camera_boxes)
    assert rep.skipped == {}
    assert [f.to_dict() for f in rep.findings] == []


def test_radar_velocity_disagreement(tiny: SimResult) -> None:
    stream = tiny.log.radar["radar_front"]
    flipped = [replace(s, radial_velocity=-s.radial_velocity - 8.0) for s in stream]
    log = replace(tiny.log, radar={"radar_front": Stream.from_items("radar_front", flipped)})
    found = validate(log, tiny.ground_truth.annotations, rules=["fusion.radar_velocity"])
    assert found and all(f.sensor == "radar_front" and abs(f.value) > f.threshold for f in found)
    assert isinstance(flipped[0], RadarSweep)


def _shift_boxes(frames: tuple[CameraBoxes, ...], dx: float) -> list[CameraBoxes]:
    out = []
    for cb in frames:
        boxes = tuple(
            replace(
                b,
                box=(b.box[0] + dx, b.box[1], b.box[2] + dx, b.box[3]),
                attributes={**b.attributes, "x": "y"},
            )
            if b.track_id == "actor_0004"
            else b
            for b in cb.boxes
        )
        out.append(CameraBoxes(cb.sensor_id, cb.timestamp_us, boxes))
    return out


def test_box2d_and_attribute_modality(tiny: SimResult) -> None:
    frames = _shift_boxes(tiny.ground_truth.camera_boxes, 150.0)
    found = validate(tiny.log, tiny.ground_truth.annotations, rules=FUSION[1:], boxes_2d=frames)
    box = [f for f in found if f.rule == "fusion.box2d"]
    attr = [f for f in found if f.rule == "fusion.attribute_modality"]
    assert box and {f.track_id for f in box} == {"actor_0004"} and all(f.value < 0.5 for f in box)
    assert attr and {f.track_id for f in attr} == {"actor_0004"} and "'x'" in attr[0].message
    assert isinstance(frames[0].boxes[0], Box2D)


def test_golden_identity_and_ordering(tiny: SimResult, annotators: dict[str, Annotations]) -> None:
    gt = tiny.ground_truth.annotations
    perfect = score(gt, gt, annotator="gt")
    assert perfect.passed and perfect.precision == perfect.recall == 1.0 and perfect.idf1 == 1.0
    assert perfect.iou.mean == pytest.approx(1.0, abs=1e-5) and perfect.centre_error_m.max == 0.0
    cards = scorecard(annotators, gt)
    assert [c.annotator for c in cards] == ["a", "b", "c"]
    assert cards[0].centre_error_m.median < cards[1].centre_error_m.median < cards[2].centre_error_m.median
    assert not cards[2].passed and "median centre error" in cards[2].failures
    lax = score(
        annotators["a"], gt, thresholds=GoldenThresholds(min_class_accuracy=0.5, min_attribute_accuracy=0.5)
    )
    assert lax.passed, lax.failures


def test_golden_idf1_drops_with_swapped_ids(tiny: SimResult) -> None:
    gt = tiny.ground_truth.annotations
    a, b = [t for t in gt.tracks if len(t) == 20][:2]
    swapped = []
    for t in gt.tracks:
        if t.track_id in (a.track_id, b.track_id):
            other = b if t is a else a
            c = t.centers.copy()
            c[10:] = other.centers[10:]
            s = t.sizes.copy()
            s[10:] = other.sizes[10:]
            q = t.rotations_wxyz.copy()
            q[10:] = other.rotations_wxyz[10:]
            t = replace(t, centers=c, sizes=s, rotations_wxyz=q)  # noqa: PLW2901
        swapped.append(t)
    res = score(Annotations(tuple(swapped)), gt)
    assert res.precision == 1.0 and res.id_switches == 2
    assert res.idf1 == pytest.approx(1 - 20 / sum(len(t) for t in gt.tracks), abs=1e-9)


def test_average_quaternions_and_dawid_skene() -> None:
    q = yaw_to_quat_wxyz(np.array([0.1, 0.2, 0.3]))
    q[1] *= -1  # sign must not matter
    avg = average_quaternions(q)
    assert np.isclose(abs(avg @ yaw_to_quat_wxyz(0.2)), 1.0, atol=1e-6)
    w = average_quaternions(yaw_to_quat_wxyz(np.array([0.0, 1.0])), [3.0, 1.0])
    assert 0.0 < 2 * np.arctan2(w[3], w[0]) < 0.5
    rng = np.random.default_rng(0)
    truth = rng.integers(0, 3, 300)
    good = {"g1": 0.9, "g2": 0.85, "bad": 0.4}
    votes = [
        {
            a: str(t if rng.random() < p else rng.choice([v for v in range(3) if v != t]))
            for a, p in good.items()
        }
        for t in truth
    ]
    post = dawid_skene(votes)
    acc = np.mean([max(p, key=p.__getitem__) == str(t) for p, t in zip(post, truth, strict=True)])
    # plain majority vote, uninformed tie-break (the smallest value)
    vote = [min(v.values(), key=lambda x, v=v: (-list(v.values()).count(x), x)) for v in votes]
    majority = np.mean([m == str(t) for m, t in zip(vote, truth, strict=True)])
    assert acc >= majority and acc >= 0.88


def test_consensus_beats_the_best_single_annotator(
    tiny: SimResult, annotators: dict[str, Annotations]
) -> None:
    gt = tiny.ground_truth.annotations
    best = scorecard(annotators, gt)[0]
    res = consensus(annotators)
    merged = score(res.annotations, gt, annotator="consensus")
    assert res.reliability["a"] > res.reliability["b"] > res.reliability["c"]
    assert merged.centre_error_m.median < best.centre_error_m.median
    assert merged.class_accuracy > best.class_accuracy
    assert merged.attribute_accuracy > best.attribute_accuracy
    assert merged.recall >= best.recall - 0.005 and merged.precision >= best.precision - 0.005
    assert merged.idf1 >= best.idf1 - 0.005
    flagged = res.flagged
    assert flagged and all(i.reasons for i in flagged)
    assert len(flagged) < len(res.items)
