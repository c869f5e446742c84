"""All pictures of a log: a bird's-eye view per frame, camera overlays, a contact sheet, optional rerun.

Layout under ``OUT``::

    OUT/bev/NNNN.png                 bird's-eye view of frame NNNN (engine.render.bev)
    OUT/camera/<sensor_id>/NNNN.png  each camera's capture nearest frame NNNN, cuboids projected
    OUT/contact_sheet.png            one row per frame: BEV, then every camera
    OUT/scene.rrd                    rerun recording (only with rerun=True and rerun-sdk installed)

Frames are the reference lidar's sweeps (or the given times).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from PIL import Image

from engine.annotations import Annotations, CoordinateFrame
from engine.log import Log
from engine.render.bev import BevConfig, render_bev
from engine.render.camera import CameraConfig, load_image, render_camera
from engine.render.colors import SEVERITY_COLORS
from engine.render.scene import boxes_at, frame_findings, lidar_points_at
from engine.render.sheet import contact_sheet
from engine.validation import Finding
from kernels.errors import InvalidInputError

__all__ = ["RenderConfig", "RenderOutput", "render_frame_bev", "render_frame_camera", "render_log"]


@dataclass(frozen=True, slots=True)
class RenderConfig:
    """What :func:`render_log` draws.

    Parameters
    ----------
    bev, camera : BevConfig, CameraConfig
        Styling of the two kinds of picture.
    cameras : tuple of str, optional
        Cameras to overlay (all when None; an empty tuple for none).
    max_frames : int, optional
        Only the first frames.
    tolerance_us : int
        Findings and track ends this close to a frame belong to it [µs].
    max_camera_gap_us : int
        A camera without a capture this close to the frame is left out [µs].
    thumb_height : int
        Contact-sheet thumbnail height [px].
    rerun : bool
        Also write ``scene.rrd`` when ``rerun-sdk`` is importable.
    """

    bev: BevConfig = field(default_factory=BevConfig)
    camera: CameraConfig = field(default_factory=CameraConfig)
    cameras: tuple[str, ...] | None = None
    max_frames: int | None = None
    tolerance_us: int = 50_000
    max_camera_gap_us: int = 100_000
    thumb_height: int = 240
    rerun: bool = False


@dataclass(frozen=True, slots=True)
class RenderOutput:
    """Paths of the pictures :func:`render_log` wrote."""

    bev: tuple[Path, ...]
    cameras: tuple[Path, ...]
    contact_sheet: Path | None
    rerun: Path | None = None
    notes: tuple[str, ...] = ()


def render_frame_bev(
    log: Log,
    annotations: Annotations,
    timestamp_us: int,
    findings: Sequence[Finding] = (),
    config: RenderConfig | None = None,
    title: str = "",
) -> Image.Image:
    """The bird's-eye view of one time: lidar points, boxes, findings of that time listed at the top."""
    cfg = config or RenderConfig()
    t = int(timestamp_us)
    boxes = boxes_at(log, annotations, t, CoordinateFrame.EGO, findings, cfg.tolerance_us)
    near = frame_findings(findings, t, cfg.tolerance_us)
    notes = [(f"{len(near)} findings near this frame", (235, 235, 235))] if near else []
    notes += [
        (f"{f.severity.value}: {f.rule} {f.track_id or ''}", SEVERITY_COLORS[f.severity.value])
        for f in near[:6]
    ]
    return render_bev(lidar_points_at(log, t, CoordinateFrame.EGO), boxes, cfg.bev, title=title, notes=notes)


def render_frame_camera(
    log: Log,
    annotations: Annotations,
    sensor_id: str,
    index: int,
    findings: Sequence[Finding] = (),
    config: RenderConfig | None = None,
) -> Image.Image:
    """One camera capture with the cuboids at its capture time (and lidar points when it has no pixels)."""
    cfg = config or RenderConfig()
    if sensor_id not in log.cameras:
        raise InvalidInputError(f"unknown camera {sensor_id!r}; cameras are {sorted(log.cameras)}")
    sensor = log.sensors[sensor_id]
    cam = sensor.camera
    if cam is None:  # pragma: no cover - Sensor guarantees a model for cameras
        raise InvalidInputError(f"camera {sensor_id!r} has no camera model")
    frame = log.cameras[sensor_id][index]
    t = frame.timestamp_us
    camera_from_world = (log.trajectory.pose_at(t) @ sensor.ego_from_sensor).inverse()
    boxes = boxes_at(log, annotations, t, CoordinateFrame.WORLD, findings, cfg.tolerance_us)
    image = None
    if frame.image is not None:
        path = Path(frame.image)
        if not path.is_absolute() and log.metadata.get("path"):
            path = Path(str(log.metadata["path"])) / path
        size = (max(1, round(cam.width * cfg.camera.scale)), max(1, round(cam.height * cfg.camera.scale)))
        image = load_image(path, size)
    points = (
        lidar_points_at(log, t, CoordinateFrame.WORLD)
        if image is None or cfg.camera.points_on_images
        else None
    )
    title = f"{sensor_id} {'' if image is not None else '(no pixels: lidar by depth) '}t={t}"
    return render_camera(
        cam, camera_from_world, boxes, image=image, points_world=points, config=cfg.camera, title=title
    )


def _frames(log: Log, frame_times_us: npt.ArrayLike | None, max_frames: int | None) -> npt.NDArray[np.int64]:
    if frame_times_us is not None:
        t = np.asarray(frame_times_us, np.int64).reshape(-1)
    elif log.lidar:
        t = log.lidar[sorted(log.lidar)[0]].timestamps_us
    else:
        raise InvalidInputError("render_log needs frame_times_us for a log without lidar")
    return t[:max_frames] if max_frames is not None else t


def render_log(
    log: Log,
    annotations: Annotations,
    out_dir: str | Path,
    *,
    findings: Sequence[Finding] = (),
    frame_times_us: npt.ArrayLike | None = None,
    config: RenderConfig | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> RenderOutput:
    """Write every picture of a log under ``out_dir`` (layout in the module docstring).

    Parameters
    ----------
    log : Log
        The drive log.
    annotations : Annotations
        The tracks to draw.
    out_dir : str or Path
        Output folder (created).
    findings : sequence of Finding
        Validation findings to mark.
    frame_times_us : array_like of int, optional
        Frame times [µs]; the first lidar's sweeps by default.
    config : RenderConfig, optional
        What to draw.
    progress : callable, optional
        ``progress(done_frames, total_frames)``.

    Returns
    -------
    RenderOutput
    """
    cfg = config or RenderConfig()
    out = Path(out_dir)
    times = _frames(log, frame_times_us, cfg.max_frames)
    cams = sorted(log.cameras) if cfg.cameras is None else list(cfg.cameras)
    unknown = [c for c in cams if c not in log.cameras]
    if unknown:
        raise InvalidInputError(
            f"cameras {unknown} are not cameras of the log; cameras are {sorted(log.cameras)}"
        )
    bev_paths, cam_paths, rows = [], [], []
    (out / "bev").mkdir(parents=True, exist_ok=True)
    for k, t in enumerate(times.tolist()):
        bev = render_frame_bev(log, annotations, t, findings, cfg, f"{log.name} frame {k} t={t}")
        bev_paths.append(out / "bev" / f"{k:04d}.png")
        bev.save(bev_paths[-1])
        row = [(f"frame {k} BEV", bev)]
        for sid in cams:
            stream = log.cameras[sid]
            if len(stream) == 0:
                continue
            i = stream.nearest(t)
            if abs(int(stream.timestamps_us[i]) - t) > cfg.max_camera_gap_us:
                continue
            img = render_frame_camera(log, annotations, sid, i, findings, cfg)
            (out / "camera" / sid).mkdir(parents=True, exist_ok=True)
            cam_paths.append(out / "camera" / sid / f"{k:04d}.png")
            img.save(cam_paths[-1])
            row.append((sid, img))
        rows.append(row)
        if progress is not None:
            progress(k + 1, int(times.size))
    sheet = None
    if rows:
        sheet = out / "contact_sheet.png"
        contact_sheet(rows, cfg.thumb_height).save(sheet)
    rrd, notes = None, []
    if cfg.rerun:
        from engine.render.rerun_export import export_rerun

        rrd, note = export_rerun(log, annotations, out / "scene.rrd", times)
        notes += [note] if note else []
    return RenderOutput(tuple(bev_paths), tuple(cam_paths), sheet, rrd, tuple(notes))
