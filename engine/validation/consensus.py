"""Consensus: merge K annotators' cuboid tracks of one scene into one set, with agreement scores.

1. **Cluster** per keyframe time: annotators are visited in turn and their boxes assigned to the
   clusters so far by optimal 3D-IoU matching (at most one box per annotator per cluster).
2. **Reliability**: inverse-variance weights. The centre variance of every annotator is solved from
   the pairwise disagreements (``E|x_a - x_b|^2 = s_a^2 + s_b^2``, least squares over annotator pairs,
   robust medians); the given prior multiplies the result.
3. **Poses**: centres and sizes are weighted means; rotations the weighted quaternion average of
   Markley et al. (2007): the eigenvector of the largest eigenvalue of ``sum w q q^T`` (sign-free).
4. **Labels and attributes**: Dawid–Skene (EM over per-annotator confusion matrices), started from the
   weighted vote; attributes per name the same way.
5. **Existence**: a cluster is kept when its annotators carry at least half of the total weight.
6. **Agreement**: mean pairwise IoU of a cluster, label posterior, support; items below the
   thresholds are flagged for an expert.

Consensus tracks are the connected components of the annotators' track ids that share clusters.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.optimize import linear_sum_assignment

from engine.annotations import Annotations, AttributePath, CoordinateFrame, CuboidTrack
from engine.validation._matching import attributes_at, densified, frame_table, iou_matrix
from engine.validation.estimators import average_quaternions, dawid_skene

__all__ = ["ConsensusItem", "ConsensusResult", "average_quaternions", "consensus", "dawid_skene"]

F64 = npt.NDArray[np.float64]


@dataclass(frozen=True, slots=True)
class ConsensusItem:
    """Agreement on one merged box."""

    track_id: str
    timestamp_us: int
    annotators: tuple[str, ...]
    support: float
    """Share of the total annotator weight that drew this object."""
    mean_iou: float
    """Mean pairwise 3D IoU of the annotators' boxes (1 for a single box)."""
    label: str
    label_confidence: float
    flagged: bool
    reasons: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ConsensusResult:
    """Merged annotations, per-item agreement, annotator reliabilities."""

    annotations: Annotations
    items: tuple[ConsensusItem, ...]
    reliability: Mapping[str, float]
    """Normalised weights (sum 1) of the annotators."""

    @property
    def flagged(self) -> list[ConsensusItem]:
        """The items that need an expert."""
        return [i for i in self.items if i.flagged]


@dataclass(slots=True)
class _Cluster:
    t: int
    members: dict[str, int]  # annotator -> index into the frame's boxes of that annotator
    rows: dict[str, F64]


def _cluster(
    frames: dict[str, dict[int, object]], names: list[str], t: int, min_iou: float
) -> list[_Cluster]:
    clusters: list[_Cluster] = []
    for a in names:
        fb = frames[a].get(t)
        if fb is None:
            continue
        boxes = fb.boxes  # type: ignore[attr-defined]
        if clusters:
            rep = np.array([np.mean(list(c.rows.values()), axis=0) for c in clusters])
            iou = iou_matrix(boxes, rep)
            r, c = linear_sum_assignment(-iou)
            taken = {int(i): int(j) for i, j in zip(r, c, strict=True) if iou[i, j] >= min_iou}
        else:
            taken = {}
        for i in range(boxes.shape[0]):
            if i in taken:
                clusters[taken[i]].members[a] = i
                clusters[taken[i]].rows[a] = boxes[i]
            else:
                clusters.append(_Cluster(t, {a: i}, {a: boxes[i]}))
    return clusters


def _variance_weights(
    clusters: list[_Cluster], names: list[str], prior: dict[str, float]
) -> dict[str, float]:
    """Inverse-variance weights from pairwise disagreement.

    ``E|x_a - x_b|^2 = s_a^2 + s_b^2`` is solved by least squares over every annotator pair sharing
    clusters (needs >= 3 annotators; otherwise the prior is returned).
    """
    idx = {a: i for i, a in enumerate(names)}
    sums: dict[tuple[int, int], list[float]] = {}
    for c in clusters:
        members = list(c.rows)
        for x in range(len(members)):
            for y in range(x + 1, len(members)):
                a, b = sorted((idx[members[x]], idx[members[y]]))
                d = float(np.sum((c.rows[members[x]][:3] - c.rows[members[y]][:3]) ** 2))
                sums.setdefault((a, b), []).append(d)
    if len(names) < 3 or len(sums) < len(names):
        return dict(prior)
    rows = np.zeros((len(sums), len(names)))
    rhs = np.zeros(len(sums))
    for n, ((a, b), dists) in enumerate(sums.items()):
        rows[n, a] = rows[n, b] = 1.0
        rhs[n] = float(
            np.median(dists)
        )  # robust to mismatched boxes; the common scale cancels in the weights
    var, *_ = np.linalg.lstsq(rows, rhs, rcond=None)
    var = np.maximum(var, 1e-4)
    return {a: prior[a] / float(var[idx[a]]) for a in names}


def _find(parent: dict[str, str], x: str) -> str:
    while parent.setdefault(x, x) != x:
        parent[x] = parent[parent[x]]
        x = parent[x]
    return x


def consensus(
    sets: Mapping[str, Annotations],
    *,
    reliability: Mapping[str, float] | None = None,
    match_iou: float = 0.3,
    min_support: float = 0.5,
    flag_iou: float = 0.5,
    flag_label: float = 0.8,
    flag_support: float = 0.75,
) -> ConsensusResult:
    """Merge several annotators' tracks of one scene (all in one frame, keyframes at shared times).

    Parameters
    ----------
    sets : mapping of annotator name to Annotations
    reliability : mapping, optional
        Prior weights (default equal); refined from the data (inverse centre-error variance).
    match_iou : float
        3D IoU for two boxes to be the same object.
    min_support : float
        Share of the total weight a cluster needs to exist.
    flag_iou, flag_label, flag_support : float
        Items with a mean pairwise IoU, label confidence or support below these are flagged.

    Returns
    -------
    ConsensusResult
    """
    sets = {a: densified(s) for a, s in sets.items()}  # sparse-keyframe tracks: one keyframe per frame
    names = sorted(sets, key=lambda a: -(reliability or {}).get(a, 1.0))
    frames = {a: frame_table(sets[a]) for a in names}
    times = sorted({t for a in names for t in frames[a]})
    w = {a: float((reliability or {}).get(a, 1.0)) for a in names}
    clusters = [c for t in times for c in _cluster(frames, names, t, match_iou)]  # type: ignore[arg-type]

    w = _variance_weights(clusters, names, w)
    total = sum(w.values())
    w = {a: v / total for a, v in w.items()}

    def track_of(a: str, c: _Cluster) -> CuboidTrack:
        return sets[a].tracks[frames[a][c.t].track[c.members[a]]]

    keep = [c for c in clusters if sum(w[a] for a in c.rows) >= min_support]
    label_post = dawid_skene([{a: track_of(a, c).label for a in c.rows} for c in keep], w)
    attr_names = sorted({n for c in keep for a in c.rows for n in attributes_at(track_of(a, c), c.t)})
    attr_post = {
        n: dawid_skene(
            [{a: v for a in c.rows if (v := attributes_at(track_of(a, c), c.t).get(n))} for c in keep], w
        )
        for n in attr_names
    }
    parent: dict[str, str] = {}
    for c in keep:
        ids = [f"{a}\x00{track_of(a, c).track_id}" for a in c.rows]
        for x in ids[1:]:
            parent[_find(parent, x)] = _find(parent, ids[0])
    groups: dict[str, list[int]] = {}
    for n, c in enumerate(keep):
        a = next(iter(c.rows))
        groups.setdefault(_find(parent, f"{a}\x00{track_of(a, c).track_id}"), []).append(n)
    tracks, items = [], []
    for g, (_, members) in enumerate(sorted(groups.items(), key=lambda kv: min(keep[n].t for n in kv[1]))):
        by_t: dict[int, int] = {}
        for n in members:  # one box per time: the best supported cluster
            c = keep[n]
            if c.t not in by_t or sum(w[a] for a in c.rows) > sum(w[a] for a in keep[by_t[c.t]].rows):
                by_t[c.t] = n
        ts = sorted(by_t)
        tid = f"consensus_{g:04d}"
        scores: dict[str, float] = {}
        for n in by_t.values():
            for v, p in label_post[n].items():
                scores[v] = scores.get(v, 0.0) + p
        label = max(scores, key=scores.__getitem__)
        centers, sizes, quats = [], [], []
        for t in ts:
            c = keep[by_t[t]]
            ws = np.array([w[a] for a in c.rows])
            rows = np.array(list(c.rows.values()))
            q = np.array([track_of(a, c).rotations_wxyz[frames[a][t].key[c.members[a]]] for a in c.rows])
            centers.append((rows[:, :3] * ws[:, None]).sum(0) / ws.sum())
            sizes.append((rows[:, 3:6] * ws[:, None]).sum(0) / ws.sum())
            quats.append(average_quaternions(q, ws))
            iou = iou_matrix(rows, rows)
            k = rows.shape[0]
            mean_iou = 1.0 if k < 2 else float((iou.sum() - np.trace(iou)) / (k * (k - 1)))
            conf = label_post[by_t[t]].get(label, 0.0)
            support = float(ws.sum())
            reasons = tuple(
                r
                for r, bad in (
                    ("pose disagreement", mean_iou < flag_iou),
                    ("label disagreement", conf < flag_label),
                    ("weak support", support < flag_support),
                )
                if bad
            )
            items.append(
                ConsensusItem(tid, t, tuple(c.rows), support, mean_iou, label, conf, bool(reasons), reasons)
            )
        attrs = []
        for name in attr_names:
            vals = [
                max(post, key=post.__getitem__) if (post := attr_post[name][by_t[t]]) else None for t in ts
            ]
            change = [i for i, v in enumerate(vals) if v is not None and (i == 0 or v != vals[i - 1])]
            if change:
                attrs.append(
                    AttributePath(name, tuple(ts[i] for i in change), tuple(str(vals[i]) for i in change))
                )
        tracks.append(
            CuboidTrack(
                tid,
                label,
                CoordinateFrame.WORLD,
                np.array(ts),
                np.array(centers),
                np.array(sizes),
                np.array(quats),
                attributes=tuple(attrs),
            )
        )
    return ConsensusResult(Annotations(tuple(tracks)), tuple(items), w)
