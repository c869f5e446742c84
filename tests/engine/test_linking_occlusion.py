"""The compiled occlusion helpers of the camera footprints against their NumPy / SciPy references."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.ndimage import minimum_filter

from calibration.se3 import OPTICAL_FROM_FORWARD
from engine.linking._occlusion import cuboid_occlusion, window_min_at
from engine.linking.footprints import _extent


def _scene(rng: np.random.Generator, a: int, f: int) -> tuple[np.ndarray, ...]:
    """``a`` boxes around a camera at the origin looking along +x, ``f`` samples on each box's surface."""
    boxes = np.column_stack(
        [
            rng.uniform(3, 40, a),
            rng.uniform(-10, 10, a),
            rng.uniform(-1, 1, a),
            rng.uniform(0.5, 6, a),
            rng.uniform(0.5, 3, a),
            rng.uniform(0.5, 3, a),
            rng.uniform(-np.pi, np.pi, a),
        ]
    )
    unit = rng.uniform(-0.5, 0.5, (a, f, 3))
    face = rng.integers(0, 3, (a, f))
    unit[np.arange(a)[:, None], np.arange(f)[None, :], face] = np.sign(rng.uniform(-1, 1, (a, f))) * 0.5
    c, s = np.cos(boxes[:, 6]), np.sin(boxes[:, 6])
    local = unit * boxes[:, None, 3:6]
    world = (
        np.stack(
            [
                c[:, None] * local[..., 0] - s[:, None] * local[..., 1],
                s[:, None] * local[..., 0] + c[:, None] * local[..., 1],
                local[..., 2],
            ],
            -1,
        )
        + boxes[:, None, :3]
    )
    cam_from_local = np.eye(4)
    cam_from_local[:3, :3] = OPTICAL_FROM_FORWARD
    cam_from_local[:3, 3] = rng.normal(0.0, 0.3, 3)
    pts_cam = (world @ cam_from_local[:3, :3].T + cam_from_local[:3, 3]).astype(np.float32)
    mask = rng.uniform(size=(a, f)) < 0.8
    return pts_cam, mask, boxes, cam_from_local


@settings(max_examples=30, deadline=None, derandomize=True)
@given(a=st.integers(0, 25), f=st.integers(1, 40), seed=st.integers(0, 2**31 - 1))
def test_cuboid_occlusion_equals_the_reference(a: int, f: int, seed: int) -> None:
    pts_cam, mask, boxes, cam_from_local = _scene(np.random.default_rng(seed), a, f)
    got = cuboid_occlusion(pts_cam, mask, boxes, cam_from_local)
    want = cuboid_occlusion(pts_cam, mask, boxes, cam_from_local, reference=True)
    np.testing.assert_array_equal(got, want)


def test_a_box_behind_another_is_hidden_and_not_the_other_way() -> None:
    boxes = np.array([[10.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0], [20.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.3]])
    cam_from_local = np.eye(4)
    cam_from_local[:3, :3] = OPTICAL_FROM_FORWARD
    front_faces = np.array([[[9.0, 0.0, 0.0]], [[19.0, 0.0, 0.0]]])  # near face centres, local frame
    pts_cam = (front_faces @ cam_from_local[:3, :3].T).astype(np.float32)
    hidden = cuboid_occlusion(pts_cam, np.ones((2, 1), bool), boxes, cam_from_local)
    assert hidden.tolist() == [[False], [True]]


@settings(max_examples=30, deadline=None, derandomize=True)
@given(
    h=st.integers(1, 30),
    w=st.integers(1, 30),
    radius=st.integers(0, 4),
    seed=st.integers(0, 2**31 - 1),
)
def test_window_min_at_equals_a_minimum_filter_sampled(h: int, w: int, radius: int, seed: int) -> None:
    """Border pixels included: the filter's ``mode="nearest"`` is the clipped window."""
    rng = np.random.default_rng(seed)
    img = rng.uniform(0.0, 50.0, (h, w)).astype(np.float32)
    img[rng.uniform(size=(h, w)) < 0.5] = np.inf  # empty pixels of a depth image
    row, col = rng.integers(0, h, 200), rng.integers(0, w, 200)
    want = minimum_filter(img, size=2 * radius + 1, mode="nearest")[row, col]
    np.testing.assert_array_equal(window_min_at(img, row, col, radius), want)


def test_extent_ignores_dropped_and_nan_samples() -> None:
    u = np.array([[5.0, np.nan, 700.0, 20.0], [1.0, 2.0, 3.0, 4.0], [np.nan, np.nan, 1.0, 1.0]])
    v = np.array([[-3.0, 8.0, 9.0, 10.0], [1.0, 2.0, 3.0, 4.0], [np.nan, np.nan, 1.0, 1.0]])
    keep = np.array([[True, True, True, False], [False] * 4, [True, True, False, False]])
    sizes = np.array([[640.0, 480.0]] * 3)
    out = _extent(u, v, keep, sizes)
    np.testing.assert_array_equal(out[0], [5.0, 0.0, 640.0, 9.0])  # NaN u ignored; clipped to the image
    assert np.isnan(out[1]).all() and np.isnan(out[2]).all()  # nothing kept / only NaN kept
