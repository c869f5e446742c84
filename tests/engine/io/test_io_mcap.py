# ruff: noqa: E501 (ROS 2 message definitions kept on one line each)
"""MCAP (ROS 2) reader on a small file written with mcap-ros2-support's writer."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine

pytest.importorskip(
    "mcap_ros2.writer", reason="mcap-ros2-support is not installed (pip install mcap mcap-ros2-support)"
)
from mcap_ros2.writer import Writer  # noqa: E402

HEADER = "builtin_interfaces/Time stamp\nstring frame_id\n================================================================================\nMSG: builtin_interfaces/Time\nint32 sec\nuint32 nanosec\n"
SEP = "================================================================================\n"
PC2 = (
    "std_msgs/Header header\nuint32 height\nuint32 width\nsensor_msgs/PointField[] fields\nbool is_bigendian\n"
    "uint32 point_step\nuint32 row_step\nuint8[] data\nbool is_dense\n"
    + SEP
    + "MSG: std_msgs/Header\n"
    + HEADER
    + SEP
    + "MSG: sensor_msgs/PointField\nuint8 INT8=1\nuint8 UINT8=2\nuint8 INT16=3\nuint8 UINT16=4\nuint8 INT32=5\n"
    "uint8 UINT32=6\nuint8 FLOAT32=7\nuint8 FLOAT64=8\nstring name\nuint32 offset\nuint8 datatype\nuint32 count\n"
)
INFO = (
    "std_msgs/Header header\nuint32 height\nuint32 width\nstring distortion_model\nfloat64[] d\nfloat64[9] k\n"
    "float64[9] r\nfloat64[12] p\nuint32 binning_x\nuint32 binning_y\nsensor_msgs/RegionOfInterest roi\n"
    + SEP
    + "MSG: std_msgs/Header\n"
    + HEADER
    + SEP
    + "MSG: sensor_msgs/RegionOfInterest\nuint32 x_offset\nuint32 y_offset\nuint32 height\nuint32 width\nbool do_rectify\n"
)
IMG = "std_msgs/Header header\nstring format\nuint8[] data\n" + SEP + "MSG: std_msgs/Header\n" + HEADER
TF = (
    "geometry_msgs/TransformStamped[] transforms\n"
    + SEP
    + "MSG: geometry_msgs/TransformStamped\nstd_msgs/Header header\nstring child_frame_id\ngeometry_msgs/Transform transform\n"
    + SEP
    + "MSG: std_msgs/Header\n"
    + HEADER
    + SEP
    + "MSG: geometry_msgs/Transform\ngeometry_msgs/Vector3 translation\ngeometry_msgs/Quaternion rotation\n"
    + SEP
    + "MSG: geometry_msgs/Vector3\nfloat64 x\nfloat64 y\nfloat64 z\n"
    + SEP
    + "MSG: geometry_msgs/Quaternion\nfloat64 x 0\nfloat64 y 0\nfloat64 z 0\nfloat64 w 1\n"
)
S0 = 1_700_000_000


def _hdr(sec: int, nsec: int, frame: str) -> dict:
    return {"stamp": {"sec": sec, "nanosec": nsec}, "frame_id": frame}


def _tf(parent: str, child: str, t: list[float], q: list[float], sec: int = S0, nsec: int = 0) -> dict:
    return {
        "header": _hdr(sec, nsec, parent),
        "child_frame_id": child,
        "transform": {
            "translation": dict(zip("xyz", t, strict=True)),
            "rotation": dict(zip("xyzw", q, strict=True)),
        },
    }


def write_bag(path: Path, pts: np.ndarray) -> None:
    cloud = np.zeros(
        len(pts),
        [("x", "<f4"), ("y", "<f4"), ("z", "<f4"), ("intensity", "<f4"), ("t", "<u4"), ("ring", "<u2")],
    )
    cloud["x"], cloud["y"], cloud["z"] = pts.T
    cloud["intensity"] = np.linspace(0, 255, len(pts))
    cloud["t"] = np.arange(len(pts)) * 1000
    cloud["ring"] = np.arange(len(pts)) % 4
    fields = [
        {"name": n, "offset": int(cloud.dtype.fields[n][1]), "datatype": d, "count": 1}
        for n, d in (("x", 7), ("y", 7), ("z", 7), ("intensity", 7), ("t", 6), ("ring", 4))
    ]
    with open(path, "wb") as f:
        w = Writer(f)
        s_pc, s_info = (
            w.register_msgdef("sensor_msgs/msg/PointCloud2", PC2),
            w.register_msgdef("sensor_msgs/msg/CameraInfo", INFO),
        )
        s_img, s_tf = (
            w.register_msgdef("sensor_msgs/msg/CompressedImage", IMG),
            w.register_msgdef("tf2_msgs/msg/TFMessage", TF),
        )
        h = np.sqrt(0.5)
        w.write_message(
            "/tf_static",
            s_tf,
            {
                "transforms": [
                    _tf("base_link", "lidar_top", [1.0, 0.0, 1.8], [0.0, 0.0, -h, h]),
                    _tf("base_link", "cam_front", [1.5, 0.0, 1.5], [0.0, 0.0, 0.0, 1.0]),
                    _tf("cam_front", "cam_front_optical", [0.0, 0.0, 0.0], [-0.5, 0.5, -0.5, 0.5]),
                ]
            },
            S0 * 10**9,
        )
        for k in range(2):
            w.write_message(
                "/tf",
                s_tf,
                {"transforms": [_tf("map", "base_link", [5.0 * k, 0.0, 0.0], [0, 0, 0, 1], S0 + k)]},
                (S0 + k) * 10**9,
            )
            w.write_message(
                "/lidar/points",
                s_pc,
                {
                    "header": _hdr(S0 + k, 500_000, "lidar_top"),
                    "height": 1,
                    "width": len(pts),
                    "fields": fields,
                    "is_bigendian": False,
                    "point_step": cloud.itemsize,
                    "row_step": cloud.nbytes,
                    "data": cloud.tobytes(),
                    "is_dense": True,
                },
                (S0 + k) * 10**9 + 1,
            )
        w.write_message(
            "/cam/info",
            s_info,
            {
                "header": _hdr(S0, 0, "cam_front_optical"),
                "height": 480,
                "width": 640,
                "distortion_model": "plumb_bob",
                "d": [0.1, -0.05, 0.001, 0.002, 0.0],
                "k": [500.0, 0, 320, 0, 501.0, 240, 0, 0, 1],
                "r": [1.0, 0, 0, 0, 1, 0, 0, 0, 1],
                "p": [0.0] * 12,
                "binning_x": 0,
                "binning_y": 0,
                "roi": {"x_offset": 0, "y_offset": 0, "height": 0, "width": 0, "do_rectify": False},
            },
            S0 * 10**9 + 2,
        )
        w.write_message(
            "/cam/image/compressed",
            s_img,
            {
                "header": _hdr(S0, 250_000_000, "cam_front_optical"),
                "format": "jpeg",
                "data": b"\xff\xd8\xff\xe0fake",
            },
            S0 * 10**9 + 3,
        )
        w.finish()


def test_reads_clouds_cameras_and_tf(tmp_path: Path) -> None:
    pts = np.random.default_rng(0).normal(size=(20, 3)).astype(np.float32) * 10
    pts[3] = np.nan  # organised clouds carry NaN rows
    bag = tmp_path / "drive.mcap"
    write_bag(bag, pts)
    log = engine.open_log(bag)  # picked by content
    assert log.metadata["format"] == "mcap_ros2"
    sweep = log.lidar["lidar_points"][1]
    keep = np.isfinite(pts).all(1)
    assert sweep.timestamp_us == (S0 + 1) * 1_000_000 + 500
    assert np.array_equal(sweep.points, pts[keep])
    assert sweep.time_offset_us.tolist() == (np.arange(20)[keep]).tolist()  # t is ns: 1000 ns = 1 us
    assert sweep.ring.tolist() == (np.arange(20)[keep] % 4).tolist()
    np.testing.assert_allclose(sweep.intensity, np.linspace(0, 1, 20)[keep], rtol=1e-6)
    lid = log.sensors["lidar_points"]
    np.testing.assert_allclose(lid.ego_from_sensor.translation, [1.0, 0.0, 1.8])
    np.testing.assert_allclose(lid.ego_from_sensor.rotation @ [0, 1, 0], [1, 0, 0], atol=1e-12)
    cam = log.sensors["cam_image_compressed"]
    assert cam.camera is not None and cam.camera.fy == 501.0 and cam.camera.params[:2] == (0.1, -0.05)
    # optical z (forward) is ego +x, optical x (right) is ego -y
    np.testing.assert_allclose(
        cam.ego_from_sensor.rotation @ [[0, 1], [0, 0], [1, 0]], [[1, 0], [0, -1], [0, 0]], atol=1e-12
    )
    frame = log.cameras["cam_image_compressed"][0]
    assert (
        frame.timestamp_us == S0 * 1_000_000 + 250_000
        and Path(frame.image).read_bytes() == b"\xff\xd8\xff\xe0fake"
    )
    np.testing.assert_allclose(log.trajectory.pose_at((S0 + 1) * 1_000_000).translation, [5.0, 0.0, 0.0])
