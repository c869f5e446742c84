"""Example calibrations of every camera model, for tests, simulators and benchmarks.

The numbers are plausible for each lens type (a rational-model pinhole, an OpenCV fisheye, a
KITTI-360-like Mei camera with xi about 2, a WoodScape-like f-theta polynomial of about 190 degrees,
panoramas); they are not any real camera's calibration.
"""

from __future__ import annotations

import math

from calibration.camera import CameraModel

__all__ = ["example_cameras"]


def example_cameras() -> dict[str, CameraModel]:
    """Return one example :class:`CameraModel` per model name (keys are the SFS model names)."""
    w, h = 1280, 960
    cams = [
        CameraModel(
            "brown_conrady",
            1920,
            1080,
            1400.0,
            1395.0,
            958.2,
            541.7,
            0.0,
            (-0.32, 0.12, 0.0008, -0.0006, -0.021, 0.01, 0.003, 0.002),
        ),
        CameraModel("fisheye", w, h, 330.0, 331.0, 641.5, 479.0, 0.0, (0.05, -0.012, 0.003, -0.0004)),
        CameraModel(
            "omnidirectional",
            1400,
            1400,
            1336.0,
            1337.0,
            716.9,
            705.7,
            0.0,
            (0.0166, 0.164, 0.0, 0.0, 0.0004, 0.0004, 2.21),
        ),
        CameraModel("mod_equi_fish", w, h, 340.0, 340.0, 640.0, 480.0, 0.0, (0.0, -0.012, 0.002, -0.0003)),
        CameraModel("mod_kannala", w, h, 420.0, 420.0, 640.0, 480.0, 0.0, (0.05, -0.01, 0.002, 0.0)),
        CameraModel("ftheta", w, 966, 1.0, 1.0, 640.3, 483.1, 0.0, (339.749, -31.988, 48.275, -7.201, 0.0)),
        CameraModel("cylindrical", 2048, 512, 2048 / (2 * math.pi), 300.0, 1024.0, 256.0, 0.0, ()),
        CameraModel(
            "equirectangular", 2048, 1024, 2048 / (2 * math.pi), 1024 / math.pi, 1024.0, 512.0, 0.0, ()
        ),
        CameraModel(
            "fisheye_rad_tan_prism",
            1408,
            1408,
            610.0,
            610.0,
            704.2,
            703.8,
            0.0,
            (0.02, -0.004, 0.0005, -0.0001, 0.0, 0.0, 0.0004, -0.0002, -0.0007, 0.0001, 0.0003, -0.00005),
        ),
    ]
    return {c.model: c for c in cams}
