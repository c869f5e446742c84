"""Ground truth of a simulated log, in memory and on disk.

On disk (``OUT/ground_truth/``)::

    manifest.json        format "fusionlabel-sim-ground-truth" v1: rig, seed, seconds, class names,
                         attribute values, static structures ((S, 7) world boxes), label counts
    annotations.json     GT cuboid tracks in the WORLD frame (engine.io.annotations_json), keyframed at
                         every lidar sweep timestamp while the actor is within sensor range (the largest
                         lidar/radar range + 10 m; plus one sweep either side); every labelled point and
                         2D box refers to one; vehicles carry AttributePaths "blinker" and "brake_light";
                         static_attributes {"behaviour": lane|parked|standing|crossing}
    boxes_2d.json        format "fusionlabel-sim-boxes2d" v1: {"cameras": {id: {"width", "height"}},
                         "frames": [{"sensor_id", "timestamp_us", "boxes": [{"track_id", "label",
                         "box": [x0, y0, x1, y1] (px, clipped to [0, W] x [0, H]), "visible_fraction",
                         "truncation", "occlusion", "depth_m", "attributes": {name: value}}]}]}
    labels/<sensor_id>/NNNNNNNN.npy   per lidar/radar sweep, one row per point in sweep order:
                         structured ("semantic" uint8, "instance" int32), see PointLabels

2D box fields, from a dense sampling of the cuboid's camera-facing faces (area weighted) at the camera's
capture time: ``truncation`` is the share outside the image or the lens's valid field of view,
``occlusion`` the share of the in-image part hidden by other actors or structures, ``visible_fraction``
the share in the image and unoccluded (> 0 for every listed box). The box is the extent of the projected
footprint: every cuboid edge sampled at 24 points (so fisheye edges curve) plus the facing-face samples,
clipped to the image.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TextIO

import numpy as np
import numpy.typing as npt

from engine.annotations import Annotations
from engine.io.annotations_json import read_annotations
from engine.sim.lidar import PointLabels
from kernels.errors import InvalidInputError, LogFormatError

__all__ = ["Box2D", "BoxesWriter", "CameraBoxes", "GroundTruth", "read_ground_truth"]

GT_FORMAT, BOXES_FORMAT = "fusionlabel-sim-ground-truth", "fusionlabel-sim-boxes2d"
LABEL_DTYPE = np.dtype([("semantic", "u1"), ("instance", "<i4")])


@dataclass(frozen=True, slots=True)
class Box2D:
    """The ground-truth 2D box of one track in one camera frame (fields: see the module docstring)."""

    track_id: str
    label: str
    box: tuple[float, float, float, float]
    visible_fraction: float
    truncation: float
    occlusion: float
    depth_m: float
    attributes: Mapping[str, str] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (floats round-trip exactly)."""
        return {
            "track_id": self.track_id,
            "label": self.label,
            "box": list(self.box),
            "visible_fraction": self.visible_fraction,
            "truncation": self.truncation,
            "occlusion": self.occlusion,
            "depth_m": self.depth_m,
            "attributes": dict(self.attributes),
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Box2D:
        """Inverse of :meth:`to_dict`."""
        b = d["box"]
        return cls(
            d["track_id"],
            d["label"],
            (float(b[0]), float(b[1]), float(b[2]), float(b[3])),
            float(d["visible_fraction"]),
            float(d["truncation"]),
            float(d["occlusion"]),
            float(d["depth_m"]),
            MappingProxyType(dict(d.get("attributes", {}))),
        )


@dataclass(frozen=True, slots=True)
class CameraBoxes:
    """All ground-truth 2D boxes of one camera frame."""

    sensor_id: str
    timestamp_us: int
    boxes: tuple[Box2D, ...]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        return {
            "sensor_id": self.sensor_id,
            "timestamp_us": self.timestamp_us,
            "boxes": [b.to_dict() for b in self.boxes],
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> CameraBoxes:
        """Inverse of :meth:`to_dict`."""
        return cls(d["sensor_id"], int(d["timestamp_us"]), tuple(Box2D.from_dict(b) for b in d["boxes"]))


@dataclass(frozen=True, slots=True, eq=False)
class GroundTruth:
    """Everything the simulator knows about a run.

    Attributes
    ----------
    annotations : Annotations
        World-frame GT tracks (see the module docstring).
    camera_boxes : tuple of CameraBoxes
        One entry per camera frame, in generation order (time order per camera).
    structures : ndarray of shape (S, 7), float64
        Static boxes ``[x, y, z, length, width, height, yaw]``, world frame.
    point_labels : mapping of sensor id to sequence of PointLabels
        Per lidar/radar sweep, in stream order.
    metadata : mapping
        ``rig``, ``seed``, ``seconds``, ``classes``, ``attributes``.
    """

    annotations: Annotations
    camera_boxes: tuple[CameraBoxes, ...]
    structures: npt.NDArray[np.float64]
    point_labels: Mapping[str, Sequence[PointLabels]]
    metadata: Mapping[str, Any]

    def boxes_2d(self, sensor_id: str, timestamp_us: int) -> CameraBoxes:
        """The 2D boxes of one camera frame; raises naming the frame when absent."""
        for cb in self.camera_boxes:
            if cb.sensor_id == sensor_id and cb.timestamp_us == timestamp_us:
                return cb
        raise InvalidInputError(f"no camera frame {sensor_id!r} at timestamp_us {timestamp_us}")


class _LabelFiles(Sequence[PointLabels]):
    """Point labels of one sensor read lazily from ``labels/<sensor_id>/``."""

    def __init__(self, folder: Path, count: int) -> None:
        self._folder, self._count = folder, count

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, index: int) -> PointLabels:  # type: ignore[override]
        if not -self._count <= index < self._count:
            raise IndexError(
                f"{self._folder.name} has {self._count} labelled sweeps, index {index} is out of range"
            )
        arr = np.load(self._folder / f"{index % self._count:08d}.npy")
        return PointLabels(arr["semantic"], arr["instance"])

    def __iter__(self) -> Iterator[PointLabels]:
        for i in range(self._count):
            yield self[i]


def save_labels(folder: Path, index: int, labels: PointLabels) -> None:
    """Write one sweep's labels as ``folder/NNNNNNNN.npy``."""
    arr = np.empty(len(labels), LABEL_DTYPE)
    arr["semantic"], arr["instance"] = labels.semantic, labels.instance
    folder.mkdir(parents=True, exist_ok=True)
    np.save(folder / f"{index:08d}.npy", arr)


class BoxesWriter:
    """Stream ``boxes_2d.json`` one camera frame at a time (constant memory)."""

    def __init__(self, path: Path, cameras: Mapping[str, tuple[int, int]]) -> None:
        self._f: TextIO = open(path, "w")  # noqa: SIM115 - closed by close()
        head = {
            "format": BOXES_FORMAT,
            "version": 1,
            "cameras": {k: {"width": w, "height": h} for k, (w, h) in cameras.items()},
        }
        self._f.write(json.dumps(head)[:-1] + ', "frames": [\n')
        self._first = True

    def add(self, frame: CameraBoxes) -> None:
        """Append one frame."""
        self._f.write(("" if self._first else ",\n") + json.dumps(frame.to_dict()))
        self._first = False

    def close(self) -> None:
        """Finish the JSON document."""
        self._f.write("\n]}\n")
        self._f.close()


def read_ground_truth(path: str | Path) -> GroundTruth:
    """Read the ground truth written by :func:`engine.sim.write_simulation`.

    Parameters
    ----------
    path : str or Path
        The ``ground_truth`` folder, or the output folder holding it.
    """
    root = Path(path)
    if not (root / "manifest.json").is_file() and (root / "ground_truth" / "manifest.json").is_file():
        root = root / "ground_truth"
    try:
        manifest = json.loads((root / "manifest.json").read_text())
        boxes = json.loads((root / "boxes_2d.json").read_text())
    except (OSError, json.JSONDecodeError) as exc:
        raise LogFormatError(f"{str(root)!r} holds no readable simulator ground truth: {exc}") from exc
    if manifest.get("format") != GT_FORMAT or boxes.get("format") != BOXES_FORMAT:
        raise LogFormatError(
            f"{str(root)!r}: expected formats {GT_FORMAT!r} and {BOXES_FORMAT!r}, got "
            f"{manifest.get('format')!r} and {boxes.get('format')!r}"
        )
    labels = {sid: _LabelFiles(root / "labels" / sid, int(n)) for sid, n in manifest["label_counts"].items()}
    return GroundTruth(
        annotations=read_annotations(root / "annotations.json"),
        camera_boxes=tuple(CameraBoxes.from_dict(f) for f in boxes["frames"]),
        structures=np.asarray(manifest["structures"], dtype=np.float64).reshape(-1, 7),
        point_labels=MappingProxyType(labels),
        metadata=MappingProxyType(
            {k: manifest[k] for k in ("rig", "seed", "seconds", "classes", "attributes")}
        ),
    )
