"""The simulated world: road, ego trajectory, actors and static structure, drawn from a seed.

Everything is a pure function of ``(rig, seconds, seed)``: each part draws from its own generator
``numpy.random.default_rng([seed, PART])``, so changing one part never reshuffles another.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from calibration.se3 import yaw_to_quat_wxyz
from calibration.trajectory import Extrapolation, Trajectory
from engine.sim.actors import ActorSet, ActorStates
from engine.sim.population import build_actors, build_structures
from engine.sim.rigs import RigSpec
from engine.sim.road import GRID_US, Flow, Road, make_flow, make_road
from kernels.errors import InvalidInputError

__all__ = ["START_US", "Scene", "build_scene"]

F64 = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]

START_US = 1_700_000_000_000_000
"""Timestamp of the first lidar sweep of every simulated log [µs]."""
_MARGIN_US = 2_000_000
_EGO, _ROAD, _ACTORS, _STRUCT, _FLOWS = 1, 2, 3, 4, 5


@dataclass(frozen=True, slots=True, eq=False)
class Scene:
    """The world of one simulation run.

    Attributes
    ----------
    road : Road
        Centreline; the ego drives along it at lateral offset 0.
    flows : list of Flow
        ``[ego, same-direction, oncoming, bikes, walking]`` speed profiles.
    actors : ActorSet
        Every actor.
    structures : ndarray of shape (S, 7), float64
        Static boxes (buildings), world frame, kernel layout.
    trajectory : Trajectory
        ``world_from_ego`` at 100 Hz (ego origin on the ground below the rear axle).
    t0_us : int
        First grid time [µs] (also the flows' ``t0_us``).
    """

    road: Road
    flows: list[Flow]
    actors: ActorSet
    structures: F64
    trajectory: Trajectory
    t0_us: int

    def actor_states(self, t_us: npt.ArrayLike, idx: npt.ArrayLike) -> ActorStates:
        """Kinematics (K, M) of actors ``idx`` at times ``t_us`` [µs]."""
        return self.actors.states(self.road, self.flows, np.asarray(t_us), np.asarray(idx))

    def actor_boxes(self, t_us: int, idx: npt.ArrayLike) -> F64:
        """Boxes (M, 7) ``[x, y, z, l, w, h, yaw]`` of actors ``idx`` at one time, world frame."""
        idx = np.asarray(idx, dtype=np.int64)
        st = self.actor_states(np.array([t_us]), idx)
        return np.column_stack([st.x[0], st.y[0], st.z[0], self.actors.size[idx], st.yaw[0]])

    def attributes(self, t_us: npt.ArrayLike, idx: npt.ArrayLike) -> dict[str, I64]:
        """Attribute codes (K, M) at times ``t_us`` (see :mod:`engine.sim.actors`)."""
        return self.actors.attribute_codes(
            self.road, self.flows, self.t0_us, np.asarray(t_us), np.asarray(idx)
        )

    def ego_xy(self, t_us: npt.ArrayLike) -> F64:
        """Ego origin (K, 2) in the world [m]."""
        x, y, _, _ = self.road.at(self.flows[0].at(np.asarray(t_us))[0])
        return np.stack([np.atleast_1d(x), np.atleast_1d(y)], axis=1)

    def ego_motion(self, t_us: npt.ArrayLike) -> tuple[F64, F64, F64]:
        """Ego heading [rad], speed [m/s] and yaw rate [rad/s] at times ``t_us`` (K,)."""
        s, v, _ = self.flows[0].at(np.asarray(t_us))
        _, _, h, k = self.road.at(s)
        return np.atleast_1d(h), np.atleast_1d(v), np.atleast_1d(k * v)

    def actors_near(self, t_us: int, xy: F64, radius: float) -> I64:
        """Indices of actors whose centre lies within ``radius`` [m] of ``xy`` at ``t_us``."""
        st = self.actor_states(np.array([t_us]), np.arange(len(self.actors)))
        d = np.hypot(st.x[0] - xy[0], st.y[0] - xy[1])
        return np.flatnonzero(d < radius)

    def structures_near(self, xy: F64, radius: float) -> I64:
        """Indices of static boxes that may reach within ``radius`` [m] of ``xy``."""
        st = self.structures
        half = 0.5 * np.hypot(st[:, 3], st[:, 4])
        return np.flatnonzero(np.hypot(st[:, 0] - xy[0], st[:, 1] - xy[1]) < radius + half)


def build_scene(rig: RigSpec, seconds: float, seed: int) -> Scene:
    """Draw the world for a run of ``seconds`` [s] from ``seed`` (deterministic)."""
    if not isinstance(seconds, int | float) or not seconds > 0:
        raise InvalidInputError(f"seconds must be > 0, got {seconds!r}")
    if isinstance(seed, bool) or not isinstance(seed, int | np.integer) or seed < 0:
        raise InvalidInputError(f"seed must be a non-negative integer, got {seed!r}")
    seed = int(seed)
    t0 = START_US - _MARGIN_US
    t1 = START_US + int(round(seconds * 1e6)) + _MARGIN_US
    n = (t1 - t0) // GRID_US + 1
    rng_ego = np.random.default_rng([seed, _EGO])
    ego = make_flow(rng_ego, t0, n, 4.0, 14.0, 0.3, rng_ego.uniform(6.0, 11.0))
    rng_f = np.random.default_rng([seed, _FLOWS])
    flows = [
        ego,
        make_flow(rng_f, t0, n, 6.0, 15.0, 0.15, rng_f.uniform(6.0, 14.0)),
        make_flow(rng_f, t0, n, 6.0, 15.0, 0.15, rng_f.uniform(6.0, 14.0)),
        make_flow(rng_f, t0, n, 3.0, 7.0, 0.1, rng_f.uniform(3.0, 7.0)),
        Flow(t0, np.arange(n, dtype=np.float64) * (GRID_US * 1e-6), np.ones(n), np.zeros(n)),
    ]
    radius = max([s.max_range_m for s in rig.lidars] + [s.max_range_m for s in rig.radars]) + 30.0
    ego_end = float(ego.distance[-1])
    rng_road = np.random.default_rng([seed, _ROAD])
    road = make_road(rng_road, -radius - 300.0, ego_end + radius + 300.0, rng_road.uniform(-np.pi, np.pi))
    crossings = np.cumsum(rng_road.uniform(100.0, 220.0, size=int((ego_end + 2 * radius) / 100.0) + 1))
    crossings = crossings - radius + rng_road.uniform(20.0, 90.0)
    crossings = crossings[crossings < ego_end + radius]
    reach = np.arange(t0, t1 + 1, 500_000, dtype=np.int64)  # coarse times [µs]
    actors = build_actors(
        np.random.default_rng([seed, _ACTORS]),
        road,
        flows,
        reach,
        (t0, t1),
        radius,
        rig.traffic_density,
        crossings,
    )
    structures = build_structures(
        np.random.default_rng([seed, _STRUCT]), road, -radius - 60.0, ego_end + radius + 60.0, crossings
    )
    times = t0 + np.arange(n, dtype=np.int64) * GRID_US
    x, y, h, _ = road.at(ego.distance)
    trajectory = Trajectory(
        times,
        np.column_stack([x, y, np.zeros(n)]),
        yaw_to_quat_wxyz(h),
        Extrapolation.CONSTANT_VELOCITY,
        500_000,
    )
    return Scene(road, flows, actors, structures, trajectory, t0)
