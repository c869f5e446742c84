"""Shared-frame benchmark: projection into 1/8/12 cameras and deskew of a 250k sweep vs peers.

Run: ``python -m benchmarks.bench_shared_frame [--quick] [--json PATH] [--no-results-md]``.

Peers on the same inputs: ``cv2.projectPoints`` (pinhole + distortion), ``cv2.fisheye.projectPoints``
(Kannala–Brandt), a nuScenes-devkit-style NumPy chain (4 rigid transforms + ``view_points`` + masks,
written here in NumPy) and the devkit's own code on the same points, run in its venv
(``benchmarks/devkit_chain.py``; a stated reason when ``.venv-nuscenes`` is missing). Every peer runs
under the same pinned glibc allocator thresholds (``benchmarks.common.MALLOC_SETTINGS``). The
memory-bandwidth bound uses this machine's measured NumPy copy / triad bandwidth and the bytes each
call must move (float32 SoA input once, dense outputs).
asv-shaped: ``params`` / ``param_names`` grid, seeded ``setup`` with JIT warm-up, ``time_*``.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from benchmarks.wide_vectors import FLAG, enable_from_argv

enable_from_argv()  # before numba is imported (python -m benchmarks.bench_shared_frame --wide-vectors)

import numpy as np  # noqa: E402

import kernels  # noqa: E402
from benchmarks import floors  # noqa: E402
from benchmarks.common import MALLOC_SETTINGS, machine_info, pin_malloc_thresholds, update_results_md  # noqa: E402
from calibration.camera_examples import example_cameras  # noqa: E402

log = logging.getLogger("bench_shared_frame")
ROOT = Path(__file__).resolve().parents[1]


class Timing(float):
    """Median wall time [s] of the samples (arithmetic uses it); ``best`` is the fastest sample [s].

    On a shared 2-core machine the median is inflated by other processes (a parallel loop waits a
    whole scheduler tick for a descheduled thread); the best sample shows the uncontended speed.
    """

    best: float

    def __new__(cls, samples: list[float]) -> Timing:
        """Build from the raw samples [s]."""
        out = super().__new__(cls, float(np.median(samples)))
        out.best = float(min(samples))
        return out


def best_time(fn: Callable[[], Any], repeat: int) -> Timing:
    """Median (and best) wall time [s] of ``repeat`` calls after one warm-up call."""
    fn()
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        fn()
        samples.append((time.perf_counter_ns() - t0) * 1e-9)
    return Timing(samples)


def memory_bandwidth(nbytes: int = 256 << 20) -> dict[str, float]:
    """Measured bandwidth [GB/s]: NumPy copy (read + write) and triad ``a = b + s * c`` (2 reads + write)."""
    n = nbytes // 8
    a, b, c = np.ones(n), np.ones(n), np.ones(n)
    copy = best_time(lambda: np.copyto(a, b), 5)
    tmp = np.empty(n)

    def triad() -> None:
        np.multiply(c, 3.0, out=tmp)
        np.add(b, tmp, out=a)

    tri = best_time(triad, 5)
    return {"copy_GBps": 2 * n * 8 / copy / 1e9, "triad_GBps": 5 * n * 8 / tri / 1e9}


def points_in_front(rng: np.random.Generator, n: int) -> np.ndarray:
    """Ego-frame points around the car, (N, 3) float32 [m]."""
    p = rng.normal(size=(n, 3)) * [25.0, 25.0, 2.0]
    return p.astype(np.float32)


def rig(count: int, rng: np.random.Generator) -> tuple[list[Any], np.ndarray]:
    """``count`` cameras around the ego (pinhole with distortion; every third a fisheye) + camera_from_ego."""
    cams = example_cameras()
    out, mats = [], []
    for c in range(count):
        cam = cams["fisheye"] if c % 3 == 2 else cams["brown_conrady"]
        yaw = 2 * np.pi * c / count
        # optical frame: z forward along yaw, x right, y down
        fwd = np.array([np.cos(yaw), np.sin(yaw), 0.0])
        right = np.array([np.sin(yaw), -np.cos(yaw), 0.0])
        down = np.array([0.0, 0.0, -1.0])
        m = np.eye(4)
        m[:3, :3] = np.stack([right, down, fwd])
        m[:3, 3] = -m[:3, :3] @ np.array([1.5, 0.0, 1.6])
        out.append(cam)
        mats.append(m)
    return out, np.stack(mats)


def nuscenes_chain(points: np.ndarray, mats: list[np.ndarray], k: np.ndarray, w: int, h: int) -> Any:
    """nuScenes-devkit style: (3, N) float64, 4 rigid transforms one by one, view_points, masks."""
    pc = points.T.astype(np.float64)
    for m in mats:  # lidar->ego(t_l), ego(t_l)->world, world->ego(t_c), ego(t_c)->camera
        pc = m[:3, :3] @ pc
        pc = pc + m[:3, 3:4]
    depth = pc[2, :]
    viewpad = np.eye(4)
    viewpad[:3, :3] = k
    pts = np.concatenate((pc, np.ones((1, pc.shape[1]))))
    pts = (viewpad @ pts)[:3, :]
    pts = pts / pts[2:3, :].repeat(3, 0).reshape(3, pc.shape[1])
    mask = (depth > 1.0) & (pts[0] > 1) & (pts[0] < w - 1) & (pts[1] > 1) & (pts[1] < h - 1)
    return pts[:2], depth, mask


def devkit_python() -> Path | None:
    """The devkit's interpreter (``FUSIONLABEL_NUSCENES_PYTHON`` or ``.venv-nuscenes``), if present."""
    env = os.environ.get("FUSIONLABEL_NUSCENES_PYTHON")
    path = Path(env) if env else ROOT / ".venv-nuscenes" / "bin" / "python"
    return path if path.exists() else None


def devkit_chain_time(
    points: np.ndarray, mats: list[np.ndarray], k: np.ndarray, w: int, h: int, repeat: int
) -> tuple[Timing, dict[str, Any]] | str:
    """Time the devkit's own chain on the same inputs (``benchmarks/devkit_chain.py`` in its venv).

    Returns the timing and facts (points kept, versions), or the reason it could not run.
    """
    import subprocess
    import tempfile

    python = devkit_python()
    if python is None:
        return "nuScenes devkit venv missing (make nuscenes-devkit, or set FUSIONLABEL_NUSCENES_PYTHON)"
    with tempfile.TemporaryDirectory() as tmp:
        np.save(Path(tmp) / "points.npy", np.ascontiguousarray(points, dtype=np.float32))
        np.save(Path(tmp) / "mats.npy", np.stack(mats))
        np.save(Path(tmp) / "K.npy", k)
        script = ROOT / "benchmarks" / "devkit_chain.py"
        # this process's OpenBLAS / OpenMP workers spin for a while after the calls just timed and
        # would take a core from the child: let them go to sleep first
        time.sleep(0.5)
        proc = subprocess.run(
            [str(python), str(script), tmp, str(w), str(h), str(repeat)],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **{k: str(v) for k, v in MALLOC_SETTINGS.items()}},
        )
    if proc.returncode != 0:
        return f"devkit chain failed: {proc.stderr.strip().splitlines()[-1:]}"
    out = json.loads(proc.stdout)
    return Timing(out.pop("samples_s")), out


class SharedFrameSuite:
    """asv-shaped suite: projection of N points into C cameras, and deskew."""

    params = ([250_000], [1, 8, 12])
    param_names = ["n_points", "n_cameras"]

    def setup(self, n_points: int, n_cameras: int) -> None:
        """Seeded inputs and JIT warm-up."""
        rng = np.random.default_rng(0)
        self.points = points_in_front(rng, n_points)
        self.cams, self.mats = rig(n_cameras, rng)
        kernels.project_to_cameras(self.points[:1000], self.cams, self.mats)

    def time_project_to_cameras(self, n_points: int, n_cameras: int) -> None:
        """Dense projection (C, N)."""
        kernels.project_to_cameras(self.points, self.cams, self.mats)


def run(quick: bool) -> dict[str, Any]:
    """Run every case and return the results dictionary."""
    import cv2
    import numba

    from calibration.trajectory import Trajectory

    start_load = f"{os.getloadavg()[0]:.2f}"
    malloc_pinned = pin_malloc_thresholds()  # the same allocator state for every peer (see common.py)
    repeat = 5 if quick else 20
    rng = np.random.default_rng(0)
    n = 250_000
    bw = memory_bandwidth(64 << 20 if quick else 256 << 20)
    bw["copy_8MB_GBps"] = floors.cache_bandwidth(8 << 20, best_time)  # L3-resident, like a 250k call
    pts_ego = points_in_front(rng, n)
    cams = example_cameras()
    pin, fish = cams["brown_conrady"], cams["fisheye"]
    rows: list[dict[str, Any]] = []

    # --- one camera, points already in the camera frame (all in front, like the peers need) ---
    pts_cam = pts_ego.copy()
    pts_cam[:, 2] = np.abs(pts_cam[:, 2]) * 10 + 1.0
    pts64 = pts_cam.astype(np.float64)
    zero = np.zeros(3)
    peers = {
        "brown_conrady": lambda: cv2.projectPoints(pts64, zero, zero, pin.K, np.array(pin.params)),
        "fisheye": lambda: cv2.fisheye.projectPoints(pts64[None], zero, zero, fish.K, np.array(fish.params)),
    }
    eye = np.eye(4)[None]
    t_floor = best_time(floors.copy_rows_floor(pts_cam), 3 * repeat)
    t_floor_pre = best_time(floors.copy_rows_floor(pts_cam, fresh=False), 3 * repeat)
    for name, cam in (("brown_conrady", pin), ("fisheye", fish)):
        t_ours = best_time(lambda cam=cam: kernels.project_points(pts_cam, cam), 3 * repeat)
        t_f64 = best_time(lambda cam=cam: kernels.project_points(pts_cam, cam, precision="float64"), repeat)
        t_dense = best_time(lambda cam=cam: kernels.project_to_cameras(pts_cam, [cam], eye), repeat)
        t_peer = best_time(peers[name], max(3, repeat // 4))
        k = cam.K
        chain_mats = [np.eye(4)] * 4
        t_chain = best_time(
            lambda k=k, cam=cam, cm=chain_mats: nuscenes_chain(pts_cam, cm, k, cam.width, cam.height),
            max(3, repeat // 4),
        )
        devkit = devkit_chain_time(pts_cam, chain_mats, k, cam.width, cam.height, max(3, repeat // 2))
        if isinstance(devkit, str):
            devkit_cols: dict[str, Any] = {"devkit_chain": devkit}
        else:
            t_dev, facts = devkit
            ours_kept = int(nuscenes_chain(pts_cam, chain_mats, k, cam.width, cam.height)[2].sum())
            devkit_cols = {
                "devkit_chain_ms": t_dev * 1e3,
                "devkit_chain_best_ms": t_dev.best * 1e3,
                "ratio_devkit": t_dev / t_ours,
                "ratio_devkit_best": t_dev.best / t_ours.best,
                "devkit_kept_equals_chain": facts["kept"] == ours_kept,
                "devkit_versions": f"nuscenes-devkit {facts['devkit']}, NumPy {facts['numpy']}",
            }
        moved = n * 12 + n * 13  # SoA float32 in, u/v/depth float32 + valid bool out
        bound = moved / (bw["copy_GBps"] * 1e9)
        rows.append(
            {
                "case": f"project_points 1 cam {name}",
                "n": n,
                "cameras": 1,
                "ours_ms": t_ours * 1e3,
                "ours_best_ms": t_ours.best * 1e3,
                "float64_ms": t_f64 * 1e3,
                "float64_best_ms": t_f64.best * 1e3,
                "floor_ms": t_floor * 1e3,
                "floor_best_ms": t_floor.best * 1e3,
                "floor_prealloc_best_ms": t_floor_pre.best * 1e3,
                "soa_api_ms": t_dense * 1e3,
                "points_per_s": n / t_ours,
                "peer": "cv2.fisheye.projectPoints" if name == "fisheye" else "cv2.projectPoints",
                "peer_ms": t_peer * 1e3,
                "ratio_peer": t_peer / t_ours,
                "ratio_peer_best": t_peer.best / t_ours.best,
                "nuscenes_chain_ms": t_chain * 1e3,
                "ratio_nuscenes": t_chain / t_ours,
                "ratio_nuscenes_best": t_chain.best / t_ours.best,
                **devkit_cols,
                "bandwidth_bound_ms": bound * 1e3,
                "x_bound": t_ours / bound,
            }
        )

    # --- C cameras from the ego frame ---
    for count in (8, 12):
        rig_cams, mats = rig(count, rng)
        t_ours = best_time(lambda rc=rig_cams, m=mats: kernels.project_to_cameras(pts_ego, rc, m), repeat)
        t_f64 = best_time(
            lambda rc=rig_cams, m=mats: kernels.project_to_cameras(pts_ego, rc, m, precision="float64"),
            repeat,
        )
        t_floor = best_time(floors.write_cameras_floor(pts_ego, count), repeat)
        t_floor_pre = best_time(floors.write_cameras_floor(pts_ego, count, fresh=False), repeat)
        t_chain = best_time(
            lambda rc=rig_cams, m=mats: [
                nuscenes_chain(pts_ego, [np.eye(4)] * 3 + [m[c]], cam.K, cam.width, cam.height)
                for c, cam in enumerate(rc)
            ],
            max(2, repeat // 8),
        )
        t_cv = best_time(
            lambda rc=rig_cams, m=mats: [
                (
                    cv2.fisheye.projectPoints(
                        pts_ego.astype(np.float64)[None],
                        cv2.Rodrigues(m[c, :3, :3])[0],
                        m[c, :3, 3],
                        cam.K,
                        np.array(cam.params),
                    )
                    if cam.model == "fisheye"
                    else cv2.projectPoints(
                        pts_ego.astype(np.float64),
                        cv2.Rodrigues(m[c, :3, :3])[0],
                        m[c, :3, 3],
                        cam.K,
                        np.array(cam.params),
                    )
                )
                for c, cam in enumerate(rc)
            ],
            max(2, repeat // 8),
        )
        moved = n * 12 + count * n * 13
        bound = moved / (bw["copy_GBps"] * 1e9)
        rows.append(
            {
                "case": f"project_to_cameras {count} cams (2/3 pinhole+dist, 1/3 KB fisheye)",
                "n": n,
                "cameras": count,
                "ours_ms": t_ours * 1e3,
                "ours_best_ms": t_ours.best * 1e3,
                "float64_ms": t_f64 * 1e3,
                "float64_best_ms": t_f64.best * 1e3,
                "floor_ms": t_floor * 1e3,
                "floor_best_ms": t_floor.best * 1e3,
                "floor_prealloc_best_ms": t_floor_pre.best * 1e3,
                "points_per_s": n * count / t_ours,
                "peer": "cv2 (projectPoints / fisheye.projectPoints per camera)",
                "peer_ms": t_cv * 1e3,
                "ratio_peer": t_cv / t_ours,
                "ratio_peer_best": t_cv.best / t_ours.best,
                "nuscenes_chain_ms": t_chain * 1e3,
                "ratio_nuscenes": t_chain / t_ours,
                "ratio_nuscenes_best": t_chain.best / t_ours.best,
                "bandwidth_bound_ms": bound * 1e3,
                "x_bound": t_ours / bound,
            }
        )

    # --- deskew of a 250k sweep over 100 ms at 15 m/s with yaw rate ---
    ts = np.arange(0, 400_001, 100_000, dtype=np.int64)
    yaw = 0.3 * ts * 1e-6
    quat = np.c_[np.cos(yaw / 2), np.zeros((ts.size, 2)), np.sin(yaw / 2)]
    traj = Trajectory(ts, np.c_[15.0 * ts * 1e-6, np.zeros(ts.size), np.zeros(ts.size)], quat)
    off = np.sort(rng.integers(0, 100_000, n)).astype(np.int32)
    e = np.eye(4)
    e[:3, 3] = [1.0, 0.0, 1.8]
    t_ours = best_time(
        lambda: kernels.deskew(pts_ego, off, timestamp_us=100_000, trajectory=traj, ego_from_sensor=e), repeat
    )

    def numpy_deskew() -> Any:
        m = traj.matrices_at(100_000 + off.astype(np.int64))
        p = pts_ego.astype(np.float64) @ e[:3, :3].T + e[:3, 3]
        return np.einsum("nij,nj->ni", m[:, :3, :3], p) + m[:, :3, 3]

    t_np = best_time(numpy_deskew, max(2, repeat // 8))
    bound = n * (12 + 4 + 12) / (bw["copy_GBps"] * 1e9)
    rows.append(
        {
            "case": "deskew 250k sweep (per-point pose, lerp+slerp)",
            "n": n,
            "cameras": 0,
            "ours_ms": t_ours * 1e3,
            "ours_best_ms": t_ours.best * 1e3,
            "points_per_s": n / t_ours,
            "peer": "NumPy per-point matrices",
            "peer_ms": t_np * 1e3,
            "ratio_peer": t_np / t_ours,
            "ratio_peer_best": t_np.best / t_ours.best,
            "bandwidth_bound_ms": bound * 1e3,
            "x_bound": t_ours / bound,
        }
    )
    end_load = f"{os.getloadavg()[0]:.2f}"
    machine = {
        **machine_info(gpu=False),
        "load_average_1min": start_load,
        "threading_layer": numba.threading_layer(),  # type: ignore[attr-defined]
        "load_average_1min_end": end_load,
        "malloc": dict(MALLOC_SETTINGS) if malloc_pinned else "glibc defaults",
    }
    return {"machine": machine, "bandwidth": bw, "rows": rows, "quick": quick}


def _malloc_text(setting: Any) -> str:
    """``{"MALLOC_MMAP_THRESHOLD_": 33554432, ...}`` -> ``MALLOC_MMAP_THRESHOLD_=32 MB, ...``."""
    if isinstance(setting, dict):
        return ", ".join(f"{k}={v >> 20} MB" for k, v in setting.items())
    return str(setting)


def markdown(result: dict[str, Any]) -> str:
    """The results as a Markdown section."""
    m, bw = result["machine"], result["bandwidth"]
    lines = [
        "## Shared frame (bench_shared_frame)",
        "",
        f"Machine: {m['cpu']}, {m['cores']} cores, numba threads {m['numba_threads']}; Python {m['python']}, "
        f"NumPy {m['numpy']}, numba {m['numba']}, OpenCV {m['opencv']}; git {m['git']}"
        f"{' (quick run)' if result['quick'] else ''}"
        f"{'; 512-bit vectors (--wide-vectors)' if result.get('wide_vectors') else ''}"
        f"; numba threading layer {m.get('threading_layer')}; "
        f"glibc malloc {_malloc_text(m.get('malloc', 'glibc defaults'))}; "
        f"1-min load average {m['load_average_1min']} at the start, {m.get('load_average_1min_end', '?')} at "
        "the end (above ~0.5 the 2 cores were shared and medians are inflated).",
        f"Measured memory bandwidth: copy {bw['copy_GBps']:.1f} GB/s, triad {bw['triad_GBps']:.1f} GB/s "
        f"(3 x 256 MB arrays: DRAM); copy of an 8 MB array {bw.get('copy_8MB_GBps', float('nan')):.1f} GB/s "
        "(L3-resident, like the repeated 250k-point calls).",
        "",
        "Times are medians of the samples; `best` columns use each side's fastest sample (uncontended). "
        'Ours is the default float32 arithmetic; `float64` is `precision="float64"`. `floor` is '
        "`benchmarks/floors.py`: a kernel that moves exactly the call's bytes (rows in, outputs freshly "
        "allocated like the API) and does no math, same threads, same cache state.",
        "",
        "| case | ours [ms] | ours best [ms] | float64 best [ms] | points/s | peer | peer [ms] | x peer "
        "| x peer (best) | nuScenes-style [ms] | x nuScenes | x nuScenes (best) | floor best [ms] "
        "| x floor (best) | DRAM bound [ms] | x bound (best) |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in result["rows"]:
        nus = f"{r['nuscenes_chain_ms']:.2f}" if "nuscenes_chain_ms" in r else "-"
        xn = f"{r['ratio_nuscenes']:.0f}" if "ratio_nuscenes" in r else "-"
        xnb = f"{r['ratio_nuscenes_best']:.0f}" if "ratio_nuscenes_best" in r else "-"
        bound, best = r["bandwidth_bound_ms"], r["ours_best_ms"]
        cells = [
            r["case"],
            f"{r['ours_ms']:.2f}",
            f"{best:.2f}",
            f"{r['float64_best_ms']:.2f}" if "float64_best_ms" in r else "-",
            f"{r['points_per_s'] / 1e6:.0f} M",
            r["peer"],
            f"{r['peer_ms']:.2f}",
            f"{r['ratio_peer']:.0f}",
            f"{r['ratio_peer_best']:.0f}",
            nus,
            xn,
            xnb,
            f"{r['floor_best_ms']:.2f}" if "floor_best_ms" in r else "-",
            f"{best / r['floor_best_ms']:.1f}" if "floor_best_ms" in r else "-",
            f"{bound:.2f}",
            f"{best / bound:.1f}",
        ]
        lines.append("| " + " | ".join(cells) + " |")
    extra = [r for r in result["rows"] if "soa_api_ms" in r]
    if extra:
        lines += [
            "",
            "One-camera rows time `project_points` (returns interleaved `uv (N, 2)`); the "
            "structure-of-arrays API `project_to_cameras` with one camera took "
            + ", ".join(f"{r['soa_api_ms']:.2f} ms ({r['case'].split()[-1]})" for r in extra)
            + ".",
        ]
    dev = [r for r in result["rows"] if "devkit_chain_ms" in r]
    if dev:
        lines += [
            "",
            "The nuScenes devkit's own code on the same points (`benchmarks/devkit_chain.py`: the body of "
            "`map_pointcloud_to_image` after the file read, in the devkit's venv, "
            f"{dev[0]['devkit_versions']}; points kept equal the NumPy chain's: "
            f"{all(r['devkit_kept_equals_chain'] for r in dev)}): "
            + ", ".join(
                f"{r['devkit_chain_ms']:.2f} ms median / {r['devkit_chain_best_ms']:.2f} best = "
                f"{r['ratio_devkit']:.0f}x / {r['ratio_devkit_best']:.0f}x ours ({r['case'].split()[-1]})"
                for r in dev
            )
            + ".",
        ]
    missing = {r["devkit_chain"] for r in result["rows"] if "devkit_chain" in r}
    if missing:
        lines += ["", "The nuScenes devkit's own code was not timed: " + "; ".join(sorted(missing)) + "."]
    pre = [r for r in result["rows"] if "floor_prealloc_best_ms" in r]
    if pre:
        lines += [
            "",
            "Floors with preallocated outputs (no first-touch page faults): "
            + ", ".join(f"{r['floor_prealloc_best_ms']:.2f} ms ({r['case'].split(' (')[0]})" for r in pre)
            + ".",
        ]
    return "\n".join(lines) + "\n"


def main() -> None:
    """Command-line entry point."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true", help="fewer repeats")
    parser.add_argument("--json", type=Path, default=ROOT / "benchmarks" / "results" / "shared_frame.json")
    parser.add_argument("--no-results-md", action="store_true", help="do not update benchmarks/RESULTS.md")
    parser.add_argument(FLAG, action="store_true", help="512-bit vectors (benchmarks/wide_vectors.py)")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(args.quick)
    result["wide_vectors"] = bool(args.wide_vectors)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(result, indent=2))
    section = markdown(result)
    print(section)
    if not args.no_results_md:
        update_results_md("## Shared frame (bench_shared_frame)", section)


if __name__ == "__main__":
    main()
