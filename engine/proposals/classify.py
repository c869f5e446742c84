"""Shape rules that check the size-prior class guesses of model-free proposals.

:func:`kernels.fit_boxes` classes a cluster by the size of its (grown) cuboid alone, so a car fragment,
a pole or a bush of the right size becomes a "pedestrian". :func:`refine_classes` looks at the raw
points of each cluster and demotes implausible small-object guesses to unknown (class id ``-1``):

* pedestrian: raw footprint at most ``pedestrian_max_side_m`` on both box axes (a person is about
  0.5 m across; an end-on motorcycle or a car corner is wider), top within ``pedestrian_top_m``
  above the local ground, points spanning at least ``min_vertical_fill`` of that height (seen from
  the legs up, not a floating blob such as a mirror or a roof rack);
* pole: both raw footprint sides below ``pole_max_side_m`` (thin posts, sign poles, trunks);
* panel: one raw side below ``panel_min_side_m`` (walls, fences, signs, a car's flank seen edge-on);
* fragment: a pedestrian or cyclist guess whose centre lies within ``fragment_gap_m`` of the points
  of a car or truck cluster (BEV, their bounding rectangle on the box axes) -- mirrors, bumpers and
  wheels split off by clustering. The observed rectangle, not the box: a box grown to the class mean
  from a partly seen (or bogus) vehicle reaches metres into empty space and people standing there;
* cyclist: top within ``pedestrian_top_m`` and the vertical fill too (a rider on wheels).

Unknown proposals are dropped unless ``ProposalConfig.keep_unknown``. Thresholds are typical
adult/vehicle geometry, checked on PandaSet sequence 002 (``benchmarks/eval_proposals.py``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import numpy.typing as npt

from engine.proposals.config import ClassRuleConfig

__all__ = ["refine_classes", "rule_failures"]

_VEHICLES = ("car", "truck")
_SMALL = ("pedestrian", "cyclist")


def _footprint_and_height(
    xy: npt.NDArray[np.float64], hag: npt.NDArray[np.float64], box: npt.NDArray[np.float32]
) -> tuple[float, float, float, float]:
    """Raw extents of one cluster: (side along box x, side along box y, lowest, highest above ground)."""
    c, s = np.cos(box[6]), np.sin(box[6])
    d = xy - box[:2]
    u = d[:, 0] * c + d[:, 1] * s
    v = -d[:, 0] * s + d[:, 1] * c
    return float(np.ptp(u)), float(np.ptp(v)), float(hag.min()), float(hag.max())


def _vehicles_for(
    k: int,
    boxes: npt.NDArray[np.float32],
    vrows: npt.NDArray[np.int64],
    rules: ClassRuleConfig,
    xy: npt.NDArray[np.float64],
    order: npt.NDArray[np.int64],
    sorted_labels: npt.NDArray[np.int32],
    cluster: npt.NDArray[np.int64],
    cache: dict[int, npt.NDArray[np.float32]],
) -> npt.NDArray[np.float32]:
    """The vehicle rectangles the fragment rule checks row ``k`` against (see ``fragment_reference``).

    Only vehicles whose box lies within the gap (+ 0.5 m slack) can have their points that close, so
    only those get their observed rectangle computed (once, cached).
    """
    vb = boxes[vrows]
    if rules.fragment_reference == "box" or vrows.size == 0:
        return vb
    d = boxes[k, None, :2] - vb[:, :2]
    c, s = np.cos(vb[:, 6]), np.sin(vb[:, 6])
    u = np.abs(d[:, 0] * c + d[:, 1] * s) - vb[:, 3] / 2
    v = np.abs(-d[:, 0] * s + d[:, 1] * c) - vb[:, 4] / 2
    cand = vrows[np.hypot(np.maximum(u, 0.0), np.maximum(v, 0.0)) <= rules.fragment_gap_m + 0.5]
    for r in cand.tolist():
        if r not in cache:
            cache[r] = _observed_rectangles(xy, order, sorted_labels, boxes, cluster, np.array([r]))[0]
    return np.asarray([cache[r] for r in cand.tolist()], np.float32).reshape(-1, 7)


def _observed_rectangles(
    xy: npt.NDArray[np.float64],
    order: npt.NDArray[np.int64],
    sorted_labels: npt.NDArray[np.int32],
    boxes: npt.NDArray[np.float32],
    cluster: npt.NDArray[np.int64],
    rows: npt.NDArray[np.int64],
) -> npt.NDArray[np.float32]:
    """BEV bounding rectangles of the given rows' cluster points on their box axes, as box rows."""
    out = []
    for k in rows.tolist():
        a, b = np.searchsorted(sorted_labels, [cluster[k], cluster[k] + 1])
        box = boxes[k]
        if b <= a:
            out.append(box)
            continue
        c, s = np.cos(box[6]), np.sin(box[6])
        d = xy[order[a:b]] - box[:2]
        u, v = d[:, 0] * c + d[:, 1] * s, -d[:, 0] * s + d[:, 1] * c
        cu, cv = (u.min() + u.max()) / 2, (v.min() + v.max()) / 2
        cx, cy = box[0] + cu * c - cv * s, box[1] + cu * s + cv * c
        out.append([cx, cy, box[2], np.ptp(u), np.ptp(v), box[5], box[6]])
    return np.asarray(out, np.float32).reshape(-1, 7)


def _near_vehicle(centre: npt.NDArray[np.float32], vehicles: npt.NDArray[np.float32], gap: float) -> bool:
    """Whether a BEV point lies within ``gap`` of any vehicle rectangle (inside counts)."""
    if vehicles.shape[0] == 0:
        return False
    d = centre[None, :2] - vehicles[:, :2]
    c, s = np.cos(vehicles[:, 6]), np.sin(vehicles[:, 6])
    u = np.abs(d[:, 0] * c + d[:, 1] * s) - vehicles[:, 3] / 2
    v = np.abs(-d[:, 0] * s + d[:, 1] * c) - vehicles[:, 4] / 2
    dist = np.hypot(np.maximum(u, 0.0), np.maximum(v, 0.0))
    return bool((dist <= gap).any())


def refine_classes(
    points: npt.NDArray[np.float32],
    height_above_ground: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int32],
    boxes: npt.NDArray[np.float32],
    class_id: npt.NDArray[np.int32],
    cluster: npt.NDArray[np.int64],
    classes: tuple[str, ...],
    rules: ClassRuleConfig,
) -> npt.NDArray[np.int32]:
    """Class ids after the shape rules (implausible pedestrian/cyclist guesses become ``-1``).

    Parameters
    ----------
    points : ndarray of shape (N, 3), float32, ego frame [m]
        The sweep.
    height_above_ground : ndarray of shape (N,), float32 [m]
        Each point's height above the local ground.
    labels : ndarray of shape (N,), int32
        Cluster of each point (``-1`` for none).
    boxes : ndarray of shape (K, 7), float32
        Fitted cuboids, ``[x, y, z, l, w, h, yaw]`` [m, rad].
    class_id : ndarray of shape (K,), int32
        Size-prior class guesses (index into ``classes``, ``-1`` unknown).
    cluster : ndarray of shape (K,), int64
        The cluster each box was fitted to.
    classes : tuple of str
        Class names of the priors.
    rules : ClassRuleConfig
        Thresholds.

    Returns
    -------
    ndarray of shape (K,), int32
        New class ids (a copy).
    """
    out = np.array(class_id, dtype=np.int32, copy=True)
    if not rules.enabled or boxes.shape[0] == 0:
        return out
    small = np.flatnonzero(np.isin(out, [classes.index(n) for n in _SMALL if n in classes]))
    for k, failed in _failures(
        points, height_above_ground, labels, boxes, class_id, cluster, classes, rules, small
    ):
        if failed:
            out[k] = -1
    return out


def _failures(
    points: npt.NDArray[np.float32],
    height_above_ground: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int32],
    boxes: npt.NDArray[np.float32],
    class_id: npt.NDArray[np.int32],
    cluster: npt.NDArray[np.int64],
    classes: tuple[str, ...],
    rules: ClassRuleConfig,
    rows: npt.NDArray[np.int64],
) -> Iterator[tuple[int, list[str]]]:
    """``(k, failed rule names)`` for each box row in ``rows`` (arguments as :func:`refine_classes`)."""
    ped = classes.index("pedestrian") if "pedestrian" in classes else -2
    vehicle_ids = [classes.index(n) for n in _VEHICLES if n in classes]
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    starts = np.searchsorted(sorted_labels, cluster[rows], side="left")
    ends = np.searchsorted(sorted_labels, cluster[rows], side="right")
    xy = points[:, :2].astype(np.float64)
    hag = height_above_ground.astype(np.float64)
    vrows = np.flatnonzero(np.isin(class_id, vehicle_ids))
    rects: dict[int, npt.NDArray[np.float32]] = {}
    for k, a, b in zip(rows.tolist(), starts.tolist(), ends.tolist(), strict=True):
        near = _vehicles_for(k, boxes, vrows, rules, xy, order, sorted_labels, cluster, rects)
        yield k, _failed_rules(xy[order[a:b]], hag[order[a:b]], boxes[k], class_id[k] == ped, near, rules)


def _failed_rules(
    xy: npt.NDArray[np.float64],
    hag: npt.NDArray[np.float64],
    box: npt.NDArray[np.float32],
    is_pedestrian: bool,
    vehicles: npt.NDArray[np.float32],
    rules: ClassRuleConfig,
) -> list[str]:
    """Names of the shape rules one pedestrian/cyclist guess fails (empty: plausible)."""
    side_u, side_v, bottom, top = _footprint_and_height(xy, hag, box)
    lo_top, hi_top = rules.pedestrian_top_m
    failed = []
    if top < lo_top:
        failed.append("too_low")
    if top > hi_top:
        failed.append("too_high")
    if max(side_u, side_v) < rules.pole_max_side_m:
        failed.append("pole")
    if min(side_u, side_v) < rules.panel_min_side_m:
        failed.append("panel")
    if top - bottom < rules.min_vertical_fill * top:
        failed.append("vertical_fill")
    if _near_vehicle(box, vehicles, rules.fragment_gap_m):
        failed.append("fragment")
    if is_pedestrian and max(side_u, side_v) > rules.pedestrian_max_side_m:
        failed.append("too_wide")
    return failed


def rule_failures(
    points: npt.NDArray[np.float32],
    height_above_ground: npt.NDArray[np.float32],
    labels: npt.NDArray[np.int32],
    boxes: npt.NDArray[np.float32],
    class_id: npt.NDArray[np.int32],
    cluster: npt.NDArray[np.int64],
    classes: tuple[str, ...],
    rules: ClassRuleConfig,
    k: int,
) -> list[str]:
    """Names of the shape rules row ``k`` fails (arguments as :func:`refine_classes`, size-prior ids)."""
    rows = np.array([k], np.int64)
    return next(
        _failures(points, height_above_ground, labels, boxes, class_id, cluster, classes, rules, rows)
    )[1]
