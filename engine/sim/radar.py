"""Automotive radar simulation: detections on actors plus clutter, with measured range rate.

A scan is taken at one instant (``time_offset_us`` all 0). Probe rays fan across the field of view in
three elevation rows (-1.5, 0, +1.5 degrees); each actor hit by probes yields up to ``max_per_object``
detections (detection probability by class and range), and ``Poisson(clutter)`` detections come from
probes that hit static structure or the ground. Per detection:

* ``radial_velocity`` = ``u . (v_point - v_radar)`` + noise, with ``u`` the unit line of sight from the
  radar to the point, ``v_point`` the rigid-body velocity of the hit point (zero for clutter) and
  ``v_radar`` the velocity of the moving radar (ego velocity plus yaw rate x lever arm): the *measured*
  range rate, not ego-motion compensated; positive = moving away.
* position noise in range (0.12 m) and azimuth (0.3 deg), range-rate noise 0.08 m/s, RCS [dBsm] from
  a class prior plus noise.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from engine.sim._raycast import box_rows, cast_rays
from engine.sim.lidar import PointLabels
from engine.sim.rigs import RadarSpec
from engine.sim.scene import Scene
from engine.sweeps import RadarSweep

__all__ = ["simulate_radar_sweep"]

_RADAR_STREAM = 20
_RCS = np.array([-12.0, 8.0, 10.0, 18.0, -6.0, -2.0])  # class mean [dBsm]
_P_DETECT = np.array([0.0, 0.0, 0.95, 0.97, 0.6, 0.75])
_ELEVATIONS = np.radians([-1.5, 0.0, 1.5])


def simulate_radar_sweep(
    scene: Scene,
    spec: RadarSpec,
    radar_index: int,
    sweep_index: int,
    timestamp_us: int,
    actors: npt.NDArray[np.int64],
    seed: int,
) -> tuple[RadarSweep, PointLabels]:
    """Simulate one radar scan at ``timestamp_us`` [µs] against ``actors`` (M,) and static structure.

    Noise comes from ``default_rng([seed, 20, radar_index, sweep_index])``.
    """
    rng = np.random.default_rng([seed, _RADAR_STREAM, radar_index, sweep_index])
    t = np.array([timestamp_us], dtype=np.int64)
    ego_xy = scene.ego_xy(t)[0]
    yaw, speed, yaw_rate = (float(v[0]) for v in scene.ego_motion(t))
    c, s = np.cos(yaw), np.sin(yaw)
    mx, my, mz = spec.position
    lever = np.array([c * mx - s * my, s * mx + c * my])
    origin = np.array([ego_xy[0] + lever[0], ego_xy[1] + lever[1], mz])
    v_radar = speed * np.array([c, s]) + yaw_rate * np.array([-lever[1], lever[0]])
    az = np.radians(np.linspace(-spec.fov_deg / 2.0, spec.fov_deg / 2.0, spec.rays))
    az_grid, el_grid = np.meshgrid(az, _ELEVATIONS, indexing="ij")
    az_g, el_g = az_grid.ravel(), el_grid.ravel()
    d_sensor = np.column_stack([np.cos(el_g) * np.cos(az_g), np.cos(el_g) * np.sin(az_g), np.sin(el_g)])
    wy = yaw + spec.yaw
    dirs = np.column_stack(
        [
            np.cos(wy) * d_sensor[:, 0] - np.sin(wy) * d_sensor[:, 1],
            np.sin(wy) * d_sensor[:, 0] + np.cos(wy) * d_sensor[:, 1],
            d_sensor[:, 2],
        ]
    )
    boxes = scene.actor_boxes(timestamp_us, actors)
    stat_idx = scene.structures_near(origin[:2], spec.max_range_m)
    rows = np.concatenate([box_rows(boxes), box_rows(scene.structures[stat_idx])])
    rng_t, hid, _ = cast_rays(np.broadcast_to(origin, dirs.shape), dirs, rows, spec.max_range_m)
    n_dyn = actors.size
    picks: list[int] = []
    for m in np.unique(hid[(hid >= 0) & (hid < n_dyn)]):
        rays = np.flatnonzero(hid == m)
        label = int(scene.actors.label[actors[m]])
        p = _P_DETECT[label] * (1.0 - 0.5 * float(rng_t[rays].min()) / spec.max_range_m)
        if rng.random() < p:
            k = int(rng.integers(1, spec.max_per_object + 1))
            picks.extend(int(v) for v in rng.choice(rays, size=min(k, rays.size), replace=False))
    clutter_rays = np.flatnonzero((hid == -1) | (hid >= n_dyn))
    n_clutter = min(int(rng.poisson(spec.clutter)), clutter_rays.size)
    picks.extend(int(v) for v in rng.choice(clutter_rays, size=n_clutter, replace=False))
    sel = np.array(sorted(picks), dtype=np.int64)
    st = scene.actor_states(t, actors)
    hit = hid[sel]
    is_dyn = (hit >= 0) & (hit < n_dyn)
    m = np.clip(hit, 0, max(n_dyn - 1, 0))
    p_world = origin[:2] + dirs[sel, :2] * rng_t[sel, None]
    v_pt = np.zeros((sel.size, 2))
    if n_dyn:
        rel = p_world - np.column_stack([st.x[0, m], st.y[0, m]])
        w = st.yaw_rate[0, m]
        v_pt = np.column_stack([st.vx[0, m] - w * rel[:, 1], st.vy[0, m] + w * rel[:, 0]])
        v_pt[~is_dyn] = 0.0
    u = dirs[sel]
    rr = np.sum(u[:, :2] * (v_pt - v_radar), axis=1)
    semantic = np.where(hit == -1, 0, np.where(hit >= n_dyn, 1, 0))
    instance = np.full(sel.size, -1, np.int64)
    if stat_idx.size:
        instance = np.where(hit >= n_dyn, stat_idx[np.clip(hit - n_dyn, 0, stat_idx.size - 1)], instance)
    if n_dyn:
        semantic = np.where(is_dyn, scene.actors.label[actors][m], semantic)
        instance = np.where(is_dyn, actors[m], instance)
    r_meas = rng_t[sel] + rng.normal(0.0, 0.12, sel.size)
    az_meas = az_g[sel] + rng.normal(0.0, np.radians(0.3), sel.size)
    el = el_g[sel]
    points = np.column_stack(
        [r_meas * np.cos(el) * np.cos(az_meas), r_meas * np.cos(el) * np.sin(az_meas), r_meas * np.sin(el)]
    ).astype(np.float32)
    sweep = RadarSweep(
        sensor_id=spec.sensor_id,
        timestamp_us=int(timestamp_us),
        points=points.reshape(-1, 3),
        radial_velocity=(rr + rng.normal(0.0, 0.08, sel.size)).astype(np.float32),
        rcs=(_RCS[semantic] + rng.normal(0.0, 2.0, sel.size)).astype(np.float32),
        time_offset_us=np.zeros(sel.size, np.int32),
    )
    return sweep, PointLabels(semantic.astype(np.uint8), instance.astype(np.int32))
