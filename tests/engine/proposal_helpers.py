"""Shared pieces of the proposal class-rule tests: classes, point blobs, the rules' argument tuple."""

from __future__ import annotations

from typing import Any

import numpy as np

from engine.proposals import ClassRuleConfig

CLASSES = ("car", "truck", "pedestrian", "cyclist")
CAR, PED, CYC = 0, 2, 3


def blob(rng, centre, sides, z_range, n=60):  # type: ignore[no-untyped-def]
    """Uniform points in an axis-aligned box: BEV ``sides`` around ``centre``, heights in ``z_range``."""
    xy = rng.uniform(-0.5, 0.5, (n, 2)) * sides + centre
    return np.column_stack([xy, rng.uniform(*z_range, n)]).astype(np.float32)


def rule_args(clusters, guesses, boxes, rules: ClassRuleConfig | None = None) -> tuple[Any, ...]:  # type: ignore[no-untyped-def]  # noqa: E501
    """``refine_classes`` / ``rule_failures`` arguments for clusters of point blobs (ground at z = 0)."""
    pts = np.vstack(clusters)
    labels = np.repeat(np.arange(len(clusters), dtype=np.int32), [len(c) for c in clusters])
    return (
        pts,
        pts[:, 2].copy(),
        labels,
        np.asarray(boxes, np.float32),
        np.asarray(guesses, np.int32),
        np.arange(len(clusters), dtype=np.int64),
        CLASSES,
        rules or ClassRuleConfig(),
    )
