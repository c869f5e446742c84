"""Lazy stream loaders of the SFS reader: lidar and radar frames, camera images and video."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from calibration.camera import CameraModel
from calibration.se3 import SE3
from engine.io.sfs._common import EXT
from engine.log import Stream
from engine.sweeps import CameraFrame, LidarSweep, RadarSweep
from kernels.errors import LogFormatError

__all__ = ["camera_stream", "lidar_loader", "radar_loader"]


def _extract_image(content: npt.NDArray[np.uint8], shape_hint: tuple[int, int], dest: Path) -> str | None:
    data = np.asarray(content, dtype=np.uint8)
    if data.size == 0:
        return None
    head = bytes(data.ravel()[:8])
    if head[:3] == b"\xff\xd8\xff":
        out, payload = dest.with_suffix(".jpg"), data
    elif head == b"\x89PNG\r\n\x1a\n":
        out, payload = dest.with_suffix(".png"), data
    else:
        w, h = shape_hint
        if data.size != w * h * 3:
            raise LogFormatError(
                f"{dest}: image content is neither JPEG, PNG nor raw {h}x{w}x3 ({data.size} bytes)"
            )
        from PIL import Image

        out = dest.with_suffix(".png")
        if not out.exists():
            out.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(data.reshape(h, w, 3)).save(out)
        return str(out)
    if not out.exists():
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = out.with_name(out.name + ".tmp")
        payload.ravel().tofile(tmp)
        tmp.replace(out)
    return str(out)


def lidar_loader(
    sid: str,
    frames: list[Any],
    stamps: npt.NDArray[np.int64],
    offset: int,
    world: Callable[[int], SE3] | None,
) -> Callable[[int], LidarSweep]:
    def load(i: int) -> LidarSweep:
        f = frames[i]
        pts, ext = f["points"], f.get(EXT) or {}
        pos = np.asarray(pts["positions"]).reshape(-1, 3)
        n = pos.shape[0]
        if world is not None:
            pos = world(int(f["timestamp"]) + offset).inverse().transform_points(pos.astype(np.float32))
        inten = ext.get("intensity")
        if inten is None:
            raw = pts.get("intensities")
            inten = (
                np.zeros(n, np.float32)
                if raw is None
                else np.asarray(raw).astype(np.float32) / np.float32(255.0)
            )
        ring = ext.get("ring")
        return LidarSweep(
            sid,
            int(stamps[i]),
            pos,
            _offsets(pts, n, int(stamps[i]), offset, sid),
            inten,
            np.zeros(n, np.uint16) if ring is None else ring,
        )

    return load


def _offsets(pts: Mapping[str, Any], n: int, stamp: int, offset: int, sid: str) -> npt.NDArray[np.int32]:
    times = pts.get("timestamps")
    if times is None:
        return np.zeros(n, np.int32)
    rel = np.asarray(times).astype(np.int64) + (offset - stamp)
    if rel.size and (rel.min() < np.iinfo(np.int32).min or rel.max() > np.iinfo(np.int32).max):
        raise LogFormatError(f"sensor {sid!r}: point times lie too far from the frame timestamp {stamp} µs")
    return rel.astype(np.int32)


def radar_loader(
    sid: str,
    frames: list[Any],
    stamps: npt.NDArray[np.int64],
    offset: int,
    world: Callable[[int], SE3] | None,
) -> Callable[[int], RadarSweep]:
    def load(i: int) -> RadarSweep:
        f = frames[i]
        pts, ext = f["points"], f.get(EXT) or {}
        pos = np.asarray(pts["positions"]).reshape(-1, 3)
        n = pos.shape[0]
        dirs = pts.get("directions")
        dirs = None if dirs is None else np.asarray(dirs, dtype=np.float64).reshape(-1, 3)
        if world is not None:
            sensor_from_world = world(int(f["timestamp"]) + offset).inverse()
            pos = sensor_from_world.transform_points(pos.astype(np.float32))
            dirs = None if dirs is None else dirs @ sensor_from_world.rotation.T
        rv = ext.get("radial_velocity")
        if rv is None:
            rv = np.zeros(n, np.float32)
            if dirs is not None and pts.get("lengths") is not None:
                p = pos.astype(np.float64)
                rng = np.linalg.norm(p, axis=1)
                unit = np.divide(p, rng[:, None], out=np.zeros_like(p), where=rng[:, None] > 0)
                rv = (np.asarray(pts["lengths"], dtype=np.float64).reshape(-1) * (dirs * unit).sum(1)).astype(
                    np.float32
                )
        rcs = ext.get("rcs")
        return RadarSweep(
            sid,
            int(stamps[i]),
            pos,
            rv,
            np.zeros(n, np.float32) if rcs is None else rcs,
            _offsets(pts, n, int(stamps[i]), offset, sid),
        )

    return load


def camera_stream(
    sid: str, s: Mapping[str, Any], model: CameraModel, offset: int, images: Path, meta: dict[str, Any]
) -> Stream[CameraFrame]:
    if s.get("video") is not None:
        video = s["video"]
        dest = images / sid / "video.mp4"
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            np.asarray(video["content"], dtype=np.uint8).ravel().tofile(dest)
        meta["sfs_video"] = {"path": str(dest), "fps": video.get("fps")}
        frames = [CameraFrame(sid, int(t) + offset, None) for t in video.get("timestamps", [])]
        return Stream.from_items(sid, frames)
    items = s.get("images") or []
    stamps = np.asarray([int(im["timestamp"]) + offset for im in items], dtype=np.int64)

    def load(i: int) -> CameraFrame:
        ref = _extract_image(items[i]["content"], (model.width, model.height), images / sid / f"{i:08d}")
        return CameraFrame(sid, int(stamps[i]), ref)

    return Stream(sid, stamps, load)
