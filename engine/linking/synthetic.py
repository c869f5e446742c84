"""Synthetic 2D observations from the simulator's ground truth (for tests and the evaluation).

A detector/classifier stand-in: every ground-truth box with ``visible_fraction >= min_visible`` becomes
an observation with a little box jitter (``jitter`` x box size, Gaussian). Blinkers blink: while the
true value is ``left``/``right``/``hazard`` the lamp is dark half of each ``1 / blink_hz`` period (a
per-track phase), and a dark lamp is observed as ``off``. Then ``noise_fraction`` of the observations
are corrupted: half dropped (missing), half noisy (box shifted and scaled by ``noise_jitter`` x size,
every attribute replaced by a random other value).
"""

from __future__ import annotations

import zlib

import numpy as np

from engine.linking.observations import Observation2D
from engine.sim.actors import ATTRIBUTES
from engine.sim.ground_truth import GroundTruth

__all__ = ["observations_from_ground_truth"]


def observations_from_ground_truth(
    gt: GroundTruth,
    *,
    seed: int = 0,
    noise_fraction: float = 0.1,
    jitter: float = 0.02,
    noise_jitter: float = 0.15,
    blink_hz: float = 1.5,
    min_visible: float = 0.15,
    image_sizes: dict[str, tuple[int, int]] | None = None,
) -> tuple[tuple[Observation2D, ...], dict[str, str]]:
    """Observations and their true track ids (``obs_id -> track_id``); see the module docstring."""
    rng = np.random.default_rng(seed)
    obs: list[Observation2D] = []
    truth: dict[str, str] = {}
    for cb in gt.camera_boxes:
        for k, b in enumerate(cb.boxes):
            if b.visible_fraction < min_visible:
                continue
            r = rng.uniform()
            if r < noise_fraction / 2:
                continue  # missing
            x0, y0, x1, y1 = b.box
            w, h = x1 - x0, y1 - y0
            noisy = r < noise_fraction
            s = noise_jitter if noisy else jitter
            dx, dy, dw, dh = rng.normal(0.0, s, 4)
            cx, cy = 0.5 * (x0 + x1) + dx * w, 0.5 * (y0 + y1) + dy * h
            w, h = w * np.exp(dw), h * np.exp(dh)
            box = (cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2)
            if image_sizes is not None and cb.sensor_id in image_sizes:
                iw, ih = image_sizes[cb.sensor_id]
                box = (max(box[0], 0.0), max(box[1], 0.0), min(box[2], float(iw)), min(box[3], float(ih)))
                if box[2] - box[0] < 1.0 or box[3] - box[1] < 1.0:
                    continue
            attrs = dict(b.attributes)
            blink = attrs.get("blinker")
            if blink in ("left", "right", "hazard"):
                phase = (zlib.crc32(b.track_id.encode()) % 1000) / 1000.0
                if (cb.timestamp_us * 1e-6 * blink_hz + phase) % 1.0 >= 0.5:
                    attrs["blinker"] = "off"
            if noisy:
                for name, value in attrs.items():
                    others = [v for v in ATTRIBUTES.get(name, (value,)) if v != value]
                    if others:
                        attrs[name] = str(rng.choice(others))
            oid = f"{cb.sensor_id}/{cb.timestamp_us}/{k}"
            obs.append(Observation2D(oid, cb.sensor_id, cb.timestamp_us, box, b.label, 1.0, None, attrs))
            truth[oid] = b.track_id
    return tuple(obs), truth
