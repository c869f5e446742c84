"""Constructors from OpenCV, SFS and Scale's legacy image records."""

from __future__ import annotations

import numpy as np
import pytest

from calibration import CameraModel, camera_from_opencv, camera_from_scale_legacy, camera_from_sfs
from kernels.errors import InvalidInputError

K = np.array([[800.0, 0.5, 640.0], [0.0, 810.0, 360.0], [0.0, 0.0, 1.0]])


@pytest.mark.parametrize(
    ("d", "expected"),
    [
        ([], (0.0,) * 8),
        ([0.1, 0.2, 0.3, 0.4], (0.1, 0.2, 0.3, 0.4, 0, 0, 0, 0)),
        ([[0.1, 0.2, 0.3, 0.4, 0.5]], (0.1, 0.2, 0.3, 0.4, 0.5, 0, 0, 0)),
        (np.arange(1, 9).reshape(8, 1) / 100, tuple(np.arange(1, 9) / 100)),
    ],
)
def test_opencv_pinhole_keeps_the_coefficient_order(d: object, expected: tuple[float, ...]) -> None:
    cam = camera_from_opencv(K, d, 1280, 720)
    assert cam.model == "brown_conrady" and cam.params == pytest.approx(expected)
    assert cam.param_dict["p1"] == cam.params[2] and cam.param_dict["k3"] == cam.params[4]
    assert (cam.fx, cam.fy, cam.cx, cam.cy, cam.skew) == (800.0, 810.0, 640.0, 360.0, 0.5)
    np.testing.assert_array_equal(cam.K, K)


def test_opencv_fisheye() -> None:
    cam = camera_from_opencv(K, np.array([[0.1], [0.01], [0.001], [0.0001]]), 1280, 720, model="fisheye")
    assert cam.model == "fisheye" and cam.params == (0.1, 0.01, 0.001, 0.0001)


@pytest.mark.parametrize(
    ("k", "d", "model", "match"),
    [
        (K[:2], [], "pinhole", r"K must have shape \(3, 3\)"),
        (np.diag([800.0, 800.0, 2.0]), [], "pinhole", "K must be"),
        (K, [0.1] * 6, "pinhole", "0, 4, 5 or 8 coefficients.*got 6"),
        (K, [0.1] * 5, "fisheye", "4 coefficients.*got 5"),
        (K, [0.0] * 4, "omnidir", "unknown OpenCV camera model 'omnidir'"),
        (K, [np.nan] * 4, "pinhole", "D must be finite"),
        (np.diag([0.0, 800.0, 1.0]), [], "pinhole", r"CameraModel.fx must be > 0"),
    ],
)
def test_opencv_errors(k: object, d: object, model: str, match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        camera_from_opencv(k, d, 1280, 720, model=model)


def test_opencv_zero_size_names_the_argument() -> None:
    with pytest.raises(InvalidInputError, match="CameraModel.height must be > 0"):
        camera_from_opencv(K, [], 1280, 0)


SFS_BASE = {"fx": 800.0, "fy": 810.0, "cx": 640.0, "cy": 360.0, "width": 1280, "height": 720}


def test_sfs_params_list_named_params_and_defaults() -> None:
    cam = camera_from_sfs(
        {**SFS_BASE, "skew": 0.1, "distortion": {"model": "fisheye", "params": [0.1, 0.01, 0.001, 0.0001]}}
    )
    assert cam.model == "fisheye" and cam.params == (0.1, 0.01, 0.001, 0.0001) and cam.skew == 0.1
    named = camera_from_sfs({**SFS_BASE, "distortion": {"model": "omnidirectional", "xi": 1.5, "k2": 0.2}})
    assert named.param_dict == {"k1": 0.0, "k2": 0.2, "k3": 0.0, "k4": 0.0, "p1": 0.0, "p2": 0.0, "xi": 1.5}
    short = camera_from_sfs({**SFS_BASE, "distortion": {"model": "brown_conrady", "params": [0.1, 0.2]}})
    assert short.params == (0.1, 0.2, 0, 0, 0, 0, 0, 0)
    lx_zero = camera_from_sfs(
        {**SFS_BASE, "distortion": {"model": "brown_conrady", "params": [0.1] + [0] * 9}}
    )
    assert lx_zero.params == (0.1,) + (0.0,) * 7
    plain = camera_from_sfs(SFS_BASE)
    assert plain == CameraModel.pinhole(1280, 720, 800.0, 810.0, 640.0, 360.0)
    assert (
        camera_from_sfs({**SFS_BASE, "distortion": {"model": "equirectangular", "params": []}}).params == ()
    )


@pytest.mark.parametrize(
    ("intrinsics", "match"),
    [
        (
            {**SFS_BASE, "distortion": {"model": "fisheye_radial_custom", "params": []}},
            "unknown camera model intrinsics.distortion.model='fisheye_radial_custom'",
        ),
        ({**SFS_BASE, "distortion": {"params": []}}, "intrinsics.distortion is missing the field 'model'"),
        (
            {**SFS_BASE, "distortion": {"model": "fisheye", "params": [0.0] * 5}},
            "has 5 values, expected at most 4",
        ),
        (
            {**SFS_BASE, "distortion": {"model": "brown_conrady", "params": [0.0] * 8 + [0.01]}},
            r"intrinsics.distortion.lx=0.01 is not supported",
        ),
        ({k: v for k, v in SFS_BASE.items() if k != "fy"}, "intrinsics is missing the field 'fy'"),
        ({**SFS_BASE, "fx": float("nan")}, "CameraModel.fx must be finite"),
    ],
)
def test_sfs_errors(intrinsics: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        camera_from_sfs(intrinsics)


def test_legacy_record_models_and_scale_factor() -> None:
    rec = {
        "camera_model": "brown_conrady",
        "fx": 1600.0,
        "fy": 1620.0,
        "cx": 1280.0,
        "cy": 720.0,
        "skew": 1.0,
        "k1": -0.1,
        "k2": 0.01,
        "p1": 0.001,
        "p2": -0.002,
        "k3": 0.003,
        "scale_factor": 2,
        "timestamp": 5,
    }
    cam = camera_from_scale_legacy(rec, width=1280, height=720)
    assert (cam.fx, cam.fy, cam.cx, cam.cy, cam.skew) == (800.0, 810.0, 640.0, 360.0, 0.5)
    assert cam.params == (-0.1, 0.01, 0.001, -0.002, 0.003, 0.0, 0.0, 0.0)
    omni = camera_from_scale_legacy(
        {
            "camera_model": "omnidirectional",
            "fx": 300,
            "fy": 300,
            "cx": 400,
            "cy": 400,
            "xi": 1.2,
            "k1": 0.1,
            "width": 800,
            "height": 800,
        }
    )
    assert omni.model == "omnidirectional" and omni.param_dict["xi"] == 1.2 and omni.params[0] == 0.1
    fish = camera_from_scale_legacy(
        {"fx": 300, "fy": 300, "cx": 400, "cy": 400, "camera_model": "fisheye", "k4": 0.001},
        width=800,
        height=800,
    )
    assert fish.params == (0.0, 0.0, 0.0, 0.001)
    cyl = camera_from_scale_legacy(
        {"camera_model": "cylindrical", "fx": 300, "fy": 300, "cx": 400, "cy": 400}, width=800, height=800
    )
    assert cyl.model == "cylindrical"
    default = camera_from_scale_legacy({"fx": 300, "fy": 300, "cx": 400, "cy": 400}, width=800, height=800)
    assert default.model == "brown_conrady"


@pytest.mark.parametrize(
    ("rec", "match"),
    [
        ({"camera_model": "mei"}, "unknown camera model image_record.camera_model='mei'"),
        ({"fx": 1, "fy": 1, "cx": 1, "cy": 1}, "no width/height"),
        (
            {"fx": 1, "fy": 1, "cx": 1, "cy": 1, "width": 9, "height": 9, "scale_factor": 0},
            "scale_factor must be a finite number > 0, got 0",
        ),
        (
            {
                "camera_model": "fisheye",
                "fx": 1,
                "fy": 1,
                "cx": 1,
                "cy": 1,
                "width": 9,
                "height": 9,
                "p1": 0.1,
            },
            r"image_record.p1=0.1 is not used by camera_model 'fisheye'",
        ),
        ({"fy": 1, "cx": 1, "cy": 1, "width": 9, "height": 9}, "image_record is missing the field 'fx'"),
        ({"fx": -1, "fy": 1, "cx": 1, "cy": 1, "width": 9, "height": 9}, "CameraModel.fx must be > 0"),
    ],
)
def test_legacy_errors(rec: dict[str, object], match: str) -> None:
    with pytest.raises(InvalidInputError, match=match):
        camera_from_scale_legacy(rec)
