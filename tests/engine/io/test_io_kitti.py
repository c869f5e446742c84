# ruff: noqa: E501 (verbatim KITTI rows)
"""KITTI tracking labels in/out (exact round trip, CONVENTIONS §8 numbers) and sequence folders."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

import engine
from calibration import wrap_angle
from engine.io.kitti import (
    IDEAL_VELO_FROM_RECT,
    read_kitti_calib,
    read_kitti_tracking_labels,
    write_kitti_tracking_labels,
)
from engine.io.kitti_folder import read_kitti_tracking
from kernels.errors import InvalidInputError, LogFormatError

LABELS = """\
0 -1 DontCare -1 -1 -10.000000 219.310000 188.490000 245.500000 218.560000 -1000.000000 -1000.000000 -1000.000000 -10.000000 -1.000000 -1.000000 -1.000000
0 0 Van 0 0 -1.793451 296.744956 161.752147 455.226042 292.372804 2.000000 1.823255 4.433886 -4.552284 1.858523 13.410495 -2.115488
0 1 Cyclist 0 0 -1.936993 737.619499 161.531951 931.112229 374.000000 1.739063 0.824591 1.785241 1.640400 1.675660 5.776261 -1.675458
1 0 Van 0 0 -1.797870 282.017426 160.613457 449.640533 299.004423 2.000000 1.823255 4.433886 -4.582552 1.815547 13.193920 -2.120104
1 1 Cyclist 1 2 -1.935479 745.017137 156.393157 938.839722 374.000000 1.739063 0.824591 1.785241 1.700640 1.640419 5.778596 -1.664456
3 1 Cyclist 0 1 -1.900000 745.000000 156.000000 938.000000 374.000000 1.739063 0.824591 1.785241 1.800640 1.640419 5.878596 3.141593
"""
# Tracking calib of sequence 0000 (KITTI tracking devkit layout; R_rect / Tr_velo_cam rows).
CALIB = """\
P0: 7.215377e+02 0.000000e+00 6.095593e+02 0.000000e+00 0.000000e+00 7.215377e+02 1.728540e+02 0.000000e+00 0.000000e+00 0.000000e+00 1.000000e+00 0.000000e+00
P2: 7.215377e+02 0.000000e+00 6.095593e+02 4.485728e+01 0.000000e+00 7.215377e+02 1.728540e+02 2.163791e-01 0.000000e+00 0.000000e+00 1.000000e+00 2.745884e-03
R_rect 9.999239e-01 9.837760e-03 -7.445048e-03 -9.869795e-03 9.999421e-01 -4.278459e-03 7.402527e-03 4.351614e-03 9.999631e-01
Tr_velo_cam 7.533745e-03 -9.999714e-01 -6.166020e-04 -4.069766e-03 1.480249e-02 7.280733e-04 -9.998902e-01 -7.631618e-02 9.998621e-01 7.523790e-03 1.480755e-02 -2.717806e-01
Tr_imu_velo 9.999976e-01 7.553071e-04 -2.035826e-03 -8.086759e-01 -7.854027e-04 9.998898e-01 -1.482298e-02 3.195559e-01 2.024406e-03 1.482454e-02 9.998881e-01 -7.997231e-01
"""


def _kept(text: str) -> str:
    return "".join(ln + "\n" for ln in text.splitlines() if "DontCare" not in ln)


@pytest.mark.parametrize("with_calib", [False, True])
def test_label_round_trip_is_exact(tmp_path: Path, with_calib: bool) -> None:
    (tmp_path / "l.txt").write_text(LABELS)
    (tmp_path / "c.txt").write_text(CALIB)
    calib = read_kitti_calib(tmp_path / "c.txt") if with_calib else None
    ann = read_kitti_tracking_labels(tmp_path / "l.txt", calib=calib)
    assert [t.track_id for t in ann.tracks] == ["0", "1"] and ann.tracks[1].label == "Cyclist"
    write_kitti_tracking_labels(ann, tmp_path / "o.txt", calib=calib)
    assert (tmp_path / "o.txt").read_text() == _kept(LABELS)


def test_box_conventions_with_ideal_axes(tmp_path: Path) -> None:
    (tmp_path / "l.txt").write_text(LABELS)
    van = read_kitti_tracking_labels(tmp_path / "l.txt").track("0")
    assert van.frame is engine.CoordinateFrame.EGO and van.timestamps_us.tolist() == [0, 100_000]
    # bottom-face centre -> centre: camera y (down) - h/2; velodyne = (z, -x, -y) of the camera
    np.testing.assert_allclose(van.centers[0], [13.410495, 4.552284, -(1.858523 - 1.0)], atol=1e-12)
    np.testing.assert_allclose(van.sizes[0], [4.433886, 1.823255, 2.0])  # l, w, h
    assert van.boxes[0, 6] == pytest.approx(wrap_angle(2.115488 - np.pi / 2), abs=1e-6)  # wrap(-ry - pi/2)
    cyc = read_kitti_tracking_labels(tmp_path / "l.txt").track("1")
    assert cyc.boxes[-1, 6] == pytest.approx(wrap_angle(-3.141593 - np.pi / 2), abs=1e-6)
    assert cyc.timestamps_us.tolist() == [0, 100_000, 300_000]
    attrs = {a.name: a for a in cyc.attributes}
    assert attrs["kitti_occluded"].values == ("0", "2", "1")


def test_calibrated_mapping_matches_the_transforms(tmp_path: Path) -> None:
    (tmp_path / "c.txt").write_text(CALIB)
    calib = read_kitti_calib(tmp_path / "c.txt")
    # velo_from_rect is near the ideal axes and maps the camera origin behind the lidar
    assert np.abs(calib.velo_from_rect.rotation - IDEAL_VELO_FROM_RECT.rotation).max() < 0.02
    assert calib.velo_from_rect.translation[0] == pytest.approx(0.27, abs=0.01)
    assert calib.imu_from_velo is not None


def test_results_with_scores_and_writer_checks(tmp_path: Path) -> None:
    rows = "0 4 Car -1 -1 0.100000 -1 -1 -1 -1 1.500000 1.600000 4.000000 1.000000 1.500000 10.000000 0.200000 3.250000\n"
    (tmp_path / "r.txt").write_text(rows)
    ann = read_kitti_tracking_labels(tmp_path / "r.txt")
    assert ann.tracks[0].confidence.tolist() == [1.0]  # score 3.25 clipped for the engine, text kept
    write_kitti_tracking_labels(ann, tmp_path / "o.txt")
    assert (tmp_path / "o.txt").read_text() == rows
    world = engine.CuboidTrack.from_boxes("a", "car", [0], [[0, 0, 0, 4, 2, 1.5, 0]])
    with pytest.raises(InvalidInputError, match="ego"):
        write_kitti_tracking_labels(engine.Annotations((world,)), tmp_path / "x.txt")
    (tmp_path / "bad.txt").write_text("0 1 Car 0 0\n")
    with pytest.raises(LogFormatError, match="17 or 18 columns"):
        read_kitti_tracking_labels(tmp_path / "bad.txt")


def test_tracking_folder_opens_as_a_log(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    for d in ("velodyne/0000", "calib", "label_02", "oxts"):
        (tmp_path / d).mkdir(parents=True)
    pts = np.c_[rng.normal(size=(40, 3)) * 10, rng.random(40)].astype("<f4")
    for i in range(2):
        pts.tofile(tmp_path / f"velodyne/0000/{i:06d}.bin")
    (tmp_path / "calib/0000.txt").write_text(CALIB)
    (tmp_path / "label_02/0000.txt").write_text(LABELS)
    oxts = ["49.0 8.4 110.0 0.0 0.0 0.0", "49.00001 8.4 110.0 0.0 0.0 0.0"]
    (tmp_path / "oxts/0000.txt").write_text("\n".join(o + " 0" * 24 for o in oxts) + "\n")
    log = engine.open_log(tmp_path)
    assert log.metadata["format"] == "kitti_tracking"
    sweep = log.lidar["velodyne"][1]
    assert sweep.timestamp_us == 100_000 and np.array_equal(sweep.points, pts[:, :3])
    assert np.array_equal(sweep.intensity, pts[:, 3])
    # 1e-5 degrees of latitude north = about 1.11 m along the Mercator y axis (IMU), seen from the lidar
    moved = log.trajectory.pose_at(100_000).translation - log.trajectory.pose_at(0).translation
    assert np.linalg.norm(moved) == pytest.approx(1.112, abs=0.002)
    assert len(log.annotations.tracks) == 2 and log is not read_kitti_tracking(tmp_path, 0)


@pytest.mark.parametrize("with_calib", [False, True])
def test_written_geometry_without_the_kept_text(tmp_path: Path, with_calib: bool) -> None:
    (tmp_path / "l.txt").write_text(LABELS)
    (tmp_path / "c.txt").write_text(CALIB)
    calib = read_kitti_calib(tmp_path / "c.txt") if with_calib else None
    ann = read_kitti_tracking_labels(tmp_path / "l.txt", calib=calib)
    stripped = engine.Annotations(
        tuple(
            engine.CuboidTrack(
                t.track_id,
                t.label,
                t.frame,
                t.timestamps_us,
                t.centers,
                t.sizes,
                t.rotations_wxyz,
                attributes=tuple(a for a in t.attributes if a.name != "kitti_box"),
            )
            for t in ann.tracks
        )
    )
    write_kitti_tracking_labels(stripped, tmp_path / "o.txt", calib=calib)
    got = np.array(
        [[float(v) for v in ln.split()[10:17]] for ln in (tmp_path / "o.txt").read_text().splitlines()]
    )
    want = np.array([[float(v) for v in ln.split()[10:17]] for ln in _kept(LABELS).splitlines()])
    diff = got - want
    diff[:, 6] = wrap_angle(diff[:, 6])
    assert np.abs(diff).max() <= 1.5e-6
