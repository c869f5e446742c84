"""Evaluate model-free cuboid proposals against the PandaSet ground truth (sequence 002, 50 sweeps).

Protocol (fixed before tuning; the proposer never sees the GT):

* Frame: each sweep's ego frame at its timestamp (Pandar64 rotated to x forward, ego_from_world from
  the log's trajectory). GT cuboids come from the world-frame CSV through the PandaSet reader
  (``sensor_id == 1`` duplicates dropped); their yaw in the ego frame is the angle of the rotated
  heading vector.
* Evaluated GT: ``label == "Car"``, BEV centre within ``--range`` (40 m) of the ego origin, at least
  ``--min-points`` (20) sweep points inside the cuboid.
* Don't-care GT: every other vehicle-like cuboid (cars failing the filters, trucks, pickups,
  construction and other vehicles, buses, motorcycles, towed objects) -- a proposal overlapping one
  (BEV IoU >= the threshold) is neither a true nor a false positive.
* Proposals: class guess ``car`` and centre within the range. Matching per sweep and threshold:
  optimal assignment on BEV IoU (``scipy.optimize.linear_sum_assignment``), pairs below the
  threshold discarded. Recall = matched GT / GT; precision = matched / (proposals - don't-care).
  Mean IoU is over the pairs matched at the lowest threshold. Range bins by GT (recall) or proposal
  (precision) BEV distance. ``class_agnostic_recall`` counts proposals of any class.

* Small classes (``small_classes`` in the JSON): proposals guessed ``pedestrian`` / ``cyclist`` against
  GT ``Pedestrian`` + ``Pedestrian with Object`` / ``Bicycle`` + ``Motorcycle`` within the range with at
  least ``--small-min-points`` (5) points. A match is a BEV centre distance <= ``--centre-m`` (1.0 m;
  IoU is too harsh for sub-metre boxes), optimal assignment. Proposals near a GT of the class that fails
  the filters are don't-care. Precision = matched / (proposals - don't-care); all ranges pooled.

Run: ``python -m benchmarks.eval_proposals [--json out.json]``; prints a table and JSON.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import linear_sum_assignment

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

DATA = REPO.parent / "shared" / "data" / "pandaset_seq002"
THRESHOLDS = (0.3, 0.5)
SMALL_CLASSES = {
    "pedestrian": ("Pedestrian", "Pedestrian with Object"),
    "cyclist": ("Bicycle", "Motorcycle"),
}
BINS = ((0.0, 20.0), (20.0, 40.0))
DONT_CARE = {
    "Car",
    "Pickup Truck",
    "Medium-sized Truck",
    "Semi-truck",
    "Bus",
    "Other Vehicle - Construction Vehicle",
    "Other Vehicle - Uncommon",
    "Other Vehicle - Pedicab",
    "Emergency Vehicle",
    "Motorcycle",
    "Towed Object",
    "Train",
    "Tram / Subway",
}

logger = logging.getLogger("eval_proposals")


def bev_iou(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """(M, K) exact rotated BEV IoU (the box kernels)."""
    from kernels.box_iou import box_iou_bev

    return np.asarray(box_iou_bev(a, b), dtype=np.float64)


@dataclass
class Tally:
    """Counts of one (threshold, range bin) cell."""

    gt: int = 0
    matched_gt: int = 0
    agnostic_gt: int = 0
    proposals: int = 0
    true_pos: int = 0
    dont_care: int = 0
    ious: list[float] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        denom = self.proposals - self.dont_care
        return {
            "gt": self.gt,
            "recall": self.matched_gt / self.gt if self.gt else None,
            "class_agnostic_recall": self.agnostic_gt / self.gt if self.gt else None,
            "proposals": self.proposals,
            "precision": self.true_pos / denom if denom > 0 else None,
            "mean_iou": float(np.mean(self.ious)) if self.ious else None,
        }


def gt_boxes_ego(log: Any, t_us: int) -> tuple[np.ndarray, list[str]]:
    """GT cuboids at sweep time ``t_us`` in the ego frame: (K, 7) float32 boxes and labels."""
    ego_from_world = log.trajectory.pose_at(t_us).inverse().matrix
    rows, labels = [], []
    for track in log.annotations.tracks:
        hit = np.flatnonzero(track.timestamps_us == t_us)
        if hit.size == 0:
            continue
        k = int(hit[0])
        w, x, y, z = track.rotations_wxyz[k]
        heading = np.array([1 - 2 * (y * y + z * z), 2 * (x * y + w * z), 2 * (x * z - w * y)])
        c = ego_from_world[:3, :3] @ track.centers[k] + ego_from_world[:3, 3]
        h = ego_from_world[:3, :3] @ heading
        rows.append([*c, *track.sizes[k], math.atan2(h[1], h[0])])
        labels.append(track.label)
    return np.asarray(rows, np.float32).reshape(-1, 7), labels


def run(args: argparse.Namespace) -> dict[str, Any]:
    import engine
    from engine.proposals import ProposalConfig, propose
    from kernels.boxes import points_in_boxes_counts

    log = engine.open_log(args.data)
    lidar_id = next(iter(log.lidar))
    stream = log.lidar[lidar_id]
    ego_from_lidar = log.sensors[lidar_id].ego_from_sensor
    config = (
        ProposalConfig.model_validate_json(Path(args.config).read_text()) if args.config else ProposalConfig()
    )
    tallies = {(t, b): Tally() for t in THRESHOLDS for b in [*BINS, (0.0, args.range)]}
    small = {name: Tally() for name in SMALL_CLASSES}
    seconds = []
    frames = range(len(stream)) if args.frames is None else args.frames
    for f in frames:
        sweep = stream[f]
        pts = ego_from_lidar.transform_points(sweep.points).astype(np.float32)
        t0 = time.perf_counter()
        props = propose(pts, config=config, timestamp_us=sweep.timestamp_us)
        seconds.append(time.perf_counter() - t0)
        gt, labels = gt_boxes_ego(log, sweep.timestamp_us)
        counts = points_in_boxes_counts(pts, gt).counts if len(gt) else np.zeros(0, np.int32)
        gdist = np.hypot(gt[:, 0], gt[:, 1])
        is_car = np.array([lab == "Car" for lab in labels], bool)
        evaluated = is_car & (gdist <= args.range) & (counts >= args.min_points)
        care = np.array([lab in DONT_CARE for lab in labels], bool) & ~evaluated
        pdist = np.hypot(props.boxes[:, 0], props.boxes[:, 1])
        in_range = pdist <= args.range
        car = in_range & (props.class_ids == props.classes.index("car"))
        pb_all, pb_car = props.boxes[in_range], props.boxes[car]
        g_eval, g_care = gt[evaluated], gt[care]
        iou_car = (
            bev_iou(g_eval, pb_car) if len(g_eval) and len(pb_car) else np.zeros((len(g_eval), len(pb_car)))
        )
        iou_all = (
            bev_iou(g_eval, pb_all) if len(g_eval) and len(pb_all) else np.zeros((len(g_eval), len(pb_all)))
        )
        iou_care = (
            bev_iou(g_care, pb_car) if len(g_care) and len(pb_car) else np.zeros((len(g_care), len(pb_car)))
        )
        for name, gt_labels in SMALL_CLASSES.items():
            _small_class(small[name], props, name, gt, labels, counts, gdist, in_range, gt_labels, args)
        for thr in THRESHOLDS:
            matched_g, matched_p, ious = _match(iou_car, thr)
            agn_g, _, _ = _match(iou_all, thr)
            unmatched = np.setdiff1d(np.arange(len(pb_car)), matched_p)
            dc = unmatched[(iou_care[:, unmatched] >= thr).any(axis=0)] if len(g_care) else unmatched[:0]
            for lo, hi in tallies_bins(tallies, thr):
                tal = tallies[(thr, (lo, hi))]
                gsel = (gdist[evaluated] >= lo) & (
                    gdist[evaluated] < hi if hi < args.range else gdist[evaluated] <= hi
                )
                psel = (pdist[car] >= lo) & (pdist[car] < hi if hi < args.range else pdist[car] <= hi)
                tal.gt += int(gsel.sum())
                tal.matched_gt += int(gsel[matched_g].sum())
                tal.agnostic_gt += int(gsel[agn_g].sum())
                tal.proposals += int(psel.sum())
                tal.true_pos += int(psel[matched_p].sum())
                tal.dont_care += int(psel[dc].sum())
                tal.ious.extend(float(v) for v, g in zip(ious, matched_g, strict=True) if gsel[g])
    result = {
        "dataset": str(args.data),
        "sweeps": len(seconds),
        "filter": {"label": "Car", "range_m": args.range, "min_points": args.min_points},
        "config": json.loads(config.model_dump_json()),
        "seconds_per_sweep_median": float(np.median(seconds)),
        "results": {
            f"iou_{thr}": {
                f"{lo:g}-{hi:g}m": tallies[(thr, (lo, hi))].summary() for lo, hi in tallies_bins(tallies, thr)
            }
            for thr in THRESHOLDS
        },
        "small_classes": {
            "criterion": {"centre_m": args.centre_m, "min_points": args.small_min_points},
            **{name: tal.summary() for name, tal in small.items()},
        },
    }
    return result


def _small_class(
    tal: Tally,
    props: Any,
    name: str,
    gt: np.ndarray,
    labels: list[str],
    counts: np.ndarray,
    gdist: np.ndarray,
    in_range: np.ndarray,
    gt_labels: tuple[str, ...],
    args: argparse.Namespace,
) -> None:
    """Add one sweep's centre-distance matches of one small class to ``tal``."""
    of_class = np.array([lab in gt_labels for lab in labels], bool)
    evaluated = of_class & (gdist <= args.range) & (counts >= args.small_min_points)
    care = of_class & ~evaluated
    sel = (
        in_range & (props.class_ids == props.classes.index(name))
        if name in props.classes
        else in_range & False
    )
    pb = props.boxes[sel]
    g_eval, g_care = gt[evaluated], gt[care]
    dist = np.hypot(g_eval[:, None, 0] - pb[None, :, 0], g_eval[:, None, 1] - pb[None, :, 1])
    close = np.where(dist <= args.centre_m, 1.0, 0.0) - dist * 1e-3  # maximise matches, then closeness
    mg, mp, _ = _match(close, 0.5)
    unmatched = np.setdiff1d(np.arange(len(pb)), mp)
    dc = np.hypot(g_care[:, None, 0] - pb[None, unmatched, 0], g_care[:, None, 1] - pb[None, unmatched, 1])
    # class-agnostic: the same centre-distance matching against proposals of any class
    pa = props.boxes[in_range]
    dist_a = np.hypot(g_eval[:, None, 0] - pa[None, :, 0], g_eval[:, None, 1] - pa[None, :, 1])
    mg_a, _, _ = _match(np.where(dist_a <= args.centre_m, 1.0, 0.0) - dist_a * 1e-3, 0.5)
    tal.gt += len(g_eval)
    tal.matched_gt += len(mg)
    tal.agnostic_gt += len(mg_a)
    tal.proposals += len(pb)
    tal.true_pos += len(mp)
    tal.dont_care += int((dc <= args.centre_m).any(axis=0).sum()) if len(g_care) else 0


def tallies_bins(tallies: dict[Any, Tally], thr: float) -> list[tuple[float, float]]:
    return [b for (t, b) in tallies if t == thr]


def _match(iou: np.ndarray, thr: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if iou.size == 0:
        e = np.zeros(0, np.int64)
        return e, e, np.zeros(0)
    rows, cols = linear_sum_assignment(-iou)
    ok = iou[rows, cols] >= thr
    return rows[ok], cols[ok], iou[rows[ok], cols[ok]]


def table(result: dict[str, Any]) -> str:
    lines = [
        f"{'IoU':>5} {'range':>8} {'GT':>5} {'recall':>7} {'agn.rec':>7} {'props':>6} {'prec':>6} {'mIoU':>6}"
    ]

    def fmt(v: Any) -> str:
        return "   -  " if v is None else f"{v:6.3f}"

    for key, bins in result["results"].items():
        for rng, s in bins.items():
            lines.append(
                f"{key[4:]:>5} {rng:>8} {s['gt']:5d} {fmt(s['recall']):>7} "
                f"{fmt(s['class_agnostic_recall']):>7} "
                f"{s['proposals']:6d} {fmt(s['precision'])} {fmt(s['mean_iou'])}"
            )
    crit = result["small_classes"]["criterion"]
    lines.append(f"small classes (centre <= {crit['centre_m']:g} m, >= {crit['min_points']} points):")
    for name, s in result["small_classes"].items():
        if name != "criterion":
            lines.append(
                f"{name:>14} GT {s['gt']:4d} recall {fmt(s['recall'])} "
                f"any-class recall {fmt(s['class_agnostic_recall'])} "
                f"props {s['proposals']:4d} prec {fmt(s['precision'])}"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--range", type=float, default=40.0)
    parser.add_argument("--min-points", type=int, default=20)
    parser.add_argument("--small-min-points", type=int, default=5)
    parser.add_argument("--centre-m", type=float, default=1.0, help="small-class match distance [m]")
    parser.add_argument("--config", type=Path, default=None, help="ProposalConfig as JSON")
    parser.add_argument("--frames", type=int, nargs="*", default=None)
    parser.add_argument("--json", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    result = run(args)
    text = json.dumps(result, indent=2)
    print(text)
    print(table(result))
    if args.json:
        args.json.write_text(text)


if __name__ == "__main__":
    main()
