"""Pictures: boxes drawn where the geometry says, fisheye edges curved, files written by render_log."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from calibration.camera import CameraModel
from calibration.se3 import OPTICAL_FROM_FORWARD, SE3
from engine.io import open_log
from engine.render import (
    BevConfig,
    CameraConfig,
    DrawBox,
    RenderConfig,
    bev_pixels,
    boxes_at,
    contact_sheet,
    cuboid_polylines,
    export_rerun,
    render_bev,
    render_camera,
    render_log,
    rerun_available,
    track_color,
)
from engine.render.colors import SEVERITY_COLORS, ramp
from kernels.errors import InvalidInputError

# World (x forward, y left, z up) -> camera optical (x right, y down, z forward), camera at the origin.
OPTICAL_FROM_WORLD = SE3(OPTICAL_FROM_FORWARD.copy(), np.zeros(3))


def _box(track_id: str, box: list[float], velocity: tuple[float, float, float] = (0.0, 0.0, 0.0), sev=None):  # type: ignore[no-untyped-def]
    return DrawBox(track_id, "car", np.array(box, np.float64), np.array(velocity), track_color(track_id), sev)


def _rgb(image: Image.Image, u: float, v: float) -> tuple[int, int, int]:
    return tuple(int(c) for c in np.asarray(image)[int(round(v)), int(round(u))])  # type: ignore[return-value]


def _near_color(image: Image.Image, u: float, v: float, color: tuple[int, int, int], r: int = 1) -> bool:
    arr = np.asarray(image)
    ui, vi = int(round(u)), int(round(v))
    patch = arr[vi - r : vi + r + 1, ui - r : ui + r + 1].reshape(-1, 3)
    return bool((patch == np.array(color)).all(axis=1).any())


def test_track_colors_are_stable_and_distinct() -> None:
    assert track_color("track-0001") == track_color("track-0001")
    colors = {track_color(f"track-{i:04d}") for i in range(20)}
    assert len(colors) >= 18


def test_ramp_ends_and_clipping() -> None:
    c = ramp([-5.0, 0.0, 1.0, 9.0], 0.0, 1.0)
    assert c.dtype == np.uint8 and c.shape == (4, 3)
    assert (c[0] == c[1]).all() and (c[2] == c[3]).all() and not (c[1] == c[2]).all()


def test_bev_box_edges_and_velocity_arrow_where_expected() -> None:
    cfg = BevConfig(range_m=20.0, px_per_m=10.0)
    box = _box("track-0007", [10.0, 0.0, 0.0, 4.0, 2.0, 1.5, 0.0], velocity=(5.0, 0.0, 0.0))
    img = render_bev(np.zeros((0, 3), np.float32), [box], cfg, title="t")
    assert img.size == (400, 400) and img.mode == "RGB"
    # front edge (x = 12 m), the left side (y = +1 m) and the rear edge (x = 8 m): the track colour
    for x, y in ((12.0, 0.5), (10.0, 1.0), (8.0, -0.5)):
        u, v = bev_pixels([x, y], cfg)
        assert _near_color(img, u, v, box.color), (x, y)
    # forward is up the picture, left is left: the front edge lies above the rear edge
    assert bev_pixels([12.0, 0.0], cfg)[1] < bev_pixels([8.0, 0.0], cfg)[1]
    assert bev_pixels([0.0, 5.0], cfg)[0] < bev_pixels([0.0, -5.0], cfg)[0]
    # the arrow runs from the centre 5 m forward (1 s at 5 m/s): its middle, outside the box
    u, v = bev_pixels([14.0, 0.0], cfg)
    assert _near_color(img, u, v, box.color)
    # far from the box: background
    u, v = bev_pixels([-15.0, 15.0], cfg)
    assert _rgb(img, u, v) == (12, 12, 16)


def test_bev_marks_findings_with_severity_ring() -> None:
    cfg = BevConfig(range_m=20.0, px_per_m=10.0)
    flagged = _box("track-0001", [0.0, 10.0, 0.0, 4.0, 2.0, 1.5, 0.0], sev="error")
    img = render_bev(np.zeros((0, 3), np.float32), [flagged], cfg)
    r = 0.5 * np.hypot(4.0, 2.0) * cfg.px_per_m + 6
    u, v = bev_pixels([0.0, 10.0], cfg)
    assert _near_color(img, u, v - r, SEVERITY_COLORS["error"], r=2)
    plain = render_bev(np.zeros((0, 3), np.float32), [_box("track-0001", list(flagged.box))], cfg)
    assert not _near_color(plain, u, v - r, SEVERITY_COLORS["error"], r=2)


def test_bev_points_coloured_by_height() -> None:
    cfg = BevConfig(range_m=10.0, px_per_m=10.0, height_range_m=(0.0, 2.0))
    pts = np.array([[5.0, 5.0, 0.0], [-5.0, -5.0, 2.0]], np.float32)
    img = render_bev(pts, [], cfg)
    low, high = ramp([0.0, 2.0], 0.0, 2.0)
    assert _rgb(img, *bev_pixels([5.0, 5.0], cfg)) == tuple(low)
    assert _rgb(img, *bev_pixels([-5.0, -5.0], cfg)) == tuple(high)


def test_bev_rejects_bad_config() -> None:
    with pytest.raises(InvalidInputError, match="range_m"):
        BevConfig(range_m=0.0)


def test_camera_overlay_draws_projected_edge() -> None:
    cam = CameraModel.pinhole(640, 480, 500.0, 500.0, 320.0, 240.0)
    box = _box("track-0003", [10.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0])
    img = render_camera(cam, OPTICAL_FROM_WORLD, [box], config=CameraConfig(scale=1.0))
    assert img.size == (640, 480)
    # the near face's top edge: world x = 9, z = +1, y in [-1, 1] -> v = 240 - 500 / 9, u in [264, 376]
    v = 240.0 - 500.0 / 9.0
    for u in (300.0, 320.0, 350.0):
        assert _near_color(img, u, v, box.color), u
    assert _rgb(img, 320.0, 240.0 + 100.0) == (14, 14, 18)  # below the box: background


def test_camera_overlay_scales_and_uses_background_image() -> None:
    cam = CameraModel.pinhole(640, 480, 500.0, 500.0, 320.0, 240.0)
    photo = Image.new("RGB", (320, 240), (200, 200, 200))
    box = _box("track-0003", [10.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0])
    img = render_camera(cam, OPTICAL_FROM_WORLD, [box], image=photo, config=CameraConfig(scale=0.5))
    assert img.size == (320, 240)
    assert _rgb(img, 10, 230) == (200, 200, 200)
    assert _near_color(img, 160.0, (240.0 - 500.0 / 9.0) / 2, box.color)


def test_box_behind_camera_draws_nothing() -> None:
    cam = CameraModel.pinhole(640, 480, 500.0, 500.0, 320.0, 240.0)
    assert cuboid_polylines([-10.0, 0.0, 0.0, 2.0, 2.0, 2.0, 0.0], cam, OPTICAL_FROM_WORLD) == []


def _chord_deviation(lines: list[tuple[np.ndarray, bool]]) -> float:
    """Largest distance of a polyline's samples from the straight line between its ends [px]."""
    worst = 0.0
    for run, _ in lines:
        a, b = run[0], run[-1]
        d = b - a
        n = np.hypot(*d)
        if n < 1e-9:
            continue
        dist = np.abs(d[0] * (run[:, 1] - a[1]) - d[1] * (run[:, 0] - a[0])) / n
        worst = max(worst, float(dist.max()))
    return worst


def test_fisheye_edges_curve_pinhole_edges_stay_straight() -> None:
    box = [3.0, 2.0, 0.0, 4.0, 2.0, 1.5, 0.3]  # close and off-axis: strong distortion
    pinhole = CameraModel.pinhole(640, 480, 300.0, 300.0, 320.0, 240.0)
    fisheye = CameraModel(
        "fisheye", 640, 480, 185.0, 185.0, 320.0, 240.0, 0.0, (0.02, -0.004, 0.0005, -0.00003)
    )
    straight = cuboid_polylines(box, pinhole, OPTICAL_FROM_WORLD, edge_samples=16)
    curved = cuboid_polylines(box, fisheye, OPTICAL_FROM_WORLD, edge_samples=16)
    assert straight and curved
    assert _chord_deviation(straight) < 1e-6
    assert _chord_deviation(curved) > 2.0


def test_contact_sheet_tiles_rows() -> None:
    a, b = Image.new("RGB", (100, 100), (255, 0, 0)), Image.new("RGB", (200, 100), (0, 255, 0))
    sheet = contact_sheet([[("a", a), ("b", b)], [("a", a)]], thumb_height=50, gap=4)
    assert sheet.size == (4 + 50 + 4 + 100 + 4, 4 + 2 * (50 + 4))
    assert _rgb(sheet, 4 + 25, 4 + 5) == (255, 0, 0)
    assert _rgb(sheet, 4 + 50 + 4 + 50, 4 + 5) == (0, 255, 0)
    with pytest.raises(InvalidInputError, match="at least one"):
        contact_sheet([])


@pytest.fixture(scope="module")
def sample_log(sample_dir):  # type: ignore[no-untyped-def]
    return open_log(sample_dir)


def test_real_front_image_has_gt_boxes_on_their_projection(sample_log, tmp_path) -> None:  # type: ignore[no-untyped-def]
    """The bundled front image (frame 40): GT cuboid edges are drawn where the camera model puts them."""
    log = sample_log
    stream = log.cameras["front_camera"]
    k = next(i for i in range(len(stream)) if stream[i].image is not None)
    t = int(stream.timestamps_us[k])
    cfg = RenderConfig(cameras=("front_camera",), camera=CameraConfig(scale=0.5))
    out = render_log(log, log.annotations, tmp_path, frame_times_us=[t], config=cfg)
    assert len(out.bev) == 1 and len(out.cameras) == 1 and out.contact_sheet is not None
    img = Image.open(out.cameras[0]).convert("RGB")
    assert img.size == (960, 540)
    assert np.asarray(img).mean() > 60  # the photo, not the dark no-pixel background
    sensor = log.sensors["front_camera"]
    cam_from_world = (log.trajectory.pose_at(t) @ sensor.ego_from_sensor).inverse()
    hits = checked = 0
    for b in boxes_at(log, log.annotations, t, "world"):
        if not 0 < cam_from_world.transform_points(b.box[None, :3])[0, 2] < 20:
            continue  # far boxes crowd the horizon and overdraw each other
        lines = cuboid_polylines(b.box, sensor.camera, cam_from_world)
        for run, _ in lines:
            mid = run[len(run) // 2] * 0.5
            if 5 < mid[0] < 955 and 25 < mid[1] < 535:
                checked += 1
                hits += _near_color(img, mid[0], mid[1], b.color, r=1)
    assert checked >= 20
    assert hits / checked > 0.85  # the rest is overdrawn by other boxes or labels
    bev = Image.open(out.bev[0])
    assert bev.size == (1000, 1000)


def test_render_log_rejects_unknown_camera(sample_log, tmp_path) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(InvalidInputError, match="not cameras of the log"):
        render_log(sample_log, sample_log.annotations, tmp_path, config=RenderConfig(cameras=("nope",)))


def test_rerun_export_writes_or_names_the_missing_package(sample_log, tmp_path) -> None:  # type: ignore[no-untyped-def]
    t = sample_log.lidar["pandar64"].timestamps_us[:1]
    path, note = export_rerun(sample_log, sample_log.annotations, tmp_path / "scene.rrd", t)
    if rerun_available():
        assert path is not None and path.is_file() and note == ""
        from rerun.chunk import RrdReader  # read the recording back: the lidar and the cuboids are in it

        schema = RrdReader(path).store().schema()
        assert {"/world/lidar", "/world/tracks"} <= {str(e) for e in schema.entity_paths()}
        assert "/world/tracks:Boxes3D:half_sizes" in schema.column_names()
    else:
        assert path is None and "rerun-sdk" in note
