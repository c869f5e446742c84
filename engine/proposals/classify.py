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
* fragment: a pedestrian or cyclist guess whose centre lies within ``fragment_gap_m`` of a car or
  truck box (BEV, outside its rectangle) -- mirrors, bumpers and wheels split off by clustering;
* cyclist: top within ``pedestrian_top_m`` and the vertical fill too (a rider on wheels).

Unknown proposals are dropped unless ``ProposalConfig.keep_unknown``. Thresholds are typical
adult/vehicle geometry, checked on PandaSet sequence 002 (``benchmarks/eval_proposals.py``).
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.proposals.config import ClassRuleConfig

__all__ = ["refine_classes"]

_VEHICLES = ("car", "truck")


def _footprint_and_height(
    xy: npt.NDArray[np.float64], hag: npt.NDArray[np.float64], box: npt.NDArray[np.float32]
) -> tuple[float, float, float, float]:
    """Raw extents of one cluster: (side along box x, side along box y, lowest, highest above ground)."""
    c, s = np.cos(box[6]), np.sin(box[6])
    d = xy - box[:2]
    u = d[:, 0] * c + d[:, 1] * s
    v = -d[:, 0] * s + d[:, 1] * c
    return float(np.ptp(u)), float(np.ptp(v)), float(hag.min()), float(hag.max())


def _near_vehicle(centre: npt.NDArray[np.float32], vehicles: npt.NDArray[np.float32], gap: float) -> bool:
    """Whether a BEV point lies within ``gap`` of any vehicle box rectangle (inside counts)."""
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
    ped = classes.index("pedestrian") if "pedestrian" in classes else -2
    cyc = classes.index("cyclist") if "cyclist" in classes else -2
    small = np.flatnonzero((out == ped) | (out == cyc))
    if small.size == 0:
        return out
    vehicle_ids = [classes.index(n) for n in _VEHICLES if n in classes]
    vehicles = boxes[np.isin(out, vehicle_ids)]
    order = np.argsort(labels, kind="stable")
    starts = np.searchsorted(labels[order], cluster[small], side="left")
    ends = np.searchsorted(labels[order], cluster[small], side="right")
    xy = points[:, :2].astype(np.float64)
    hag = height_above_ground.astype(np.float64)
    lo_top, hi_top = rules.pedestrian_top_m
    for k, a, b in zip(small.tolist(), starts.tolist(), ends.tolist(), strict=True):
        idx = order[a:b]
        side_u, side_v, bottom, top = _footprint_and_height(xy[idx], hag[idx], boxes[k])
        plausible = lo_top <= top <= hi_top and max(side_u, side_v) >= rules.pole_max_side_m
        plausible &= min(side_u, side_v) >= rules.panel_min_side_m
        plausible &= top - bottom >= rules.min_vertical_fill * top
        plausible &= not _near_vehicle(boxes[k], vehicles, rules.fragment_gap_m)
        if out[k] == ped:
            plausible &= max(side_u, side_v) <= rules.pedestrian_max_side_m
        if not plausible:
            out[k] = -1
    return out
