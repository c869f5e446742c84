"""Spinning lidar simulation with real motion skew.

Timing: sweep ``k`` has ``timestamp_us = T_k``. The head turns clockwise seen from above (azimuth
decreasing) once per period ``P``: column ``c`` of ``C`` fires at ``T_k - P/2 + (c + 1/2) P / C`` (rounded
to µs) at sensor azimuth ``pi - 2 pi (c + 1/2) / C``, so the sweep starts and ends pointing backwards and
points forwards (+x of the lidar) at ``T_k``. Every column is cast from the sensor pose at its own firing
time, against the actors at that time, so points carry the true motion skew of ego and actors; they are
stored in the sensor frame at their firing time, ordered by column then ring (ring 0 lowest).

Returns: Gaussian range noise, random dropouts (more at long range), intensity from the surface's
reflectivity, incidence angle and range, with noise, in [0, 1].
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from calibration.se3 import quat_wxyz_to_yaw
from engine.sim._raycast import box_rows, cast_spinning
from engine.sim.rigs import LidarSpec
from engine.sim.scene import Scene
from engine.sweeps import LidarSweep

__all__ = ["REFLECTIVITY", "PointLabels", "column_offsets_us", "simulate_lidar_sweep"]

REFLECTIVITY = np.array([0.12, 0.35, 0.6, 0.5, 0.3, 0.4])
"""Mean reflectivity per semantic class (ground, structure, car, truck, pedestrian, cyclist)."""
_LIDAR_STREAM = 10
_KNOT_US = 4_000
F64 = npt.NDArray[np.float64]


class PointLabels:
    """Ground-truth labels of the points of one sweep (lidar or radar).

    Attributes
    ----------
    semantic : ndarray of shape (N,), uint8
        Class id into :data:`engine.sim.actors.CLASSES` (0 ground, 1 structure, 2 car, ...).
    instance : ndarray of shape (N,), int32
        Actor index (track ``actor_{index:04d}``) for actors, structure index for structures, -1 ground.
    """

    __slots__ = ("instance", "semantic")

    def __init__(self, semantic: npt.NDArray[np.uint8], instance: npt.NDArray[np.int32]) -> None:
        self.semantic = np.ascontiguousarray(semantic, dtype=np.uint8)
        self.instance = np.ascontiguousarray(instance, dtype=np.int32)

    def __len__(self) -> int:
        return int(self.semantic.size)


def column_offsets_us(spec: LidarSpec) -> npt.NDArray[np.int32]:
    """Firing time of each column relative to the sweep timestamp [µs], (C,) int32."""
    p = spec.period_us
    c = np.arange(spec.columns, dtype=np.float64)
    return np.round(-p / 2.0 + (c + 0.5) * p / spec.columns).astype(np.int32)


def simulate_lidar_sweep(
    scene: Scene,
    spec: LidarSpec,
    lidar_index: int,
    sweep_index: int,
    timestamp_us: int,
    actors: npt.NDArray[np.int64],
    seed: int,
) -> tuple[LidarSweep, PointLabels]:
    """Simulate one sweep.

    Parameters
    ----------
    scene : Scene
        The world.
    spec : LidarSpec
        The lidar.
    lidar_index, sweep_index : int
        Identify the noise stream (noise is drawn from ``default_rng([seed, 10, lidar_index, sweep_index])``).
    timestamp_us : int
        Sweep timestamp [µs].
    actors : ndarray of shape (M,), int64
        Actors that may be hit (e.g. those within range of the ego).
    seed : int
        The run's seed.
    """
    offsets = column_offsets_us(spec)
    times = timestamp_us + offsets.astype(np.int64)
    n_col, n_beam = spec.columns, spec.beams
    trans, quats = scene.trajectory.poses_at(times)
    ego_yaw = quat_wxyz_to_yaw(quats)
    mx, my, mz = spec.position
    c, s = np.cos(ego_yaw), np.sin(ego_yaw)
    origins = np.column_stack(
        [trans[:, 0] + c * mx - s * my, trans[:, 1] + s * mx + c * my, trans[:, 2] + mz]
    )
    az = np.pi - 2.0 * np.pi * (np.arange(n_col) + 0.5) / n_col
    col_yaw = ego_yaw + spec.yaw + az
    dyn_xy = _actor_columns(scene, times, actors)
    size = scene.actors.size[actors]
    dyn_fix = np.column_stack([size[:, 2] / 2.0, size / 2.0])
    mid = origins[n_col // 2, :2]
    stat_idx = scene.structures_near(mid, spec.max_range_m + 5.0)
    rng_t, hid, cos_in = cast_spinning(
        origins,
        col_yaw,
        spec.elevations,
        dyn_xy,
        dyn_fix,
        box_rows(scene.structures[stat_idx]),
        spec.min_range_m,
        spec.max_range_m,
    )
    rng = np.random.default_rng([seed, _LIDAR_STREAM, lidar_index, sweep_index])
    noise = rng.normal(0.0, spec.range_noise_m, (n_col, n_beam))
    u_drop = rng.random((n_col, n_beam))
    i_noise = rng.normal(0.0, 0.03, (n_col, n_beam))
    r = rng_t + noise
    drop_p = spec.dropout + 0.25 * (rng_t / spec.max_range_m) ** 2
    keep = (hid != -2) & (u_drop >= drop_p) & (r >= spec.min_range_m) & (r <= spec.max_range_m)
    col, beam = np.nonzero(keep)
    hid, r, cos_in, r_true = hid[keep], r[keep], cos_in[keep], rng_t[keep]
    n_dyn = actors.size
    is_dyn = (hid >= 0) & (hid < n_dyn)
    is_stat = hid >= n_dyn
    semantic = np.where(is_stat, 1, 0)
    instance = np.full(hid.shape, -1, np.int64)
    if n_dyn:
        dyn_hit = np.clip(hid, 0, n_dyn - 1)
        semantic = np.where(is_dyn, scene.actors.label[actors][dyn_hit], semantic)
        instance = np.where(is_dyn, actors[dyn_hit], instance)
    if stat_idx.size:
        instance = np.where(is_stat, stat_idx[np.clip(hid - n_dyn, 0, stat_idx.size - 1)], instance)
    intensity = REFLECTIVITY[semantic] * (0.35 + 0.65 * cos_in) * (1.0 - 0.4 * r_true / spec.max_range_m)
    intensity = np.clip(intensity + i_noise[keep], 0.0, 1.0)
    el, azk = spec.elevations[beam], az[col]
    points = np.empty((col.size, 3), np.float32)
    points[:, 0] = r * np.cos(el) * np.cos(azk)
    points[:, 1] = r * np.cos(el) * np.sin(azk)
    points[:, 2] = r * np.sin(el)
    sweep = LidarSweep(
        sensor_id=spec.sensor_id,
        timestamp_us=int(timestamp_us),
        points=points,
        time_offset_us=offsets[col],
        intensity=intensity.astype(np.float32),
        ring=beam.astype(np.uint16),
    )
    return sweep, PointLabels(semantic.astype(np.uint8), instance.astype(np.int32))


def _actor_columns(scene: Scene, times: npt.NDArray[np.int64], actors: npt.NDArray[np.int64]) -> F64:
    """Actor ``x, y, cos(yaw), sin(yaw)`` at every column time, (C, M, 4).

    Exact states at knots every ~4 ms across the sweep, linearly interpolated in between (the motion is
    smooth at that scale: the interpolation error is below 0.1 mm at urban speeds and turn rates).
    """
    lo, hi = int(times[0]), int(times[-1])
    n_knots = max(2, (hi - lo) // _KNOT_US + 2)
    knots = np.linspace(lo, hi, n_knots).round().astype(np.int64)
    st = scene.actor_states(knots, actors)
    f = np.interp(times, knots, np.arange(n_knots, dtype=np.float64))
    i = np.clip(np.floor(f).astype(np.int64), 0, n_knots - 2)
    a = (f - i)[:, None]
    out = np.empty((times.size, actors.size, 4))
    x = st.x[i] + a * (st.x[i + 1] - st.x[i])
    y = st.y[i] + a * (st.y[i + 1] - st.y[i])
    yaw = st.yaw[i] + a * (st.yaw[i + 1] - st.yaw[i])
    out[..., 0], out[..., 1], out[..., 2], out[..., 3] = x, y, np.cos(yaw), np.sin(yaw)
    return out
