"""Camera linking on the synthetic rig: association, attribute timelines, fisheye footprints, timing error.

Sections (all on ``engine.sim`` logs, whose ground truth knows every 2D box and attribute timeline):

``association`` / ``attributes``
    Observations = GT 2D boxes (visible fraction >= 0.15) with 2 % box jitter and blinking blinkers
    (dark half of each 1.5 Hz period is seen as ``off``); then 10 % corrupted: 5 % dropped, 5 % noisy
    (box shifted/scaled by 15 % of its size, every attribute a random wrong value)
    (:func:`engine.linking.synthetic.observations_from_ground_truth`). Precision / recall / F1 of the
    observation -> track links; attribute timeline accuracy = share of 10 ms instants, within each
    track's observed span, where the fused value equals the GT value.
``fisheye``
    Every GT-visible track in every fisheye frame (pose at capture time): mask IoU against the dense
    silhouette (every pixel's ray, from the float64 ``CameraModel.unproject``, intersected with the cuboid:
    the limit of infinitely many surface samples), for our footprint (union of the six faces, each
    outlined by its sampled, clipped edges) and for the 8 projected corners joined by straight lines
    (their convex hull); also the IoU of their bounding boxes with the silhouette's.
``timing``
    Fast objects (the 10 % of GT boxes with the largest image motion per frame): footprint box at the
    camera's capture time (ours) vs at the nearest lidar sweep's time (cuboid and ego pose there), IoU
    with the GT box and box-centre error [px].

Run: ``.venv/bin/python -m benchmarks.eval_linking [--seconds 6] [--seeds 2] [--json OUT]``.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import time
from typing import Any

import cv2
import numpy as np
import shapely

from calibration.camera import CameraModel
from engine.linking import FootprintConfig, LinkConfig, box_iou_matrix, compute_footprints, link_cameras
from engine.linking.synthetic import observations_from_ground_truth
from engine.sim import simulate
from engine.tracks import interpolate_track
from kernels.footprint import FLAG_VALID, sample_footprints

logger = logging.getLogger("eval_linking")
_LOOK = np.eye(4)


def _sizes(log: Any) -> dict[str, tuple[int, int]]:
    return {s: (log.sensors[s].camera.width, log.sensors[s].camera.height) for s in log.cameras}


def eval_association(rig: str, seconds: float, seed: int) -> dict[str, float]:
    """Association P/R/F1 and attribute accuracy on one simulated log."""
    sim = simulate(rig, seconds, seed)
    obs, truth = observations_from_ground_truth(sim.ground_truth, seed=seed, image_sizes=_sizes(sim.log))
    t0 = time.perf_counter()
    res = link_cameras(sim.log, sim.ground_truth.annotations, obs, LinkConfig())
    elapsed = time.perf_counter() - t0
    tp = sum(truth[m.obs_id] == m.track_id for m in res.matches)
    p, r = tp / max(len(res.matches), 1), tp / max(len(obs), 1)
    gt = {t.track_id: t for t in sim.ground_truth.annotations.tracks}
    hits = {"blinker": 0, "brake_light": 0}
    total = {"blinker": 0, "brake_light": 0}
    for fa in res.attributes:
        ref = next(a for a in gt[fa.track_id].attributes if a.name == fa.path.name)
        times = [e.timestamp_us for seg in fa.evidence for e in seg]
        grid = np.arange(min(times), max(times) + 1, 10_000)
        ok = sum(fa.path.value_at(int(t)) == ref.value_at(int(t)) for t in grid)
        hits[fa.path.name] += ok
        total[fa.path.name] += grid.size
    return {
        "rig": rig,
        "seed": seed,
        "observations": len(obs),
        "links": len(res.matches),
        "precision": p,
        "recall": r,
        "f1": 2 * p * r / max(p + r, 1e-12),
        "attr_accuracy": sum(hits.values()) / max(sum(total.values()), 1),
        "blinker_accuracy": hits["blinker"] / max(total["blinker"], 1),
        "brake_light_accuracy": hits["brake_light"] / max(total["brake_light"], 1),
        "link_seconds": elapsed,
    }


@functools.lru_cache(maxsize=8)
def _pixel_rays(model: CameraModel) -> tuple[np.ndarray, np.ndarray]:
    v, u = np.mgrid[0 : model.height, 0 : model.width]
    rays, ok = model.unproject(np.column_stack([u.ravel(), v.ravel()]).astype(np.float64))  # centres
    return rays.reshape(model.height, model.width, 3), ok.reshape(model.height, model.width)


def _silhouette(
    model: CameraModel, box: np.ndarray, cam_from_local: np.ndarray, near: float, window: tuple[int, ...]
) -> np.ndarray:
    """Pixels of ``window`` whose ray meets the cuboid (``box`` in the local frame) beyond ``near``."""
    x0, y0, x1, y1 = window
    rays, ok = _pixel_rays(model)
    rays, ok = rays[y0:y1, x0:x1], ok[y0:y1, x0:x1]
    r = cam_from_local[:3, :3]
    c, s = np.cos(box[6]), np.sin(box[6])
    box_from_local = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])
    d = np.nan_to_num(rays) @ (box_from_local @ r.T).T  # ray directions in the box's axes
    o = box_from_local @ (-r.T @ cam_from_local[:3, 3] - box[:3])  # camera centre in the box's axes
    d = np.where(np.abs(d) < 1e-12, 1e-12, d)
    half = box[3:6] / 2
    t1, t2 = (-half - o) / d, (half - o) / d
    tmin, tmax = np.minimum(t1, t2).max(-1), np.maximum(t1, t2).min(-1)
    hit = ok & (tmin <= tmax) & (tmax >= near)
    return np.asarray(hit)


def _face_polygons(u: np.ndarray, v: np.ndarray, ok: np.ndarray, k: int) -> list[np.ndarray]:
    """Each face's outline from its four sampled edges, in cyclic order (valid samples only)."""
    polys = []
    for f in range(6):
        axis, sign = f // 2, 2 * (f & 1) - 1
        pts, ang = [], []
        for e in range(12):
            ax_e, j = divmod(e, 4)
            if ax_e == axis:
                continue
            others = [a for a in range(3) if a != ax_e]
            coord = (2 * (j & 1) - 1, 2 * ((j >> 1) & 1) - 1)
            if coord[others.index(axis)] != sign:
                continue
            for i in range(k):
                unit = np.zeros(3)
                unit[others[0]], unit[others[1]] = coord
                unit[ax_e] = 2 * i / (k - 1) - 1
                plane = [a for a in range(3) if a != axis]
                s = e * k + i
                if ok[s]:
                    pts.append((u[s], v[s]))
                    ang.append(np.arctan2(unit[plane[1]], unit[plane[0]]))
        if len(pts) >= 3:
            order = np.argsort(ang)
            polys.append(np.array(pts)[order])
    return polys


def _region(polys: list[np.ndarray]) -> Any:
    """Union of polygons (shapely; self-intersections repaired), or None."""
    parts = [shapely.Polygon(p).buffer(0) for p in polys if len(p) >= 3]
    parts = [g for g in parts if not g.is_empty]
    return shapely.union_all(parts) if parts else None


def _raster(region: Any, window: tuple[int, int, int, int]) -> np.ndarray:
    """Pixels of ``window`` (x0, y0, x1, y1) whose centre (integer coordinates) lies in ``region``."""
    x0, y0, x1, y1 = window
    yy, xx = np.mgrid[y0:y1, x0:x1]
    if region is None:
        return np.zeros(xx.shape, bool)
    return np.asarray(shapely.contains_xy(region, xx.astype(np.float64), yy.astype(np.float64)))


def _mask_iou(a: np.ndarray, b: np.ndarray) -> float:
    union = np.logical_or(a, b).sum()
    return float(np.logical_and(a, b).sum() / union) if union else 1.0


def _bbox(mask: np.ndarray) -> np.ndarray:
    ys, xs = np.nonzero(mask)
    return np.array([xs.min(), ys.min(), xs.max() + 1, ys.max() + 1], np.float64)


def eval_fisheye(seconds: float, seed: int, min_area_px: int = 100) -> dict[str, float]:
    """Mask and box IoU vs the dense silhouette for every GT-visible track in the robotaxi fisheyes."""
    sim = simulate("robotaxi", seconds, seed)
    log, gt = sim.log, sim.ground_truth
    frames = [
        (cb.sensor_id, cb.timestamp_us)
        for cb in gt.camera_boxes
        if cb.sensor_id.startswith("fisheye") and cb.boxes
    ]
    cfg = FootprintConfig(lidar_occlusion=False)
    fp = compute_footprints(log, gt.annotations, frames, cfg)
    k, near = 32, cfg.near_m
    res: dict[str, list[float]] = {"ours_mask": [], "corners_mask": [], "ours_box": [], "corners_box": []}
    for f, (sid, t) in enumerate(fp.frames):
        model = log.sensors[sid].camera
        wfc = log.trajectory.pose_at(t) @ log.sensors[sid].ego_from_sensor
        m = np.eye(4)
        m[:3, :3] = wfc.rotation.T
        visible_ids = {b.track_id for b in gt.boxes_2d(sid, t).boxes}
        for r in np.flatnonzero(fp.frame == f):
            if fp.track_ids[int(fp.track[r])] not in visible_ids:
                continue
            box = fp.boxes_world[r].copy()
            box[:3] -= wfc.translation
            smp = sample_footprints(
                box[None].astype(np.float32), [model], m[None], [0], edge_samples=k, face_grid=1, near_m=near
            )
            ok = (smp.flags[0] & FLAG_VALID) > 0
            u, v = smp.u[0].astype(np.float64), smp.v[0].astype(np.float64)
            ours = _region(_face_polygons(u, v, ok, k))
            ci = np.array([e * k + i for e in range(4) for i in (0, k - 1)])  # the 8 corners
            hull = cv2.convexHull(np.column_stack([u[ci][ok[ci]], v[ci][ok[ci]]]).astype(np.float32))
            corners = _region([hull[:, 0].astype(np.float64)] if ok[ci].sum() >= 3 else [])
            bounds = [g.bounds for g in (ours, corners) if g is not None]
            if not bounds:
                continue
            b = np.array(bounds)
            window = (
                int(max(np.floor(b[:, 0].min()) - 20, 0)),
                int(max(np.floor(b[:, 1].min()) - 20, 0)),
                int(min(np.ceil(b[:, 2].max()) + 21, model.width)),
                int(min(np.ceil(b[:, 3].max()) + 21, model.height)),
            )
            if window[2] <= window[0] or window[3] <= window[1]:
                continue
            sil = _silhouette(model, box, m, near, window)
            if sil.sum() < min_area_px:
                continue
            ours_m, corners_m = _raster(ours, window), _raster(corners, window)
            res["ours_mask"].append(_mask_iou(ours_m, sil))
            res["corners_mask"].append(_mask_iou(corners_m, sil))
            sb = _bbox(sil)
            nan = np.full(4, np.nan)
            res["ours_box"].append(float(box_iou_matrix(sb, _bbox(ours_m) if ours_m.any() else nan)[0, 0]))
            res["corners_box"].append(
                float(box_iou_matrix(sb, _bbox(corners_m) if corners_m.any() else nan)[0, 0])
            )
    out: dict[str, float] = {"boxes": len(res["ours_mask"])}
    for key, vals in res.items():
        a = np.array(vals)
        out[f"{key}_iou_mean"] = float(a.mean())
        out[f"{key}_iou_p5"] = float(np.percentile(a, 5))
    return out


def eval_timing(rig: str, seconds: float, seed: int) -> dict[str, float]:
    """Footprint at camera time vs at the nearest lidar sweep time, for the fastest-moving 10 % of boxes."""
    sim = simulate(rig, seconds, seed)
    log, gt = sim.log, sim.ground_truth
    lidar = log.lidar[sorted(log.lidar)[0]]
    cfg = FootprintConfig(lidar_occlusion=False)
    frames = [(cb.sensor_id, cb.timestamp_us) for cb in gt.camera_boxes if cb.boxes]
    fp = compute_footprints(log, gt.annotations, frames, cfg)
    tracks = {t.track_id: t for t in gt.annotations.tracks}
    rows, lidar_boxes, mats, models, gt_boxes = [], [], [], [], []
    for sid, t in fp.frames:
        t_l = int(lidar.timestamps_us[lidar.nearest(t)])
        wfc = log.trajectory.pose_at(t_l) @ log.sensors[sid].ego_from_sensor  # the lidar-time shortcut
        m = np.eye(4)
        m[:3, :3] = wfc.rotation.T
        for b in gt.boxes_2d(sid, t).boxes:
            r = next(int(x) for x in fp.rows_in(sid, t) if fp.track_ids[int(fp.track[x])] == b.track_id)
            path = interpolate_track(tracks[b.track_id], [t_l], log.trajectory)
            from calibration.se3 import quat_wxyz_to_yaw

            lb = np.concatenate(
                [path.centers[0] - wfc.translation, path.sizes[0], [quat_wxyz_to_yaw(path.rotations_wxyz[0])]]
            )
            rows.append(r)
            lidar_boxes.append(lb)
            mats.append(m)
            models.append(log.sensors[sid].camera)
            gt_boxes.append(b.box)
    smp = sample_footprints(
        np.array(lidar_boxes, np.float32),
        models,
        np.array(mats),
        np.arange(len(rows)),
        edge_samples=24,
        face_grid=6,
    )
    rows_a = np.array(rows)
    ours = fp.box[rows_a]
    ok = (smp.flags & FLAG_VALID) > 0
    w = np.array([[mm.width, mm.height] for mm in models], np.float64)
    u = np.where(ok, smp.u, np.nan)
    v = np.where(ok, smp.v, np.nan)
    theirs = np.column_stack(
        [
            np.clip(np.nanmin(u, 1), 0, w[:, 0]),
            np.clip(np.nanmin(v, 1), 0, w[:, 1]),
            np.clip(np.nanmax(u, 1), 0, w[:, 0]),
            np.clip(np.nanmax(v, 1), 0, w[:, 1]),
        ]
    )
    g = np.array(gt_boxes)
    centre = lambda b: np.column_stack([(b[:, 0] + b[:, 2]) / 2, (b[:, 1] + b[:, 3]) / 2])  # noqa: E731
    shift = np.linalg.norm(centre(ours) - centre(theirs), axis=1)
    fast = shift >= np.percentile(shift, 90)
    iou_ours = np.array([box_iou_matrix(g[i], ours[i])[0, 0] for i in range(len(g))])
    iou_lidar = np.array([box_iou_matrix(g[i], theirs[i])[0, 0] for i in range(len(g))])
    return {
        "rig": rig,
        "boxes": int(fast.sum()),
        "camera_time_iou": float(iou_ours[fast].mean()),
        "lidar_time_iou": float(iou_lidar[fast].mean()),
        "camera_time_centre_err_px": float(np.linalg.norm(centre(ours) - centre(g), axis=1)[fast].mean()),
        "lidar_time_centre_err_px": float(np.linalg.norm(centre(theirs) - centre(g), axis=1)[fast].mean()),
        "lidar_time_centre_err_px_max": float(np.linalg.norm(centre(theirs) - centre(g), axis=1)[fast].max()),
    }


def main() -> None:
    """Run every section, print JSON and a table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=6.0)
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--json", default=None)
    args = ap.parse_args()
    logging.basicConfig(level=logging.INFO)
    assoc = [
        eval_association(rig, args.seconds, s) for rig in ("tiny", "nuscenes") for s in range(args.seeds)
    ]
    fish = eval_fisheye(min(args.seconds, 1.0), 0)
    timing = [eval_timing(rig, min(args.seconds, 3.0), 0) for rig in ("tiny", "nuscenes")]
    out = {"association": assoc, "fisheye": fish, "timing": timing}
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)
    print("\n| rig | seed | obs | P | R | F1 | attr acc | blinker | brake | link s |")
    print("|---|---|---|---|---|---|---|---|---|---|")
    for a in assoc:
        print(
            f"| {a['rig']} | {a['seed']} | {a['observations']} | {a['precision']:.4f} | {a['recall']:.4f} | "
            f"{a['f1']:.4f} | {a['attr_accuracy']:.4f} | {a['blinker_accuracy']:.4f} | "
            f"{a['brake_light_accuracy']:.4f} | {a['link_seconds']:.1f} |"
        )
    print(
        f"\nfisheye ({fish['boxes']} boxes): mask IoU ours {fish['ours_mask_iou_mean']:.4f} "
        f"(p5 {fish['ours_mask_iou_p5']:.4f}) vs corners {fish['corners_mask_iou_mean']:.4f} "
        f"(p5 {fish['corners_mask_iou_p5']:.4f}); box IoU ours {fish['ours_box_iou_mean']:.4f} vs corners "
        f"{fish['corners_box_iou_mean']:.4f}"
    )
    for tm in timing:
        print(
            f"timing {tm['rig']} ({tm['boxes']} fastest boxes): IoU camera-time "
            f"{tm['camera_time_iou']:.3f} vs lidar-time {tm['lidar_time_iou']:.3f}; centre error "
            f"{tm['camera_time_centre_err_px']:.1f} px vs "
            f"{tm['lidar_time_centre_err_px']:.1f} px (max {tm['lidar_time_centre_err_px_max']:.1f})"
        )


if __name__ == "__main__":
    main()
