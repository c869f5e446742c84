"""Kernels of fusionlabel: per-element math written once, compiled for the CPU (numba) and CUDA.

Public entry points validate their inputs once and pick the backend from where the arrays live
(NumPy -> CPU; CuPy arrays or CUDA torch tensors -> GPU, results stay on the device); ``backend=``
forces one. See ``kernels/dispatch.py`` for the rules and ``docs`` for the conventions.
"""

from kernels.deskew import FusedPoints, SensorPoints, deskew, fuse
from kernels.device import CudaStatus, cuda_status
from kernels.dispatch import Backend
from kernels.motion import Frame, OutOfRange, PoseTrack, camera_from_points_at
from kernels.projection import (
    CompactProjection,
    DenseProjection,
    KernelCamera,
    Output,
    Precision,
    project_points,
    project_to_cameras,
)

__all__ = [
    "Backend",
    "CompactProjection",
    "CudaStatus",
    "DenseProjection",
    "Frame",
    "FusedPoints",
    "KernelCamera",
    "OutOfRange",
    "Output",
    "PoseTrack",
    "Precision",
    "SensorPoints",
    "camera_from_points_at",
    "cuda_status",
    "deskew",
    "fuse",
    "project_points",
    "project_to_cameras",
]

# Oriented boxes: points in boxes, rotated IoU/GIoU and NMS (kernels/boxes.py, kernels/box_iou.py).
from kernels.box_iou import Overlap, box_giou_3d, box_giou_bev, box_iou_3d, box_iou_bev, nms  # noqa: E402
from kernels.boxes import BoxPoints, points_in_boxes, points_in_boxes_counts  # noqa: E402

__all__ += [
    "BoxPoints",
    "Overlap",
    "box_giou_3d",
    "box_giou_bev",
    "box_iou_3d",
    "box_iou_bev",
    "nms",
    "points_in_boxes",
    "points_in_boxes_counts",
]

from kernels.geometry import (  # noqa: E402
    Clustering,
    FittedBoxes,
    GroundSegmentation,
    Heading,
    cluster_points,
    fit_boxes,
    segment_ground,
)

__all__ += [
    "Clustering",
    "FittedBoxes",
    "GroundSegmentation",
    "Heading",
    "cluster_points",
    "fit_boxes",
    "segment_ground",
]
