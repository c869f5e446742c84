"""nuScenes reader against the official devkit (tools/nuscenes_crosscheck.py, in its own venv)."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from engine.io.nuscenes import read_nuscenes

ROOT = Path(__file__).resolve().parents[3]
TOOL = ROOT / "tools" / "nuscenes_crosscheck.py"
DEVKIT_VENV = ROOT / ".venv-nuscenes"
DEVKIT_PYTHON = DEVKIT_VENV / "bin" / "python"


def _synth() -> ModuleType:
    spec = importlib.util.spec_from_file_location("nuscenes_synth", ROOT / "tools" / "nuscenes_synth.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_the_crosscheck_dataset_reads(tmp_path: Path) -> None:
    """The synthetic dataset of the cross-check stays readable (runs without the devkit)."""
    tables = _synth().write_dataset(tmp_path)
    log = read_nuscenes(tmp_path, scene="scene-0001")
    assert {t.track_id for t in log.annotations.tracks} == {"inst_car", "inst_ped", "inst_truck", "inst_bike"}
    assert len(log.annotations.track("inst_truck")) == 2 and len(log.annotations.track("inst_bike")) == 2
    # 3 keyframes, 1 sweep before the first sample, 2 between each pair of samples
    assert len(log.lidar["LIDAR_TOP"]) == 3 + 1 + 2 * 2
    radar = log.radar["RADAR_FRONT"][0]
    assert radar.points.shape == (12, 3) and np.isfinite(radar.radial_velocity).all()
    assert sorted(log.cameras) == ["CAM_BACK", "CAM_FRONT"]
    # the keyframe stored with its quaternion's sign flipped reads as a unit quaternion of the same rotation
    raw = next(a for a in tables["sample_annotation"] if a["token"] == "ann_inst_car_1")["rotation"]
    q = log.annotations.track("inst_car").rotations_wxyz[1]
    assert min(np.abs(q - raw).max(), np.abs(q + raw).max()) < 1e-12
    assert read_nuscenes(tmp_path, scene="scene-0002").annotations.track("inst_car2").label == "vehicle.car"


def test_reader_matches_the_nuscenes_devkit(tmp_path: Path) -> None:
    """Boxes (world and every sensor frame, interpolated sweeps), poses, pixels, points: within 1e-6."""
    if not (DEVKIT_VENV / ".installed").exists():
        pytest.skip(
            ".venv-nuscenes with nuscenes-devkit is missing (the devkit pins numpy<2; "
            "`make nuscenes-devkit` or `make nuscenes-crosscheck` creates it)"
        )
    out = tmp_path / "summary.json"
    cmd = [sys.executable, str(TOOL), "--devkit-python", str(DEVKIT_PYTHON), "--json", str(out)]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    summary = json.loads(out.read_text())
    assert summary["ok"] and not summary["problems"]
    for name in ("world box corners [m]", "sensor-frame corners [m]", "camera corner pixels [px]"):
        assert summary["compared"][name] > 0 and summary["max_abs_diff"][name] <= 1e-6
    assert summary["compared"]["radar fields, all 18 (exact)"] > 0
