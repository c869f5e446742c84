"""Points in boxes: exact against a brute-force NumPy oracle, CPU and CUDA (simulator without a GPU)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from box_oracles import pib_oracle, random_boxes
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels import cpu_boxes
from kernels._box_host import box_params, build_grid
from kernels.boxes import points_in_boxes, points_in_boxes_counts
from kernels.errors import InvalidInputError, InvalidTypeError


def _check(points: np.ndarray, boxes: np.ndarray, backend: str) -> None:
    first, member = pib_oracle(points, boxes)
    got = points_in_boxes(points, boxes, backend=backend)
    assert got.dtype == np.int32 and got.shape == (points.shape[0],)
    np.testing.assert_array_equal(got, first)
    res = points_in_boxes_counts(points, boxes, backend=backend)
    np.testing.assert_array_equal(res.first, first)
    np.testing.assert_array_equal(res.counts, member.sum(axis=0))
    assert res.offsets[0] == 0 and res.offsets[-1] == res.indices.size == member.sum()
    for j in range(boxes.shape[0]):
        np.testing.assert_array_equal(res.points_of(j), np.flatnonzero(member[:, j]))


def _adversarial() -> tuple[np.ndarray, np.ndarray]:
    """Axis-aligned and quarter-turn boxes with points exactly on faces, edges and corners, 1 ulp off."""
    boxes = np.array(
        [
            [0.0, 0.0, 0.0, 2.0, 1.0, 1.0, 0.0],
            [0.5, 0.0, 0.0, 2.0, 1.0, 1.0, math.pi / 2],
            [-3.0, 2.0, 0.5, 4.0, 2.0, 3.0, math.pi],
            [-3.0, 2.0, 0.5, 4.0, 2.0, 3.0, -math.pi / 2],
            [1.0, 1.0, 0.0, 1.0, 1.0, 1.0, math.pi / 4],
            [5.0, 5.0, 0.0, 0.0, 0.0, 0.0, 0.0],  # degenerate: only its centre is inside
            [5.0, -5.0, 0.0, 3.0, 3.0, 3.0, 0.3],
        ],
        np.float32,
    )
    pts = [[5.0, 5.0, 0.0]]
    for b in boxes.astype(np.float64):
        c, s = math.cos(b[6]), math.sin(b[6])
        for u in (-1.0, -0.5, 0.0, 0.5, 1.0):
            for v in (-1.0, 0.0, 1.0):
                for w in (-1.0, 0.0, 1.0):
                    lx, ly = u * b[3] / 2, v * b[4] / 2
                    pts.append([b[0] + c * lx - s * ly, b[1] + s * lx + c * ly, b[2] + w * b[5] / 2])
    p = np.array(pts, np.float32)
    up = np.nextafter(p, np.float32(np.inf))
    down = np.nextafter(p, np.float32(-np.inf))
    return np.concatenate([p, up, down, np.c_[up[:, 0], down[:, 1], p[:, 2]]]), boxes


def test_random_overlapping_boxes(backend: str) -> None:
    rng = np.random.default_rng(7)
    boxes = random_boxes(rng, 40, spread=8.0)
    points = rng.uniform(-10, 10, (1500, 3)).astype(np.float32)
    points[:, 2] *= 0.2
    _check(points, boxes, backend)


def test_points_on_faces_edges_and_corners(backend: str) -> None:
    points, boxes = _adversarial()
    first, _ = pib_oracle(points, boxes)
    assert (first >= 0).sum() > points.shape[0] // 3  # the set really exercises the boundary
    _check(points, boxes, backend)


def test_first_box_is_lowest_index_and_counts_share_points(backend: str) -> None:
    boxes = np.array([[0, 0, 0, 10, 10, 10, 0], [0, 0, 0, 2, 2, 2, 0.5], [0, 0, 0, 4, 4, 4, 0]], np.float32)
    points = np.array([[0, 0, 0], [1.9, 0, 0], [4.9, 4.9, 0], [20, 0, 0]], np.float32)
    np.testing.assert_array_equal(points_in_boxes(points, boxes[::-1].copy(), backend=backend), [0, 0, 2, -1])
    res = points_in_boxes_counts(points, boxes, backend=backend)
    np.testing.assert_array_equal(res.first, [0, 0, 0, -1])
    np.testing.assert_array_equal(res.counts, [3, 1, 2])
    np.testing.assert_array_equal(res.points_of(2), [0, 1])


def test_boxes_larger_than_cells_and_far_points(backend: str) -> None:
    rng = np.random.default_rng(3)
    small = random_boxes(rng, 25, spread=30.0)
    small[:, 3:5] = rng.uniform(0.2, 0.6, (25, 2))  # tiny median extent -> small cells
    giant = np.array([[5.0, -4.0, 0.0, 70.0, 40.0, 8.0, 0.4]], np.float32)
    boxes = np.concatenate([small[:10], giant, small[10:]])
    points = rng.uniform(-40, 40, (800, 3)).astype(np.float32)
    points[:5] = [[1e7, 0, 0], [-1e7, 3e6, 0], [0, 1e30, 0], [-40, -40, 0], [small[0, 0], small[0, 1], 0]]
    _check(points, boxes, backend)


@pytest.mark.parametrize("n, m", [(0, 0), (0, 3), (5, 0)])
def test_empty_inputs(backend: str, n: int, m: int) -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(n, 3)).astype(np.float32)
    boxes = random_boxes(rng, m)
    np.testing.assert_array_equal(points_in_boxes(points, boxes, backend=backend), np.full(n, -1))
    res = points_in_boxes_counts(points, boxes, backend=backend)
    assert res.first.shape == (n,) and res.counts.shape == (m,) and res.offsets.shape == (m + 1,)
    assert res.indices.size == 0


def test_large_world_coordinates() -> None:
    rng = np.random.default_rng(11)
    boxes = random_boxes(rng, 30, spread=20.0)
    boxes[:, 0] += 250_000.0
    boxes[:, 1] -= 120_000.0
    points = (boxes[rng.integers(0, 30, 2000), :3] + rng.uniform(-3, 3, (2000, 3))).astype(np.float32)
    _check(points, boxes, "cpu")


def test_forced_tiny_cells_match_default_grid() -> None:
    rng = np.random.default_rng(5)
    boxes = random_boxes(rng, 30, spread=6.0)
    points = rng.uniform(-8, 8, (2000, 3)).astype(np.float32)
    params = box_params(boxes)
    expected, _ = pib_oracle(points, boxes)
    for cell in (0.05, 0.7, 100.0):
        grid = build_grid(params, cell=cell)
        out = np.empty(points.shape[0], np.int32)
        cpu_boxes.points_first(points, params, grid.grid, grid.cell_start, grid.cell_boxes, out)
        np.testing.assert_array_equal(out, expected)


def test_grid_stays_small_for_spread_out_boxes() -> None:
    rng = np.random.default_rng(2)
    boxes = random_boxes(rng, 50)
    boxes[25:, 0] += 1e6  # two clusters a thousand kilometres apart
    grid = build_grid(box_params(boxes))
    cells = int(grid.grid[3] * grid.grid[4])
    assert cells <= 65536 and grid.cell_boxes.size <= 32 * 50 + 65536
    points = boxes[:, :3].copy()
    np.testing.assert_array_equal(points_in_boxes(points, boxes), pib_oracle(points, boxes)[0])


_nice = st.sampled_from([-2.0, -1.5, -1.0, -0.5, 0.0, 0.25, 0.5, 1.0, 1.5, 2.0])
_yaw = st.sampled_from([0.0, math.pi / 2, -math.pi / 2, math.pi, math.pi / 4, 0.3, -2.1])


@settings(max_examples=60, deadline=None)
@given(
    boxes=st.lists(
        st.tuples(_nice, _nice, _nice, _nice.map(abs), _nice.map(abs), _nice.map(abs), _yaw), max_size=6
    ),
    points=st.lists(st.tuples(_nice, _nice, _nice), max_size=40),
)
def test_hypothesis_grid_points(boxes: list[tuple[float, ...]], points: list[tuple[float, ...]]) -> None:
    b = np.array(boxes, np.float32).reshape(-1, 7)
    p = np.array(points, np.float32).reshape(-1, 3)
    first, member = pib_oracle(p, b)
    np.testing.assert_array_equal(points_in_boxes(p, b), first)
    np.testing.assert_array_equal(points_in_boxes_counts(p, b).counts, member.sum(axis=0))


def test_bad_inputs_name_the_argument() -> None:
    boxes = np.zeros((2, 7), np.float32)
    pts = np.zeros((3, 3), np.float32)
    with pytest.raises(InvalidInputError, match="points must be finite"):
        points_in_boxes(np.array([[0, np.nan, 0]], np.float32), boxes)
    with pytest.raises(InvalidInputError, match=r"points must have shape \(N, 3\)"):
        points_in_boxes(np.zeros((3, 2), np.float32), boxes)
    with pytest.raises(InvalidInputError, match=r"boxes must have shape \(N, 7\)"):
        points_in_boxes(pts, np.zeros((2, 6), np.float32))
    with pytest.raises(InvalidInputError, match="boxes must be finite"):
        points_in_boxes(pts, np.array([[0, 0, 0, 1, 1, 1, np.inf]], np.float32))
    with pytest.raises(InvalidInputError, match="boxes must have non-negative length"):
        points_in_boxes_counts(pts, np.array([[0, 0, 0, 1, -1, 1, 0]], np.float32))
    with pytest.raises(InvalidTypeError, match="points must be numeric"):
        points_in_boxes(np.array([["a", "b", "c"]]), boxes)
    with pytest.raises(InvalidInputError, match="unknown backend 'tpu'"):
        points_in_boxes(pts, boxes, backend="tpu")
