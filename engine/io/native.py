"""fusionlabel's native log storage: a directory that scales to hours of data.

Layout (``version`` 1)::

    LOG/manifest.json                 sensors, trajectory policy, stream schemas, metadata
    LOG/trajectory.npz                timestamps_us, translations, quaternions_wxyz
    LOG/annotations.json              tracks and links (engine.io.annotations_json)
    LOG/<kind>/<sensor_id>/index.npy  per capture: timestamp_us (int64), count (int64)
    LOG/<kind>/<sensor_id>/NNNNNNNN.bin   one file per sweep: its columns back to back, each 64-byte aligned
    LOG/camera/<sensor_id>/index.npy + images.json   camera timestamps and image references

Opening a log reads the manifest, the trajectory and the stream indexes only. A sweep file is
memory-mapped when that sweep is indexed; its columns are zero-copy views of the map, so the bytes on
disk are the arrays (the round trip is bit-exact).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.se3 import SE3
from calibration.trajectory import Extrapolation, Trajectory
from engine.annotations import Annotations
from engine.io.annotations_json import read_annotations, write_annotations
from engine.log import Log, Stream
from engine.sensors import Sensor, SensorKind
from engine.sweeps import CameraFrame, LidarSweep, RadarSweep
from kernels.errors import InvalidInputError, LogFormatError

__all__ = ["FORMAT", "VERSION", "LogWriter", "is_native_log", "read_native_log", "write_native_log"]

FORMAT = "fusionlabel-log"
VERSION = 1
_ALIGN = 64
_INDEX_DTYPE = np.dtype([("timestamp_us", "<i8"), ("count", "<i8")])

# Column schema per point-stream kind: (field name, little-endian dtype, per-point shape).
_COLUMNS: dict[str, list[tuple[str, str, tuple[int, ...]]]] = {
    "lidar": [
        ("points", "<f4", (3,)),
        ("time_offset_us", "<i4", ()),
        ("intensity", "<f4", ()),
        ("ring", "<u2", ()),
    ],
    "radar": [
        ("points", "<f4", (3,)),
        ("radial_velocity", "<f4", ()),
        ("rcs", "<f4", ()),
        ("time_offset_us", "<i4", ()),
    ],
}


def _column_offsets(columns: list[tuple[str, str, tuple[int, ...]]], count: int) -> list[int]:
    offsets, pos = [], 0
    for _, dtype, shape in columns:
        offsets.append(pos)
        nbytes = count * int(np.prod(shape, dtype=np.int64)) * np.dtype(dtype).itemsize
        pos = (pos + nbytes + _ALIGN - 1) // _ALIGN * _ALIGN
    return offsets


def _sensor_to_dict(s: Sensor) -> dict[str, Any]:
    out: dict[str, Any] = {
        "id": s.sensor_id,
        "kind": s.kind.value,
        "ego_from_sensor": s.ego_from_sensor.to_dict(),
        "metadata": dict(s.metadata),
    }
    if s.camera is not None:
        out["camera"] = s.camera.to_dict()
    return out


def _sensor_from_dict(d: dict[str, Any]) -> Sensor:
    camera = None
    if d.get("camera") is not None:
        from calibration.camera import CameraModel

        camera = CameraModel.from_dict(d["camera"])
    return Sensor(
        d["id"],
        SensorKind.parse(d["kind"]),
        SE3.from_dict(d["ego_from_sensor"]),
        camera,
        d.get("metadata", {}),
    )


class LogWriter:
    """Write a native log one capture at a time (constant memory for logs of any length).

    Parameters
    ----------
    path : str or Path
        Directory to create; must not exist or be empty.
    name : str
        Log name.
    sensors : sequence of Sensor
        The rig.
    trajectory : Trajectory
        ``world_from_ego`` poses.
    metadata : mapping, optional
        JSON-safe facts kept in the manifest.

    Notes
    -----
    Captures of one sensor must arrive in strictly increasing time. The manifest is written last by
    :meth:`close` (atomically), so a crashed writer leaves no log that looks complete.
    """

    def __init__(
        self,
        path: str | Path,
        name: str,
        sensors: list[Sensor],
        trajectory: Trajectory,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        self.path = Path(path)
        if self.path.exists() and any(self.path.iterdir()):
            raise InvalidInputError(f"path {str(self.path)!r} exists and is not empty")
        self.path.mkdir(parents=True, exist_ok=True)
        self._sensors = {s.sensor_id: s for s in sensors}
        if len(self._sensors) != len(sensors):
            raise InvalidInputError(f"sensors: duplicate sensor ids in {[s.sensor_id for s in sensors]}")
        self._name, self._trajectory, self._metadata = name, trajectory, dict(metadata or {})
        self._index: dict[str, list[tuple[int, int]]] = {}
        self._images: dict[str, list[str | None]] = {}
        self._annotations = Annotations()

    def _sensor(self, sensor_id: str, kind: SensorKind) -> Sensor:
        s = self._sensors.get(sensor_id)
        if s is None or s.kind is not kind:
            raise InvalidInputError(
                f"no {kind.value} sensor {sensor_id!r}; sensors are {sorted(self._sensors)}"
            )
        return s

    def _append_index(self, sensor_id: str, timestamp_us: int, count: int) -> int:
        idx = self._index.setdefault(sensor_id, [])
        if idx and timestamp_us <= idx[-1][0]:
            raise InvalidInputError(
                f"sensor {sensor_id!r}: timestamp_us {timestamp_us} is not after the previous {idx[-1][0]}"
            )
        idx.append((timestamp_us, count))
        return len(idx) - 1

    def _write_columns(self, kind: str, sweep: LidarSweep | RadarSweep) -> None:
        self._sensor(sweep.sensor_id, SensorKind(kind))
        i = self._append_index(sweep.sensor_id, sweep.timestamp_us, len(sweep))
        d = self.path / kind / sweep.sensor_id
        d.mkdir(parents=True, exist_ok=True)
        columns = _COLUMNS[kind]
        offsets = _column_offsets(columns, len(sweep))
        with open(d / f"{i:08d}.bin", "wb") as f:
            for (field, dtype, _), off in zip(columns, offsets, strict=True):
                f.write(b"\0" * (off - f.tell()))
                f.write(np.ascontiguousarray(getattr(sweep, field), dtype=dtype).tobytes())

    def add_lidar(self, sweep: LidarSweep) -> None:
        """Append one lidar sweep."""
        self._write_columns("lidar", sweep)

    def add_radar(self, sweep: RadarSweep) -> None:
        """Append one radar sweep."""
        self._write_columns("radar", sweep)

    def add_camera_frame(self, frame: CameraFrame) -> None:
        """Append one camera frame (its image reference is stored as given)."""
        self._sensor(frame.sensor_id, SensorKind.CAMERA)
        self._append_index(frame.sensor_id, frame.timestamp_us, 0)
        self._images.setdefault(frame.sensor_id, []).append(frame.image)

    def set_annotations(self, annotations: Annotations) -> None:
        """Annotations to store with the log."""
        self._annotations = annotations

    def close(self) -> Path:
        """Write indexes, trajectory, annotations and (last) the manifest; return the log path."""
        streams: dict[str, dict[str, Any]] = {"lidar": {}, "radar": {}, "camera": {}}
        for sid, entries in self._index.items():
            kind = self._sensors[sid].kind.value
            d = self.path / kind / sid
            d.mkdir(parents=True, exist_ok=True)
            np.save(d / "index.npy", np.array(entries, dtype=_INDEX_DTYPE))
            entry: dict[str, Any] = {"dir": f"{kind}/{sid}", "count": len(entries)}
            if kind == "camera":
                (d / "images.json").write_text(json.dumps(self._images[sid]))
            else:
                entry["columns"] = [[n, dt, list(sh)] for n, dt, sh in _COLUMNS[kind]]
                entry["align"] = _ALIGN
            streams[kind][sid] = entry
        tr = self._trajectory
        np.savez(
            self.path / "trajectory.npz",
            timestamps_us=tr.timestamps_us,
            translations=tr.translations,
            quaternions_wxyz=tr.quaternions_wxyz,
        )
        write_annotations(self.path / "annotations.json", self._annotations)
        manifest = {
            "format": FORMAT,
            "version": VERSION,
            "name": self._name,
            "metadata": self._metadata,
            "sensors": [_sensor_to_dict(s) for s in self._sensors.values()],
            "trajectory": {
                "file": "trajectory.npz",
                "extrapolation": tr.extrapolation.value,
                "max_extrapolation_us": tr.max_extrapolation_us,
            },
            "streams": streams,
            "annotations": "annotations.json",
        }
        tmp = self.path / "manifest.json.tmp"
        tmp.write_text(json.dumps(manifest, indent=1))
        os.replace(tmp, self.path / "manifest.json")
        return self.path


def write_native_log(log: Log, path: str | Path) -> Path:
    """Write a whole :class:`~engine.log.Log` (streams are read one capture at a time).

    Image references relative to the source log (``log.metadata["path"]``) are stored as absolute
    paths, so the new log still finds its images; pixels are not copied.
    """
    w = LogWriter(path, log.name, list(log.sensors.values()), log.trajectory, dict(log.metadata))
    for stream in log.lidar.values():
        for sweep in stream:
            w.add_lidar(sweep)
    for rstream in log.radar.values():
        for rsweep in rstream:
            w.add_radar(rsweep)
    # Image references relative to the source log's folder would dangle in the new folder: make them absolute.
    source_root = log.metadata.get("path")
    for cstream in log.cameras.values():
        for frame in cstream:
            if source_root and frame.image and not Path(frame.image).is_absolute():
                frame = CameraFrame(
                    frame.sensor_id, frame.timestamp_us, str(Path(source_root).resolve() / frame.image)
                )
            w.add_camera_frame(frame)
    w.set_annotations(log.annotations)
    return w.close()


def is_native_log(path: str | Path) -> bool:
    """Whether ``path`` is a directory holding a native manifest."""
    m = Path(path) / "manifest.json"
    if not m.is_file():
        return False
    try:
        return bool(json.loads(m.read_text()).get("format") == FORMAT)
    except (OSError, json.JSONDecodeError):
        return False


def _point_loader(
    root: Path, kind: str, entry: dict[str, Any], index: npt.NDArray[Any], sensor_id: str
) -> Callable[[int], Any]:
    columns = [(n, dt, tuple(sh)) for n, dt, sh in entry["columns"]]
    expected = [(n, dt, tuple(sh)) for n, dt, sh in _COLUMNS[kind]]
    if columns != expected:
        raise LogFormatError(f"{kind} stream {sensor_id!r}: unsupported columns {columns}")
    d = root / entry["dir"]

    def load(i: int) -> LidarSweep | RadarSweep:
        count = int(index["count"][i])
        path = d / f"{i:08d}.bin"
        offsets = _column_offsets(columns, count)
        mm = np.memmap(path, dtype=np.uint8, mode="r") if count else np.zeros(0, np.uint8)
        arrays: dict[str, Any] = {}
        for (field, dtype, shape), off in zip(columns, offsets, strict=True):
            n_items = count * int(np.prod(shape, dtype=np.int64))
            nbytes = n_items * np.dtype(dtype).itemsize
            if off + nbytes > mm.size:
                raise LogFormatError(
                    f"{path}: truncated (column {field!r} needs {off + nbytes} bytes, file has {mm.size})"
                )
            arrays[field] = mm[off : off + nbytes].view(dtype).reshape((count, *shape))
        cls = LidarSweep if kind == "lidar" else RadarSweep
        return cls(sensor_id=sensor_id, timestamp_us=int(index["timestamp_us"][i]), **arrays)

    return load


def read_native_log(path: str | Path) -> Log:
    """Open a native log lazily: no sweep is read until it is indexed."""
    root = Path(path)
    try:
        manifest = json.loads((root / "manifest.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LogFormatError(f"{str(root)!r} is not a readable native log: {exc}") from exc
    if manifest.get("format") != FORMAT:
        raise LogFormatError(f"{str(root)!r}: manifest format {manifest.get('format')!r} is not {FORMAT!r}")
    if manifest.get("version") != VERSION:
        raise LogFormatError(
            f"{str(root)!r}: manifest version {manifest.get('version')!r} is not supported "
            f"(expected {VERSION})"
        )
    sensors = {s.sensor_id: s for s in (_sensor_from_dict(d) for d in manifest["sensors"])}
    tinfo = manifest["trajectory"]
    with np.load(root / tinfo["file"]) as npz:
        trajectory = Trajectory(
            npz["timestamps_us"],
            npz["translations"],
            npz["quaternions_wxyz"],
            Extrapolation(tinfo["extrapolation"]),
            int(tinfo["max_extrapolation_us"]),
        )
    streams: dict[str, dict[str, Stream[Any]]] = {"lidar": {}, "radar": {}, "camera": {}}
    for kind, entries in manifest["streams"].items():
        for sid, entry in entries.items():
            index = np.load(root / entry["dir"] / "index.npy", mmap_mode="r")
            if kind == "camera":
                images = json.loads((root / entry["dir"] / "images.json").read_text())

                def load_frame(
                    i: int,
                    sid: str = sid,
                    images: list[str | None] = images,
                    index: npt.NDArray[Any] = index,
                ) -> CameraFrame:
                    return CameraFrame(sid, int(index["timestamp_us"][i]), images[i])

                streams[kind][sid] = Stream(sid, index["timestamp_us"], load_frame)
            elif kind in _COLUMNS:
                streams[kind][sid] = Stream(
                    sid, index["timestamp_us"], _point_loader(root, kind, entry, index, sid)
                )
            else:
                raise LogFormatError(f"{str(root)!r}: unknown stream kind {kind!r}")
    ann_path = root / manifest.get("annotations", "annotations.json")
    annotations = read_annotations(ann_path) if ann_path.exists() else Annotations()
    return Log(
        name=manifest.get("name", root.name),
        sensors=sensors,
        trajectory=trajectory,
        lidar=streams["lidar"],
        radar=streams["radar"],
        cameras=streams["camera"],
        annotations=annotations,
        metadata={**manifest.get("metadata", {}), "path": str(root)},
    )
