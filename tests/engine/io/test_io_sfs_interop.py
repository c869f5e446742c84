"""Interoperability with Scale's reference SDK ``scale-sensor-fusion-io`` (both directions).

The SDK needs Python < 3.12, the Debian library ``libturbojpeg0`` and downgrades pandas/opencv, so it
lives in its own environment: the tests run ``sfs_sdk_helper.py`` with the interpreter named by
``FUSIONLABEL_SFS_SDK_PYTHON`` (or this one, if it can import the SDK) and skip, naming what is
missing, otherwise. Set up: ``python3.11 -m venv /tmp/sfsvenv && /tmp/sfsvenv/bin/pip install
scale-sensor-fusion-io`` (plus ``apt-get install libturbojpeg0``), then
``FUSIONLABEL_SFS_SDK_PYTHON=/tmp/sfsvenv/bin/python``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from io_helpers import synthetic_log
from scipy.spatial.transform import Rotation

from engine.io.sfs import read_sfs, write_sfs

HELPER = Path(__file__).with_name("sfs_sdk_helper.py")


def _probe(python: str) -> str | None:
    """None when ``python`` imports the SDK, else the reason it does not."""
    try:
        r = subprocess.run(
            [python, "-c", "import scale_sensor_fusion_io.validation"],
            capture_output=True,
            text=True,
            timeout=120,
        )
    except OSError as exc:
        return f"{python}: {exc}"
    return None if r.returncode == 0 else (r.stderr.strip().splitlines() or ["import failed"])[-1]


@pytest.fixture(scope="module")
def sdk_python() -> str:
    env = os.environ.get("FUSIONLABEL_SFS_SDK_PYTHON")
    if env:
        reason = _probe(env)
        if reason is None:
            return env
        pytest.skip(f"FUSIONLABEL_SFS_SDK_PYTHON={env} cannot import scale_sensor_fusion_io: {reason}")
    reason = _probe(sys.executable)
    if reason is None:
        return sys.executable
    pytest.skip(
        "scale-sensor-fusion-io is not importable here "
        f"({reason}); it needs Python < 3.12 and Debian libturbojpeg0: install it in its own venv and set "
        "FUSIONLABEL_SFS_SDK_PYTHON to that venv's python"
    )


def _run(python: str, *args: str) -> dict:
    r = subprocess.run([python, str(HELPER), *args], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    return json.loads(r.stdout)


def test_sdk_reads_and_validates_what_we_write(sdk_python: str, tmp_path: Path) -> None:
    log = synthetic_log(tmp_path)
    path = write_sfs(log, tmp_path / "ours.sfs")
    out = _run(sdk_python, "read", str(path))
    assert out["valid"], out["errors"]
    # SDK 0.5.4's SFSLoader cannot load radar frames whose point count is not a multiple of 3
    assert out["loader_error"] in (None, "ValueError: cannot reshape array of size 7 into shape (3)")
    off = out["time_offset"]
    assert sorted(tuple(s) for s in out["sensors"]) == sorted(
        [("ego", "odometry"), ("lidar_top", "lidar"), ("radar_front", "radar"), ("cam_front", "camera")]
    )
    lid = out["lidar"]["lidar_top"]
    sweep = log.lidar["lidar_top"][0]
    np.testing.assert_array_equal(np.float32(lid["first_positions"]), sweep.points[:5])
    assert np.array_equal(np.array(lid["first_point_times"]) + off, sweep.point_times_us[:5])
    assert lid["timestamps"][0] == min(sweep.point_times_us) - off
    car = out["cuboids"]["car-1"]
    track = log.annotations.track("car-1")
    assert [t + off for t in car["timestamps"]] == track.timestamps_us.tolist()
    np.testing.assert_allclose([v[8] for v in car["values"]], track.boxes[:, 6], atol=1e-6)


def test_we_read_what_the_sdk_writes(sdk_python: str, tmp_path: Path) -> None:
    path = tmp_path / "sdk.sfs"
    exp = _run(sdk_python, "write", str(path))
    log = read_sfs(path, image_dir=tmp_path / "img")
    off = exp["time_offset"]
    poses = np.array(exp["lidar_poses"])
    for k, frame in enumerate(exp["lidar_frames"]):
        sweep = log.lidar["lidar"][k]
        # world coordinates (the SFS default) are mapped into the sensor frame at the frame's pose
        world_from_lidar = Rotation.from_quat(poses[k, 3:])
        expect = world_from_lidar.inv().apply(np.array(frame["positions"]) - poses[k, :3])
        np.testing.assert_allclose(sweep.points, expect, atol=1e-4)
        assert np.array_equal(sweep.point_times_us, np.array(frame["timestamps"]) + off)
        np.testing.assert_array_equal(sweep.intensity, np.float32(frame["intensities"]) / np.float32(255))
    radar = log.radar["radar"][0]
    r = exp["radar"]
    p = np.array(r["positions"]) - [3.0, 0.0, 0.5]  # the radar pose: identity rotation, this offset
    unit = p / np.linalg.norm(p, axis=1, keepdims=True)
    vel = np.array(r["directions"]) * np.array(r["lengths"])[:, None]
    np.testing.assert_allclose(radar.radial_velocity, (unit * vel).sum(1), atol=1e-4)
    cam = log.sensors["cam"]
    assert cam.camera is not None and cam.camera.model == "fisheye" and cam.camera.params[0] == 0.1
    assert Path(log.cameras["cam"][0].image).read_bytes() == bytes(exp["png"])
    car = log.annotations.track("car-1")
    assert car.timestamps_us.tolist() == [off, off + 100_000]
    np.testing.assert_allclose(car.boxes[:, 6], [0.5, 0.6], atol=1e-9)
