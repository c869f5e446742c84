"""``benchmarks.eval_interpolation --sim``: simulated logs with exact GT; output shape and sanity."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from benchmarks import eval_interpolation as ei
from tracking import interpolate

ARGS = ["--sim", "tiny", "--sim-seconds", "1.5", "--sim-seeds", "0,1", "--ks", "5", "--no-keyframes-needed"]
ROW_KEYS = {
    "center_mean_m",
    "center_p95_m",
    "yaw_mean_rad",
    "bev_iou_mean",
    "center_mean_moving_m",
    "center_mean_moving_with_sweep_m",
    "center_p95_moving_with_sweep_m",
    "yaw_mean_moving_with_sweep_rad",
    "bev_iou_mean_moving_with_sweep",
    "center_mean_moving_visible_m",
    "frames_moving_visible",
    "frames",
}


@pytest.fixture(scope="module")
def outcome(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], Path]:
    out = tmp_path_factory.mktemp("eval_interp") / "sim.json"
    return ei.main([*ARGS, "--json", str(out)]), out


@pytest.fixture(scope="module")
def source() -> ei.Source:
    return ei.sim_source("tiny", 1.5, 0)


def test_report_has_each_seed_and_the_pool(outcome: tuple[dict[str, Any], Path]) -> None:
    result, out = outcome
    assert json.loads(out.read_text()) == json.loads(json.dumps(result))
    assert result["sim"] == {"rig": "tiny", "seconds": 1.5, "seeds": [0, 1]}
    assert set(result["per_seed"]) == {"0", "1"}
    pooled = result["pooled"]
    assert pooled["tracks"] == sum(s["tracks"] for s in result["per_seed"].values())
    assert pooled["moving"] == sum(s["moving"] for s in result["per_seed"].values()) > 0
    for res in [*result["per_seed"].values(), pooled]:
        assert list(res["per_k"]) == ["5"]
        row = res["per_k"]["5"]
        for name in ei.METHODS:
            assert ROW_KEYS <= set(row[name]), name
            assert math.isfinite(row[name]["center_mean_moving_with_sweep_m"]), name
            assert 0.0 <= row[name]["bev_iou_mean_moving_with_sweep"] <= 1.0
    for name in ei.METHODS:  # pooled frame counts are the seeds' sums
        frames = [s["per_k"]["5"][name]["frames"] for s in result["per_seed"].values()]
        assert pooled["per_k"]["5"][name]["frames"] == sum(frames)
    assert "motion" in result["per_seed"]["0"] and result["per_seed"]["0"]["motion"]["moving_tracks"] > 0


def test_hermite_is_exact_at_keyframes_and_close_between(source: ei.Source) -> None:
    moving = [p for p in source.tracks if ei._is_moving(p)]
    assert moving
    between = []
    for path in moving:
        keep = sorted({*range(0, len(path), 5), len(path) - 1})
        kf = path.take(keep)
        at_kf = interpolate(kf, kf.timestamps_us)
        np.testing.assert_allclose(at_kf.centers, kf.centers, atol=1e-6)
        np.testing.assert_allclose(np.cos(at_kf.yaws - kf.yaws), 1.0, atol=1e-9)
        full = interpolate(kf, path.timestamps_us)
        between.append(np.linalg.norm(full.centers - path.centers, axis=1))
    err = np.concatenate(between)
    assert 0.0 < err.max() < 0.5  # curved / accelerating motion: not exact, but a close cubic fit


def test_sweeps_are_world_frame_points_on_the_gt_boxes(source: ei.Source) -> None:
    """The exact returns on an object (point labels) fall inside its GT cuboid in the world sweeps."""
    checked = 0
    for ti, path in enumerate(source.tracks):
        n_vis = source.visible_points(ti, path.timestamps_us)  # type: ignore[misc]
        for j in np.flatnonzero(n_vis >= 30)[:2].tolist():
            pts = source.sweeps_of(path.timestamps_us[j : j + 1])[0].astype(np.float64)
            c, yaw, size = path.centers[j], path.yaws[j], path.sizes[j]
            d = pts - c
            lx = np.cos(yaw) * d[:, 0] + np.sin(yaw) * d[:, 1]
            ly = -np.sin(yaw) * d[:, 0] + np.cos(yaw) * d[:, 1]
            # margin: range noise, and the actor's own motion while the head turns (not compensated:
            # up to half a sweep period at the actor's speed)
            jj = min(j + 1, len(path) - 1)
            dt = 1e-6 * float(path.timestamps_us[jj] - path.timestamps_us[jj - 1])
            speed = float(np.linalg.norm(path.centers[jj, :2] - path.centers[jj - 1, :2])) / dt
            margin = 0.1 + 0.5 * dt * speed
            inside = (np.abs(lx) <= size[0] / 2 + margin) & (np.abs(ly) <= size[1] / 2 + margin)
            inside &= (d[:, 2] >= -size[2] / 2 + 0.1) & (d[:, 2] <= size[2] / 2 + 0.1)  # no ground
            assert 0.75 * n_vis[j] <= inside.sum() <= 1.1 * n_vis[j], (ti, j)
            checked += 1
    assert checked > 0
