"""Build :class:`~calibration.camera.CameraModel` values from OpenCV, SFS and Scale's legacy format."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration._camera_specs import SPECS
from calibration.camera import CameraModel
from kernels.errors import InvalidInputError, InvalidTypeError
from kernels.validation import as_array

__all__ = ["camera_from_opencv", "camera_from_scale_legacy", "camera_from_sfs"]

# Extra trailing SFS parameters (lx, ly) that are accepted only when zero: their meaning (an
# offset of the distortion centre) is not documented precisely enough to implement.
_SFS_ZERO_TAIL = {"brown_conrady": ("lx", "ly"), "omnidirectional": ("lx", "ly")}

# Legacy per-frame fields used by each legacy camera_model, in CameraModel.params order.
_LEGACY_FIELDS = {
    "brown_conrady": ("k1", "k2", "p1", "p2", "k3", "k4", "k5", "k6"),
    "fisheye": ("k1", "k2", "k3", "k4"),
    "omnidirectional": ("k1", "k2", "k3", "k4", "p1", "p2", "xi"),
    "cylindrical": (),
}
_LEGACY_DISTORTION = ("k1", "k2", "k3", "k4", "k5", "k6", "p1", "p2", "xi")


def camera_from_opencv(
    K: npt.ArrayLike,  # noqa: N803 (OpenCV's name)
    D: npt.ArrayLike,  # noqa: N803
    width: int,
    height: int,
    model: str = "pinhole",
) -> CameraModel:
    """Build a camera from an OpenCV calibration.

    Parameters
    ----------
    K : array_like of shape (3, 3), float
        Camera matrix ``[[fx, skew, cx], [0, fy, cy], [0, 0, 1]]``.
    D : array_like of 0, 4, 5 or 8 floats (pinhole) or 4 floats (fisheye)
        OpenCV distortion coefficients ``k1, k2, p1, p2[, k3[, k4, k5, k6]]`` (pinhole, missing
        ones are zero) or ``k1, k2, k3, k4`` (fisheye). Shapes (n,), (1, n) and (n, 1) are accepted.
    width, height : int
        Image size [px].
    model : {"pinhole", "fisheye"}
        OpenCV model: ``cv2.projectPoints`` or ``cv2.fisheye.projectPoints``.

    Returns
    -------
    CameraModel
        ``brown_conrady`` or ``fisheye``. OpenCV's fisheye ``alpha`` corresponds to
        ``skew = alpha * fx``.
    """
    k = as_array("K", K, np.float64, (3, 3))
    if k[1, 0] != 0 or k[2, 0] != 0 or k[2, 1] != 0 or k[2, 2] != 1:
        raise InvalidInputError(f"K must be [[fx, skew, cx], [0, fy, cy], [0, 0, 1]], got {k.tolist()}")
    d_in = np.asarray(D, dtype=np.float64) if D is not None else np.zeros(0)
    if d_in.ndim == 2 and 1 in d_in.shape:
        d_in = d_in.ravel()
    d = as_array("D", d_in, np.float64, (None,))
    if model == "pinhole":
        if d.size not in (0, 4, 5, 8):
            raise InvalidInputError(
                f"D for an OpenCV pinhole camera must have 0, 4, 5 or 8 coefficients "
                f"(k1, k2, p1, p2[, k3[, k4, k5, k6]]), got {d.size}: {d.tolist()}"
            )
        params = tuple(d.tolist()) + (0.0,) * (8 - d.size)
        name = "brown_conrady"
    elif model == "fisheye":
        if d.size != 4:
            raise InvalidInputError(
                f"D for an OpenCV fisheye camera must have 4 coefficients (k1..k4), got {d.size}"
            )
        params, name = tuple(d.tolist()), "fisheye"
    else:
        raise InvalidInputError(f"unknown OpenCV camera model {model!r}; expected 'pinhole' or 'fisheye'")
    return CameraModel(
        name,
        width,
        height,
        float(k[0, 0]),
        float(k[1, 1]),
        float(k[0, 2]),
        float(k[1, 2]),
        float(k[0, 1]),
        params,
    )


def _need(data: Mapping[str, Any], key: str, where: str) -> Any:
    if key not in data or data[key] is None:
        raise InvalidInputError(f"{where} is missing the field {key!r}")
    return data[key]


def camera_from_sfs(intrinsics: Mapping[str, Any]) -> CameraModel:
    """Build a camera from SFS camera ``intrinsics``.

    Parameters
    ----------
    intrinsics : mapping
        ``{fx, fy, cx, cy, width, height, skew?, distortion?: {model, params: [...]}}``. The
        distortion may also name its parameters (``{model, k1: .., k2: ..}``); missing trailing
        parameters are zero, as in the SFS reference SDK. No distortion means an ideal pinhole.

    Returns
    -------
    CameraModel
    """
    if not isinstance(intrinsics, Mapping):
        raise InvalidTypeError(f"intrinsics must be a mapping, got {type(intrinsics).__name__}")
    where = "intrinsics"
    base: dict[str, Any] = {
        k: _need(intrinsics, k, where) for k in ("width", "height", "fx", "fy", "cx", "cy")
    }
    skew = intrinsics.get("skew") or 0.0
    dist = intrinsics.get("distortion")
    if dist is None:
        return CameraModel("brown_conrady", **base, skew=skew, params=(0.0,) * 8)
    if not isinstance(dist, Mapping):
        raise InvalidTypeError(f"intrinsics.distortion must be a mapping, got {dist!r}")
    name = _need(dist, "model", "intrinsics.distortion")
    spec = SPECS.get(name)
    if spec is None:
        raise InvalidInputError(
            f"unknown camera model intrinsics.distortion.model={name!r}; expected one of {list(SPECS)}"
        )
    names = spec.param_names + _SFS_ZERO_TAIL.get(name, ())
    if "params" in dist:
        values = list(dist["params"])
        if len(values) > len(names):
            raise InvalidInputError(
                f"intrinsics.distortion.params for {name!r} has {len(values)} values, "
                f"expected at most {len(names)} ({', '.join(names) or 'none'})"
            )
        values += [0.0] * (len(names) - len(values))
    else:
        values = [dist.get(n) or 0.0 for n in names]
    for n, v in zip(names[len(spec.param_names) :], values[len(spec.param_names) :], strict=True):
        if v != 0:
            raise InvalidInputError(
                f"intrinsics.distortion.{n}={v!r} is not supported (only 0); its meaning is undocumented"
            )
    return CameraModel(name, **base, skew=skew, params=tuple(values[: len(spec.param_names)]))


def camera_from_scale_legacy(
    image_record: Mapping[str, Any], *, width: int | None = None, height: int | None = None
) -> CameraModel:
    """Build a camera from an image record of Scale's legacy per-frame lidar task format.

    Parameters
    ----------
    image_record : mapping
        ``{camera_model?, fx, fy, cx, cy, skew?, k1..k6?, p1?, p2?, xi?, scale_factor?, width?,
        height?}``; ``camera_model`` is ``brown_conrady`` (default), ``fisheye``,
        ``omnidirectional`` or ``cylindrical``. Intrinsics refer to the original image, which was
        downscaled by ``scale_factor`` (default 1): focal lengths, skew and principal point are
        divided by it.
    width, height : int, optional
        Size [px] of the delivered (downscaled) image, when the record does not carry it.

    Returns
    -------
    CameraModel
    """
    if not isinstance(image_record, Mapping):
        raise InvalidTypeError(f"image_record must be a mapping, got {type(image_record).__name__}")
    where = "image_record"
    name = image_record.get("camera_model") or "brown_conrady"
    fields = _LEGACY_FIELDS.get(name)
    if fields is None:
        raise InvalidInputError(
            f"unknown camera model image_record.camera_model={name!r}; expected one of {list(_LEGACY_FIELDS)}"
        )
    w = width if width is not None else image_record.get("width")
    h = height if height is not None else image_record.get("height")
    if w is None or h is None:
        raise InvalidInputError("image_record has no width/height; pass width= and height=")
    scale = image_record.get("scale_factor")
    scale = 1.0 if scale is None else scale
    if (
        isinstance(scale, bool)
        or not isinstance(scale, int | float)
        or not math.isfinite(scale)
        or scale <= 0
    ):
        raise InvalidInputError(f"image_record.scale_factor must be a finite number > 0, got {scale!r}")
    for key in _LEGACY_DISTORTION:
        if key not in fields and (image_record.get(key) or 0.0) != 0.0:
            raise InvalidInputError(
                f"image_record.{key}={image_record[key]!r} is not used by camera_model {name!r}; expected 0"
            )
    fx, fy, cx, cy = (float(_need(image_record, k, where)) / scale for k in ("fx", "fy", "cx", "cy"))
    skew = float(image_record.get("skew") or 0.0) / scale
    params = tuple(float(image_record.get(k) or 0.0) for k in fields)
    return CameraModel(name, w, h, fx, fy, cx, cy, skew, params)
