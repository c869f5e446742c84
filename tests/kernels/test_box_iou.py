"""Rotated BEV/3D IoU, GIoU and NMS against shapely and an independent NumPy polygon oracle."""

from __future__ import annotations

import math

import numpy as np
import pytest
from box_oracles import iou_oracle, nms_reference, random_boxes, shapely_overlap
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.box_iou import box_giou_3d, box_giou_bev, box_iou_3d, box_iou_bev, nms
from kernels.errors import InvalidInputError, InvalidTypeError

FUNCS = {
    "bev": (box_iou_bev, False, False),
    "3d": (box_iou_3d, True, False),
    "giou_bev": (box_giou_bev, False, True),
    "giou_3d": (box_giou_3d, True, True),
}


def _proposals(rng: np.random.Generator, objects: int, per_object: int) -> tuple[np.ndarray, np.ndarray]:
    """Clustered noisy proposals around random objects, scores with ties."""
    centres = random_boxes(rng, objects, spread=15.0)
    boxes = np.repeat(centres, per_object, axis=0)
    boxes[:, 0:3] += rng.normal(0, 0.4, (boxes.shape[0], 3))
    boxes[:, 3:6] *= rng.uniform(0.8, 1.2, (boxes.shape[0], 3))
    boxes[:, 6] += rng.normal(0, 0.3, boxes.shape[0])
    scores = np.round(rng.uniform(0, 1, boxes.shape[0]), 1).astype(np.float32)  # many ties
    return boxes.astype(np.float32), scores


@pytest.mark.parametrize("kind", list(FUNCS))
def test_matrix_matches_shapely(backend: str, kind: str) -> None:
    func, three_d, giou = FUNCS[kind]
    rng = np.random.default_rng(1)
    a = random_boxes(rng, 14, spread=4.0)
    b = np.concatenate([random_boxes(rng, 9, spread=4.0), a[:3]])
    got = func(a, b, backend=backend)
    assert got.dtype == np.float32 and got.shape == (14, 12)
    ref = np.array([[shapely_overlap(x, y, three_d, giou) for y in b] for x in a])
    overlapping = sum(shapely_overlap(x, y) > 0 for x in a for y in b)
    assert overlapping > 20
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)


@pytest.mark.parametrize("three_d", [False, True])
def test_iou_matches_vertex_oracle(three_d: bool) -> None:
    rng = np.random.default_rng(4)
    a = random_boxes(rng, 60, spread=5.0)
    b = random_boxes(rng, 40, spread=5.0)
    got = (box_iou_3d if three_d else box_iou_bev)(a, b)
    ref = np.array([[iou_oracle(x, y, three_d) for y in b] for x in a])
    np.testing.assert_allclose(got, ref, rtol=0, atol=1e-5)
    np.testing.assert_allclose((box_iou_3d if three_d else box_iou_bev)(b, a), got.T, atol=1e-6)


def test_known_configurations() -> None:
    unit = [0.0, 0.0, 0.0, 1.0, 1.0, 1.0, 0.0]
    boxes = np.array(
        [
            unit,
            [0, 0, 0, 1, 1, 1, math.pi / 4],  # octagon 2(sqrt2 - 1) with the unit square
            [1, 0, 0, 1, 1, 1, 0],  # touching edge
            [0, 0, 0, 0.5, 0.5, 1, 0],  # inside
            [0, 0, 0.5, 1, 1, 1, math.pi / 2],  # same footprint, half the height overlapping
            [3, 3, 0, 0, 0, 0, 0],  # degenerate
        ],
        np.float32,
    )
    bev = box_iou_bev(boxes, boxes)
    octagon = 2 * (math.sqrt(2) - 1)
    np.testing.assert_allclose(bev[0], [1, octagon / (2 - octagon), 0, 0.25, 1, 0], atol=1e-6)
    np.testing.assert_allclose(box_iou_3d(boxes, boxes)[0, 4], 0.5 / 1.5, atol=1e-6)
    assert np.all(np.diag(bev)[:5] == 1.0) and bev[5, 5] == 0.0
    giou = box_giou_bev(boxes, boxes)
    assert np.all(giou <= bev + 1e-6)
    np.testing.assert_allclose(giou[0, 2], 0.0, atol=1e-6)  # touching: hull = union


def test_far_apart_giou_tends_to_minus_one_and_large_coordinates_are_exact() -> None:
    a = np.array([[0, 0, 0, 0.1, 0.1, 0.1, 0.0]], np.float32)
    b = np.array([[1000, 0, 0, 0.1, 0.1, 0.1, 0.0]], np.float32)
    assert box_giou_3d(a, b)[0, 0] < -0.99
    rng = np.random.default_rng(9)
    x = random_boxes(rng, 20, spread=3.0)
    y = random_boxes(rng, 20, spread=3.0)
    shift = np.array([300_000.0, -80_000.0, 0, 0, 0, 0, 0], np.float32)
    got = box_iou_bev(x + shift, y + shift)
    exact = np.array([[shapely_overlap(p, q) for q in y + shift] for p in x + shift])
    assert (exact > 0).sum() > 20
    np.testing.assert_allclose(got, exact, atol=1e-5)


@settings(max_examples=80, deadline=None)
@given(
    st.tuples(*[st.floats(-3, 3)] * 3, *[st.floats(0.05, 4)] * 3, st.floats(-4, 4)),
    st.tuples(*[st.floats(-3, 3)] * 3, *[st.floats(0.05, 4)] * 3, st.floats(-4, 4)),
)
def test_hypothesis_pairs_match_shapely(a: tuple[float, ...], b: tuple[float, ...]) -> None:
    boxes = np.array([a, b], np.float32)
    for func, three_d, giou in FUNCS.values():
        got = func(boxes[:1], boxes[1:])[0, 0]
        assert abs(got - shapely_overlap(boxes[0], boxes[1], three_d, giou)) <= 1e-5


@pytest.mark.parametrize("thr, mode", [(0.1, "bev"), (0.5, "bev"), (0.3, "3d")])
def test_nms_keeps_reference_set(backend: str, thr: float, mode: str) -> None:
    rng = np.random.default_rng(int(thr * 10))
    boxes, scores = _proposals(rng, 6, 5)
    got = nms(boxes, scores, thr, mode=mode, backend=backend)
    ref = nms_reference(boxes, scores, thr, three_d=mode == "3d")
    assert 6 <= ref.size < boxes.shape[0]
    np.testing.assert_array_equal(got, ref)


def test_nms_many_proposals_and_mixed_sizes() -> None:
    rng = np.random.default_rng(12)
    boxes, scores = _proposals(rng, 40, 8)
    giant = np.array([[0, 0, 0, 40, 30, 5, 0.2]], np.float32)
    boxes = np.concatenate([boxes, giant])
    scores = np.append(scores, np.float32(0.55))
    for thr in (0.05, 0.4, 0.7):
        np.testing.assert_array_equal(nms(boxes, scores, thr), nms_reference(boxes, scores, thr))


def test_nms_ties_threshold_edges_and_empty() -> None:
    box = [0, 0, 0, 2, 1, 1, 0.3]
    boxes = np.array([box, box, [2, 0, 0, 2, 1, 1, 0], box], np.float32)
    scores = np.array([0.5, 0.9, 0.9, 0.9], np.float32)
    np.testing.assert_array_equal(nms(boxes, scores, 0.5), [1, 2])  # tie 0.9: index order
    np.testing.assert_array_equal(nms(boxes, scores, 1.0), [1, 2, 3, 0])  # IoU 1 is not > 1
    touching = np.array([[0, 0, 0, 2, 2, 2, 0], [2, 0, 0, 2, 2, 2, 0]], np.float32)
    np.testing.assert_array_equal(nms(touching, np.array([1.0, 2.0]), 0.0), [1, 0])
    assert nms(np.zeros((0, 7), np.float32), np.zeros(0, np.float32), 0.5).shape == (0,)
    near_tie = np.array([0.1, 0.1 + 1e-12])  # equal in float32: float64 scores keep their order
    np.testing.assert_array_equal(nms(boxes[:2], near_tie, 0.5), [1])


def test_bad_inputs_name_the_argument() -> None:
    boxes = np.zeros((2, 7), np.float32)
    with pytest.raises(InvalidInputError, match=r"scores must have shape \(2\)"):
        nms(boxes, np.zeros(3, np.float32), 0.5)
    with pytest.raises(InvalidInputError, match="scores must be finite"):
        nms(boxes, np.array([0.1, np.nan]), 0.5)
    with pytest.raises(InvalidInputError, match="iou_threshold must be a finite number"):
        nms(boxes, np.zeros(2), float("nan"))
    with pytest.raises(InvalidInputError, match="iou_threshold must be a finite number"):
        nms(boxes, np.zeros(2), -0.1)
    with pytest.raises(InvalidTypeError, match="iou_threshold must be a number"):
        nms(boxes, np.zeros(2), "high")  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="unknown mode 'volume'"):
        nms(boxes, np.zeros(2), 0.5, mode="volume")
    with pytest.raises(InvalidInputError, match="b must have non-negative length"):
        box_iou_bev(boxes, np.array([[0, 0, 0, -1, 1, 1, 0]], np.float32))
    with pytest.raises(InvalidInputError, match="a must be finite"):
        box_iou_3d(np.full((1, 7), np.nan, np.float32), boxes)
