"""The real CUDA box kernels with device-resident inputs (CuPy): results stay on the device."""

from __future__ import annotations

import numpy as np
import pytest
from box_oracles import random_boxes

from kernels.box_iou import box_iou_3d, box_iou_bev, nms
from kernels.boxes import points_in_boxes, points_in_boxes_counts

pytestmark = pytest.mark.gpu


def _scene(n: int, m: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    boxes = random_boxes(rng, m, spread=60.0)
    points = rng.uniform(-65, 65, (n, 3)).astype(np.float32)
    points[:, 2] *= 0.03
    return points, boxes


def test_points_in_boxes_on_device_match_cpu() -> None:
    cupy = pytest.importorskip("cupy")
    points, boxes = _scene(200_000, 1_000)
    got = points_in_boxes(cupy.asarray(points), cupy.asarray(boxes))
    assert isinstance(got, cupy.ndarray)
    ref = points_in_boxes(points, boxes)
    # a GPU may fuse multiply-adds: points within ~1e-15 of a face could differ; random ones do not
    np.testing.assert_array_equal(cupy.asnumpy(got), ref)
    res = points_in_boxes_counts(cupy.asarray(points), cupy.asarray(boxes))
    cpu = points_in_boxes_counts(points, boxes)
    for name in ("first", "counts", "offsets", "indices"):
        np.testing.assert_array_equal(cupy.asnumpy(getattr(res, name)), getattr(cpu, name), err_msg=name)


def test_iou_and_nms_on_device_match_cpu() -> None:
    cupy = pytest.importorskip("cupy")
    _, boxes = _scene(1, 2_000)
    for func in (box_iou_bev, box_iou_3d):
        got = func(cupy.asarray(boxes), cupy.asarray(boxes[:500]))
        assert isinstance(got, cupy.ndarray)
        np.testing.assert_allclose(cupy.asnumpy(got), func(boxes, boxes[:500]), atol=1e-6)
    scores = np.random.default_rng(1).uniform(size=2_000).astype(np.float32)
    kept = nms(cupy.asarray(boxes), cupy.asarray(scores), 0.3)
    assert isinstance(kept, cupy.ndarray)
    np.testing.assert_array_equal(cupy.asnumpy(kept), nms(boxes, scores, 0.3))
