"""Benchmark: voxel clustering vs Open3D ``cluster_dbscan`` and the whole proposal step on PandaSet.

asv-shaped suites (``params``/``setup``/``time_*``) plus a runner: ``python -m benchmarks.bench_proposals``
prints JSON and a table. Workload: real Pandar64 sweeps of ``../shared/data/pandaset_seq002``
(≈ 106k points) in the ego frame; clustering input = the non-ground points below 3 m above ground
(what the proposal step clusters), the same array for both libraries.

Cluster agreement: adjusted Rand index (ARI) over the points both label as clustered, and the share of
Open3D clusters (>= 10 points) whose best-matching voxel cluster has IoU >= 0.5 (point sets).
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data" / "pandaset_seq002"


def load_sweep(frame: int) -> np.ndarray:
    """One PandaSet sweep in the ego frame (x forward = lidar +y), float32 (N, 3)."""
    p = np.load(DATA / "lidar" / f"{frame:02d}.npz")["points"]
    return np.ascontiguousarray(np.stack([p[:, 1], -p[:, 0], p[:, 2]], axis=1).astype(np.float32))


def cluster_input(points: np.ndarray) -> np.ndarray:
    """The points the proposal step clusters: not ground, < 3 m above it, within 80 m."""
    from kernels.geometry import segment_ground

    g = segment_ground(points)
    keep = ~g.ground & (g.height < 3.0) & (np.hypot(points[:, 0], points[:, 1]) < 80.0)
    return np.ascontiguousarray(points[keep])


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """ARI of two labelings of the same points (contingency table, Hubert & Arabie 1985)."""
    _, ai = np.unique(a, return_inverse=True)
    _, bi = np.unique(b, return_inverse=True)
    pairs = ai.astype(np.int64) * (bi.max() + 1) + bi
    nij = np.unique(pairs, return_counts=True)[1].astype(np.float64)
    comb = lambda x: x * (x - 1) / 2  # noqa: E731
    sum_ij = comb(nij).sum()
    sum_a = comb(np.bincount(ai).astype(np.float64)).sum()
    sum_b = comb(np.bincount(bi).astype(np.float64)).sum()
    expected = sum_a * sum_b / comb(float(len(a)))
    return float((sum_ij - expected) / (0.5 * (sum_a + sum_b) - expected))


def matched_share(ref: np.ndarray, ours: np.ndarray, min_size: int = 10) -> float:
    """Share of reference clusters (>= min_size points) whose best cluster of ``ours`` has IoU >= 0.5."""
    good = total = 0
    for c in np.unique(ref[ref >= 0]):
        members = ref == c
        if members.sum() < min_size:
            continue
        total += 1
        cand = ours[members]
        cand = cand[cand >= 0]
        if cand.size == 0:
            continue
        best = np.bincount(cand).argmax()
        inter = (cand == best).sum()
        union = members.sum() + (ours == best).sum() - inter
        good += inter / union >= 0.5
    return good / total if total else float("nan")


class ClusterSuite:
    """Voxel clustering vs Open3D DBSCAN on one real sweep."""

    params = ([40], [0.2])
    param_names = ["frame", "voxel_m"]

    def setup(self, frame: int, voxel_m: float) -> None:
        from kernels.geometry import cluster_points

        self.points = cluster_input(load_sweep(frame))
        self.voxel = (voxel_m, voxel_m, 0.5)
        cluster_points(self.points, voxel_size_m=self.voxel)  # JIT warm-up

    def time_voxel_clustering(self, frame: int, voxel_m: float) -> None:
        from kernels.geometry import cluster_points

        cluster_points(self.points, voxel_size_m=self.voxel)

    def time_open3d_dbscan(self, frame: int, voxel_m: float, eps: float = 0.4) -> None:
        import open3d as o3d

        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(self.points.astype(np.float64)))
        pcd.cluster_dbscan(eps=eps, min_points=1)


class ProposalSuite:
    """The whole model-free proposal step per PandaSet sweep."""

    params = ([0, 20, 40],)
    param_names = ["frame"]

    def setup(self, frame: int) -> None:
        from engine.proposals import propose

        self.points = load_sweep(frame)
        propose(self.points)  # JIT warm-up

    def time_propose(self, frame: int) -> None:
        from engine.proposals import propose

        propose(self.points)


def _best_of(fn: Any, repeat: int) -> tuple[float, float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        times.append((time.perf_counter_ns() - t0) / 1e9)
    return min(times), statistics.median(times)


def run(repeat: int = 7) -> dict[str, Any]:
    import open3d as o3d

    from benchmarks.common import machine_info
    from engine.proposals import propose
    from kernels.geometry import cluster_points

    out: dict[str, Any] = {"machine": machine_info(gpu=False)}
    suite = ClusterSuite()
    suite.setup(40, 0.2)
    pts = suite.points
    ours = cluster_points(pts, voxel_size_m=suite.voxel).labels
    t_ours = _best_of(lambda: suite.time_voxel_clustering(40, 0.2), repeat)
    rows = []
    for eps in (0.3, 0.4, 0.5):
        pcd = o3d.geometry.PointCloud(o3d.utility.Vector3dVector(pts.astype(np.float64)))
        t_o3d = _best_of(
            lambda pcd=pcd, eps=eps: pcd.cluster_dbscan(eps=eps, min_points=1), max(2, repeat // 3)
        )
        ref = np.asarray(pcd.cluster_dbscan(eps=eps, min_points=1))
        rows.append(
            {
                "open3d_eps_m": eps,
                "open3d_s_min": t_o3d[0],
                "open3d_clusters": int(ref.max() + 1),
                "speedup_min": t_o3d[0] / t_ours[0],
                "ari": adjusted_rand_index(ref, ours),
                "matched_share": matched_share(ref, ours),
            }
        )
    out["clustering"] = {
        "points": int(len(pts)),
        "voxel_m": list(suite.voxel),
        "ours_s_min": t_ours[0],
        "ours_s_median": t_ours[1],
        "ours_clusters": int(ours.max() + 1),
        "vs_open3d": rows,
    }
    per = []
    for frame in range(0, 50, 5):
        p = load_sweep(frame)
        propose(p)
        per.append((len(p), _best_of(lambda p=p: propose(p), 3)))
    secs = [t[0] for _, t in per]
    out["proposal_step"] = {
        "sweeps": list(range(0, 50, 5)),
        "points_mean": float(np.mean([n for n, _ in per])),
        "seconds_min_per_sweep": secs,
        "sweeps_per_s_median": 1.0 / statistics.median(secs),
    }
    return out


def main() -> None:
    result = run()
    print(json.dumps(result, indent=2))
    c = result["clustering"]
    print(
        f"clustering {c['points']} points: ours {1e3 * c['ours_s_min']:.1f} ms, {c['ours_clusters']} clusters"
    )
    for r in c["vs_open3d"]:
        print(
            f"  open3d eps {r['open3d_eps_m']}: {1e3 * r['open3d_s_min']:.0f} ms "
            f"({r['open3d_clusters']} clusters), "
            f"speed-up x{r['speedup_min']:.1f}, ARI {r['ari']:.3f}, matched {r['matched_share']:.3f}"
        )
    p = result["proposal_step"]
    print(
        f"proposal step: {p['sweeps_per_s_median']:.1f} sweeps/s "
        f"(median of {len(p['sweeps'])} sweeps, {p['points_mean']:.0f} points)"
    )


if __name__ == "__main__":
    main()
