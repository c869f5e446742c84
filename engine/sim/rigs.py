"""Sensor rigs of the simulator: frozen specs, the presets in :data:`RIGS`, and the log's sensors.

Mounting conventions (docs/CONVENTIONS.md): positions in the ego frame (x forward, y left, z up) with
the ego origin on the ground below the rear axle. Lidars and radars are mounted level (yaw only);
cameras may also pitch down. A camera's ``ego_from_sensor`` maps its optical frame (x right, y down,
z forward) to the ego frame.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from calibration.camera import CameraModel
from calibration.se3 import OPTICAL_FROM_FORWARD, SE3
from engine.sensors import Sensor, SensorKind
from kernels.errors import InvalidInputError, InvalidTypeError

__all__ = ["RIGS", "CameraSpec", "LidarSpec", "RadarSpec", "RigSpec", "get_rig", "rig_sensors"]

# Columns of the optical axes (x right, y down, z forward) expressed in the ego frame, facing +x.
_EGO_FROM_OPTICAL = OPTICAL_FROM_FORWARD.T


def _rot_z(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _rot_y(a: float) -> np.ndarray:
    c, s = math.cos(a), math.sin(a)
    return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])


@dataclass(frozen=True, slots=True)
class LidarSpec:
    """A spinning lidar: ``beams`` rings evenly spread in elevation, ``columns`` firings per turn.

    Parameters
    ----------
    sensor_id : str
        Sensor id in the log.
    position : tuple of 3 float
        Mount position in the ego frame [m].
    yaw : float
        Mount yaw [rad] (sensor x axis heading in the ego frame).
    beams : int
        Number of rings; ring 0 is the lowest.
    columns : int
        Azimuth firings per revolution.
    fov_up_deg, fov_down_deg : float
        Elevation of the highest and lowest ring [deg].
    rate_hz : float
        Revolutions per second; one sweep per revolution.
    max_range_m, min_range_m : float
        Returns outside this range are dropped [m].
    range_noise_m : float
        Standard deviation of the Gaussian range noise [m].
    dropout : float
        Probability that a return is lost at random.
    """

    sensor_id: str
    position: tuple[float, float, float]
    yaw: float
    beams: int
    columns: int
    fov_up_deg: float
    fov_down_deg: float
    rate_hz: float
    max_range_m: float
    min_range_m: float = 1.0
    range_noise_m: float = 0.02
    dropout: float = 0.02

    @property
    def period_us(self) -> int:
        """Sweep period [µs]."""
        return int(round(1e6 / self.rate_hz))

    @property
    def elevations(self) -> np.ndarray:
        """Ring elevations [rad], (beams,) float64, ascending."""
        return np.radians(np.linspace(self.fov_down_deg, self.fov_up_deg, self.beams))


@dataclass(frozen=True, slots=True)
class RadarSpec:
    """A level automotive radar scanning ``fov_deg`` around its boresight."""

    sensor_id: str
    position: tuple[float, float, float]
    yaw: float
    fov_deg: float = 120.0
    max_range_m: float = 100.0
    rate_hz: float = 13.0
    rays: int = 121
    """Azimuth probes across the field of view (three elevation rows each)."""
    clutter: int = 12
    """Mean number of clutter detections per scan (static structure and ground)."""
    max_per_object: int = 4
    phase_us: int = 0
    """Scan time offset relative to the first lidar sweep [µs]."""


@dataclass(frozen=True, slots=True)
class CameraSpec:
    """A camera: mount, intrinsics and trigger timing.

    ``model`` is ``"brown_conrady"`` (``params`` k1, k2, p1, p2, k3, k4, k5, k6) or ``"fisheye"``
    (Kannala–Brandt, k1..k4). ``pitch`` tilts the optical axis down [rad]. Frames are captured at
    ``rate_hz``; the first at the time the lidar sweeps past the camera's yaw plus ``delay_us``
    (the camera's own trigger delay / clock offset).
    """

    sensor_id: str
    position: tuple[float, float, float]
    yaw: float
    pitch: float
    model: str
    width: int
    height: int
    focal_px: float
    params: tuple[float, ...]
    rate_hz: float
    delay_us: int = 0

    def camera_model(self) -> CameraModel:
        """The intrinsic model (principal point at the image centre)."""
        return CameraModel(
            self.model,
            self.width,
            self.height,
            self.focal_px,
            self.focal_px,
            self.width / 2.0,
            self.height / 2.0,
            0.0,
            self.params,
        )

    def ego_from_sensor(self) -> SE3:
        """Extrinsics: optical frame to ego frame."""
        rot = _rot_z(self.yaw) @ _rot_y(self.pitch) @ _EGO_FROM_OPTICAL
        return SE3(rot, np.asarray(self.position, dtype=np.float64))


@dataclass(frozen=True, slots=True)
class RigSpec:
    """A whole simulated rig: lidars, radars, cameras and the scene density."""

    name: str
    lidars: tuple[LidarSpec, ...]
    radars: tuple[RadarSpec, ...]
    cameras: tuple[CameraSpec, ...]
    traffic_density: float = 1.0
    """Scales the number of actors per metre of road."""

    def __post_init__(self) -> None:
        if not self.lidars:
            raise InvalidInputError(f"RigSpec {self.name!r}: at least one lidar is required, got none")
        ids = [s.sensor_id for s in self.lidars] + [s.sensor_id for s in self.radars]
        ids += [s.sensor_id for s in self.cameras]
        if len(set(ids)) != len(ids):
            raise InvalidInputError(f"RigSpec {self.name!r}: duplicate sensor ids in {ids}")


def rig_sensors(rig: RigSpec) -> list[Sensor]:
    """The log's :class:`~engine.sensors.Sensor` list for ``rig`` (lidars, radars, cameras)."""
    out: list[Sensor] = []
    for lidar in rig.lidars:
        meta = {
            "model": f"sim-spinning-{lidar.beams}",
            "beams": lidar.beams,
            "columns": lidar.columns,
            "rate_hz": lidar.rate_hz,
            "max_range_m": lidar.max_range_m,
            "fov_deg": [lidar.fov_down_deg, lidar.fov_up_deg],
        }
        out.append(
            Sensor(lidar.sensor_id, SensorKind.LIDAR, SE3.from_yaw(lidar.yaw, lidar.position), None, meta)
        )
    for radar in rig.radars:
        meta = {"rate_hz": radar.rate_hz, "fov_deg": radar.fov_deg, "max_range_m": radar.max_range_m}
        out.append(
            Sensor(radar.sensor_id, SensorKind.RADAR, SE3.from_yaw(radar.yaw, radar.position), None, meta)
        )
    for cam in rig.cameras:
        meta = {"rate_hz": cam.rate_hz, "delay_us": cam.delay_us}
        out.append(Sensor(cam.sensor_id, SensorKind.CAMERA, cam.ego_from_sensor(), cam.camera_model(), meta))
    return out


_BC = (-0.06, 0.012, 0.0004, -0.0003, -0.001, 0.0, 0.0, 0.0)  # mild barrel distortion
_BC_WIDE = (-0.12, 0.03, 0.0005, 0.0002, -0.003, 0.0, 0.0, 0.0)
_KB = (0.02, -0.004, 0.0005, -0.00003)  # Kannala–Brandt, monotonic beyond 95 degrees
_D = math.radians


def _nuscenes() -> RigSpec:
    lidar = LidarSpec("lidar_top", (0.94, 0.0, 1.84), -math.pi / 2, 32, 1200, 10.67, -30.67, 20.0, 80.0)
    cams = tuple(
        CameraSpec(f"cam_{name}", pos, _D(yaw), 0.0, "brown_conrady", 1600, 900, f, _BC, 12.0, delay)
        for name, pos, yaw, f, delay in (
            ("front", (1.70, 0.0, 1.51), 0.0, 1266.0, 1200),
            ("front_right", (1.55, -0.49, 1.50), -55.0, 1260.0, -800),
            ("back_right", (1.05, -0.48, 1.56), -110.0, 1259.0, 2100),
            ("back", (0.05, 0.0, 1.58), 180.0, 800.0, 600),
            ("back_left", (1.05, 0.48, 1.56), 110.0, 1256.0, -1500),
            ("front_left", (1.52, 0.49, 1.51), 55.0, 1272.0, 300),
        )
    )
    radars = tuple(
        RadarSpec(f"radar_{name}", pos, _D(yaw), 120.0, 100.0, 13.0, phase_us=phase)
        for name, pos, yaw, phase in (
            ("front", (3.41, 0.0, 0.5), 0.0, 0),
            ("front_left", (2.42, 0.80, 0.5), 90.0, 15_000),
            ("front_right", (2.42, -0.80, 0.5), -90.0, 30_000),
            ("back_left", (-0.56, 0.62, 0.5), 180.0 - 15.0, 45_000),
            ("back_right", (-0.56, -0.62, 0.5), -180.0 + 15.0, 60_000),
        )
    )
    return RigSpec("nuscenes", (lidar,), radars, cams)


def _robotaxi() -> RigSpec:
    lidar = LidarSpec("lidar_top", (1.2, 0.0, 2.05), 0.0, 128, 2220, 10.0, -25.0, 10.0, 200.0)
    pinholes = tuple(
        CameraSpec(f"cam_{name}", pos, _D(yaw), _D(pitch), "brown_conrady", 1920, 1080, f, dist, 10.0, delay)
        for name, pos, yaw, pitch, f, dist, delay in (
            ("front_narrow", (2.0, 0.0, 1.75), 0.0, 0.0, 2400.0, _BC, 0),
            ("front_wide", (2.0, 0.1, 1.75), 0.0, 2.0, 1000.0, _BC_WIDE, 500),
            ("front_left", (1.8, 0.8, 1.70), 50.0, 0.0, 1200.0, _BC, -700),
            ("front_right", (1.8, -0.8, 1.70), -50.0, 0.0, 1200.0, _BC, 900),
            ("side_left", (0.9, 0.95, 1.65), 100.0, 0.0, 1000.0, _BC_WIDE, 1500),
            ("side_right", (0.9, -0.95, 1.65), -100.0, 0.0, 1000.0, _BC_WIDE, -1200),
            ("rear_left", (-0.4, 0.7, 1.65), 150.0, 0.0, 1200.0, _BC, 400),
            ("rear", (-0.9, 0.0, 1.60), 180.0, 0.0, 1400.0, _BC, -300),
        )
    )
    fisheyes = tuple(
        CameraSpec(f"fisheye_{name}", pos, _D(yaw), _D(28.0), "fisheye", 1280, 966, 370.0, _KB, 10.0, delay)
        for name, pos, yaw, delay in (
            ("front", (3.7, 0.0, 0.75), 0.0, 2500),
            ("left", (2.0, 1.0, 1.05), 90.0, -2000),
            ("right", (2.0, -1.0, 1.05), -90.0, 1800),
            ("rear", (-1.0, 0.0, 0.95), 180.0, -900),
        )
    )
    radars = tuple(
        RadarSpec(f"radar_{name}", pos, _D(yaw), fov, rng, 20.0, rays, 20, 6, phase)
        for name, pos, yaw, fov, rng, rays, phase in (
            ("front", (3.8, 0.0, 0.55), 0.0, 90.0, 200.0, 181, 0),
            ("front_left", (3.5, 0.85, 0.55), 45.0, 150.0, 100.0, 151, 8_000),
            ("front_right", (3.5, -0.85, 0.55), -45.0, 150.0, 100.0, 151, 16_000),
            ("rear_left", (-0.9, 0.85, 0.55), 135.0, 150.0, 100.0, 151, 24_000),
            ("rear_right", (-0.9, -0.85, 0.55), -135.0, 150.0, 100.0, 151, 32_000),
            ("rear", (-1.1, 0.0, 0.55), 180.0, 90.0, 150.0, 151, 40_000),
        )
    )
    return RigSpec("robotaxi", (lidar,), radars, pinholes + fisheyes)


def _tiny() -> RigSpec:
    lidar = LidarSpec("lidar", (1.0, 0.0, 1.8), 0.3, 16, 360, 10.0, -20.0, 10.0, 60.0)
    cams = (
        CameraSpec("cam_front", (1.8, 0.0, 1.5), 0.0, 0.0, "brown_conrady", 640, 480, 500.0, _BC, 10.0, 700),
        CameraSpec(
            "fisheye_left", (1.6, 0.9, 1.0), _D(90.0), _D(20.0), "fisheye", 640, 480, 185.0, _KB, 10.0, -400
        ),
    )
    radars = (RadarSpec("radar_front", (3.5, 0.0, 0.5), 0.0, 120.0, 80.0, 20.0, 61, 6),)
    return RigSpec("tiny", (lidar,), radars, cams, traffic_density=0.8)


RIGS: dict[str, RigSpec] = {"nuscenes": _nuscenes(), "robotaxi": _robotaxi(), "tiny": _tiny()}
"""Preset rigs by name: ``nuscenes`` (32 beams, 6 cameras, 5 radars), ``robotaxi`` (128 beams,
8 pinhole + 4 fisheye cameras, 6 radars) and ``tiny`` (16 beams, 2 cameras, 1 radar) for tests."""


def get_rig(rig: str | RigSpec) -> RigSpec:
    """Resolve a preset name or pass a :class:`RigSpec` through."""
    if isinstance(rig, RigSpec):
        return rig
    if not isinstance(rig, str):
        raise InvalidTypeError(f"rig must be a preset name or a RigSpec, got {type(rig).__name__}")
    spec = RIGS.get(rig)
    if spec is None:
        raise InvalidInputError(f"unknown rig {rig!r}; expected one of {sorted(RIGS)}")
    return spec
