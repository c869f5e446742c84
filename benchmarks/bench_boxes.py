"""Box-kernel benchmark: points in boxes, rotated NMS and IoU matrices, side by side with peers.

Run: ``python -m benchmarks.bench_boxes [--quick] [--json PATH] [--no-results-md]``.

Workloads (seeded, synthetic):

* Points in boxes: a 250k-point lidar-like sweep (70 % background spread uniformly in range 2-80 m,
  30 % on objects, ordered by azimuth like a spinning lidar's output) against {50, 1,000, 10,000}
  boxes of mixed classes (car, pedestrian, cyclist,
  truck) inside 80 m with random yaw (10,000 boxes overlap heavily). Peer: brute force in NumPy
  (float64, every point against every box, chunked so temporaries stay ~64 MB), and in the note a
  numba ``prange`` brute force (same test, no grid, early exit). With 10,000 boxes the peers run
  on a 1/10 subset and are scaled up (marked "extrapolated"). Both peers must agree with ours.
* Rotated NMS: 10,000 proposals (500 objects x 20 jittered proposals, scores in 0.01 steps, so
  ties) at BEV IoU 0.5. Peer: shapely 2 with an STRtree for candidate pairs, vectorised GEOS
  intersections and a Python greedy pass (kept sets are compared, not only timed).
* IoU matrices: 1,000 x 1,000 BEV and 3D IoU, 300 x 300 GIoU, against shapely 2 vectorised
  intersection areas over all pairs (max abs difference reported).

Every time is the median of several runs after a warm-up (JIT compile excluded) on this machine;
ratios compare ours with the peer measured in the same run.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numba
import numpy as np

from benchmarks.common import ROOT, bench_parser, finish, machine_info
from kernels.box_iou import box_giou_bev, box_iou_3d, box_iou_bev, nms
from kernels.boxes import points_in_boxes, points_in_boxes_counts

log = logging.getLogger("bench_boxes")
SECTION = "## Boxes (bench_boxes)"
# (length, width, height, share) of the box classes.
CLASSES = np.array(
    [[4.5, 1.9, 1.6, 0.45], [0.8, 0.8, 1.8, 0.25], [1.8, 0.7, 1.7, 0.2], [10.0, 2.6, 3.5, 0.1]]
)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    """``(median, fastest)`` wall time [s] of ``repeat`` calls after one warm-up call.

    The fastest run is the one least disturbed when other processes share the cores.
    """
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) * 1e-9)
    return float(np.median(samples)), float(min(samples))


def scene_boxes(rng: np.random.Generator, m: int, radius: float = 80.0) -> np.ndarray:
    """(M, 7) float32 boxes of mixed classes, centres uniform in a disc, sizes jittered 10 %."""
    cls = rng.choice(len(CLASSES), m, p=CLASSES[:, 3])
    r = radius * np.sqrt(rng.uniform(0.0, 1.0, m))
    phi = rng.uniform(-np.pi, np.pi, m)
    out = np.empty((m, 7), np.float32)
    out[:, 0] = r * np.cos(phi)
    out[:, 1] = r * np.sin(phi)
    out[:, 3:6] = CLASSES[cls, :3] * rng.uniform(0.9, 1.1, (m, 3))
    out[:, 2] = -1.7 + out[:, 5] / 2
    out[:, 6] = rng.uniform(-np.pi, np.pi, m)
    return out


def sweep(rng: np.random.Generator, n: int, boxes: np.ndarray) -> np.ndarray:
    """(N, 3) float32 lidar-like points (background uniform in range, 30 % in random boxes), by azimuth."""
    n_obj = int(0.3 * n)
    n_bg = n - n_obj
    r = rng.uniform(2.0, 80.0, n_bg)
    phi = rng.uniform(-np.pi, np.pi, n_bg)
    bg = np.c_[r * np.cos(phi), r * np.sin(phi), rng.uniform(-1.8, 2.0, n_bg)]
    b = boxes[rng.integers(0, boxes.shape[0], n_obj)].astype(np.float64)
    local = rng.uniform(-0.55, 0.55, (n_obj, 3)) * b[:, 3:6]
    c, s = np.cos(b[:, 6]), np.sin(b[:, 6])
    obj = np.c_[
        b[:, 0] + c * local[:, 0] - s * local[:, 1],
        b[:, 1] + s * local[:, 0] + c * local[:, 1],
        b[:, 2] + local[:, 2],
    ]
    pts = np.concatenate([bg, obj]).astype(np.float32)
    return pts[np.argsort(np.arctan2(pts[:, 1], pts[:, 0]), kind="stable")]  # firing order: by azimuth


def brute_force_first(points: np.ndarray, boxes: np.ndarray, chunk_bytes: int = 64 << 20) -> np.ndarray:
    """Peer: every point against every box in float64 NumPy, chunked over points."""
    b = boxes.astype(np.float64)
    c, s = np.cos(b[:, 6]), np.sin(b[:, 6])
    hl, hw, hh = b[:, 3] / 2, b[:, 4] / 2, b[:, 5] / 2
    out = np.full(points.shape[0], -1, np.int32)
    step = max(1, chunk_bytes // (8 * max(1, b.shape[0]) * 4))
    for lo in range(0, points.shape[0], step):
        p = points[lo : lo + step].astype(np.float64)
        dx = p[:, 0:1] - b[:, 0]
        dy = p[:, 1:2] - b[:, 1]
        inside = np.abs(dx * c + dy * s) <= hl
        inside &= np.abs(dy * c - dx * s) <= hw
        inside &= np.abs(p[:, 2:3] - b[:, 2]) <= hh
        hit = inside.any(axis=1)
        out[lo : lo + step] = np.where(hit, inside.argmax(axis=1), -1)
    return out


@numba.njit(parallel=True, cache=True)
def _numba_brute(p: Any, b: Any, c: Any, s: Any, out: Any) -> None:  # pragma: no cover - compiled
    for i in numba.prange(p.shape[0]):
        x = np.float64(p[i, 0])
        y = np.float64(p[i, 1])
        z = np.float64(p[i, 2])
        first = -1
        for j in range(b.shape[0]):
            dx = x - b[j, 0]
            dy = y - b[j, 1]
            if (
                abs(dx * c[j] + dy * s[j]) <= 0.5 * b[j, 3]
                and abs(dy * c[j] - dx * s[j]) <= 0.5 * b[j, 4]
                and abs(z - b[j, 2]) <= 0.5 * b[j, 5]
            ):
                first = j
                break
        out[i] = first


def numba_brute_force(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """Second peer: every point against every box in a numba ``prange`` loop (no grid), float64."""
    b = boxes.astype(np.float64)
    out = np.empty(points.shape[0], np.int32)
    _numba_brute(points, b, np.cos(b[:, 6]), np.sin(b[:, 6]), out)
    return out


def _polygons(boxes: np.ndarray) -> Any:
    import shapely

    b = boxes.astype(np.float64)
    c, s = np.cos(b[:, 6]), np.sin(b[:, 6])
    u = np.array([1, -1, -1, 1])[None, :] * b[:, 3:4] / 2
    v = np.array([1, 1, -1, -1])[None, :] * b[:, 4:5] / 2
    xy = np.stack(
        [b[:, 0:1] + c[:, None] * u - s[:, None] * v, b[:, 1:2] + s[:, None] * u + c[:, None] * v], -1
    )
    return shapely.polygons(xy)


def shapely_iou(a: np.ndarray, b: np.ndarray, three_d: bool = False) -> np.ndarray:
    """Peer: all-pairs IoU with shapely 2's vectorised GEOS intersection."""
    import shapely

    pa, pb = _polygons(a), _polygons(b)
    inter = shapely.area(shapely.intersection(pa[:, None], pb[None, :]))
    sa = (a[:, 3].astype(np.float64) * a[:, 4])[:, None]
    sb = (b[:, 3].astype(np.float64) * b[:, 4])[None, :]
    if three_d:
        top = np.minimum((a[:, 2] + a[:, 5] / 2)[:, None], (b[:, 2] + b[:, 5] / 2)[None, :])
        bottom = np.maximum((a[:, 2] - a[:, 5] / 2)[:, None], (b[:, 2] - b[:, 5] / 2)[None, :])
        inter = inter * np.maximum(top - bottom, 0.0)
        sa, sb = sa * a[:, 5:6], sb * b[None, :, 5]
    union = sa + sb - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def shapely_nms(boxes: np.ndarray, scores: np.ndarray, thr: float) -> np.ndarray:
    """Peer: STRtree candidate pairs, vectorised intersection areas, greedy pass in Python."""
    import shapely

    order = np.argsort(-scores, kind="stable")
    polys = _polygons(boxes[order])
    left, right = shapely.STRtree(polys).query(polys, predicate="intersects")
    keep_pair = left < right
    left, right = left[keep_pair], right[keep_pair]
    inter = shapely.area(shapely.intersection(polys[left], polys[right]))
    area = boxes[order, 3].astype(np.float64) * boxes[order, 4]
    iou = inter / (area[left] + area[right] - inter)
    hits = iou > thr
    suppress: dict[int, list[int]] = {}
    for i, j in zip(left[hits].tolist(), right[hits].tolist(), strict=True):
        suppress.setdefault(i, []).append(j)
    removed = np.zeros(len(order), bool)
    keep = []
    for i in range(len(order)):
        if not removed[i]:
            keep.append(i)
            removed[suppress.get(i, [])] = True
    return order[np.array(keep, np.int64)]


def proposals(rng: np.random.Generator, objects: int, per_object: int) -> tuple[np.ndarray, np.ndarray]:
    """Detector-like proposals: jittered copies of random objects, scores in 0.01 steps."""
    base = np.repeat(scene_boxes(rng, objects), per_object, axis=0).astype(np.float64)
    base[:, 0:2] += rng.normal(0.0, 0.35, (base.shape[0], 2))
    base[:, 3:6] *= rng.uniform(0.85, 1.15, (base.shape[0], 3))
    base[:, 6] += rng.normal(0.0, 0.2, base.shape[0])
    scores = np.round(rng.uniform(0.0, 1.0, base.shape[0]), 2)
    return base.astype(np.float32), scores.astype(np.float32)


def _row(case: str, ours: tuple[float, float], peer_name: str, peer: float, note: str = "") -> dict[str, Any]:
    return {
        "case": case,
        "ours_ms": ours[0] * 1e3,
        "ours_fastest_ms": ours[1] * 1e3,
        "peer": peer_name,
        "peer_ms": peer * 1e3,
        "x_peer": peer / ours[0],
        "note": note,
    }


def run(quick: bool) -> dict[str, Any]:
    """Run every case and return the results dictionary."""
    repeat = 3 if quick else 10
    rng = np.random.default_rng(0)
    rows: list[dict[str, Any]] = []
    n = 250_000
    for m in (50, 1_000, 10_000):
        boxes = scene_boxes(rng, m)
        pts = sweep(rng, n, boxes)
        ours = timed(lambda pts=pts, boxes=boxes: points_in_boxes(pts, boxes), repeat)
        counts = timed(lambda pts=pts, boxes=boxes: points_in_boxes_counts(pts, boxes), repeat)[0]
        got = points_in_boxes(pts, boxes)
        sub = n if m <= 1_000 else n // 10
        t0 = time.perf_counter()
        ref = brute_force_first(pts[:sub], boxes)
        peer = (time.perf_counter() - t0) * n / sub
        if not np.array_equal(got[:sub], ref):
            raise RuntimeError(f"points_in_boxes differs from brute force with {m} boxes")
        numba_brute_force(pts[:1000], boxes)  # compile outside the timing
        t0 = time.perf_counter()
        ref2 = numba_brute_force(pts[:sub], boxes)
        peer2 = (time.perf_counter() - t0) * n / sub
        if not np.array_equal(ref2, ref):
            raise RuntimeError(f"the two brute-force peers differ with {m} boxes")
        note = (
            f"{(got >= 0).mean():.0%} of points in a box; counts+lists {counts * 1e3:.1f} ms; "
            f"numba brute force (prange, no grid) {peer2 * 1e3:.0f} ms = {peer2 / ours[0]:.0f}x ours"
        )
        if sub < n:
            note += f"; peers extrapolated from {sub} points"
        rows.append(
            _row(
                f"points_in_boxes 250k x {m:,} boxes",
                ours,
                "NumPy brute force (float64, chunked)",
                peer,
                note,
            )
        )
        log.info("%s", rows[-1])

    boxes, scores = proposals(rng, 500, 20)
    ours = timed(lambda: nms(boxes, scores, 0.5), repeat)
    kept = nms(boxes, scores, 0.5)
    t0 = time.perf_counter()
    ref = shapely_nms(boxes, scores, 0.5)
    peer = time.perf_counter() - t0
    same = bool(np.array_equal(kept, ref))
    note = f"kept {kept.size}; same kept set as the peer: {same}"
    rows.append(_row("nms 10,000 proposals BEV IoU 0.5", ours, "shapely 2 STRtree + greedy", peer, note))
    ours3 = timed(lambda: nms(boxes, scores, 0.5, mode="3d"), repeat)
    rows.append(_row("nms 10,000 proposals 3D IoU 0.5", ours3, "-", float("nan"), ""))
    log.info("%s", rows[-2])

    a = proposals(rng, 100, 10)[0]
    b = proposals(rng, 100, 10)[0]
    for name, func, three_d in (("BEV", box_iou_bev, False), ("3D", box_iou_3d, True)):
        ours = timed(lambda func=func: func(a, b), repeat)
        t0 = time.perf_counter()
        ref = shapely_iou(a, b, three_d)
        peer = time.perf_counter() - t0
        err = float(np.abs(func(a, b) - ref).max())
        rows.append(
            _row(
                f"{name} IoU matrix 1,000 x 1,000",
                ours,
                "shapely 2 vectorised",
                peer,
                f"max |diff| {err:.1e}",
            )
        )
        log.info("%s", rows[-1])
    small = a[:300]
    ours = timed(lambda: box_giou_bev(small, small), repeat)
    rows.append(_row("BEV GIoU matrix 300 x 300", ours, "-", float("nan"), "convex hull per pair"))
    return {"machine": machine_info(gpu=False), "quick": quick, "rows": rows}


def markdown(result: dict[str, Any]) -> str:
    """The RESULTS.md section for one run."""
    m = result["machine"]
    lines = [
        SECTION,
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, numba threads {m['numba_threads']}; Python {m['python']}, "
        f"NumPy {m['numpy']}, numba {m['numba']}, shapely {m['shapely']}; git {m['git']}"
        f"{' (quick run)' if result['quick'] else ''}; 1-min load average at the start "
        f"{m['load_average_1min']} (above ~0.5 the 2 cores were shared and times are inflated).",
        "",
        "| case | ours [ms] median | ours [ms] fastest | peer | peer [ms] | x peer (medians) | note |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        peer = "-" if np.isnan(r["peer_ms"]) else f"{r['peer_ms']:.1f}"
        ratio = "-" if np.isnan(r["x_peer"]) else f"{r['x_peer']:.0f}"
        lines.append(
            f"| {r['case']} | {r['ours_ms']:.2f} | {r['ours_fastest_ms']:.2f} | {r['peer']} | {peer} "
            f"| {ratio} | {r['note']} |"
        )
    return "\n".join(lines) + "\n"


def main() -> None:
    """Command-line entry point."""
    parser = bench_parser(__doc__ or "", ROOT / "benchmarks" / "results" / "boxes.json")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(args.quick)
    finish(result, SECTION, markdown(result), args.json, not args.no_results_md)


if __name__ == "__main__":
    main()
