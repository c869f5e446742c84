"""SFS reader/writer: container layout, lossless round trips, foreign scenes, PandaSet -> SFS -> native."""

from __future__ import annotations

import json
import mmap
from pathlib import Path

import numpy as np
import pytest
from io_helpers import T0, assert_logs_equal, assert_tracks_equal, synthetic_log
from scipy.spatial.transform import Rotation

import engine
from engine.io.sfs import AngleUnit, SensorPoses, read_json_binary, read_sfs, write_json_binary, write_sfs
from engine.io.sfs.container import decode
from kernels.errors import InvalidInputError, LogFormatError


def test_container_layout_and_zero_copy(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    tree = {
        "a": rng.normal(size=(5, 3)).astype(np.float32),
        "b": [{"c": np.arange(7, dtype=np.uint8)}, {"d": np.arange(3, dtype=np.uint64), "e": "text"}],
        "f": b"\x89PNG",
        "g": 3,
    }
    p = tmp_path / "x.bin"
    write_json_binary(p, tree)
    raw = p.read_bytes()
    end = raw.index(b"\0")
    assert end % 4 == 0 and raw[end : end + 4] == b"\0\0\0\0"
    header = json.loads(raw[:end])
    items = header["$items"]
    assert items[0]["offset"] == 4 and all(it["offset"] % 4 == 0 for it in items)
    assert header["a"] == "" and header["b"][1]["e"] == "text"
    assert [it["keys"] for it in items] == [["a"], ["b", 0, "c"], ["b", 1, "d"], ["f"]]
    # each array is followed by 1-4 zero bytes
    for it, nxt in zip(items, items[1:] + [{"offset": len(raw) - end}], strict=True):
        pad = nxt["offset"] - it["offset"] - it["length"]
        assert 1 <= pad <= 4 and raw[end + it["offset"] + it["length"] : end + nxt["offset"]] == b"\0" * pad
    back = read_json_binary(p)
    assert back["a"].tobytes() == tree["a"].tobytes() and back["a"].dtype == np.float32
    assert back["b"][1]["d"].tolist() == [0, 1, 2] and bytes(back["f"]) == b"\x89PNG"
    assert not back["a"].flags.owndata and not back["a"].flags.writeable
    assert isinstance(back["a"].base.base.obj, mmap.mmap) or back["a"].base is not None


def test_container_errors(tmp_path: Path) -> None:
    p = tmp_path / "x.bin"
    write_json_binary(p, {"a": np.zeros(100, np.float32)})
    p.write_bytes(p.read_bytes()[:200])
    with pytest.raises(LogFormatError, match="runs past the end"):
        read_json_binary(p)
    with pytest.raises(LogFormatError, match="does not parse"):
        decode(b"{not json\0\0\0\0")
    with pytest.raises(LogFormatError, match="reserved key"):
        write_json_binary(p, {"$items": 1})


@pytest.mark.parametrize("poses", [SensorPoses.WORLD, SensorPoses.PARENT])
@pytest.mark.parametrize("unit", ["radians", "degrees"])
def test_round_trip_is_lossless(tmp_path: Path, poses: SensorPoses, unit: str) -> None:
    log = synthetic_log(tmp_path)
    a = write_sfs(log, tmp_path / "a.sfs", angle_unit=unit, sensor_poses=poses)
    back = read_sfs(a, image_dir=tmp_path / "img")
    assert_logs_equal(log, back)
    assert back.metadata["nested"] == {"a": [1, 2.5]} and back.metadata["source"] == "tests"
    # writing what was read gives the same bytes: nothing was lost or invented on the way
    b = write_sfs(back, tmp_path / "b.sfs", angle_unit=unit, sensor_poses=poses)
    assert a.read_bytes() == b.read_bytes()


def test_written_scene_follows_the_spec(tmp_path: Path) -> None:
    log = synthetic_log(tmp_path)
    scene = read_json_binary(write_sfs(log, tmp_path / "a.sfs", angle_unit="degrees"))
    assert scene["version"] == "1.0" and scene["time_unit"] == "microseconds"
    off = scene["time_offset"]
    sensors = {s["id"]: s for s in scene["sensors"]}
    assert sensors["ego"]["type"] == "odometry" and sensors["ego"]["poses"]["timestamps"][0] >= 0
    lidar = sensors["lidar_top"]
    for frame, sweep in zip(lidar["frames"], log.lidar["lidar_top"], strict=True):
        pts = frame["points"]
        assert pts["positions"].dtype == np.float32 and pts["intensities"].dtype == np.uint8
        assert pts["timestamps"].dtype == np.uint32
        assert frame["timestamp"] == int(pts["timestamps"].min()) <= sweep.timestamp_us - off
        assert np.array_equal(pts["timestamps"].astype(np.int64) + off, sweep.point_times_us)
    radar = sensors["radar_front"]["frames"][0]["points"]
    sweep = log.radar["radar_front"][0]
    vel = radar["directions"] * radar["lengths"][:, None]
    unit = sweep.points / np.linalg.norm(sweep.points, axis=1, keepdims=True)
    np.testing.assert_allclose((vel * unit).sum(1), sweep.radial_velocity, atol=1e-5)
    cam = sensors["cam_front"]
    assert cam["intrinsics"]["distortion"] == {"model": "fisheye", "params": [0.1, -0.02, 0.003, -0.0004]}
    assert bytes(cam["images"][0]["content"][:3]) == b"\xff\xd8\xff" and cam["images"][1]["content"].size == 0
    cub = next(a for a in scene["annotations"] if a["id"] == "car-1")
    np.testing.assert_allclose([v[8] for v in cub["path"]["values"]], np.degrees([3.1, -3.1, 0.2]), atol=1e-9)
    assert cub["path"]["values"][0][:3] == [4.5, 1.9, 1.6]
    link = next(a for a in scene["annotations"] if a["type"] == "link")
    assert (link["from_id"], link["to_id"], link["label"]) == ("box-7", "car-1", "camera_link")


def test_cuboids_without_extension_follow_the_euler_convention(tmp_path: Path) -> None:
    scene = {
        "version": "1.0",
        "time_offset": T0,
        "annotations": [
            {
                "id": 5,
                "type": "cuboid",
                "label": "car",
                "path": {
                    "timestamps": [0, 10],
                    "values": [[4, 2, 1.5, 1, 2, 3, 0, 0, 90], [4, 2, 1.5, 1, 2, 3, 0, 0, -179]],
                },
                "projections": [{"sensor_id": "cam", "timestamps": [0], "boxes": [[1, 2, 3, 4]]}],
            },
            {
                "id": "b",
                "type": "box_2d",
                "sensor_id": "cam",
                "path": {"timestamps": [3], "values": [[1, 2, 3, 4]]},
            },
        ],
    }
    p = tmp_path / "f.sfs"
    write_json_binary(p, scene)
    log = read_sfs(p, angle_unit="degrees")
    t = log.annotations.tracks[0]
    assert t.track_id == "5" and t.timestamps_us.tolist() == [T0, T0 + 10]
    np.testing.assert_allclose(t.boxes[:, 6], np.radians([90, -179]), atol=1e-6)
    assert t.sizes[0].tolist() == [4, 2, 1.5] and t.centers[0].tolist() == [1, 2, 3]
    # with roll and pitch: R = Rx(roll) Ry(pitch) Rz(yaw) (scipy "zyx" extrinsic, as the SDK)
    scene["annotations"][0]["path"]["values"][0][6:9] = [10, 20, 30]
    write_json_binary(p, scene)
    q = read_sfs(p, angle_unit=AngleUnit.DEGREES).annotations.tracks[0].rotations_wxyz[0]
    expect = (
        Rotation.from_euler("x", 10, degrees=True)
        * Rotation.from_euler("y", 20, degrees=True)
        * Rotation.from_euler("z", 30, degrees=True)
    )
    assert abs(np.dot(np.r_[q[1:], q[0]], expect.as_quat())) == pytest.approx(1.0, abs=1e-12)
    # what the engine does not model comes back on writing (int id, projections, box_2d), times re-based
    out = read_json_binary(
        write_sfs(read_sfs(p, angle_unit="degrees"), tmp_path / "g.sfs", time_offset_us=T0 - 5)
    )
    anns = {a["id"]: a for a in out["annotations"]}
    assert anns[5]["projections"][0]["timestamps"] == [5] and anns[5]["projections"][0]["boxes"] == [
        [1, 2, 3, 4]
    ]
    assert anns["b"]["path"]["timestamps"] == [8]


def test_foreign_world_points_parent_chain_and_raw_image(tmp_path: Path) -> None:
    rng = np.random.default_rng(2)
    pts_sensor = rng.normal(size=(10, 3)) * 5
    world_from_ego = Rotation.from_euler("z", 0.4)
    ego_from_lidar = Rotation.from_euler("z", -np.pi / 2)
    t_we, t_el = np.array([10.0, -3.0, 0.2]), np.array([0.5, 0.0, 1.8])
    pts_world = (world_from_ego * ego_from_lidar).apply(pts_sensor) + world_from_ego.apply(t_el) + t_we
    img = rng.integers(0, 255, (4, 6, 3)).astype(np.uint8)
    scene = {
        "version": "1.0",
        "time_offset": T0,
        "sensors": [
            {
                "id": "odo",
                "type": "odometry",
                "poses": {"timestamps": [0], "values": [[*t_we, *world_from_ego.as_quat()]]},
            },
            {
                "id": "lid",
                "type": "lidar",
                "parent_id": "odo",
                "poses": {"timestamps": [0], "values": [[*t_el, *ego_from_lidar.as_quat()]]},
                "frames": [
                    {
                        "timestamp": 100,
                        "points": {
                            "positions": pts_world.astype(np.float32),
                            "timestamps": np.array([100] * 10, np.uint32),
                        },
                    }
                ],
            },
            {"id": "map", "type": "points", "points": {"positions": np.zeros((2, 3), np.float32)}},
            {
                "id": "cam",
                "type": "camera",
                "parent_id": "odo",
                "poses": {"timestamps": [0], "values": [[1, 0, 1.5, -0.5, 0.5, -0.5, 0.5]]},
                "intrinsics": {"fx": 5, "fy": 5, "cx": 3, "cy": 2, "width": 6, "height": 4},
                "images": [{"timestamp": 50, "content": img}],
            },
        ],
    }
    p = tmp_path / "w.sfs"
    write_json_binary(p, scene)
    log = read_sfs(p, image_dir=tmp_path / "img")
    assert log.sensors["lid"].ego_from_sensor.isclose(
        engine.Sensor(
            "x", "lidar", __import__("calibration").SE3(ego_from_lidar.as_matrix(), t_el)
        ).ego_from_sensor,
        1e-9,
    )
    sweep = log.lidar["lid"][0]
    np.testing.assert_allclose(sweep.points, pts_sensor, atol=1e-4)
    assert sweep.timestamp_us == T0 + 100 and sweep.time_offset_us.tolist() == [0] * 10
    from PIL import Image

    assert np.array_equal(np.asarray(Image.open(log.cameras["cam"][0].image)), img)
    kept = log.metadata["sfs"]["sensors"]
    assert [s["id"] for s in kept] == ["map"]
    again = read_json_binary(write_sfs(log, tmp_path / "w2.sfs"))
    m = next(s for s in again["sensors"] if s["id"] == "map")
    assert m["points"]["positions"].shape == (2, 3)


def test_writer_rejects_bad_options(tmp_path: Path) -> None:
    log = synthetic_log(tmp_path)
    with pytest.raises(InvalidInputError, match="angle_unit"):
        write_sfs(log, tmp_path / "x.sfs", angle_unit="gradians")
    with pytest.raises(InvalidInputError, match="collides"):
        write_sfs(log, tmp_path / "x.sfs", odometry_id="lidar_top")
    with pytest.raises(InvalidInputError, match="precedes time_offset"):
        write_sfs(log, tmp_path / "x.sfs", time_offset_us=T0 + 10**6)


def test_unsupported_time_unit(tmp_path: Path) -> None:
    p = tmp_path / "n.sfs"
    write_json_binary(p, {"version": "1.0", "time_unit": "nanoseconds", "sensors": []})
    with pytest.raises(LogFormatError, match="time_unit"):
        read_sfs(p)


def test_pandaset_to_sfs_to_native_keeps_every_cuboid(sample_dir: Path, tmp_path: Path) -> None:
    src = engine.open_log(sample_dir)
    sfs = write_sfs(src, tmp_path / "seq.sfs")
    via = engine.open_log(sfs)  # picked by content
    native = engine.write_native_log(via, tmp_path / "native")
    back = engine.open_log(native)
    assert len(back.annotations.tracks) == len(src.annotations.tracks) > 0
    assert_tracks_equal(src.annotations, back.annotations)
    assert_logs_equal(src, back)
    sweep = via.lidar["pandar64"][0]
    assert not sweep.points.flags.owndata  # a view of the memory-mapped file
