"""Golden-set QA: score a submitted annotation set against a golden one (Scale's "golden dataset" practice).

Per golden keyframe time, submitted and golden boxes are matched one-to-one by 3D IoU with optimal
assignment (:func:`scipy.optimize.linear_sum_assignment`); matches below ``match_iou`` do not count.
From the matches: precision / recall, IoU, centre, yaw and size error distributions, class and attribute
accuracy, and identity consistency (IDF1: the best one-to-one mapping of golden to submitted track ids
over all matches, ``IDF1 = 2 IDTP / (golden boxes + submitted boxes)``; ID switches: changes of the
submitted id matched to one golden track). :func:`score` compares the result with pass/fail thresholds.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from calibration.units import wrap_angle
from engine.annotations import Annotations
from engine.validation._matching import attributes_at, densified, frame_table, match

__all__ = ["ErrorStats", "GoldenScore", "GoldenThresholds", "score", "scorecard"]


@dataclass(frozen=True, slots=True)
class GoldenThresholds:
    """Pass/fail limits of a submission (defaults: a strict production bar)."""

    match_iou: float = 0.3
    min_precision: float = 0.95
    min_recall: float = 0.95
    min_mean_iou: float = 0.6
    max_median_centre_error_m: float = 0.2
    max_median_yaw_error_rad: float = 0.1
    min_class_accuracy: float = 0.95
    min_attribute_accuracy: float = 0.9
    min_idf1: float = 0.9


@dataclass(frozen=True, slots=True)
class ErrorStats:
    """Distribution summary of one error over the matches."""

    n: int
    mean: float
    median: float
    p90: float
    max: float

    @classmethod
    def of(cls, x: npt.ArrayLike) -> ErrorStats:
        """Summary of ``x`` (NaN fields when empty)."""
        a = np.asarray(x, dtype=np.float64)
        if a.size == 0:
            return cls(0, float("nan"), float("nan"), float("nan"), float("nan"))
        return cls(
            int(a.size), float(a.mean()), float(np.median(a)), float(np.quantile(a, 0.9)), float(a.max())
        )


@dataclass(frozen=True, slots=True)
class GoldenScore:
    """One submission's score card against the golden set."""

    annotator: str
    golden_boxes: int
    submitted_boxes: int
    true_positives: int
    precision: float
    recall: float
    iou: ErrorStats
    centre_error_m: ErrorStats
    yaw_error_rad: ErrorStats
    size_error_rel: ErrorStats
    class_accuracy: float
    attribute_accuracy: float
    idf1: float
    id_switches: int
    passed: bool
    failures: tuple[str, ...] = field(default_factory=tuple)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN kept as float NaN: use ``json.dumps(..., allow_nan=True)``)."""
        d = asdict(self)
        d["failures"] = list(self.failures)
        return d


def _idf1(pairs: Sequence[tuple[str, str]], n_gold: int, n_sub: int) -> tuple[float, int]:
    if n_gold + n_sub == 0:
        return 1.0, 0
    counts = Counter(pairs)
    gold = sorted({g for g, _ in counts})
    sub = sorted({s for _, s in counts})
    if not gold:
        return 0.0, 0
    w = np.zeros((len(gold), len(sub)))
    gi, si = {g: i for i, g in enumerate(gold)}, {s: i for i, s in enumerate(sub)}
    for (g, s), n in counts.items():
        w[gi[g], si[s]] = n
    r, c = linear_sum_assignment(-w)
    return 2.0 * float(w[r, c].sum()) / (n_gold + n_sub), 0


def score(
    submitted: Annotations,
    golden: Annotations,
    *,
    annotator: str = "submission",
    thresholds: GoldenThresholds | None = None,
) -> GoldenScore:
    """Score ``submitted`` against ``golden`` (same frame, keyframes at the golden keyframe times).

    Parameters
    ----------
    submitted, golden : Annotations
        Cuboid tracks; a submitted box counts at a golden keyframe time only if the submitted track has
        a keyframe at that exact time (a sparse-keyframe track with ``frame_confidence``, e.g. a
        pre-label, has one at each of its frames: :func:`~engine.validation._matching.densified`).
    annotator : str
        Name on the score card.
    thresholds : GoldenThresholds, optional
        Pass/fail limits and the matching IoU.

    Returns
    -------
    GoldenScore
    """
    th = thresholds or GoldenThresholds()
    submitted, golden = densified(submitted), densified(golden)
    gf, sf = frame_table(golden), frame_table(submitted)
    n_gold = sum(len(f.track) for f in gf.values())
    n_sub = sum(len(sf[t].track) for t in sf if t in gf)  # submitted boxes at golden times
    ious, centre, yaw, size = [], [], [], []
    cls_ok = attr_ok = attr_n = 0
    id_pairs: list[tuple[str, str]] = []
    last: dict[str, str] = {}
    switches = 0
    for t in sorted(gf):
        g = gf[t]
        s = sf.get(t)
        if s is None:
            continue
        pairs, iou = match(g.boxes, s.boxes, th.match_iou)
        for i, j in pairs:
            gt_track, sub_track = golden.tracks[g.track[i]], submitted.tracks[s.track[j]]
            ious.append(iou[i, j])
            centre.append(float(np.linalg.norm(g.boxes[i, :3] - s.boxes[j, :3])))
            yaw.append(abs(float(wrap_angle(g.boxes[i, 6] - s.boxes[j, 6]))))
            size.append(float(np.abs(s.boxes[j, 3:6] / g.boxes[i, 3:6] - 1).mean()))
            cls_ok += gt_track.label == sub_track.label
            ga, sa = attributes_at(gt_track, t), attributes_at(sub_track, t)
            for name, value in ga.items():
                attr_n += 1
                attr_ok += sa.get(name) == value
            id_pairs.append((gt_track.track_id, sub_track.track_id))
            prev = last.get(gt_track.track_id)
            switches += prev is not None and prev != sub_track.track_id
            last[gt_track.track_id] = sub_track.track_id
    tp = len(ious)
    idf1, _ = _idf1(id_pairs, n_gold, n_sub)
    res = {
        "precision": tp / n_sub if n_sub else 1.0,
        "recall": tp / n_gold if n_gold else 1.0,
        "class_accuracy": cls_ok / tp if tp else 0.0,
        "attribute_accuracy": attr_ok / attr_n if attr_n else 1.0,
    }
    iou_s, centre_s, yaw_s = ErrorStats.of(ious), ErrorStats.of(centre), ErrorStats.of(yaw)
    checks = [
        ("precision", res["precision"] >= th.min_precision),
        ("recall", res["recall"] >= th.min_recall),
        ("mean IoU", tp > 0 and iou_s.mean >= th.min_mean_iou),
        ("median centre error", tp > 0 and centre_s.median <= th.max_median_centre_error_m),
        ("median yaw error", tp > 0 and yaw_s.median <= th.max_median_yaw_error_rad),
        ("class accuracy", res["class_accuracy"] >= th.min_class_accuracy),
        ("attribute accuracy", res["attribute_accuracy"] >= th.min_attribute_accuracy),
        ("IDF1", idf1 >= th.min_idf1),
    ]
    failures = tuple(name for name, ok in checks if not ok)
    return GoldenScore(
        annotator,
        n_gold,
        n_sub,
        tp,
        res["precision"],
        res["recall"],
        iou_s,
        centre_s,
        yaw_s,
        ErrorStats.of(size),
        res["class_accuracy"],
        res["attribute_accuracy"],
        idf1,
        switches,
        not failures,
        failures,
    )


def scorecard(
    submissions: Mapping[str, Annotations], golden: Annotations, thresholds: GoldenThresholds | None = None
) -> list[GoldenScore]:
    """Score every annotator's submission against the golden set, best (mean IoU x recall) first."""
    scores = [score(a, golden, annotator=name, thresholds=thresholds) for name, a in submissions.items()]
    return sorted(scores, key=lambda s: -(0.0 if s.true_positives == 0 else s.iou.mean * s.recall))
