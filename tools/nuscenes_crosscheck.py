"""Cross-check ``engine.io.nuscenes`` against the official nuScenes devkit on a synthetic dataset.

The devkit pins ``numpy<2`` and cannot share the project's environment, so this file runs twice:

* in the project venv (default): writes ``tools/nuscenes_synth.py``'s dataset to a temporary folder,
  runs itself with ``--dump`` under the devkit's Python, reads the same folder with
  :func:`engine.io.nuscenes.read_nuscenes` and compares;
* with ``--dump ROOT VERSION OUT`` in the devkit venv (imports only the devkit): ``NuScenes(...)``,
  ``get_box``, ``Box.corners()``, ``get_sample_data`` (boxes moved into each sensor frame; lidar
  sweeps between keyframes interpolated by the devkit), ``view_points`` for cameras, and the
  devkit's lidar / radar file readers, all written to JSON.

Compared (max absolute difference, tolerance 1e-6): world boxes per annotation (centre, size
``wlh`` -> our ``lwh``, quaternion up to sign, the 8 corners in the devkit's order, yaw against the
devkit's ``quaternion_yaw``, the heading of the box's x axis, as ours); every
sample_data's boxes in its sensor frame (same set of boxes; centre, quaternion, corners; camera
pixels of the corners in front of the camera); ego poses; lidar and radar points (exact).
Information only (names starting with ``_``): pyquaternion's ``yaw_pitch_roll[0]`` is another Euler
order (``R = Rx Ry Rz``) and differs from the heading for boxes with pitch or roll.

Usage: ``make nuscenes-crosscheck`` (creates ``.venv-nuscenes``), or
``.venv/bin/python tools/nuscenes_crosscheck.py --devkit-python .venv-nuscenes/bin/python [--json F]``.
Exit status 0 when everything agrees, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import logging
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

TOLERANCE = 1e-6
_LOG = logging.getLogger("nuscenes_crosscheck")


def devkit_dump(root: str, version: str, out: str) -> None:
    """Everything the devkit says about the dataset, as JSON (runs in the devkit's environment)."""
    from nuscenes.eval.common.utils import quaternion_yaw
    from nuscenes.nuscenes import NuScenes
    from nuscenes.utils.data_classes import LidarPointCloud, RadarPointCloud
    from nuscenes.utils.geometry_utils import BoxVisibility, view_points

    nusc = NuScenes(version=version, dataroot=root, verbose=False)
    RadarPointCloud.disable_filters()

    def box_json(box: Any, k: Any) -> dict[str, Any]:
        rec = {
            "center": box.center.tolist(),
            "wlh": box.wlh.tolist(),
            "q": box.orientation.elements.tolist(),
            "yaw": float(quaternion_yaw(box.orientation)),
            "ypr_yaw": float(box.orientation.yaw_pitch_roll[0]),
            "corners": box.corners().T.tolist(),
        }
        if k is not None:
            rec["uv"] = view_points(box.corners(), k, normalize=True)[:2].T.tolist()
        return rec

    dump: dict[str, Any] = {"annotations": {}, "sample_data": {}}
    for ann in nusc.sample_annotation:
        dump["annotations"][ann["token"]] = box_json(nusc.get_box(ann["token"]), None)
    for sd in nusc.sample_data:
        path, boxes, k = nusc.get_sample_data(sd["token"], box_vis_level=BoxVisibility.NONE)
        pose = nusc.get("ego_pose", sd["ego_pose_token"])
        rec: dict[str, Any] = {
            "channel": sd["channel"],
            "timestamp": sd["timestamp"],
            "pose_translation": pose["translation"],
            "pose_rotation": pose["rotation"],
            "boxes": {b.token: box_json(b, k) for b in boxes},
        }
        if sd["sensor_modality"] == "lidar":
            rec["points"] = LidarPointCloud.from_file(path).points.T.tolist()
        elif sd["sensor_modality"] == "radar":
            rec["points"] = RadarPointCloud.from_file(path).points.T.tolist()
        dump["sample_data"][sd["token"]] = rec
    Path(out).write_text(json.dumps(dump))


def _corners(center: Any, lwh: Any, q_wxyz: Any) -> np.ndarray:
    """(8, 3) corners in the devkit's order (front four first), from our centre, lwh and rotation."""
    from calibration.se3 import SE3

    sx = np.array([1, 1, 1, 1, -1, -1, -1, -1])
    sy = np.array([1, -1, -1, 1, 1, -1, -1, 1])
    sz = np.array([1, 1, -1, -1, 1, 1, -1, -1])
    local = np.stack([sx, sy, sz], 1) * (np.asarray(lwh) / 2)
    return SE3.from_quaternion(q_wxyz, center).transform_points(local)


def _qdiff(a: Any, b: Any) -> float:
    a, b = np.asarray(a, float), np.asarray(b, float)
    return float(min(np.abs(a - b).max(), np.abs(a + b).max()))


class _Stats:
    def __init__(self) -> None:
        self.max: dict[str, float] = {}
        self.n: dict[str, int] = {}
        self.problems: list[str] = []

    def add(self, name: str, diff: float) -> None:
        self.max[name] = max(self.max.get(name, 0.0), float(diff))
        self.n[name] = self.n.get(name, 0) + 1

    def summary(self) -> dict[str, Any]:
        ok = not self.problems and all(v <= TOLERANCE for k, v in self.max.items() if not k.startswith("_"))
        return {
            "ok": ok,
            "tolerance": TOLERANCE,
            "compared": dict(self.n),
            "max_abs_diff": dict(self.max),
            "problems": self.problems,
        }


def compare(root: Path, tables: dict[str, list[dict[str, Any]]], dump: dict[str, Any]) -> dict[str, Any]:
    """Read ``root`` with our reader and compare with the devkit's ``dump``."""
    from calibration.se3 import SE3, quat_wxyz_to_yaw
    from engine.io.nuscenes import read_nuscenes, read_pcd
    from engine.tracks import path_from_track
    from tracking.interpolation import PositionMethod, interpolate

    st = _Stats()
    samples = {s["token"]: s for s in tables["sample"]}
    anns = {a["token"]: a for a in tables["sample_annotation"]}
    scene_of = {s["token"]: s["name"] for s in tables["scene"]}
    logs = {name: read_nuscenes(root, scene=name) for name in scene_of.values()}

    def keyframe(log: Any, inst: str, t_us: int) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray]:
        track = log.annotations.track(inst)
        k = int(np.flatnonzero(track.timestamps_us == t_us)[0])
        return track, track.centers[k], track.sizes[k], track.rotations_wxyz[k]

    for token, dk in dump["annotations"].items():
        ann = anns[token]
        sample = samples[ann["sample_token"]]
        track, c, lwh, q = keyframe(
            logs[scene_of[sample["scene_token"]]], ann["instance_token"], sample["timestamp"]
        )
        k = int(np.flatnonzero(track.timestamps_us == sample["timestamp"])[0])
        w, length, h = dk["wlh"]
        st.add("world box centre [m]", np.abs(c - dk["center"]).max())
        st.add("world box size lwh [m]", np.abs(lwh - [length, w, h]).max())
        st.add("world box quaternion", _qdiff(q, dk["q"]))
        dyaw = (float(quat_wxyz_to_yaw(q)) - dk["yaw"] + np.pi) % (2 * np.pi) - np.pi
        st.add("world box yaw [rad]", abs(dyaw))
        dyaw32 = (float(track.boxes[k, 6]) - dk["yaw"] + np.pi) % (2 * np.pi) - np.pi
        st.add("kernel-layout yaw, float32 [rad]", abs(dyaw32))
        # pyquaternion's yaw_pitch_roll is another Euler order: equal to ours only for flat boxes
        dypr = (float(quat_wxyz_to_yaw(q)) - dk["ypr_yaw"] + np.pi) % (2 * np.pi) - np.pi
        flat = abs(q[1]) < 1e-12 and abs(q[2]) < 1e-12
        st.add(
            "yaw vs yaw_pitch_roll[0], flat boxes" if flat else "_info: yaw vs yaw_pitch_roll[0], tilted",
            abs(dypr),
        )
        st.add("world box corners [m]", np.abs(_corners(c, lwh, q) - dk["corners"]).max())

    for token, dk in dump["sample_data"].items():
        sd = next(r for r in tables["sample_data"] if r["token"] == token)
        sample = samples[sd["sample_token"]]
        log = logs[scene_of[sample["scene_token"]]]
        ch, t = dk["channel"], int(dk["timestamp"])
        ego = log.trajectory.pose_at(t)
        st.add("ego pose translation [m]", np.abs(ego.translation - dk["pose_translation"]).max())
        st.add("ego pose quaternion", _qdiff(ego.quaternion_wxyz, dk["pose_rotation"]))
        sensor = log.sensors[ch]
        sensor_from_world = (ego @ sensor.ego_from_sensor).inverse()
        ours: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
        prev = samples.get(sample["prev"]) if sample["prev"] else None
        for ann in (a for a in tables["sample_annotation"] if a["sample_token"] == sample["token"]):
            track, c, lwh, q = keyframe(log, ann["instance_token"], sample["timestamp"])
            if not sd["is_key_frame"] and prev is not None and prev["timestamp"] in track.timestamps_us:
                tq = min(max(t, prev["timestamp"]), sample["timestamp"])
                path = interpolate(path_from_track(track), [tq], method=PositionMethod.LINEAR)
                c, lwh, q = path.centers[0], path.sizes[0], path.rotations_wxyz[0]
            in_sensor = sensor_from_world @ SE3.from_quaternion(q, c)
            ours[ann["token"]] = (in_sensor.translation, in_sensor.quaternion_wxyz, _corners(c, lwh, q))
        if set(ours) != set(dk["boxes"]):
            st.problems.append(f"{token}: boxes {sorted(ours)} != devkit {sorted(dk['boxes'])}")
            continue
        for atoken, (c, q, corners_world) in ours.items():
            b = dk["boxes"][atoken]
            corners = sensor_from_world.transform_points(corners_world)
            st.add("sensor-frame centre [m]", np.abs(c - b["center"]).max())
            st.add("sensor-frame quaternion", _qdiff(q, b["q"]))
            st.add("sensor-frame corners [m]", np.abs(corners - b["corners"]).max())
            if sensor.camera is not None:
                uv, _, valid = sensor.camera.project(corners)
                front = valid & (corners[:, 2] > 0.1)
                if front.any():
                    st.add("camera corner pixels [px]", np.abs(uv[front] - np.asarray(b["uv"])[front]).max())
        if "points" in dk:
            pts = np.asarray(dk["points"], dtype=np.float64)
            index = log.lidar.get(ch) or log.radar.get(ch)
            sweep: Any = index[[int(s) for s in index.timestamps_us].index(t)] if index is not None else None
            if sweep is None:
                st.problems.append(f"{token}: our log has no {ch} sweep at {t}")
                continue
            st.add("points xyz [m] (exact)", np.abs(sweep.points - pts[:, :3]).max())
            if ch in log.lidar:
                st.add("lidar intensity (exact)", np.abs(sweep.intensity * np.float32(255) - pts[:, 3]).max())
            else:
                pcd = read_pcd(root / sd["filename"])
                fields = np.stack([pcd[f].astype(np.float64) for f in pcd.dtype.names or ()], 1)
                st.add("radar fields, all 18 (exact)", np.abs(fields - pts).max())
    return st.summary()


def main(argv: list[str] | None = None) -> int:
    """Command line; see the module docstring."""
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--dump", nargs=3, metavar=("ROOT", "VERSION", "OUT"), help="devkit side (its venv)")
    p.add_argument("--devkit-python", default=".venv-nuscenes/bin/python", help="Python with nuscenes-devkit")
    p.add_argument("--json", type=Path, help="also write the summary here")
    p.add_argument("--keep", type=Path, help="write the dataset here instead of a temporary folder")
    args = p.parse_args(argv)
    if args.dump:
        devkit_dump(*args.dump)
        return 0
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from nuscenes_synth import VERSION, write_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = args.keep or Path(tmp) / "nuscenes"
        tables = write_dataset(root)
        out = Path(tmp) / "devkit.json"
        cmd = [args.devkit_python, __file__, "--dump", str(root), VERSION, str(out)]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            _LOG.error("the devkit side failed (%s):\n%s%s", " ".join(cmd), done.stdout, done.stderr)
            return 2
        summary = compare(root, tables, json.loads(out.read_text()))
    for name, value in summary["max_abs_diff"].items():
        _LOG.info("%-36s n=%-4d max |diff| = %.3g", name, summary["compared"][name], value)
    for problem in summary["problems"]:
        _LOG.error("%s", problem)
    _LOG.info("%s (tolerance %g)", "AGREES with the devkit" if summary["ok"] else "DIFFERS", TOLERANCE)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=1))
    return 0 if summary["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
