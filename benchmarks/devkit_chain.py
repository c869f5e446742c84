"""Time the nuScenes devkit's own projection chain (runs in the devkit's environment, ``.venv-nuscenes``).

The devkit pins ``numpy<2`` and cannot share the project's environment, so
:mod:`benchmarks.bench_shared_frame` writes its inputs to a folder and runs this file under the
devkit's Python. It imports only NumPy, pyquaternion and the devkit, and runs the body of
``NuScenesExplorer.map_pointcloud_to_image`` after the file read: a ``LidarPointCloud`` (4, N)
float32, four ``rotate`` / ``translate`` steps (sensor -> ego at the sweep, ego -> world, world ->
ego at the image, ego -> camera) with rotation matrices from pyquaternion, ``view_points`` with
``normalize=True``, the five-condition mask and the compaction ``points[:, mask]``. Inputs:
``points.npy`` (N, 3) float32, ``mats.npy`` (4, 4, 4) the four transforms in order, ``K.npy``.

Usage (what the benchmark does): ``.venv-nuscenes/bin/python benchmarks/devkit_chain.py DIR W H REPEAT``;
prints one JSON object: per-call samples [s], the number of points kept and the sums of their
``u`` and ``v`` (so a test can check it did the same job as the NumPy chain), versions.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any


def main(argv: list[str]) -> None:
    """Load the inputs, warm up once, time ``repeat`` calls and print JSON."""
    import numpy as np
    from nuscenes.utils.data_classes import LidarPointCloud
    from nuscenes.utils.geometry_utils import view_points
    from pyquaternion import Quaternion

    folder, width, height, repeat = Path(argv[0]), int(argv[1]), int(argv[2]), int(argv[3])
    points = np.load(folder / "points.npy")
    mats = np.load(folder / "mats.npy")
    k = np.load(folder / "K.npy")
    raw = np.zeros((4, points.shape[0]), dtype=np.float32)  # x, y, z, intensity as the devkit loads them
    raw[:3] = points.T
    # the devkit builds each rotation from the calibration record's quaternion
    quats = [Quaternion(matrix=m[:3, :3], atol=1e-6) for m in mats]

    def chain() -> tuple[Any, Any]:
        pc = LidarPointCloud(raw.copy())  # the devkit's loader returns a fresh array per call
        pc.rotate(quats[0].rotation_matrix)
        pc.translate(mats[0][:3, 3])
        pc.rotate(quats[1].rotation_matrix)
        pc.translate(mats[1][:3, 3])
        # steps three and four are inverses in the devkit (translate(-t), rotate(R.T)); here the
        # given matrices are already world -> ego and ego -> camera, so apply them the same way
        pc.rotate(quats[2].rotation_matrix)
        pc.translate(mats[2][:3, 3])
        pc.rotate(quats[3].rotation_matrix)
        pc.translate(mats[3][:3, 3])
        depths = pc.points[2, :]
        pts = view_points(pc.points[:3, :], k, normalize=True)
        mask = np.ones(depths.shape[0], dtype=bool)
        mask = np.logical_and(mask, depths > 1.0)
        mask = np.logical_and(mask, pts[0, :] > 1)
        mask = np.logical_and(mask, pts[0, :] < width - 1)
        mask = np.logical_and(mask, pts[1, :] > 1)
        mask = np.logical_and(mask, pts[1, :] < height - 1)
        return pts[:, mask], depths[mask]

    kept_uv = chain()[0]
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter_ns()
        chain()
        samples.append((time.perf_counter_ns() - t0) * 1e-9)
    from importlib.metadata import version

    print(
        json.dumps(
            {
                "samples_s": samples,
                "kept": int(kept_uv.shape[1]),
                "uv_sum": [float(kept_uv[0].sum()), float(kept_uv[1].sum())],
                "numpy": np.__version__,
                "devkit": version("nuscenes-devkit"),
            }
        )
    )


if __name__ == "__main__":
    main(sys.argv[1:])
