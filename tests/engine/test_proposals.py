"""The proposal step, size priors, config, the TorchScript plug-in and imported detections."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from calibration.se3 import SE3
from calibration.trajectory import Trajectory
from engine.log import Log, Stream
from engine.proposals import (
    GeometricDetector,
    ImportedDetections,
    ProposalConfig,
    ProposalSet,
    TorchScriptDetector,
    load_size_priors,
    priors_array,
    propose,
    propose_log,
)
from engine.sensors import Sensor, SensorKind
from engine.sweeps import LidarSweep
from kernels.errors import InvalidInputError, InvalidTypeError, LogFormatError


def car_points(rng, centre, yaw, n=600, size=(4.5, 1.9, 1.5)):
    length, width, height = size
    t = rng.uniform(0, 2 * (length + width), n)
    u = np.where(
        t < length,
        t,
        np.where(t < length + width, length, np.where(t < 2 * length + width, 2 * length + width - t, 0)),
    )
    v = np.where(
        t < length,
        0,
        np.where(
            t < length + width, t - length, np.where(t < 2 * length + width, width, 2 * (length + width) - t)
        ),
    )
    lx, ly = u - length / 2, v - width / 2
    c, s = math.cos(yaw), math.sin(yaw)
    return np.stack(
        [centre[0] + c * lx - s * ly, centre[1] + s * lx + c * ly, rng.uniform(0.35, height, n)], 1
    )


def synthetic_sweep(seed=0):
    rng = np.random.default_rng(seed)
    ground = np.column_stack([rng.uniform(-30, 30, (6000, 2)), rng.normal(0, 0.02, 6000)])
    cars = [car_points(rng, (10.0, 4.0), 0.2), car_points(rng, (-8.0, -6.0), 1.4)]
    ped = np.column_stack([rng.normal((5.0, -9.0), 0.1, (80, 2)), rng.uniform(0.3, 1.7, 80)])
    return np.vstack([ground, *cars, ped]).astype(np.float32)


def test_propose_finds_the_cars_and_the_pedestrian():
    props = propose(synthetic_sweep(), timestamp_us=7)
    assert isinstance(props, ProposalSet) and props.timestamp_us == 7 and props.frame == "ego"
    cars = props.of_class("car")
    assert len(cars) == 2
    for centre, yaw in (((10.0, 4.0), 0.2), ((-8.0, -6.0), 1.4)):
        j = int(np.argmin(np.hypot(*(cars.boxes[:, :2] - centre).T)))
        assert np.hypot(*(cars.boxes[j, :2] - centre)) < 0.3
        assert abs((cars.boxes[j, 6] - yaw + math.pi / 2) % math.pi - math.pi / 2) < 0.05
        assert cars.boxes[j, 3] == pytest.approx(4.5, abs=0.2)
    assert "pedestrian" in props.labels
    assert np.all((props.scores > 0) & (props.scores <= 1))


def test_propose_empty_and_config_validation():
    assert len(propose(np.zeros((0, 3), np.float32))) == 0
    with pytest.raises(ValueError, match="max_height_m"):
        ProposalConfig.model_validate({"cluster": {"max_height_m": 0.1}})
    with pytest.raises(ValueError, match="extra"):
        ProposalConfig.model_validate({"fit": {"headings": "prior"}})
    with pytest.raises(InvalidInputError, match="points must have shape"):
        propose(np.zeros((5, 2), np.float32))


def test_heading_hook_runs():
    def flip(boxes, points):
        out = boxes.copy()
        out[:, 6] = out[:, 6] + math.pi
        return out

    base = propose(synthetic_sweep())
    hooked = GeometricDetector(heading_hook=flip)(synthetic_sweep())
    np.testing.assert_allclose(np.sort(hooked.boxes[:, 6]), np.sort(base.boxes[:, 6] + math.pi), atol=1e-5)


def test_size_priors_yaml(tmp_path):
    priors = load_size_priors()
    assert [p.name for p in priors] == ["car", "truck", "pedestrian", "cyclist"]
    table = priors_array(priors)
    assert table.shape == (4, 13) and table[0, 0] == pytest.approx(4.6)
    bad = tmp_path / "p.yaml"
    bad.write_text("classes:\n  car:\n    length: {mean: 4, sigma: 0, min: 3, max: 5}\n")
    with pytest.raises(InvalidInputError, match="sigma > 0"):
        load_size_priors(bad)
    with pytest.raises(InvalidInputError, match="does not exist"):
        load_size_priors(tmp_path / "missing.yaml")


def test_propose_log_over_an_in_memory_log():
    pts = synthetic_sweep()
    ego_from_lidar = SE3(np.array([[0.0, 1.0, 0.0], [-1.0, 0.0, 0.0], [0.0, 0.0, 1.0]]), np.zeros(3))
    lidar_pts = ego_from_lidar.inverse().transform_points(pts).astype(np.float32)
    n = len(pts)
    sweeps = [
        LidarSweep(
            "lidar", t, lidar_pts, np.zeros(n, np.int32), np.zeros(n, np.float32), np.zeros(n, np.uint16)
        )
        for t in (1_000_000, 1_100_000)
    ]
    traj = Trajectory(np.array([900_000, 1_200_000]), np.zeros((2, 3)), np.tile([1.0, 0, 0, 0], (2, 1)))
    log = Log(
        "t",
        {"lidar": Sensor("lidar", SensorKind.LIDAR, ego_from_lidar)},
        traj,
        lidar={"lidar": Stream.from_items("lidar", sweeps)},
    )
    out = list(propose_log(log))
    assert [p.timestamp_us for p in out] == [1_000_000, 1_100_000]
    assert len(out[0].of_class("car")) == 2
    skewed = list(propose_log(log, deskew=True))
    np.testing.assert_allclose(
        skewed[0].boxes, out[0].boxes, atol=1e-4
    )  # a static ego: deskew changes nothing
    with pytest.raises(InvalidInputError, match="unknown lidar"):
        next(propose_log(log, lidar="radar"))


class _Tiny(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        centre = x[:, :3].mean(dim=0, keepdim=True)
        size = torch.tensor([[4.0, 2.0, 1.5, 0.25]])
        boxes = torch.cat([centre, size], dim=1)
        return boxes, x[:1, 3].clone(), torch.zeros(1, dtype=torch.int64)


class _Bad(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return x[:1, :3], x[:1, 0], torch.zeros(1, dtype=torch.int32)


@pytest.mark.filterwarnings(
    "ignore::DeprecationWarning"
)  # torch 2.13 deprecates torch.jit; the contract stays
def test_torchscript_detector(tmp_path):
    path = tmp_path / "tiny.pt"
    torch.jit.script(_Tiny()).save(str(path))
    det = TorchScriptDetector(path, classes=("car",))
    pts = np.array([[1.0, 2.0, 0.5], [3.0, 2.0, 1.5]], np.float32)
    out = det(pts, intensity=np.array([0.7, 0.1], np.float32), timestamp_us=5)
    np.testing.assert_allclose(out.boxes, [[2.0, 2.0, 1.0, 4.0, 2.0, 1.5, 0.25]])
    assert out.scores[0] == pytest.approx(0.7) and out.labels == ["car"] and out.timestamp_us == 5
    bad = tmp_path / "bad.pt"
    torch.jit.script(_Bad()).save(str(bad))
    with pytest.raises((InvalidTypeError, InvalidInputError)):
        TorchScriptDetector(bad, classes=("car",))(pts)
    with pytest.raises(InvalidInputError, match="does not exist"):
        TorchScriptDetector(tmp_path / "none.pt", classes=("car",))


def test_imported_json_ego_and_world(tmp_path):
    doc = {
        "format": "fusionlabel.detections",
        "version": 1,
        "frames": [
            {
                "timestamp_us": 100,
                "detections": [{"box": [1, 2, 0.5, 4, 2, 1.5, 0.1], "label": "car", "score": 0.8}],
            },
            {
                "timestamp_us": 200,
                "frame": "world",
                "detections": [{"box": [11, 2, 0.5, 4, 2, 1.5, 0.1], "label": "pedestrian"}],
            },
        ],
    }
    path = tmp_path / "det.json"
    path.write_text(json.dumps(doc))
    with pytest.raises(InvalidInputError, match="trajectory"):
        ImportedDetections.from_json(path)
    # ego at world (10, 0) turned by +90 degrees
    q = [math.cos(math.pi / 4), 0, 0, math.sin(math.pi / 4)]
    traj = Trajectory(np.array([0, 1000]), np.array([[10.0, 0, 0], [10.0, 0, 0]]), np.array([q, q]))
    det = ImportedDetections.from_json(path, trajectory=traj)
    assert det.classes == ("car", "pedestrian") and det.timestamps_us == [100, 200]
    a = det(timestamp_us=100)
    assert a.labels == ["car"] and a.scores[0] == pytest.approx(0.8)
    b = det(timestamp_us=200)
    np.testing.assert_allclose(b.boxes[0], [2.0, -1.0, 0.5, 4, 2, 1.5, 0.1 - math.pi / 2], atol=1e-6)
    assert len(det(timestamp_us=300)) == 0
    path.write_text(json.dumps({"format": "other"}))
    with pytest.raises(LogFormatError, match="version 1"):
        ImportedDetections.from_json(path)


def test_imported_kitti_tracking(tmp_path):
    # ideal camera: ego_from_camera columns = camera axes in ego (x right -> -y, y down -> -z, z fwd -> x)
    ego_from_camera = np.eye(4)
    ego_from_camera[:3, :3] = [[0, 0, 1], [-1, 0, 0], [0, -1, 0]]
    lines = [
        "0 1 Car 0 0 -1.57 100 100 200 200 1.5 1.8 4.2 2.0 1.6 20.0 0.0 0.9",
        "0 -1 DontCare -1 -1 -10 0 0 10 10 -1 -1 -1 -1000 -1000 -1000 -10 0.1",
        "1 1 Car 0 0 -1.57 100 100 200 200 1.5 1.8 4.2 2.0 1.6 21.0 1.5707963267948966",
    ]
    path = tmp_path / "0000.txt"
    path.write_text("\n".join(lines))
    det = ImportedDetections.from_kitti_tracking(
        path, ego_from_camera=ego_from_camera, timestamps_us=[0, 100_000]
    )
    f0 = det(timestamp_us=0)
    assert len(f0) == 1 and f0.labels == ["Car"] and f0.scores[0] == pytest.approx(0.9)
    # bottom centre (2, 1.6, 20) -> centre (2, 0.85, 20) camera -> ego (20, -2, -0.85); ry 0 -> yaw -pi/2
    np.testing.assert_allclose(f0.boxes[0], [20.0, -2.0, -0.85, 4.2, 1.8, 1.5, -math.pi / 2], atol=1e-5)
    f1 = det(timestamp_us=100_000)
    yaw = f1.boxes[0, 6]
    assert (
        abs(math.remainder(yaw - (-1.5707963267948966 - math.pi / 2), 2 * math.pi)) < 1e-5
    )  # wrap(-ry - pi/2)
    path.write_text("0 1 Boat 0 0 0 0 0 1 1 1 1 1 0 0 5 0\n")
    with pytest.raises(LogFormatError, match="unknown type"):
        ImportedDetections.from_kitti_tracking(path, ego_from_camera=ego_from_camera, timestamps_us=[0])


def test_proposal_set_validation():
    with pytest.raises(InvalidInputError, match="class_ids"):
        ProposalSet(np.ones((1, 7), np.float32), np.ones(1, np.float32), np.array([3]), ("car",))
    with pytest.raises(InvalidInputError, match="sizes"):
        ProposalSet(np.zeros((1, 7), np.float32), np.ones(1, np.float32), np.array([0]), ("car",))
