"""Populate the road: buildings, parked and moving traffic, pedestrians and crossings.

Cross-section (lateral offset ``d`` from the centreline, left positive; the ego drives at ``d = 0``):
bike lane -2.1, parked cars -3.9, right sidewalk -5.9/-6.8 (walking), -7.6 (standing), buildings beyond
-8.3; same-direction lane +3.5, oncoming lane +7.0, left sidewalk +10.0/+10.9, +11.7 (standing), buildings
beyond +12.3. Intersections are cross streets every 100-220 m kept free of buildings and parked cars, with
crossing cars and cyclists; pedestrians cross at crosswalks. Crossing actors whose path would come near
the ego or another actor are retimed (or dropped), so boxes never overlap.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
from scipy.spatial import cKDTree

from engine.sim.actors import LANE, LINE, ActorSet
from engine.sim.road import Flow, Road

__all__ = ["SIZE_PRIORS", "build_actors", "build_structures"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

SIZE_PRIORS: dict[int, tuple[tuple[float, float, float], tuple[float, float, float]]] = {
    2: ((4.6, 1.9, 1.6), (0.35, 0.1, 0.12)),  # car: mean and std of (length, width, height) [m]
    3: ((8.5, 2.5, 3.2), (1.8, 0.08, 0.3)),  # truck
    4: ((0.7, 0.65, 1.75), (0.1, 0.08, 0.1)),  # pedestrian
    5: ((1.8, 0.65, 1.7), (0.1, 0.06, 0.08)),  # cyclist
}
_RIGHT_CLEAR, _LEFT_CLEAR = 8.3, 12.3


def _size(rng: np.random.Generator, label: int) -> tuple[float, float, float]:
    mean, std = SIZE_PRIORS[label]
    lo = np.array(mean) * 0.7
    hi = np.array(mean) * 1.4
    s = np.clip(rng.normal(mean, std), lo, hi)
    return float(s[0]), float(s[1]), float(s[2])


@dataclass(slots=True)
class _Builder:
    rng: np.random.Generator
    label: list[int]
    size: list[tuple[float, float, float]]
    mode: list[int]
    lane: list[list[float]]
    line: list[list[float]]
    start: list[int]
    episodes: list[list[list[float]]]
    behaviour: list[str]

    def add(
        self,
        label: int,
        size: tuple[float, float, float],
        mode: int,
        lane: list[float],
        line: list[float],
        start: int,
        behaviour: str,
        episodes: list[list[float]],
    ) -> None:
        self.label.append(label)
        self.size.append(size)
        self.mode.append(mode)
        self.lane.append(lane)
        self.line.append(line)
        self.start.append(start)
        self.behaviour.append(behaviour)
        self.episodes.append(episodes)

    def build(self) -> ActorSet:
        n_ep = max([len(e) for e in self.episodes] + [1])
        ep = np.full((len(self.label), n_ep, 3), np.nan)
        for i, e in enumerate(self.episodes):
            if e:
                ep[i, : len(e)] = e
        return ActorSet(
            np.array(self.label, np.int64),
            np.array(self.size, np.float64).reshape(-1, 3),
            np.array(self.mode, np.int64),
            np.array(self.lane, np.float64).reshape(-1, 8),
            np.array(self.line, np.float64).reshape(-1, 6),
            np.array(self.start, np.int64),
            ep,
            tuple(self.behaviour),
        )


def build_structures(rng: np.random.Generator, road: Road, s_lo: float, s_hi: float, crossings: F64) -> F64:
    """Buildings along both sides of the road, (S, 7) ``[x, y, z, length, width, height, yaw]`` world.

    A candidate is dropped when any footprint sample lies inside the road's clearance (``-8.3 < d <
    12.3`` from the nearest centreline sample) or within 9 m of a cross street.
    """
    s_grid = np.arange(s_lo - 60.0, s_hi + 60.0, 1.0)
    cx, cy, ch, _ = road.at(s_grid)
    tree = cKDTree(np.stack([cx, cy], axis=1))
    kx, ky, kh, _ = road.at(crossings) if crossings.size else (np.zeros(0),) * 4
    out: list[list[float]] = []
    for side in (-1.0, 1.0):
        s = s_lo + rng.uniform(0.0, 10.0)
        while s < s_hi:
            length, depth, height = rng.uniform(8.0, 30.0), rng.uniform(8.0, 20.0), rng.uniform(5.0, 25.0)
            face = (_LEFT_CLEAR if side > 0 else _RIGHT_CLEAR) + rng.uniform(0.2, 4.0)
            sc = s + length / 2.0
            x, y, h, _ = road.at(sc, side * (face + depth / 2.0))
            s += length + rng.uniform(1.5, 14.0)
            gx, gy = np.meshgrid(np.linspace(-0.5, 0.5, 5) * length, np.linspace(-0.5, 0.5, 5) * depth)
            c, sn = math.cos(float(h)), math.sin(float(h))
            px, py = float(x) + c * gx.ravel() - sn * gy.ravel(), float(y) + sn * gx.ravel() + c * gy.ravel()
            _, j = tree.query(np.stack([px, py], axis=1))
            lat = (px - cx[j]) * -np.sin(ch[j]) + (py - cy[j]) * np.cos(ch[j])
            if np.any((lat > -_RIGHT_CLEAR) & (lat < _LEFT_CLEAR)):
                continue
            if kx.size:
                along = (px[:, None] - kx) * np.cos(kh) + (py[:, None] - ky) * np.sin(kh)
                if np.any(np.abs(along) < 9.0):
                    continue
            out.append([float(x), float(y), height / 2.0, length, depth, height, float(h)])
    return np.array(out, dtype=np.float64).reshape(-1, 7)


def build_actors(
    rng: np.random.Generator,
    road: Road,
    flows: list[Flow],
    reach: I64,
    t_range_us: tuple[int, int],
    radius: float,
    density: float,
    crossings: F64,
) -> ActorSet:
    """Draw every actor that comes within ``radius`` [m] of the ego (in arc length) during the run.

    ``flows`` are ``[ego, same-direction, oncoming, bikes, walking (1 m/s)]``; ``reach`` is a coarse
    time grid [µs] used to find, per lane, the ``s0`` interval whose actors meet the ego.
    """
    b = _Builder(rng, [], [], [], [], [], [], [], [])
    t0, t1 = t_range_us
    dur = (t1 - t0) * 1e-6
    ego_s = flows[0].at(reach)[0]
    crosswalks = _lane_actors(b, rng, flows, reach, ego_s, radius, density, crossings, t0, dur)
    lane_set = b.build()
    _crossing_actors(b, rng, road, flows, lane_set, crossings, crosswalks, reach, ego_s, radius, density)
    return b.build()


def _episodes(rng: np.random.Generator, dur: float, parked: bool) -> list[list[float]]:
    if parked:
        if rng.random() < 0.2:
            a = rng.uniform(-5.0, dur)
            return [[a, a + rng.uniform(5.0, 40.0), 3.0]]
        return []
    out = []
    for _ in range(int(rng.poisson(0.25 * max(dur, 1.0) / 10.0))):
        a = rng.uniform(0.0, dur)
        out.append([a, a + rng.uniform(2.0, 5.0), float(rng.integers(1, 3))])
    return out


def _lane_actors(
    b: _Builder,
    rng: np.random.Generator,
    flows: list[Flow],
    reach: I64,
    ego_s: F64,
    radius: float,
    density: float,
    crossings: F64,
    t0: int,
    dur: float,
) -> F64:
    # Ego lane: one lead vehicle and one follower on the ego's own flow.
    for sign in (1.0, -1.0):
        label = 2 if rng.random() < 0.8 else 3
        size = _size(rng, label)
        s0 = sign * (rng.uniform(14.0, 26.0) + size[0] / 2.0 + 3.0)
        b.add(
            label,
            size,
            LANE,
            [s0, 0.0, 1.0, 0, 1.0, 0.5, 0.05, rng.uniform(0, 6.28)],
            [0.0] * 6,
            t0,
            "lane",
            _episodes(rng, dur, False),
        )
    # (d, dir, flow, gain, labels, weights, gap range [m], behaviour)
    lanes = [
        (3.5, 1.0, 1, 1.0, (2, 3), (0.8, 0.2), (8.0, 45.0), "lane"),
        (7.0, -1.0, 2, 1.0, (2, 3), (0.8, 0.2), (8.0, 45.0), "lane"),
        (-2.1, 1.0, 3, 1.0, (5,), (1.0,), (15.0, 80.0), "lane"),
        (-3.9, 1.0, 0, 0.0, (2, 3), (0.85, 0.15), (1.0, 30.0), "parked"),
        (-5.9, 1.0, 4, 1.3, (4,), (1.0,), (6.0, 40.0), "lane"),
        (-6.8, -1.0, 4, 1.15, (4,), (1.0,), (6.0, 40.0), "lane"),
        (-7.6, 1.0, 4, 0.0, (4,), (1.0,), (10.0, 80.0), "standing"),
        (10.0, 1.0, 4, 1.2, (4,), (1.0,), (6.0, 40.0), "lane"),
        (10.9, -1.0, 4, 1.4, (4,), (1.0,), (6.0, 40.0), "lane"),
        (11.7, 1.0, 4, 0.0, (4,), (1.0,), (10.0, 80.0), "standing"),
    ]
    lo_all, hi_all = float(ego_s.min()) - radius, float(ego_s.max()) + radius
    crosswalks = np.sort(rng.uniform(lo_all, hi_all, size=max(int((hi_all - lo_all) / 80.0 * density), 1)))
    keep_clear = [(c, 11.0) for c in crossings] + [(c, 4.0) for c in crosswalks]
    for d, direction, flow, gain, labels, weights, gaps, behaviour in lanes:
        travelled = direction * gain * flows[flow].at(reach)[0]
        lo = float(np.min(ego_s - travelled)) - radius
        hi = float(np.max(ego_s - travelled)) + radius
        s = lo + rng.uniform(0.0, gaps[1])
        while s < hi:
            label = int(rng.choice(labels, p=weights))
            size = _size(rng, label)
            s += size[0] / 2.0
            parked = gain == 0.0
            clear = all(abs(s - c) > r + size[0] / 2.0 for c, r in keep_clear) or not parked or label == 4
            if clear:
                amp = rng.uniform(0.2, 1.2) if gain > 0 else 0.0
                facing = direction if not parked or rng.random() < 0.8 else -direction
                b.add(
                    label,
                    size,
                    LANE,
                    [s, d, facing, flow, gain, amp, rng.uniform(0.02, 0.08), rng.uniform(0.0, 6.28)],
                    [0.0] * 6,
                    t0,
                    behaviour,
                    _episodes(rng, dur, parked) if label in (2, 3) else [],
                )
            s += size[0] / 2.0 + rng.uniform(*gaps) / density + (2.5 if gain > 0 else 0.0)
    return crosswalks


def _crossing_actors(
    b: _Builder,
    rng: np.random.Generator,
    road: Road,
    flows: list[Flow],
    lanes: ActorSet,
    crossings: F64,
    crosswalks: F64,
    reach: I64,
    ego_s: F64,
    radius: float,
    density: float,
) -> None:
    candidates: list[tuple[float, int, float, float, float]] = []  # (s, label, d_from, d_to, speed)
    for s in crosswalks:
        side = rng.random() < 0.5
        candidates.append((float(s), 4, -5.0 if side else 9.3, 9.3 if side else -5.0, rng.uniform(1.0, 1.6)))
    for s in crossings:
        for _ in range(int(rng.integers(1, 4) * density)):
            label = 2 if rng.random() < 0.7 else 5
            side = rng.random() < 0.5
            speed = rng.uniform(7.0, 13.0) if label == 2 else rng.uniform(3.5, 6.0)
            offset = rng.uniform(-2.5, 2.5)
            candidates.append(
                (float(s) + offset, label, -60.0 if side else 60.0, 60.0 if side else -60.0, speed)
            )
    placed: list[tuple[F64, F64, float]] = []  # (times, xy (K, 2), radius) of accepted crossings
    lane_idx = np.arange(len(lanes))
    for s, label, d_from, d_to, speed in candidates:
        size = _size(rng, label)
        x0, y0, _, _ = road.at(s, d_from)
        x1, y1, _, _ = road.at(s, d_to)
        length = math.hypot(float(x1 - x0), float(y1 - y0))
        ux, uy = float(x1 - x0) / length, float(y1 - y0) / length
        near = reach[np.abs(ego_s - s) < radius + 40.0]
        if near.size == 0:
            continue
        r_self = 0.5 * math.hypot(size[0], size[1])
        for _ in range(8):
            start = int(rng.uniform(near[0] - 5e6, near[-1]))
            times = np.arange(near[0], near[-1] + 1, 200_000, dtype=np.int64)
            prog = np.clip((times - start) * 1e-6 * speed, 0.0, length)
            xy = np.stack([float(x0) + prog * ux, float(y0) + prog * uy], axis=1)
            if _conflicts(road, flows, lanes, lane_idx, times, xy, r_self, placed):
                continue
            placed.append((times, xy, r_self))
            b.add(
                label,
                size,
                LINE,
                [0.0] * 8,
                [float(x0), float(y0), ux, uy, speed, length],
                start,
                "crossing",
                [],
            )
            break


def _conflicts(
    road: Road,
    flows: list[Flow],
    lanes: ActorSet,
    idx: npt.NDArray[np.int64],
    times: npt.NDArray[np.int64],
    xy: F64,
    r_self: float,
    placed: list[tuple[F64, F64, float]],
) -> bool:
    st = lanes.states(road, flows, times, idx)
    r_other = 0.5 * np.hypot(lanes.size[:, 0], lanes.size[:, 1])
    dist = np.hypot(st.x - xy[:, :1], st.y - xy[:, 1:])
    if np.any(dist < r_self + r_other + 0.5):
        return True
    ex, ey, eh, _ = road.at(flows[0].at(times)[0])
    ego = np.hypot(ex + 1.4 * np.cos(eh) - xy[:, 0], ey + 1.4 * np.sin(eh) - xy[:, 1])
    if np.any(ego < r_self + 3.5):
        return True
    for t_other, xy_other, r in placed:
        common, i, j = np.intersect1d(times, t_other, return_indices=True)
        if common.size and np.any(np.hypot(*(xy[i] - xy_other[j]).T) < r_self + r + 0.5):
            return True
    return False
