"""Why do GT pedestrians (or cyclists) get no proposal? Per missed GT object, the first stage that lost it.

Runs the model-free proposal step stage by stage (``engine.proposals.geometric.propose_stages``) on
PandaSet sequence 002 and, for every evaluated small-class GT (the ``eval_proposals`` filter: within
``--range``, >= ``--small-min-points`` points) without a proposal of its class within ``--centre-m``,
names the cause:

* ``few_points``: fewer than ``min_points`` sweep points in the cuboid at all;
* ``ground``: enough points, but too few left after the ground / height / range mask;
* ``fragmented``: the largest cluster inside the cuboid holds fewer than ``min_points`` points;
* ``merged:<what>``: that cluster is mostly outside the cuboid (grown 0.3 m); ``<what>`` is the GT
  class covering most of the rest (``none`` = unlabelled: walls, poles, vegetation);
* ``prior:<class>``: the size priors guessed another class (``unknown``: none feasible);
* ``rule:<name>``: a shape rule of ``refine_classes`` demoted it (first failing rule);
* ``score`` / ``nms``: removed by the score filter / NMS;
* ``offset``: a pedestrian proposal came out of its cluster but its centre is > ``--centre-m`` away.

Run: ``python -m benchmarks.diagnose_small_proposals [--frames 0 1 ...] [--config cfg.json]``.
"""

from __future__ import annotations

import argparse
import collections
import json
import sys
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from benchmarks.eval_proposals import DATA, SMALL_CLASSES, gt_boxes_ego  # noqa: E402


def _grow(box: np.ndarray, m: float) -> np.ndarray:
    g = box.copy()
    g[3:6] += 2 * m
    return g


def diagnose(args: argparse.Namespace) -> dict[str, Any]:
    import engine
    from engine.proposals import ProposalConfig
    from engine.proposals.classify import rule_failures
    from engine.proposals.geometric import propose_stages
    from kernels.boxes import points_in_boxes

    log = engine.open_log(args.data)
    lidar_id = next(iter(log.lidar))
    stream = log.lidar[lidar_id]
    ego_from_lidar = log.sensors[lidar_id].ego_from_sensor
    cfg = (
        ProposalConfig.model_validate_json(Path(args.config).read_text()) if args.config else ProposalConfig()
    )
    target = args.cls
    gt_labels = SMALL_CLASSES[target]
    causes: collections.Counter[str] = collections.Counter()
    by_label: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    rows = []
    frames = range(len(stream)) if args.frames is None else args.frames
    for f in frames:
        sweep = stream[f]
        pts = ego_from_lidar.transform_points(sweep.points).astype(np.float32)
        st = propose_stages(pts, cfg)
        classes = st["classes"]
        gt, labels = gt_boxes_ego(log, sweep.timestamp_us)
        ids = [
            t.track_id[:8] for t in log.annotations.tracks if (t.timestamps_us == sweep.timestamp_us).any()
        ]
        if not len(gt):
            continue
        owner = np.asarray(points_in_boxes(pts, gt))
        counts = np.bincount(owner[owner >= 0], minlength=len(gt))
        gdist = np.hypot(gt[:, 0], gt[:, 1])
        final = st["final"]
        cid = classes.index(target)
        for g in range(len(gt)):
            if labels[g] not in gt_labels or gdist[g] > args.range or counts[g] < args.small_min_points:
                continue
            fb = final.boxes[final.class_ids == cid]
            d = np.hypot(fb[:, 0] - gt[g, 0], fb[:, 1] - gt[g, 1]) if len(fb) else np.zeros(0)
            if (d <= args.centre_m).any():
                cause = "found"
            else:
                cause = _cause(pts, gt, labels, g, st, cfg, target, rule_failures, points_in_boxes)
            causes[cause] += 1
            by_label[labels[g]][cause] += 1
            rows.append(
                {
                    "frame": f,
                    "track": ids[g],
                    "label": labels[g],
                    "dist": round(float(gdist[g]), 1),
                    "points": int(counts[g]),
                    "cause": cause,
                }
            )
    return {
        "class": target,
        "frames": list(frames),
        "causes": dict(causes.most_common()),
        "by_label": {k: dict(v.most_common()) for k, v in by_label.items()},
        "rows": rows,
    }


def _cause(pts, gt, labels, g, st, cfg, target, rule_failures, points_in_boxes) -> str:  # noqa: ANN001
    inside = np.flatnonzero(np.asarray(points_in_boxes(pts, gt[g : g + 1])) == 0)
    minp = cfg.fit.min_points
    if inside.size < minp:
        return "few_points"
    keep = st["keep"]
    kin = inside[keep[inside]]
    if kin.size < minp:
        return "ground"
    lab = st["labels"][kin]
    lab = lab[lab >= 0]
    if lab.size == 0:
        return "ground"
    c = int(np.bincount(lab).argmax())
    if int((lab == c).sum()) < minp:
        return "fragmented"
    members = np.flatnonzero(st["labels"] == c)
    grown = np.asarray(points_in_boxes(pts[members], _grow(gt[g], 0.3)[None])) == 0
    if grown.mean() < 0.6:
        rest = members[~grown]
        own = np.asarray(points_in_boxes(pts[rest], gt))
        own = own[(own >= 0) & (own != g)]
        if own.size == 0:
            return "merged:none"
        return "merged:" + labels[int(np.bincount(own).argmax())]
    k = np.flatnonzero(st["cluster"] == c)
    if k.size == 0:
        return "fragmented"
    k = int(k[0])
    classes = st["classes"]
    fit_cls = int(st["fit_class"][k])
    if fit_cls != classes.index(target):
        return "prior:" + (classes[fit_cls] if fit_cls >= 0 else "unknown")
    if int(st["class_id"][k]) != fit_cls:
        fails = rule_failures(
            pts,
            st["height"],
            st["labels"],
            st["boxes"],
            st["fit_class"],
            st["cluster"],
            classes,
            cfg.classes,
            k,
        )
        return "rule:" + (fails[0] if fails else "?")
    if st["score"][k] < cfg.min_score:
        return "score"
    if k not in set(st["kept_rows"].tolist()):
        return "nms"
    return "offset"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=DATA)
    parser.add_argument("--cls", default="pedestrian", choices=sorted(SMALL_CLASSES))
    parser.add_argument("--range", type=float, default=40.0)
    parser.add_argument("--small-min-points", type=int, default=5)
    parser.add_argument("--centre-m", type=float, default=1.0)
    parser.add_argument("--config", type=Path, default=None)
    parser.add_argument("--frames", type=int, nargs="*", default=None)
    parser.add_argument("--rows", action="store_true", help="print every GT object")
    args = parser.parse_args()
    out = diagnose(args)
    if args.rows:
        for r in out["rows"]:
            print(r)
    print(json.dumps({k: v for k, v in out.items() if k not in ("rows", "frames")}, indent=2))


if __name__ == "__main__":
    main()
