import sys
from pathlib import Path

import numpy as np
import pytest

from calibration import SE3, Trajectory, yaw_to_quat_wxyz
from engine import (
    Annotations,
    AttributePath,
    CameraFrame,
    Cuboid,
    CuboidTrack,
    LidarSweep,
    Link,
    LogWriter,
    RadarSweep,
    Sensor,
    SensorKind,
    open_log,
    write_native_log,
)
from engine.log import Log, Stream
from kernels.errors import InvalidInputError, InvalidTypeError, LogFormatError


def lidar_sweep(rng, t_us, n=100, sid="lidar_top"):
    return LidarSweep(
        sid,
        t_us,
        rng.normal(size=(n, 3)).astype(np.float32) * 20,
        rng.integers(-100_000, 0, n).astype(np.int32),
        rng.random(n).astype(np.float32),
        rng.integers(0, 32, n).astype(np.uint16),
    )


def radar_sweep(rng, t_us, n=20, sid="radar_front"):
    f = np.float32
    return RadarSweep(
        sid,
        t_us,
        rng.normal(size=(n, 3)).astype(f),
        rng.normal(size=n).astype(f),
        rng.normal(size=n).astype(f),
        np.zeros(n, np.int32),
    )


def trajectory(n=11, dt_us=100_000):
    t = np.arange(n, dtype=np.int64) * dt_us + 1_700_000_000_000_000
    p = np.stack([np.arange(n) * 1.5, np.zeros(n), np.zeros(n)], axis=1)
    return Trajectory(t, p, yaw_to_quat_wxyz(np.linspace(0, 0.2, n)))


def sensors():
    return [
        Sensor(
            "lidar_top",
            SensorKind.LIDAR,
            SE3.from_yaw(0.0, [0.9, 0.0, 1.8]),
            metadata={"beams": 32},
        ),
        Sensor("radar_front", SensorKind.RADAR, SE3.from_yaw(0.0, [3.6, 0.0, 0.5])),
    ]


def annotations(t0):
    track = CuboidTrack.from_boxes(
        "car-1",
        "car",
        [t0, t0 + 100_000],
        [[10, 2, 0.8, 4.5, 1.9, 1.6, 3.1], [11, 2, 0.8, 4.5, 1.9, 1.6, -3.1]],
        confidence=np.array([0.5, 1.0], np.float32),
        attributes=(AttributePath("blinker", (t0, t0 + 50_000), ("off", "left")),),
        static_attributes={"parked": "no"},
    )
    return Annotations((track,), (Link("box-7", "car-1", "2d_to_3d"),))


def test_native_round_trip_is_bit_exact(tmp_path):
    rng = np.random.default_rng(0)
    tr = trajectory()
    sweeps = [lidar_sweep(rng, int(t)) for t in tr.timestamps_us[1:6]]
    radars = [radar_sweep(rng, int(t) + 3) for t in tr.timestamps_us[1:4]]
    ann = annotations(int(tr.timestamps_us[0]))
    log = Log(
        "unit",
        {s.sensor_id: s for s in sensors()},
        tr,
        lidar={"lidar_top": Stream.from_items("lidar_top", sweeps)},
        radar={"radar_front": Stream.from_items("radar_front", radars)},
        annotations=ann,
        metadata={"source": "unit test"},
    )
    back = open_log(write_native_log(log, tmp_path / "log"))
    assert back.name == "unit" and back.metadata["source"] == "unit test"
    assert back.sensors["lidar_top"].ego_from_sensor == log.sensors["lidar_top"].ego_from_sensor
    assert back.sensors["lidar_top"].metadata["beams"] == 32
    for a, b in zip(sweeps, back.lidar["lidar_top"], strict=True):
        assert a.timestamp_us == b.timestamp_us
        for f in ("points", "time_offset_us", "intensity", "ring"):
            x, y = getattr(a, f), getattr(b, f)
            assert x.dtype == y.dtype and x.tobytes() == y.tobytes(), f
    for a, b in zip(radars, back.radar["radar_front"], strict=True):
        for f in ("points", "radial_velocity", "rcs", "time_offset_us"):
            assert getattr(a, f).tobytes() == getattr(b, f).tobytes(), f
    for f in ("timestamps_us", "translations", "quaternions_wxyz"):
        assert getattr(tr, f).tobytes() == getattr(back.trajectory, f).tobytes()
    t0, t1 = ann.tracks[0], back.annotations.tracks[0]
    for f in ("timestamps_us", "centers", "sizes", "rotations_wxyz", "confidence"):
        assert getattr(t0, f).tobytes() == getattr(t1, f).tobytes(), f
    assert t1.attributes == t0.attributes and dict(t1.static_attributes) == {"parked": "no"}
    assert back.annotations.links == ann.links


class _OpenCounter:
    """Counts file opens under a folder through the interpreter's audit hook (np.load/np.memmap included)."""

    active: "_OpenCounter | None" = None
    installed = False

    def __init__(self, root: Path) -> None:
        self.root, self.paths = str(root), []

    def __enter__(self):
        if not _OpenCounter.installed:
            sys.addaudithook(_OpenCounter._hook)
            _OpenCounter.installed = True
        _OpenCounter.active = self
        return self

    def __exit__(self, *exc):
        _OpenCounter.active = None

    @staticmethod
    def _hook(event, args):
        counter = _OpenCounter.active
        if counter is not None and event == "open" and isinstance(args[0], str | Path):
            p = str(args[0])
            if p.startswith(counter.root):
                counter.paths.append(p)


def test_600_sweep_log_opens_lazily(tmp_path):
    """Opening a 600-sweep log reads no sweep file; indexing one sweep opens exactly that file."""
    rng = np.random.default_rng(1)
    n = 600
    tr = trajectory(n=n + 2, dt_us=100_000)
    w = LogWriter(tmp_path / "long", "long", sensors()[:1], tr)
    template = lidar_sweep(rng, 0, n=2000)
    for t in tr.timestamps_us[1 : n + 1]:
        w.add_lidar(
            LidarSweep(
                "lidar_top",
                int(t),
                template.points,
                template.time_offset_us,
                template.intensity,
                template.ring,
            )
        )
    w.close()
    root = tmp_path / "long"
    with _OpenCounter(root) as opened:
        log = open_log(root)
        assert len(log.lidar["lidar_top"]) == n
        assert log.lidar["lidar_top"].timestamps_us[-1] == tr.timestamps_us[n]
    assert not [p for p in opened.paths if p.endswith(".bin")], opened.paths
    with _OpenCounter(root) as opened:
        sweep = log.lidar["lidar_top"][417]
        assert sweep.timestamp_us == int(tr.timestamps_us[418])
        np.testing.assert_array_equal(sweep.points, template.points)
    assert [Path(p).name for p in opened.paths] == ["00000417.bin"]


def test_writer_rejects_out_of_order_and_unknown_sensor(tmp_path):
    rng = np.random.default_rng(2)
    tr = trajectory()
    w = LogWriter(tmp_path / "x", "x", sensors(), tr)
    w.add_lidar(lidar_sweep(rng, 10))
    with pytest.raises(InvalidInputError, match="timestamp_us 5 is not after the previous 10"):
        w.add_lidar(lidar_sweep(rng, 5))
    with pytest.raises(InvalidInputError, match="no lidar sensor 'nope'"):
        w.add_lidar(lidar_sweep(rng, 20, sid="nope"))
    with pytest.raises(InvalidInputError, match="exists and is not empty"):
        LogWriter(tmp_path / "x", "x", sensors(), tr)


def test_open_log_errors(tmp_path):
    with pytest.raises(LogFormatError, match="does not exist"):
        open_log(tmp_path / "missing")
    (tmp_path / "empty").mkdir()
    with pytest.raises(LogFormatError, match="cannot tell the format"):
        open_log(tmp_path / "empty")


def test_sweep_validation_names_field():
    n = 4
    pts = np.zeros((n, 3), np.float32)
    pts[2, 1] = np.nan
    with pytest.raises(InvalidInputError, match=r"LidarSweep.points must be finite: at index \(2, 1\)"):
        LidarSweep("l", 0, pts, np.zeros(n), np.zeros(n), np.zeros(n))
    with pytest.raises(InvalidInputError, match=r"LidarSweep.intensity must have shape \(4\), got \(3,\)"):
        LidarSweep("l", 0, np.zeros((n, 3)), np.zeros(n), np.zeros(3), np.zeros(n))
    with pytest.raises(InvalidInputError, match=r"LidarSweep.points must have shape \(N, 3\)"):
        LidarSweep("l", 0, np.zeros((n, 2)), np.zeros(n), np.zeros(n), np.zeros(n))
    with pytest.raises(InvalidTypeError, match="LidarSweep.time_offset_us must hold integers"):
        LidarSweep("l", 0, np.zeros((n, 3)), np.full(n, 0.5), np.zeros(n), np.zeros(n))
    with pytest.raises(InvalidInputError, match="LidarSweep.timestamp_us must be an integer"):
        LidarSweep("l", 1.5, np.zeros((n, 3)), np.zeros(n), np.zeros(n), np.zeros(n))  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="CameraFrame.timestamp_us must be an integer"):
        CameraFrame("cam", "now")  # type: ignore[arg-type]


def test_memmap_input_is_not_copied(tmp_path):
    arr = np.lib.format.open_memmap(tmp_path / "p.npy", mode="w+", dtype=np.float32, shape=(5, 3))
    s = LidarSweep("l", 0, arr, np.zeros(5, np.int32), np.zeros(5, np.float32), np.zeros(5, np.uint16))
    assert np.shares_memory(s.points, arr)


def test_cuboid_and_track_validation():
    with pytest.raises(InvalidInputError, match=r"Cuboid.size \(length, width, height\) must be > 0"):
        Cuboid((0, 0, 0), (1, 0, 1), (1, 0, 0, 0))
    with pytest.raises(InvalidInputError, match="Cuboid.rotation_wxyz must hold unit quaternions"):
        Cuboid((0, 0, 0), (1, 1, 1), (1, 1, 0, 0))
    box = Cuboid.from_array([1, 2, 3, 4.5, 1.8, 1.5, -2.0])
    np.testing.assert_allclose(box.to_array(), [1, 2, 3, 4.5, 1.8, 1.5, -2.0], rtol=1e-6)
    with pytest.raises(
        InvalidInputError, match=r"CuboidTrack\[t\].timestamps_us must be strictly increasing"
    ):
        CuboidTrack.from_boxes("t", "car", [2, 1], np.ones((2, 7)))
    with pytest.raises(InvalidInputError, match=r"CuboidTrack\[t\].sizes must be > 0: keyframe 1"):
        CuboidTrack.from_boxes("t", "car", [1, 2], [[0, 0, 0, 1, 1, 1, 0], [0, 0, 0, -1, 1, 1, 0]])
    with pytest.raises(InvalidInputError, match="unknown coordinate frame 'lidar'"):
        CuboidTrack.from_boxes("t", "car", [1], np.ones((1, 7)), frame="lidar")
    track = CuboidTrack.from_boxes("t", "car", [1, 2], [[0, 0, 0, 1, 1, 1, 0.5], [0, 0, 0, 1, 1, 1, 3.0]])
    np.testing.assert_allclose(track.boxes[:, 6], [0.5, 3.0], rtol=1e-6)
    with pytest.raises(InvalidInputError, match="duplicate track_id 't'"):
        Annotations((track, track))


def test_attribute_path_value_at():
    a = AttributePath("blinker", (10, 20, 30), ("off", "left", "off"))
    assert [a.value_at(t) for t in (5, 10, 25, 99)] == [None, "off", "left", "off"]
    with pytest.raises(InvalidInputError, match=r"AttributePath\[blinker\].values must have 2 entries"):
        AttributePath("blinker", (1, 2), ("off",))


def test_sensor_and_log_validation():
    with pytest.raises(InvalidInputError, match="unknown sensor kind 'sonar'"):
        Sensor("s", "sonar", SE3.identity())  # type: ignore[arg-type]
    with pytest.raises(InvalidInputError, match="camera model must be given exactly for cameras"):
        Sensor("cam", SensorKind.CAMERA, SE3.identity())
    rng = np.random.default_rng(3)
    with pytest.raises(InvalidInputError, match="lidar stream 'radar_front' has no lidar sensor"):
        Log(
            "x",
            {s.sensor_id: s for s in sensors()},
            trajectory(),
            lidar={"radar_front": Stream.from_items("radar_front", [lidar_sweep(rng, 1, sid="radar_front")])},
        )
    stream = Stream.from_items("lidar_top", [lidar_sweep(rng, t) for t in (10, 20, 30)])
    assert stream.nearest(24) == 1 and stream.nearest(26) == 2 and stream[-1].timestamp_us == 30
    with pytest.raises(IndexError, match="has 3 captures, index 3 is out of range"):
        stream[3]
