"""Ground segmentation, voxel clustering and cuboid fitting: NumPy oracles, behaviour, CPU == CUDA."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from kernels.errors import InvalidInputError, InvalidTypeError
from kernels.geometry import cluster_points, fit_boxes, segment_ground

# car, pedestrian rows: l, w, h mean / sigma / min / max, weight
PRIORS = np.array(
    [
        [4.6, 1.9, 1.6, 0.5, 0.2, 0.3, 3.6, 1.6, 1.2, 6.2, 2.4, 2.6, 1.0],
        [0.7, 0.7, 1.7, 0.2, 0.2, 0.2, 0.3, 0.3, 1.0, 1.3, 1.3, 2.2, 0.6],
    ]
)


def box_surface(rng: np.random.Generator, centre, size, yaw: float, n: int, z0: float = 0.0) -> np.ndarray:
    """Points on the four vertical faces of a box standing on z0 (BEV outline + height)."""
    length, width, height = size
    t = rng.uniform(0, 2 * (length + width), n)
    u = np.where(
        t < length,
        t,
        np.where(t < length + width, length, np.where(t < 2 * length + width, 2 * length + width - t, 0)),
    )
    v = np.where(
        t < length,
        0,
        np.where(
            t < length + width, t - length, np.where(t < 2 * length + width, width, 2 * (length + width) - t)
        ),
    )
    lx, ly = u - length / 2, v - width / 2
    c, s = math.cos(yaw), math.sin(yaw)
    z = z0 + rng.uniform(0.3, height, n)
    return np.stack([centre[0] + c * lx - s * ly, centre[1] + s * lx + c * ly, z], 1).astype(np.float32)


def scene(rng: np.random.Generator) -> np.ndarray:
    """Sloped ground (5 %) with a 15 cm curb, one car, one pole, one low outlier."""
    g = rng.uniform(-7.5, 7.5, (600, 2))
    z = 0.05 * g[:, 0] + np.where(g[:, 1] > 4.0, 0.15, 0.0) + rng.normal(0, 0.01, 600)
    ground = np.column_stack([g, z])
    car = box_surface(rng, (2.0, -1.0), (4.4, 1.8, 1.5), 0.3, 300, z0=0.1)
    pole = np.column_stack([np.full(40, -4.0), np.full(40, 2.0), np.linspace(0.3, 3.0, 40) - 0.2])
    outlier = np.array([[5.2, 5.2, -3.0]])
    return np.ascontiguousarray(np.vstack([ground, car, pole, outlier]).astype(np.float32))


# --- oracles ----------------------------------------------------------------------------------------


def ground_oracle(points, cell, half, slope, thr, iterations):
    """Slow NumPy/Python model: per-cell min, third-lowest-neighbour pit fill, Jacobi envelope."""
    nc = int(math.ceil(2 * half / cell))
    ix = np.clip(np.floor((points[:, 0] + half) / cell).astype(int), 0, nc - 1)
    iy = np.clip(np.floor((points[:, 1] + half) / cell).astype(int), 0, nc - 1)
    g = np.full((nc, nc), np.inf, np.float32)
    for a, b, z in zip(ix, iy, points[:, 2], strict=True):
        g[a, b] = min(g[a, b], z)
    side, diag = slope * cell, slope * cell * math.sqrt(2)

    def neigh(a, b):
        for dx in (-1, 0, 1):
            for dy in (-1, 0, 1):
                if (dx or dy) and 0 <= a + dx < nc and 0 <= b + dy < nc:
                    yield a + dx, b + dy, diag if dx and dy else side

    pit = g.copy()
    for a in range(nc):
        for b in range(nc):
            bounds = sorted(float(g[x, y]) - r for x, y, r in neigh(a, b))
            third = bounds[2] if len(bounds) >= 3 else math.inf
            if math.isfinite(third) and third > g[a, b]:
                pit[a, b] = third
    g = pit
    for _ in range(iterations):
        new = g.copy()
        for a in range(nc):
            for b in range(nc):
                new[a, b] = min([float(g[a, b])] + [float(g[x, y]) + r for x, y, r in neigh(a, b)])
        g = new
    h = points[:, 2] - g[ix, iy]
    return h < thr, h.astype(np.float32)


def cluster_oracle(points, mask, size, half, zr, reach):
    """BFS over a dict of occupied voxels; clusters numbered by their smallest key."""
    size = np.asarray(size, float)
    origin = np.array([-half, -half, zr[0]])
    dims = np.ceil(np.array([2 * half, 2 * half, zr[1] - zr[0]]) / size).astype(int)
    idx = np.floor((points - origin) / size).astype(int)
    inside = mask & np.all((idx >= 0) & (idx < dims), axis=1)
    vox: dict[tuple[int, int, int], list[int]] = {}
    for i in np.flatnonzero(inside):
        vox.setdefault(tuple(idx[i]), []).append(i)
    comp: dict[tuple[int, int, int], int] = {}
    groups = []
    for start in vox:
        if start in comp:
            continue
        stack, members = [start], []
        comp[start] = len(groups)
        while stack:
            v = stack.pop()
            members.append(v)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    for dz in range(-reach, reach + 1):
                        u = (v[0] + dx, v[1] + dy, v[2] + dz)
                        if u in vox and u not in comp:
                            comp[u] = len(groups)
                            stack.append(u)
        groups.append(members)
    key = lambda v: (v[0] * dims[1] + v[1]) * dims[2] + v[2]  # noqa: E731
    order = sorted(range(len(groups)), key=lambda k: min(key(v) for v in groups[k]))
    rank = {k: r for r, k in enumerate(order)}
    labels = np.full(len(points), -1, np.int32)
    for v, members in vox.items():
        labels[members] = rank[comp[v]]
    return labels, len(groups)


def closeness_oracle(xy, theta, d0):
    c, s = math.cos(theta), math.sin(theta)
    p1, p2 = xy @ [c, s], xy @ [-s, c]
    d = np.minimum(np.minimum(p1.max() - p1, p1 - p1.min()), np.minimum(p2.max() - p2, p2 - p2.min()))
    return float((1.0 / np.maximum(d, d0)).sum())


# --- ground -----------------------------------------------------------------------------------------


def test_ground_matches_oracle():
    pts = scene(np.random.default_rng(1))
    got = segment_ground(
        pts, cell_size_m=1.0, half_extent_m=8.0, max_slope=0.15, height_threshold_m=0.25, iterations=4
    )
    want_g, want_h = ground_oracle(pts, 1.0, 8.0, 0.15, 0.25, 4)
    np.testing.assert_allclose(got.height, want_h, atol=1e-5)
    assert np.array_equal(got.ground, want_g)


def test_ground_handles_slope_curb_outlier():
    rng = np.random.default_rng(2)
    pts = scene(rng)
    seg = segment_ground(pts, cell_size_m=1.0, half_extent_m=8.0)
    assert seg.ground[:600].mean() > 0.97  # sloped road and the curb stay ground
    car = seg.height[600:900]
    assert (~seg.ground[600:900]).mean() > 0.9 and np.median(car) > 0.5
    assert not seg.ground[900:940][-20:].any()  # the upper pole
    assert seg.height.dtype == np.float32 and seg.ground.dtype == np.bool_


def test_ground_cpu_equals_cuda_simulator():
    pts = scene(np.random.default_rng(3))[::4].copy()
    cpu = segment_ground(pts, half_extent_m=8.0, iterations=3, backend="cpu")
    gpu = segment_ground(pts, half_extent_m=8.0, iterations=3, backend="cuda")
    assert np.array_equal(cpu.ground, gpu.ground)
    np.testing.assert_allclose(cpu.height, gpu.height, rtol=1e-5, atol=1e-6)


def test_ground_rejects_bad_input():
    with pytest.raises(InvalidInputError, match="points must have shape"):
        segment_ground(np.zeros((4, 2), np.float32))
    with pytest.raises(InvalidInputError, match="points must be finite"):
        segment_ground(np.array([[0, 0, np.nan]], np.float32))
    with pytest.raises(InvalidInputError, match="cell_size_m"):
        segment_ground(np.zeros((1, 3), np.float32), cell_size_m=0)
    with pytest.raises(InvalidInputError, match="max_slope"):
        segment_ground(np.zeros((1, 3), np.float32), max_slope=-1)
    with pytest.raises(InvalidInputError, match="unknown backend"):
        segment_ground(np.zeros((1, 3), np.float32), backend="tpu")


def test_ground_empty():
    seg = segment_ground(np.zeros((0, 3), np.float32))
    assert seg.ground.shape == (0,) and seg.height.shape == (0,)


# --- clustering -------------------------------------------------------------------------------------


def blobs(rng: np.random.Generator, n: int = 400) -> np.ndarray:
    centres = rng.uniform(-6, 6, (8, 3)) * [1, 1, 0.3]
    pts = centres[rng.integers(0, 8, n)] + rng.normal(0, 0.35, (n, 3))
    return pts.astype(np.float32)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cluster_matches_oracle_exactly(seed):
    rng = np.random.default_rng(seed)
    pts = blobs(rng)
    mask = rng.random(len(pts)) > 0.1
    got = cluster_points(pts, mask, voxel_size_m=(0.3, 0.3, 0.5), half_extent_m=8.0, z_range_m=(-3, 3))
    want, count = cluster_oracle(pts, mask, (0.3, 0.3, 0.5), 8.0, (-3, 3), 1)
    assert got.n_clusters == count
    assert np.array_equal(got.labels, want)


def test_cluster_cpu_equals_cuda_simulator():
    rng = np.random.default_rng(5)
    pts = blobs(rng, 250)
    cpu = cluster_points(pts, voxel_size_m=0.4, half_extent_m=8.0, z_range_m=(-3, 3), backend="cpu")
    gpu = cluster_points(pts, voxel_size_m=0.4, half_extent_m=8.0, z_range_m=(-3, 3), backend="cuda")
    assert cpu.n_clusters == gpu.n_clusters > 1
    assert np.array_equal(cpu.labels, gpu.labels)


def test_cluster_floor_keys_below_the_grid_origin():
    """Regression: int() truncates toward zero and would put a point 0.1 m below the grid's lower
    edge into the first voxel; floor() puts it outside (label -1)."""
    pts = np.array([[-8.1, 0.0, 0.0], [-7.95, 0.0, 0.0], [0.0, 0.0, -3.1]], np.float32)
    got = cluster_points(pts, voxel_size_m=0.3, half_extent_m=8.0, z_range_m=(-3, 3))
    assert got.labels.tolist() == [-1, 0, -1]


def test_cluster_reach_and_mask():
    pts = np.array([[0.05, 0.05, 0.1], [0.35, 0.05, 0.1], [0.95, 0.05, 0.1], [0.05, 0.05, 1.2]], np.float32)
    size = (0.3, 0.3, 0.5)
    got = cluster_points(pts, voxel_size_m=size, half_extent_m=4.0, z_range_m=(0, 3), z_reach=1)
    assert got.labels.tolist() == [0, 0, 2, 1]  # numbered by smallest voxel key (x-major)
    got = cluster_points(pts, voxel_size_m=size, half_extent_m=4.0, z_range_m=(0, 3), z_reach=2)
    assert got.labels.tolist() == [0, 0, 1, 0]
    got = cluster_points(
        pts, np.array([True, False, True, True]), voxel_size_m=0.3, half_extent_m=4.0, z_range_m=(0, 3)
    )
    assert got.labels[1] == -1 and got.n_clusters == 3


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.floats(0.15, 1.0))
def test_cluster_partition_property(seed, size):
    """Points of one voxel share a label; touching voxels too (hypothesis over seeds and sizes)."""
    pts = blobs(np.random.default_rng(seed), 120)
    got = cluster_points(pts, voxel_size_m=size, half_extent_m=8.0, z_range_m=(-3, 3))
    want, count = cluster_oracle(pts, np.ones(len(pts), bool), (size,) * 3, 8.0, (-3, 3), 1)
    assert got.n_clusters == count and np.array_equal(got.labels, want)


def test_cluster_rejects_bad_input():
    pts = np.zeros((3, 3), np.float32)
    with pytest.raises(InvalidInputError, match="voxel_size_m"):
        cluster_points(pts, voxel_size_m=0)
    with pytest.raises(InvalidInputError, match="mask must have shape"):
        cluster_points(pts, np.ones(2, bool))
    with pytest.raises(InvalidTypeError, match="mask must have dtype bool"):
        cluster_points(pts, np.ones(3, np.float32))
    with pytest.raises(InvalidInputError, match="z_range_m"):
        cluster_points(pts, z_range_m=(1, 0))


# --- fitting ----------------------------------------------------------------------------------------


def l_shape(rng, centre, size, yaw, sensor=(0.0, 0.0), n=400):
    """Points of the faces of a box visible from the sensor (an L or I shape)."""
    pts = box_surface(rng, centre, (*size, 1.5), yaw, n)
    c, s = math.cos(yaw), math.sin(yaw)
    rel = pts[:, :2] - centre
    u, v = rel @ [c, s], rel @ [-s, c]
    su, sv = np.array([sensor[0] - centre[0], sensor[1] - centre[1]]) @ np.array([[c, -s], [s, c]])
    face_u = np.isclose(np.abs(u), size[0] / 2, atol=1e-3) & (np.sign(u) == np.sign(su))
    face_v = np.isclose(np.abs(v), size[1] / 2, atol=1e-3) & (np.sign(v) == np.sign(sv))
    return np.ascontiguousarray(pts[face_u | face_v])


def run_fit(pts, **kw):
    labels = np.zeros(len(pts), np.int32)
    return fit_boxes(pts, labels, np.zeros(len(pts), np.float32), PRIORS, n_clusters=1, **kw)


@pytest.mark.parametrize("yaw", [0.0, 0.2, 0.7, 1.2, -0.4, 2.8])
def test_fit_yaw_sweep_l_shape(yaw):
    rng = np.random.default_rng(7)
    pts = l_shape(rng, (12.0, 5.0), (4.5, 1.9), yaw)
    fb = run_fit(pts, yaw_steps=90, yaw_refine=4)
    box = fb.boxes[0]
    err = (box[6] - yaw + math.pi / 2) % math.pi - math.pi / 2  # heading sign is unknown
    assert abs(err) < math.radians(1.5)
    np.testing.assert_allclose(box[:2], [12.0, 5.0], atol=0.1)
    np.testing.assert_allclose(box[3:5], [4.5, 1.9], atol=0.1)
    assert fb.class_id[0] == 0 and 0 < fb.score[0] <= 1


def test_fit_yaw_matches_closeness_oracle():
    """Plain closeness (all four edges): the kernel's angle is the oracle's argmax over the same grid."""
    rng = np.random.default_rng(8)
    pts = l_shape(rng, (6.0, -3.0), (4.0, 1.8), 0.45)
    fb = run_fit(
        pts,
        heading="none",
        yaw_steps=45,
        yaw_refine=0,
        visible_edges=False,
        extend=False,
        min_distance_m=0.05,
    )
    xy = pts[:, :2].astype(np.float64) - pts[:, :2].astype(np.float64).mean(0)
    grid = np.arange(45) * (math.pi / 2 / 45)
    want = grid[int(np.argmax([closeness_oracle(xy, t, 0.05) for t in grid]))]
    assert fb.boxes[0, 6] == pytest.approx(want, abs=1e-6)


def test_fit_rear_view_grows_away_from_sensor():
    """A car seen only from behind is wide, not long: it grows to the prior length away from the sensor."""
    rng = np.random.default_rng(9)
    pts = l_shape(rng, (15.0, 0.0), (4.6, 1.9), 0.0)
    pts = pts[pts[:, 0] < 15.0 - 2.2]  # only the rear face
    fb = run_fit(pts)
    box = fb.boxes[0]
    assert fb.class_id[0] == 0
    assert abs(math.sin(box[6])) < 0.05  # length along x
    assert box[3] == pytest.approx(4.6) and box[0] > 14.5  # grown forward, away from the sensor at 0


def test_fit_velocity_heading_and_none():
    rng = np.random.default_rng(10)
    pts = l_shape(rng, (10.0, 3.0), (4.5, 1.9), 0.3)
    vel = np.array([[-5.0 * math.cos(0.3), -5.0 * math.sin(0.3)]], np.float32)
    fb = run_fit(pts, heading="velocity", velocity=vel)
    assert abs((fb.boxes[0, 6] - (0.3 - math.pi) + math.pi) % (2 * math.pi) - math.pi) < 0.05
    fb = run_fit(pts, heading="none", extend=False)
    assert 0 <= fb.boxes[0, 6] < math.pi / 2


def test_fit_infeasible_and_min_points():
    rng = np.random.default_rng(11)
    wall = l_shape(rng, (10.0, 6.0), (20.0, 0.5), 0.0)
    fb = run_fit(wall)
    assert fb.class_id[0] == -1
    fb = run_fit(wall[:3], min_points=5)
    assert fb.boxes.shape == (0, 7)


def test_fit_cpu_equals_cuda_simulator():
    rng = np.random.default_rng(12)
    a = l_shape(rng, (8.0, 2.0), (4.4, 1.8), 0.5, n=120)
    b = l_shape(rng, (-6.0, -4.0), (0.6, 0.6), 0.0, n=60)
    pts = np.ascontiguousarray(np.vstack([a, b]))
    labels = np.r_[np.zeros(len(a)), np.ones(len(b))].astype(np.int32)
    gz = np.zeros(len(pts), np.float32)
    kw = {"n_clusters": 2, "yaw_steps": 10, "yaw_refine": 2}
    cpu = fit_boxes(pts, labels, gz, PRIORS, backend="cpu", **kw)
    gpu = fit_boxes(pts, labels, gz, PRIORS, backend="cuda", **kw)
    np.testing.assert_allclose(cpu.boxes, gpu.boxes, rtol=1e-5, atol=1e-5)
    assert np.array_equal(cpu.class_id, gpu.class_id) and cpu.class_id.tolist() == [0, 1]
    np.testing.assert_allclose(cpu.score, gpu.score, rtol=1e-5)


def test_fit_rejects_bad_input():
    pts = np.zeros((3, 3), np.float32)
    lab = np.zeros(3, np.int32)
    gz = np.zeros(3, np.float32)
    with pytest.raises(InvalidInputError, match="unknown heading"):
        fit_boxes(pts, lab, gz, PRIORS, n_clusters=1, heading="north")
    with pytest.raises(InvalidInputError, match="priors must have shape"):
        fit_boxes(pts, lab, gz, PRIORS[:, :5], n_clusters=1)
    with pytest.raises(InvalidInputError, match="n_clusters"):
        fit_boxes(pts, lab + 3, gz, PRIORS, n_clusters=1)
    with pytest.raises(InvalidInputError, match="unknown criterion"):
        fit_boxes(pts, lab, gz, PRIORS, n_clusters=1, criterion="volume")
