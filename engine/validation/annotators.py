"""Simulated annotators of known quality: noisy copies of a golden annotation set (for QA tests).

Each keyframe is perturbed independently: centre (Gaussian, ``centre_sigma_m`` per axis in x/y, half in
z), yaw (``yaw_sigma_rad``), size (relative ``size_sigma``); a keyframe is missed with ``miss_rate``;
the whole track's label is replaced with another class with ``label_error_rate``; each attribute value
is replaced with another allowed value with ``attribute_error_rate``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from calibration.se3 import quat_wxyz_to_yaw, yaw_to_quat_wxyz
from engine.annotations import Annotations, AttributePath, CuboidTrack

__all__ = ["AnnotatorQuality", "noisy_annotations"]


@dataclass(frozen=True, slots=True)
class AnnotatorQuality:
    """Error model of one simulated annotator."""

    centre_sigma_m: float = 0.1
    yaw_sigma_rad: float = 0.03
    size_sigma: float = 0.03
    miss_rate: float = 0.0
    label_error_rate: float = 0.0
    attribute_error_rate: float = 0.0


def noisy_annotations(
    golden: Annotations,
    quality: AnnotatorQuality,
    seed: int,
    labels: Sequence[str] = ("car", "truck", "pedestrian", "cyclist"),
    attribute_values: Mapping[str, Sequence[str]] | None = None,
) -> Annotations:
    """A noisy copy of ``golden`` (same track ids), drawn with ``np.random.default_rng(seed)``."""
    rng = np.random.default_rng(seed)
    values = dict(attribute_values or {})
    out = []
    for t in golden.tracks:
        k = len(t)
        keep = rng.random(k) >= quality.miss_rate
        if not keep.any():
            continue
        c = t.centers + rng.normal(0, quality.centre_sigma_m, (k, 3)) * np.array([1.0, 1.0, 0.5])
        s = t.sizes * (1 + rng.normal(0, quality.size_sigma, (k, 3)))
        yaw = quat_wxyz_to_yaw(t.rotations_wxyz) + rng.normal(0, quality.yaw_sigma_rad, k)
        label = t.label
        if rng.random() < quality.label_error_rate:
            label = str(rng.choice([x for x in labels if x != t.label]))
        attrs = []
        for a in t.attributes:
            vals = list(a.values)
            choices = values.get(a.name, ())
            for i in range(len(vals)):
                alt = [v for v in choices if v != vals[i]]
                if alt and rng.random() < quality.attribute_error_rate:
                    vals[i] = str(rng.choice(alt))
            attrs.append(AttributePath(a.name, a.timestamps_us, tuple(vals), a.sensor_id, a.static))
        out.append(
            CuboidTrack(
                t.track_id,
                label,
                t.frame,
                t.timestamps_us[keep],
                c[keep],
                np.abs(s[keep]),
                yaw_to_quat_wxyz(yaw[keep]),
                attributes=tuple(attrs),
                static_attributes=dict(t.static_attributes),
            )
        )
    return Annotations(tuple(out))
