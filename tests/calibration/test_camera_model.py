"""CameraModel construction, validation, packing and serialisation."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from calibration import CameraModel
from calibration.camera_examples import example_cameras
from kernels._math import camera as km
from kernels.errors import InvalidInputError, InvalidTypeError

CAMERAS = example_cameras()


def _bc(**kw: object) -> CameraModel:
    args: dict[str, object] = {
        "model": "brown_conrady",
        "width": 640,
        "height": 480,
        "fx": 500.0,
        "fy": 500.0,
        "cx": 320.0,
        "cy": 240.0,
        "skew": 0.0,
        "params": (0.0,) * 8,
    }
    args.update(kw)
    return CameraModel(**args)  # type: ignore[arg-type]


def test_every_sfs_model_has_an_example() -> None:
    assert set(CAMERAS) == set(km.MODEL_NAMES.values())


@pytest.mark.parametrize("name", list(CAMERAS))
def test_to_dict_round_trips_exactly_through_json(name: str) -> None:
    cam = CAMERAS[name]
    back = CameraModel.from_dict(json.loads(json.dumps(cam.to_dict())))
    assert back == cam and hash(back) == hash(cam)
    np.testing.assert_array_equal(back.kernel_intrinsics, cam.kernel_intrinsics)


@pytest.mark.parametrize("name", list(CAMERAS))
def test_kernel_intrinsics_packing(name: str) -> None:
    cam = CAMERAS[name]
    intr = cam.kernel_intrinsics
    assert intr.shape == (km.INTR_SIZE,) and intr.dtype == np.float64
    assert not intr.flags.writeable
    with pytest.raises(ValueError, match="read-only"):
        intr[0] = 1.0
    assert (intr[km.I_FX], intr[km.I_FY], intr[km.I_CX], intr[km.I_CY], intr[km.I_SKEW]) == (
        cam.fx,
        cam.fy,
        cam.cx,
        cam.cy,
        cam.skew,
    )
    assert (intr[km.I_WIDTH], intr[km.I_HEIGHT]) == (cam.width, cam.height)
    n = len(cam.params)
    assert tuple(intr[km.I_P0 : km.I_P0 + n]) == cam.params
    assert not intr[km.I_P0 + n :].any()
    assert intr[km.I_MAX_R2] > 0 and 0 < intr[km.I_MAX_THETA] <= math.pi
    assert km.MODEL_NAMES[cam.kernel_model_id] == name


def test_camera_matrix_and_fov() -> None:
    cam = _bc(skew=0.25, fx=320.0, fy=240.0)
    np.testing.assert_array_equal(cam.K, [[320.0, 0.25, 320.0], [0.0, 240.0, 240.0], [0.0, 0.0, 1.0]])
    h, v = _bc(fx=320.0, fy=240.0).fov_deg
    assert h == pytest.approx(90.0) and v == pytest.approx(90.0)
    assert CAMERAS["equirectangular"].fov_deg[0] == pytest.approx(360.0)
    assert CAMERAS["ftheta"].fov_deg[0] > 180.0


def test_is_frozen_and_normalises_types() -> None:
    cam = _bc(width=np.int64(640), fx=np.float32(500.0), params=[0] * 8)
    assert type(cam.width) is int and type(cam.fx) is float
    assert cam.params == (0.0,) * 8 and all(type(p) is float for p in cam.params)
    with pytest.raises(dataclasses.FrozenInstanceError):
        cam.fx = 3.0  # type: ignore[misc]


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"model": "pinhole"}, InvalidInputError, "unknown camera model 'pinhole'"),
        ({"model": 3}, InvalidTypeError, "CameraModel.model must be a str"),
        (
            {"params": (0.0,) * 5},
            InvalidInputError,
            r"params for model 'brown_conrady' must have 8 values.*got 5",
        ),
        ({"params": "abc"}, InvalidTypeError, "CameraModel.params must be a sequence"),
        ({"params": (0.0,) * 7 + (math.nan,)}, InvalidInputError, r"params\[7\] \(k6\) must be finite"),
        ({"fx": 0.0}, InvalidInputError, r"CameraModel.fx must be > 0, got 0.0"),
        ({"fy": -2.0}, InvalidInputError, r"CameraModel.fy must be > 0, got -2.0"),
        ({"cx": math.inf}, InvalidInputError, "CameraModel.cx must be finite, got inf"),
        ({"skew": "1"}, InvalidTypeError, "CameraModel.skew must be a real number"),
        ({"width": 0}, InvalidInputError, "CameraModel.width must be > 0 pixels, got 0"),
        ({"height": 480.5}, InvalidTypeError, "CameraModel.height must be an integer"),
        ({"width": True}, InvalidTypeError, "CameraModel.width must be an integer"),
        ({"model": "ftheta", "params": (0.0, 1.0, 0, 0, 0)}, InvalidInputError, r"params\[0\] \(k1\).*> 0"),
        (
            {"model": "omnidirectional", "params": (0,) * 6 + (-0.5,)},
            InvalidInputError,
            r"\(xi\) must be >= 0",
        ),
        ({"model": "cylindrical", "params": (1.0,)}, InvalidInputError, "must have 0 values"),
    ],
)
def test_invalid_calibrations_name_the_field(kwargs: dict[str, object], error: type, match: str) -> None:
    with pytest.raises(error, match=match):
        _bc(**kwargs)


@settings(max_examples=80, deadline=None)
@given(st.sampled_from(["fx", "fy", "cx", "cy", "skew"]), st.floats(allow_nan=True, allow_infinity=True))
def test_focal_and_centre_validation(field: str, value: float) -> None:
    if math.isfinite(value) and (field not in ("fx", "fy") or value > 0):
        assert getattr(_bc(**{field: value}), field) == value
    else:
        with pytest.raises(InvalidInputError, match=f"CameraModel.{field} must be"):
            _bc(**{field: value})


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-2, 2), min_size=4, max_size=4))
def test_fisheye_limit_is_the_first_stop_of_the_derivative(ks: list[float]) -> None:
    cam = CameraModel("fisheye", 100, 100, 50.0, 50.0, 50.0, 50.0, 0.0, tuple(ks))
    t = np.linspace(0, cam.max_theta, 2001)[:-1]
    k1, k2, k3, k4 = ks
    deriv = 1 + 3 * k1 * t**2 + 5 * k2 * t**4 + 7 * k3 * t**6 + 9 * k4 * t**8
    assert (deriv > -1e-9).all()
    if cam.max_theta < math.pi:
        end = cam.max_theta
        assert 1 + 3 * k1 * end**2 + 5 * k2 * end**4 + 7 * k3 * end**6 + 9 * k4 * end**8 == pytest.approx(
            0.0, abs=1e-6
        )


@settings(max_examples=60, deadline=None)
@given(st.lists(st.floats(-1, 1), min_size=8, max_size=8))
def test_brown_conrady_limit_keeps_the_radial_map_increasing(ps: list[float]) -> None:
    try:
        cam = _bc(params=tuple(ps))
    except InvalidInputError as err:  # a pole of the rational term at r = 0+ is impossible
        pytest.fail(str(err))
    k1, k2, _, _, k3, k4, k5, k6 = ps
    r = np.linspace(0, min(math.tan(cam.max_theta), 1e3), 4001)[:-1]
    s = r * r
    f = r * (1 + k1 * s + k2 * s**2 + k3 * s**3) / (1 + k4 * s + k5 * s**2 + k6 * s**3)
    assert (np.diff(f) > -1e-12).all()
    assert (1 + k4 * s + k5 * s**2 + k6 * s**3 > 0).all()


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ({"model": "fisheye"}, "missing keys"),
        ({**CAMERAS["fisheye"].to_dict(), "zoom": 2}, r"unknown keys \['zoom'\]"),
        ({**CAMERAS["fisheye"].to_dict(), "params": 1.0}, "'params' must be a list"),
    ],
)
def test_from_dict_errors(data: dict[str, object], match: str) -> None:
    with pytest.raises((InvalidInputError, InvalidTypeError), match=match):
        CameraModel.from_dict(data)
