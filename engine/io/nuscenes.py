"""nuScenes: one scene of a dataset folder as a log, reading the JSON tables directly (no devkit).

Layout: ``ROOT/<version>/{scene,sample,sample_data,ego_pose,calibrated_sensor,sensor,sample_annotation,
instance,category[,attribute,visibility]}.json`` and the files ``ROOT/<sample_data.filename>``.

Conventions (devkit ``docs/schema_nuscenes.md``, ``utils/data_classes.py``; docs/CONVENTIONS.md §8):

* ``ego_pose`` = ``global_from_ego`` and ``calibrated_sensor`` = ``ego_from_sensor``: translation +
  quaternion **(w, x, y, z)**. Ego origin: rear-axle midpoint. World = the map (global) frame.
* ``sample_annotation``: ``translation`` = box centre (global), ``size`` = **(w, l, h)** →
  ``length = size[1], width = size[0], height = size[2]``; ``rotation`` (w, x, y, z) kept in full.
  One track per ``instance``, label = the category name; keyframes at the samples' timestamps.
  Attribute names and visibility levels become AttributePaths ``attribute`` / ``visibility``.
* Time: int Unix µs as stored.
* Lidar ``.pcd.bin``: float32 x 5 ``(x, y, z, intensity, ring)``; intensity / 255 *(unverified
  scale)*; no per-point time (offsets 0). Radar ``.pcd`` (binary PCD): ``rcs`` [dBsm], radial velocity
  = ``p/|p| · (vx, vy, 0)`` (measured, not ego-compensated ``vx_comp``). Files load lazily.

Cross-checked against the official devkit (``make nuscenes-crosscheck``, ``tools/nuscenes_crosscheck.py``):
world and sensor-frame boxes, corners, camera pixels, ego poses and point files agree to < 1e-6.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.camera import CameraModel
from calibration.se3 import SE3
from calibration.trajectory import Trajectory
from engine.annotations import Annotations, AttributePath, CoordinateFrame, CuboidTrack
from engine.log import Log, Stream
from engine.sensors import Sensor, SensorKind
from engine.sweeps import CameraFrame, LidarSweep, RadarSweep
from kernels.errors import EngineError, LogFormatError
from kernels.validation import check_unit_quaternions

__all__ = ["is_nuscenes", "read_nuscenes", "read_pcd"]

_TABLES = (
    "scene",
    "sample",
    "sample_data",
    "ego_pose",
    "calibrated_sensor",
    "sensor",
    "sample_annotation",
    "instance",
    "category",
)
_PCD_TYPES = {
    ("F", 4): "<f4",
    ("F", 8): "<f8",
    ("I", 1): "i1",
    ("I", 2): "<i2",
    ("I", 4): "<i4",
    ("U", 1): "u1",
    ("U", 2): "<u2",
    ("U", 4): "<u4",
}


def _version_dir(root: Path) -> Path | None:
    for d in sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []:
        if (d / "sample_data.json").is_file() and (d / "scene.json").is_file():
            return d
    return None


def is_nuscenes(path: str | Path) -> bool:
    """Whether ``path`` holds a ``<version>/`` folder with nuScenes tables."""
    return _version_dir(Path(path)) is not None


def _load(d: Path, name: str, required: bool = True) -> list[dict[str, Any]]:
    p = d / f"{name}.json"
    if not p.is_file():
        if required:
            raise LogFormatError(f"nuScenes table {str(p)!r} is missing")
        return []
    try:
        return list(json.loads(p.read_text()))
    except (OSError, json.JSONDecodeError) as exc:
        raise LogFormatError(f"cannot read nuScenes table {str(p)!r}: {exc}") from exc


def read_pcd(path: str | Path) -> npt.NDArray[Any]:
    """Read a binary PCD file (nuScenes radar) as a structured array with the file's fields."""
    data = Path(path).read_bytes()
    header: dict[str, list[str]] = {}
    pos = 0
    while True:
        end = data.index(b"\n", pos)
        parts = data[pos:end].decode("ascii").split()
        pos = end + 1
        if parts and not parts[0].startswith("#"):
            header[parts[0].upper()] = parts[1:]
            if parts[0].upper() == "DATA":
                break
    if header["DATA"] != ["binary"]:
        raise LogFormatError(f"{str(path)!r}: only binary PCD is supported, got DATA {header['DATA']}")
    counts = [int(c) for c in header.get("COUNT", ["1"] * len(header["FIELDS"]))]
    fields = []
    for name, size, kind, count in zip(header["FIELDS"], header["SIZE"], header["TYPE"], counts, strict=True):
        dt = _PCD_TYPES[(kind, int(size))]
        fields.append((name, dt) if count == 1 else (name, dt, (count,)))
    n = int(header["POINTS"][0])
    return np.frombuffer(data, dtype=np.dtype(fields), count=n, offset=pos)


def _se3(rec: Mapping[str, Any], what: str) -> SE3:
    q = np.asarray(rec["rotation"], dtype=np.float64)
    check_unit_quaternions(what, q)
    return SE3.from_quaternion(q / np.linalg.norm(q), rec["translation"])


def _lidar_loader(root: Path, sid: str, recs: list[dict[str, Any]]) -> Callable[[int], LidarSweep]:
    def load(i: int) -> LidarSweep:
        raw = np.fromfile(root / recs[i]["filename"], dtype="<f4").reshape(-1, 5)
        n = raw.shape[0]
        return LidarSweep(
            sid,
            int(recs[i]["timestamp"]),
            np.ascontiguousarray(raw[:, :3]),
            np.zeros(n, np.int32),
            (raw[:, 3] / np.float32(255.0)).astype(np.float32),
            raw[:, 4].astype(np.uint16),
        )

    return load


def _radar_loader(root: Path, sid: str, recs: list[dict[str, Any]]) -> Callable[[int], RadarSweep]:
    def load(i: int) -> RadarSweep:
        pc = read_pcd(root / recs[i]["filename"])
        p = np.stack([pc["x"], pc["y"], pc["z"]], 1).astype(np.float64)
        rng = np.linalg.norm(p, axis=1)
        unit = np.divide(p, rng[:, None], out=np.zeros_like(p), where=rng[:, None] > 0)
        rv = unit[:, 0] * pc["vx"] + unit[:, 1] * pc["vy"]
        return RadarSweep(
            sid,
            int(recs[i]["timestamp"]),
            p.astype(np.float32),
            rv.astype(np.float32),
            pc["rcs"].astype(np.float32),
            np.zeros(len(pc), np.int32),
        )

    return load


def _tracks(t: dict[str, Any], samples: Mapping[str, int], d: Path) -> Annotations:
    cat = {c["token"]: c["name"] for c in t["category"]}
    inst = {i["token"]: cat.get(i["category_token"], "unknown") for i in t["instance"]}
    attr = {a["token"]: a["name"] for a in _load(d, "attribute", False)}
    vis = {v["token"]: v.get("level", v["token"]) for v in _load(d, "visibility", False)}
    by_inst: dict[str, list[dict[str, Any]]] = {}
    for a in t["sample_annotation"]:
        if a["sample_token"] in samples:
            by_inst.setdefault(a["instance_token"], []).append(a)
    tracks = []
    for token, anns in by_inst.items():
        anns.sort(key=lambda a: samples[a["sample_token"]])
        ts = [samples[a["sample_token"]] for a in anns]
        size = np.asarray([a["size"] for a in anns], dtype=np.float64)
        attrs = [
            AttributePath(
                "attribute",
                tuple(ts),
                tuple("|".join(attr.get(x, x) for x in a.get("attribute_tokens", [])) for a in anns),
            )
        ]
        if any(a.get("visibility_token") for a in anns):
            attrs.append(
                AttributePath(
                    "visibility", tuple(ts), tuple(vis.get(a.get("visibility_token", ""), "") for a in anns)
                )
            )
        q = np.asarray([a["rotation"] for a in anns], dtype=np.float64)
        check_unit_quaternions(f"sample_annotation rotation of instance {token}", q)
        tracks.append(
            CuboidTrack(
                token,
                inst.get(token, "unknown"),
                CoordinateFrame.WORLD,
                np.asarray(ts),
                np.asarray([a["translation"] for a in anns], dtype=np.float64),
                size[:, [1, 0, 2]],
                q / np.linalg.norm(q, axis=1, keepdims=True),
                attributes=tuple(attrs),
            )
        )
    return Annotations(tuple(tracks))


def read_nuscenes(path: str | Path, scene: str | None = None) -> Log:
    """Open one scene (by name or token; default the first) of a nuScenes folder as a :class:`~engine.Log`."""
    root = Path(path)
    d = _version_dir(root)
    if d is None:
        raise LogFormatError(
            f"{str(root)!r} has no nuScenes version folder (<version>/scene.json, sample_data.json)"
        )
    t = {name: _load(d, name) for name in _TABLES}
    scenes = t["scene"]
    pick = [s for s in scenes if scene in (None, s["name"], s["token"])]
    if not pick:
        raise LogFormatError(
            f"unknown nuScenes scene {scene!r}; expected one of {[s['name'] for s in scenes]}"
        )
    sc = pick[0]
    samples = {s["token"]: int(s["timestamp"]) for s in t["sample"] if s["scene_token"] == sc["token"]}
    calib = {c["token"]: c for c in t["calibrated_sensor"]}
    sensor_rec = {s["token"]: s for s in t["sensor"]}
    poses = {p["token"]: p for p in t["ego_pose"]}
    by_channel: dict[str, list[dict[str, Any]]] = {}
    for sd in t["sample_data"]:
        if sd["sample_token"] in samples:
            by_channel.setdefault(
                sensor_rec[calib[sd["calibrated_sensor_token"]]["sensor_token"]]["channel"], []
            ).append(sd)
    try:
        used = sorted(
            {sd["ego_pose_token"] for recs in by_channel.values() for sd in recs},
            key=lambda k: int(poses[k]["timestamp"]),
        )
        seen, keep = set(), []
        for k in used:
            if int(poses[k]["timestamp"]) not in seen:
                seen.add(int(poses[k]["timestamp"]))
                keep.append(poses[k])
        mats = np.stack([_se3(p, "ego_pose rotation").matrix for p in keep])
        trajectory = Trajectory.from_matrices(np.asarray([int(p["timestamp"]) for p in keep]), mats)
        sensors: dict[str, Sensor] = {}
        streams: dict[str, dict[str, Stream[Any]]] = {"lidar": {}, "radar": {}, "camera": {}}
        for ch, recs in sorted(by_channel.items()):
            recs.sort(key=lambda r: int(r["timestamp"]))
            cs = calib[recs[0]["calibrated_sensor_token"]]
            modality = sensor_rec[cs["sensor_token"]]["modality"]
            ego_from = _se3(cs, f"calibrated_sensor rotation of {ch}")
            stamps = [int(r["timestamp"]) for r in recs]
            meta = {"channel": ch, "nuscenes_modality": modality}
            if modality == "camera":
                k = np.asarray(cs["camera_intrinsic"], dtype=np.float64)
                model = CameraModel.pinhole(
                    int(recs[0]["width"]), int(recs[0]["height"]), k[0, 0], k[1, 1], k[0, 2], k[1, 2]
                )
                sensors[ch] = Sensor(ch, SensorKind.CAMERA, ego_from, model, meta)
                streams["camera"][ch] = Stream.from_items(
                    ch, [CameraFrame(ch, s, r["filename"]) for s, r in zip(stamps, recs, strict=True)]
                )
            elif modality in ("lidar", "radar"):
                sensors[ch] = Sensor(ch, SensorKind(modality), ego_from, None, meta)
                make = _lidar_loader if modality == "lidar" else _radar_loader
                streams[modality][ch] = Stream(ch, stamps, make(root, ch, recs))
            else:
                raise LogFormatError(f"nuScenes channel {ch!r} has unknown modality {modality!r}")
        annotations = _tracks(t, samples, d)
    except KeyError as exc:
        raise LogFormatError(f"{str(d)!r}: a nuScenes table lacks the field or token {exc}") from exc
    except EngineError as exc:
        raise LogFormatError(f"{str(d)!r}: {exc}") from exc
    return Log(
        name=sc["name"],
        sensors=sensors,
        trajectory=trajectory,
        lidar=streams["lidar"],
        radar=streams["radar"],
        cameras=streams["camera"],
        annotations=annotations,
        metadata={
            "format": "nuscenes",
            "path": str(root),
            "version": d.name,
            "scene_token": sc["token"],
            "scenes": [s["name"] for s in scenes],
            "epoch": "unix",
        },
    )
