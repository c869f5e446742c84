"""Write a tiny synthetic dataset in the nuScenes layout (tables, lidar ``.pcd.bin``, radar ``.pcd``).

Made for cross-checking readers against the official devkit (``tools/nuscenes_crosscheck.py``): it
holds everything the devkit's ``NuScenes`` loader needs (``log`` and ``map`` tables, a map file) and the
awkward cases: two scenes in one log, lidar sweeps between keyframes (``is_key_frame`` False, owned by
the next sample) and one before the first sample, sensors that do not fire at the sample time, tilted
sensor mounts, boxes with pitch and roll, a quaternion stored with its sign flipped, an instance that
appears late and one that disappears, and a radar file with all 18 nuScenes fields.

Usage: ``python tools/nuscenes_synth.py OUT_DIR`` (version folder ``v1.0-synth``).
"""

from __future__ import annotations

import json
import sys
import zlib
from pathlib import Path
from typing import Any

import numpy as np
from scipy.spatial.transform import Rotation

__all__ = ["VERSION", "write_dataset"]

VERSION = "v1.0-synth"
T0 = 1_533_151_603_547_590  # Unix µs
SAMPLE_US = 500_000
RADAR_FIELDS = (
    "x y z dyn_prop id rcs vx vy vx_comp vy_comp is_quality_valid ambig_state x_rms y_rms "
    "invalid_state pdh0 vx_rms vy_rms"
).split()
RADAR_SIZE = "4 4 4 1 2 4 4 4 4 4 1 1 1 1 1 1 1 1".split()
RADAR_TYPE = "F F F I I F F F F F I I I I I I I I".split()
_NP = {("F", "4"): "<f4", ("I", "1"): "i1", ("I", "2"): "<i2"}

# channel: (modality, translation, (yaw, pitch, roll) of ego_from_sensor or "optical" + yaw, time offset µs)
SENSORS: dict[str, tuple[str, list[float], tuple[float, ...], int]] = {
    "LIDAR_TOP": ("lidar", [0.94, 0.01, 1.84], (-np.pi / 2 + 0.004, 0.011, -0.007), 0),
    "RADAR_FRONT": ("radar", [3.41, -0.02, 0.66], (0.021, 0.0, 0.0), 13_150),
    "CAM_FRONT": ("camera", [1.70, 0.016, 1.51], (0.006, -0.012, 0.003), 12_470),
    "CAM_BACK": ("camera", [0.05, -0.02, 1.56], (np.pi - 0.004, 0.009, 0.0), 37_310),
}
INTRINSICS = {
    "CAM_FRONT": [[1266.417, 0.0, 816.267], [0.0, 1266.417, 491.507], [0.0, 0.0, 1.0]],
    "CAM_BACK": [[809.221, 0.0, 829.219], [0.0, 809.221, 481.778], [0.0, 0.0, 1.0]],
}
# optical (x right, y down, z forward) -> sensor body (x forward, y left, z up)
_BODY_FROM_OPTICAL = np.array([[0.0, 0.0, 1.0], [-1.0, 0.0, 0.0], [0.0, -1.0, 0.0]])


def _wxyz(rot: Rotation) -> list[float]:
    x, y, z, w = rot.as_quat()
    return [float(w), float(x), float(y), float(z)]


def _ypr(yaw: float, pitch: float, roll: float) -> Rotation:
    return Rotation.from_euler("ZYX", [yaw, pitch, roll])


def _ego_pose(t_us: int) -> dict[str, Any]:
    s = (t_us - T0) * 1e-6
    return {
        "timestamp": t_us,
        "translation": [601.3 + 8.0 * s, 1647.9 + 0.4 * s * s, 0.05 * np.sin(s)],
        "rotation": _wxyz(_ypr(0.31 + 0.05 * s, 0.01 * np.sin(s), -0.008)),
    }


def _png_1x1() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")

    ihdr = (1).to_bytes(4, "big") * 2 + bytes([8, 0, 0, 0, 0])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff"))
        + chunk(b"IEND", b"")
    )


def _write_radar(path: Path, rng: np.random.Generator, n: int) -> None:
    dt = np.dtype([(f, _NP[(k, s)]) for f, s, k in zip(RADAR_FIELDS, RADAR_SIZE, RADAR_TYPE, strict=True)])
    arr = np.zeros(n, dt)
    for f in ("x", "y", "z", "rcs", "vx", "vy", "vx_comp", "vy_comp", "x_rms"):
        arr[f] = rng.normal(0, 10, n)
    arr["x"] = np.abs(arr["x"]) + 2
    arr["id"] = np.arange(n)
    arr["dyn_prop"] = rng.integers(0, 8, n)
    arr["ambig_state"] = 3
    head = (
        "# .PCD v0.7 - Point Cloud Data file format\nVERSION 0.7\n"
        f"FIELDS {' '.join(RADAR_FIELDS)}\nSIZE {' '.join(RADAR_SIZE)}\nTYPE {' '.join(RADAR_TYPE)}\n"
        f"COUNT {' '.join(['1'] * len(RADAR_FIELDS))}\nWIDTH {n}\nHEIGHT 1\nVIEWPOINT 0 0 0 1 0 0 0\n"
        f"POINTS {n}\nDATA binary\n"
    )
    # one trailing byte: the devkit's reader asserts that every field ends *before* the end of the file
    path.write_bytes(head.encode() + arr.tobytes() + b"\n")


def _calibrated_sensors() -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    sensors, calib = [], []
    for ch, (modality, trans, ypr, _) in SENSORS.items():
        rot = _ypr(*ypr)
        if modality == "camera":
            rot = rot * Rotation.from_matrix(_BODY_FROM_OPTICAL)
        sensors.append({"token": f"sensor_{ch}", "channel": ch, "modality": modality})
        calib.append(
            {
                "token": f"cs_{ch}",
                "sensor_token": f"sensor_{ch}",
                "translation": trans,
                "rotation": _wxyz(rot),
                "camera_intrinsic": INTRINSICS.get(ch, []),
            }
        )
    return sensors, calib


# instance: (category, first sample, last sample, centre at t=0, velocity, size wlh, yaw, pitch, roll)
_INSTANCES: dict[str, tuple[Any, ...]] = {
    "inst_car": ("vehicle.car", 0, 2, [612.0, 1652.0, 0.9], [6.0, 1.0], [1.93, 4.62, 1.71], 0.4, 0.0, 0.0),
    "inst_ped": (
        "human.pedestrian.adult",
        0,
        2,
        [606.0, 1643.0, 1.0],
        [0.3, 1.2],
        [0.66, 0.72, 1.78],
        1.6,
        0.0,
        0.0,
    ),
    "inst_truck": (
        "vehicle.truck",
        1,
        2,
        [630.0, 1660.0, 1.8],
        [-3.0, 0.5],
        [2.6, 9.1, 3.4],
        -2.9,
        0.04,
        -0.03,
    ),
    "inst_bike": (
        "vehicle.bicycle",
        0,
        1,
        [598.0, 1655.0, 0.7],
        [2.0, -1.5],
        [0.6, 1.8, 1.3],
        3.1,
        0.0,
        0.02,
    ),
    "inst_car2": ("vehicle.car", 3, 4, [650.0, 1640.0, 0.85], [-5.0, 0.2], [1.9, 4.4, 1.6], 2.8, 0.01, 0.0),
}


def write_dataset(root: str | Path, seed: int = 0) -> dict[str, Any]:
    """Write the dataset under ``root`` and return its tables (``{name: rows}``)."""
    root = Path(root)
    rng = np.random.default_rng(seed)
    vdir = root / VERSION
    for d in (vdir, root / "maps", root / "samples", root / "sweeps"):
        d.mkdir(parents=True, exist_ok=True)
    (root / "maps" / "synth.png").write_bytes(_png_1x1())
    sensors, calib = _calibrated_sensors()
    scenes_spec = [("scene-0001", [0, 1, 2]), ("scene-0002", [3, 4])]
    samples: list[dict[str, Any]] = []
    scenes: list[dict[str, Any]] = []
    sample_data: list[dict[str, Any]] = []
    poses: list[dict[str, Any]] = []
    anns: list[dict[str, Any]] = []
    for sname, idx in scenes_spec:
        toks = [f"sample_{i}" for i in idx]
        scenes.append(
            {
                "token": f"tok_{sname}",
                "name": sname,
                "description": "synthetic",
                "log_token": "log_0",
                "nbr_samples": len(idx),
                "first_sample_token": toks[0],
                "last_sample_token": toks[-1],
            }
        )
        for j, i in enumerate(idx):
            samples.append(
                {
                    "token": toks[j],
                    "timestamp": T0 + i * SAMPLE_US + (200_000 if i >= 3 else 0),
                    "scene_token": f"tok_{sname}",
                    "prev": toks[j - 1] if j > 0 else "",
                    "next": toks[j + 1] if j + 1 < len(toks) else "",
                }
            )
    ts_of: dict[str, int] = {s["token"]: s["timestamp"] for s in samples}
    by_channel: dict[str, list[dict[str, Any]]] = {ch: [] for ch in SENSORS}
    for s in samples:
        for ch, (modality, _, _, offset) in SENSORS.items():
            stamps = [(s["timestamp"] + offset, True)]
            if modality == "lidar":  # sweeps belong to the next sample; the first sample gets one before it
                lead = [-100_000] if s["prev"] == "" else [-333_000, -166_000]
                stamps = [(s["timestamp"] + d, False) for d in lead] + stamps
            for t, key in stamps:
                tok = f"sd_{ch}_{t}"
                folder = "samples" if key else "sweeps"
                ext = {"lidar": "pcd.bin", "radar": "pcd", "camera": "jpg"}[modality]
                filename = f"{folder}/{ch}/{tok}.{ext}"
                (root / folder / ch).mkdir(parents=True, exist_ok=True)
                if modality == "lidar":
                    pts = rng.normal(0, 15, (40, 5)).astype("<f4")
                    pts[:, 3] = rng.integers(0, 256, 40)
                    pts[:, 4] = rng.integers(0, 32, 40)
                    pts.tofile(root / filename)
                elif modality == "radar":
                    _write_radar(root / filename, rng, 12)
                cam = modality == "camera"
                rec = {
                    "token": tok,
                    "sample_token": s["token"],
                    "ego_pose_token": f"ep_{tok}",
                    "calibrated_sensor_token": f"cs_{ch}",
                    "timestamp": t,
                    "fileformat": ext.split(".")[0],
                    "is_key_frame": key,
                    "height": 900 if cam else 0,
                    "width": 1600 if cam else 0,
                    "filename": filename,
                }
                by_channel[ch].append(rec)
                poses.append({"token": f"ep_{tok}", **_ego_pose(t)})
    for recs in by_channel.values():
        recs.sort(key=lambda r: r["timestamp"])
        for a, b in zip(recs, recs[1:], strict=False):
            a["next"], b["prev"] = b["token"], a["token"]
        recs[0]["prev"], recs[-1]["next"] = "", ""
        sample_data += recs
    categories = sorted({v[0] for v in _INSTANCES.values()})
    instances = []
    for inst, (cat, first, last, c0, vel, wlh, yaw, pitch, roll) in _INSTANCES.items():
        toks = [f"ann_{inst}_{i}" for i in range(first, last + 1)]
        for k, i in enumerate(range(first, last + 1)):
            sec = (ts_of[f"sample_{i}"] - T0) * 1e-6
            q = np.asarray(_wxyz(_ypr(yaw + 0.2 * k, pitch + 0.01 * k, roll)))
            if inst == "inst_car" and k == 1:
                q = -q  # the same rotation: readers and slerp must take the short way
            anns.append(
                {
                    "token": toks[k],
                    "sample_token": f"sample_{i}",
                    "instance_token": inst,
                    "visibility_token": str(1 + (k % 4)),
                    "attribute_tokens": ["attr_moving"] if vel[0] else [],
                    "translation": [c0[0] + vel[0] * sec, c0[1] + vel[1] * sec, c0[2] + 0.02 * k],
                    "size": wlh,
                    "rotation": q.tolist(),
                    "prev": toks[k - 1] if k else "",
                    "next": toks[k + 1] if k + 1 < len(toks) else "",
                    "num_lidar_pts": 10,
                    "num_radar_pts": 1,
                }
            )
        instances.append(
            {
                "token": inst,
                "category_token": f"cat_{cat}",
                "nbr_annotations": len(toks),
                "first_annotation_token": toks[0],
                "last_annotation_token": toks[-1],
            }
        )
    tables: dict[str, list[dict[str, Any]]] = {
        "category": [{"token": f"cat_{c}", "name": c, "description": ""} for c in categories],
        "attribute": [{"token": "attr_moving", "name": "vehicle.moving", "description": ""}],
        "visibility": [
            {"token": str(i + 1), "level": lv, "description": ""}
            for i, lv in enumerate(["v0-40", "v40-60", "v60-80", "v80-100"])
        ],
        "instance": instances,
        "sensor": sensors,
        "calibrated_sensor": calib,
        "ego_pose": poses,
        "log": [
            {
                "token": "log_0",
                "logfile": "synth",
                "vehicle": "n015",
                "date_captured": "2018-08-01",
                "location": "singapore-onenorth",
            }
        ],
        "scene": scenes,
        "sample": samples,
        "sample_data": sample_data,
        "sample_annotation": anns,
        "map": [
            {
                "token": "map_0",
                "log_tokens": ["log_0"],
                "category": "semantic_prior",
                "filename": "maps/synth.png",
            }
        ],
    }
    for name, rows in tables.items():
        (vdir / f"{name}.json").write_text(json.dumps(rows, indent=1))
    return tables


if __name__ == "__main__":
    write_dataset(sys.argv[1])
