"""Cuboid footprints in cameras: edges and faces sampled, clipped to what the lens sees, projected.

Public entry point: :func:`sample_footprints` (sample layout, validity and clipping rules in
:mod:`kernels._math.footprint`). A cuboid's straight edges project to curves through a wide-angle
lens, so its 2D footprint is traced by sampling every edge (``edge_samples`` points each) rather than
by joining the 8 projected corners; a ``face_grid x face_grid`` grid on every face gives area samples
for visible-fraction, truncation and occlusion estimates. Edges that leave the camera's valid domain
(behind the near plane / outside the lens's field of view) are clipped onto its boundary.

Boxes are validated and turned into parameter rows on the host (they are few); the samples are
computed on the CPU (numba) or CUDA from the same scalar source.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from kernels._box_host import box_params, check_boxes
from kernels._math import footprint as fp_math
from kernels.dispatch import Backend, place
from kernels.errors import InvalidInputError
from kernels.motion import pack_rigid
from kernels.projection import KernelCamera, _camera_arrays
from kernels.validation import as_array

__all__ = ["FootprintSamples", "sample_footprints"]

FLAG_VALID = fp_math.FLAG_VALID
FLAG_IN_IMAGE = fp_math.FLAG_IN_IMAGE
FLAG_FACING = fp_math.FLAG_FACING
FLAG_CLIPPED = fp_math.FLAG_CLIPPED


@dataclass(frozen=True, slots=True)
class FootprintSamples:
    """Samples of P (box, camera) pairs, S = 12 K + 6 G^2 each (layout: :mod:`kernels._math.footprint`).

    Attributes
    ----------
    u, v : array of shape (P, S), float32 [px]
        Pixel coordinates; meaningful where ``flags & FLAG_VALID``.
    depth : array of shape (P, S), float32 [m]
        ``z`` for brown_conrady, the range for the other models.
    points_cam : array of shape (P, S, 3), float32 [m]
        Samples in the camera optical frame (clipped edge samples at their clipped position).
    flags : array of shape (P, S), uint8
        Bits ``FLAG_VALID`` (projects validly, depth >= near), ``FLAG_IN_IMAGE`` (valid and inside the
        image), ``FLAG_FACING`` (face samples on a face turned towards the camera), ``FLAG_CLIPPED``
        (edge sample moved onto the valid-domain boundary).
    edge_samples : int
        K, samples per edge (``tau = k / (K - 1)``, both corners included).
    face_grid : int
        G, cells per face side.
    """

    u: Any
    v: Any
    depth: Any
    points_cam: Any
    flags: Any
    edge_samples: int
    face_grid: int

    @property
    def n_edge(self) -> int:
        """Number of edge samples per pair (they come first)."""
        return fp_math.N_EDGES * self.edge_samples

    @property
    def n_face(self) -> int:
        """Number of face samples per pair (after the edge samples)."""
        return fp_math.N_FACES * self.face_grid * self.face_grid


def _positive_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or int(value) < low:
        raise InvalidInputError(f"{name} must be an integer >= {low}, got {value!r}")
    return int(value)


def sample_footprints(
    boxes: Any,
    cameras: Sequence[KernelCamera],
    camera_from_points: Any,
    camera_index: npt.ArrayLike,
    *,
    edge_samples: int = 24,
    face_grid: int = 6,
    near_m: float = 0.1,
    backend: str | Backend = "auto",
) -> FootprintSamples:
    """Sample P boxes, each in its own camera: edges (clipped to the valid domain) and face grids.

    Parameters
    ----------
    boxes : array of shape (P, 7), float32 [m, rad]
        ``[x, y, z, length, width, height, yaw]`` in a z-up frame shared with ``camera_from_points``
        (keep it near the cameras, e.g. the world shifted to the camera centre: float32 keeps ~1 mm
        within 8 km). NumPy, or a CUDA array to run on the GPU (results stay on the device).
    cameras : sequence of KernelCamera
        C camera models (``calibration.CameraModel``); one entry per camera *frame* is fine.
    camera_from_points : array_like of shape (C, 4, 4), float64
        Rigid transform from the boxes' frame into each camera's optical frame.
    camera_index : array_like of shape (P,), int
        The camera of each box, in ``[0, C)``.
    edge_samples : int
        K >= 2 samples per edge.
    face_grid : int
        G >= 1 cells per face side.
    near_m : float
        Near limit [m] > 0 on the depth (``z`` for brown_conrady, the range for other models).
    backend : {"auto", "cpu", "cuda"}
        Where to run (see :mod:`kernels.dispatch`).

    Returns
    -------
    FootprintSamples

    Raises
    ------
    InvalidInputError
        Wrong shapes, non-finite values, negative sizes, camera indices out of range, bad counts.
    """
    k_edge = _positive_int("edge_samples", edge_samples, 2)
    grid = _positive_int("face_grid", face_grid, 1)
    if (
        isinstance(near_m, bool)
        or not isinstance(near_m, int | float)
        or not np.isfinite(near_m)
        or near_m <= 0
    ):
        raise InvalidInputError(f"near_m must be a finite number > 0 [m], got {near_m!r}")
    placement = place(backend, {"boxes": boxes})
    if placement.on_device:
        host_boxes = check_boxes(
            "boxes", placement.host("boxes", boxes, np.float32, (None, 7)).copy_to_host()
        )
    else:
        host_boxes = check_boxes("boxes", boxes)
    ids, intr = _camera_arrays(cameras)
    rts = pack_rigid("camera_from_points", camera_from_points, len(cameras))
    p = host_boxes.shape[0]
    index = as_array("camera_index", camera_index, np.int64, (p,))
    bad = (index < 0) | (index >= len(cameras))
    if bad.any():
        i = int(np.argmax(bad))
        raise InvalidInputError(
            f"camera_index[{i}] = {int(index[i])} is out of range for {len(cameras)} cameras"
        )
    n_s = fp_math.sample_count(k_edge, grid)
    shapes = ((p, n_s), (p, n_s), (p, n_s), (p, n_s, 3), (p, n_s))
    dtypes = (np.float32, np.float32, np.float32, np.float32, np.uint8)
    owners, outs = zip(*(placement.empty(s, d) for s, d in zip(shapes, dtypes, strict=True)), strict=True)
    if p:
        params = box_params(host_boxes)
        pair_model = ids[index]
        if placement.backend is Backend.CPU:
            from kernels import cpu_footprint

            for mid in np.unique(pair_model):
                sel = np.flatnonzero(pair_model == mid).astype(np.int64)
                kernel = cpu_footprint.footprint_kernel(int(mid))
                kernel(params, rts, intr, index, sel, k_edge, grid, float(near_m), *outs)
        else:
            from kernels import cuda_footprint
            from kernels.cuda import launch_config

            dev = [placement.small(a) for a in (params, rts, intr, index)]
            for mid in np.unique(pair_model):
                sel = np.flatnonzero(pair_model == mid).astype(np.int64)
                kernel = cuda_footprint.footprint_kernel(int(mid))
                kernel[launch_config(sel.size * n_s)](
                    *dev, placement.small(sel), k_edge, grid, float(near_m), *outs
                )
    u, v, depth, points_cam, flags = (placement.result(o) for o in owners)
    return FootprintSamples(u, v, depth, points_cam, flags, k_edge, grid)
