"""Camera intrinsics and projection models (the calibration half of the shared frame).

:class:`CameraModel` is the one value every stage uses for a camera's intrinsics. Its
:meth:`~CameraModel.project` / :meth:`~CameraModel.unproject` are the slow float64 NumPy oracle;
the fast kernels read :attr:`~CameraModel.kernel_intrinsics` with the scalar functions of
:mod:`kernels._math.camera`. Constructors from OpenCV, SFS and Scale's legacy format live in
:mod:`calibration.camera_formats`.

Conventions: points in the camera optical frame (x right, y down, z forward) [m]; pixels
``u = fx * x_d + skew * y_d + cx``, ``v = fy * y_d + cy`` with ``(x_d, y_d)`` the distorted
normalised coordinates of the model; pixel centres at integer coordinates (OpenCV).
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration import _reference
from calibration._camera_specs import SPECS, model_limits, pack_intrinsics
from kernels.errors import InvalidInputError, InvalidTypeError
from kernels.validation import as_array

__all__ = ["CameraModel", "MODEL_NAMES"]

#: SFS names of the supported camera models.
MODEL_NAMES: tuple[str, ...] = tuple(SPECS)

_FIELDS = ("model", "width", "height", "fx", "fy", "cx", "cy", "skew", "params")


def _real(name: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise InvalidTypeError(f"{name} must be a real number, got {value!r}")
    out = float(value)
    if not math.isfinite(out):
        raise InvalidInputError(f"{name} must be finite, got {out!r}")
    return out


def _size(name: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidTypeError(f"{name} must be an integer number of pixels, got {value!r}")
    if int(value) <= 0:
        raise InvalidInputError(f"{name} must be > 0 pixels, got {int(value)}")
    return int(value)


@dataclass(frozen=True, slots=True)
class CameraModel:
    """Intrinsic calibration of one camera: projection model, image size, focal lengths, distortion.

    Parameters
    ----------
    model : str
        SFS model name: ``"brown_conrady"`` (OpenCV pinhole + rational/tangential distortion),
        ``"fisheye"`` (Kannala–Brandt, OpenCV fisheye), ``"omnidirectional"`` (Mei unified),
        ``"mod_equi_fish"``, ``"mod_kannala"``, ``"ftheta"``, ``"cylindrical"``,
        ``"equirectangular"``, ``"fisheye_rad_tan_prism"``.
    width, height : int
        Image size [px].
    fx, fy : float
        Focal lengths [px], > 0 (``cylindrical``/``equirectangular``: px per radian horizontally;
        ``equirectangular`` also vertically).
    cx, cy : float
        Principal point [px].
    skew : float
        ``K[0, 1]`` [px]: ``u = fx * x_d + skew * y_d + cx``.
    params : tuple of float
        Model parameters, SFS order: brown_conrady ``k1,k2,p1,p2,k3,k4,k5,k6`` (OpenCV order);
        fisheye ``k1..k4``; omnidirectional ``k1,k2,k3,k4,p1,p2,xi`` (radial
        ``1 + k1 r^2 + .. + k4 r^8`` on Mei's plane, xi >= 0); mod_equi_fish ``k1..k4`` (k1 unused);
        mod_kannala ``k1..k4``; ftheta ``k1..k5`` (``r_d = k1 t + .. + k5 t^5``, in units of fx;
        use fx = fy = 1 for a polynomial in pixels); cylindrical, equirectangular: none;
        fisheye_rad_tan_prism ``k1..k6, p1, p2, s1..s4`` (OpenCV p1/p2 and thin-prism conventions).

    Notes
    -----
    Validity: a point projects validly only inside the model's monotonic range, computed at
    construction (Brown–Conrady: ``z > 0`` and ``d(r radial(r))/dr > 0`` for the radial part,
    and ``r < 1000``; theta models: the angle
    from the optical axis below the first stop of ``d r_d / d theta``, at most pi, so fields of
    view beyond 180 degrees work; omnidirectional also ``cos(theta) > -min(xi, 1/xi)``).
    Depth: ``z`` for brown_conrady, the range ``|X|`` for every other model.
    """

    model: str
    width: int
    height: int
    fx: float
    fy: float
    cx: float
    cy: float
    skew: float = 0.0
    params: tuple[float, ...] = ()
    _limits: tuple[float, float] = field(init=False, repr=False, compare=False)
    _intr: npt.NDArray[np.float64] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.model, str):
            raise InvalidTypeError(f"CameraModel.model must be a str, got {self.model!r}")
        spec = SPECS.get(self.model)
        if spec is None:
            raise InvalidInputError(
                f"unknown camera model {self.model!r}; expected one of {list(MODEL_NAMES)}"
            )
        s = object.__setattr__
        s(self, "width", _size("CameraModel.width", self.width))
        s(self, "height", _size("CameraModel.height", self.height))
        for name in ("fx", "fy", "cx", "cy", "skew"):
            s(self, name, _real(f"CameraModel.{name}", getattr(self, name)))
        for name in ("fx", "fy"):
            if getattr(self, name) <= 0:
                raise InvalidInputError(f"CameraModel.{name} must be > 0, got {getattr(self, name)!r}")
        if isinstance(self.params, str | bytes) or not hasattr(self.params, "__len__"):
            raise InvalidTypeError(f"CameraModel.params must be a sequence of numbers, got {self.params!r}")
        if len(self.params) != len(spec.param_names):
            raise InvalidInputError(
                f"CameraModel.params for model {self.model!r} must have {len(spec.param_names)} values "
                f"({', '.join(spec.param_names) or 'none'}), got {len(self.params)}: {tuple(self.params)!r}"
            )
        params = tuple(
            _real(f"CameraModel.params[{i}] ({n})", v)
            for i, (n, v) in enumerate(zip(spec.param_names, self.params, strict=True))
        )
        s(self, "params", params)
        if self.model == "omnidirectional" and params[6] < 0:
            raise InvalidInputError(f"CameraModel.params[6] (xi) must be >= 0, got {params[6]!r}")
        if self.model == "ftheta" and params[0] <= 0:
            raise InvalidInputError(
                f"CameraModel.params[0] (k1) of an ftheta model must be > 0, got {params[0]!r}"
            )
        limits = model_limits(self.model, params)
        if not (limits[0] > 0 and limits[1] > 0):
            raise InvalidInputError(
                f"CameraModel.params {params!r} give model {self.model!r} an empty valid range"
            )
        s(self, "_limits", limits)
        s(
            self,
            "_intr",
            pack_intrinsics(
                self.model,
                self.width,
                self.height,
                self.fx,
                self.fy,
                self.cx,
                self.cy,
                self.skew,
                params,
                limits,
            ),
        )

    @classmethod
    def pinhole(cls, width: int, height: int, fx: float, fy: float, cx: float, cy: float) -> CameraModel:
        """Return an undistorted pinhole camera (``brown_conrady`` with zero distortion)."""
        return cls("brown_conrady", width, height, fx, fy, cx, cy, 0.0, (0.0,) * 8)

    @property
    def kernel_model_id(self) -> int:
        """Integer model id of :mod:`kernels._math.camera` (e.g. ``BROWN_CONRADY``)."""
        return SPECS[self.model].kernel_id

    @property
    def kernel_intrinsics(self) -> npt.NDArray[np.float64]:
        """Read-only packed intrinsics, float64 of shape ``(INTR_SIZE,)``, incl. monotonic limits."""
        return self._intr

    @property
    def param_dict(self) -> dict[str, float]:
        """Model parameters by name, e.g. ``{"k1": ..., "k2": ...}``."""
        return dict(zip(SPECS[self.model].param_names, self.params, strict=True))

    @property
    def K(self) -> npt.NDArray[np.float64]:  # noqa: N802 (the conventional name)
        """Camera matrix ``[[fx, skew, cx], [0, fy, cy], [0, 0, 1]]`` (3, 3) float64."""
        return np.array([[self.fx, self.skew, self.cx], [0.0, self.fy, self.cy], [0.0, 0.0, 1.0]])

    @property
    def max_theta(self) -> float:
        """Largest angle from the optical axis [rad] (exclusive) the model can project validly."""
        if self.model == "brown_conrady":
            return math.atan(math.sqrt(self._limits[0]))
        return self._limits[1]

    def project(
        self, points_cam: npt.ArrayLike
    ) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """Project points to pixels (float64 NumPy reference implementation).

        Parameters
        ----------
        points_cam : array_like of shape (N, 3), float64, camera optical frame [m]
            Finite points.

        Returns
        -------
        uv : ndarray of shape (N, 2), float64 [px]
            Pixel coordinates; NaN where ``valid`` is False. Not clipped to the image.
        depth : ndarray of shape (N,), float64 [m]
            ``z`` for brown_conrady, the range ``|X|`` for every other model.
        valid : ndarray of shape (N,), bool
            The point lies in the model's valid domain (see the class notes).
        """
        pts = as_array("points_cam", points_cam, np.float64, (None, 3))
        xd, yd, depth, valid = _reference.project(self.model, self.params, self._limits, pts)
        with np.errstate(invalid="ignore", over="ignore"):
            uv = np.stack([self.fx * xd + self.skew * yd + self.cx, self.fy * yd + self.cy], axis=1)
        valid = valid & np.isfinite(uv).all(axis=1)
        uv[~valid] = np.nan
        return uv, np.asarray(depth, dtype=np.float64), valid

    def unproject(self, uv: npt.ArrayLike) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.bool_]]:
        """Return unit rays for pixels (float64 NumPy reference implementation).

        Parameters
        ----------
        uv : array_like of shape (N, 2), float64 [px]
            Finite pixel coordinates (need not lie in the image).

        Returns
        -------
        rays : ndarray of shape (N, 3), float64, camera optical frame
            Unit directions; NaN where ``valid`` is False.
        valid : ndarray of shape (N,), bool
            False for pixels beyond the image of the model's valid range, or where the
            iterative inversion did not converge.
        """
        pix = as_array("uv", uv, np.float64, (None, 2))
        yd = (pix[:, 1] - self.cy) / self.fy
        xd = (pix[:, 0] - self.cx - self.skew * yd) / self.fx
        rays, valid = _reference.unproject(self.model, self.params, self._limits, xd, yd)
        valid = valid & np.isfinite(rays).all(axis=1)
        rays[~valid] = np.nan
        return rays, valid

    @property
    def fov_deg(self) -> tuple[float, float]:
        """Estimated (horizontal, vertical) field of view [deg] through the principal point."""
        out = []
        for axis, n in ((0, self.width), (1, self.height)):
            t = np.linspace(0.0, float(n), 2001)
            uv = np.empty((t.size, 2))
            uv[:, axis], uv[:, 1 - axis] = t, (self.cy, self.cx)[axis]
            rays, valid = self.unproject(uv)
            if not valid.any():
                out.append(0.0)
                continue
            ang = np.arctan2(rays[valid, axis], rays[valid, 2])
            out.append(float(np.degrees(ang.max() - ang.min())))
        return out[0], out[1]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict that :meth:`from_dict` turns back into an equal camera."""
        return {
            "model": self.model,
            "width": self.width,
            "height": self.height,
            "fx": self.fx,
            "fy": self.fy,
            "cx": self.cx,
            "cy": self.cy,
            "skew": self.skew,
            "params": list(self.params),
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CameraModel:
        """Inverse of :meth:`to_dict`; unknown or missing keys raise naming them."""
        if not isinstance(data, Mapping):
            raise InvalidTypeError(f"camera dict must be a mapping, got {type(data).__name__}")
        unknown = sorted(set(data) - set(_FIELDS))
        if unknown:
            raise InvalidInputError(f"camera dict has unknown keys {unknown}; expected {list(_FIELDS)}")
        missing = [k for k in _FIELDS if k not in data and k != "skew"]
        if missing:
            raise InvalidInputError(f"camera dict is missing keys {missing}")
        params = data["params"]
        if not isinstance(params, list | tuple):
            raise InvalidTypeError(f"camera dict 'params' must be a list, got {params!r}")
        return cls(
            data["model"],
            data["width"],
            data["height"],
            data["fx"],
            data["fy"],
            data["cx"],
            data["cy"],
            data.get("skew", 0.0),
            tuple(params),
        )
