# ruff: noqa: E501  (the README template holds Markdown table rows)
"""Cut the bundled sample ``data/samples/pandaset_seq002`` out of the full PandaSet excerpt.

Usage::

    python tools/make_pandaset_sample.py [SOURCE] [DEST]

SOURCE defaults to ``../shared/data/pandaset_seq002``, DEST to ``data/samples/pandaset_seq002``
(replaced). Files keep their original names and formats, so ``engine.io.pandaset`` reads both.
"""

from __future__ import annotations

import csv
import shutil
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SWEEP_FRAMES = (38, 39, 40, 41)
"""Ego at about 3 m/s and accelerating; parked and moving cars on both sides."""
IMAGES = ("front_camera/40.jpg",)

README = """# PandaSet sequence 002 — bundled sample

A small excerpt of real sensor data, shipped with fusionlabel so that tests and examples run without
the full excerpt (`../shared/data/pandaset_seq002`, 50 sweeps). Nothing here is synthetic.
`engine.open_log("data/samples/pandaset_seq002")` reads it (`engine.io.pandaset`).

- **Origin:** PandaSet (Hesai and Scale AI), sequence 002, San Francisco, 2019-05-10. Taken from the
  test data once shipped in the public `scaleapi/pandaset-devkit` repository (commit `c2072973`).
- **Licence:** CC BY 4.0 (commercial use allowed with attribution). Anything that ships or publishes
  this data must credit: *Xiao et al., "PandaSet: Advanced Sensor Suite Dataset for Autonomous
  Driving", ITSC 2021*, and keep this licence note.

## What subset this is
Cut by `tools/make_pandaset_sample.py` from the full excerpt; files keep their names and formats.

| path | content |
|---|---|
| `lidar/{FRAMES}.npz` | {NSWEEPS} consecutive Pandar64 sweeps (frames {FIRST}–{LAST}; the ego drives at about 3 m/s). Arrays: `points` float32 (N,3) **in the Pandar64 sensor frame** [m]; `intensity` uint8 (N,); `point_time_offset_us` uint32 (N,) — each point's capture time minus `sweep_start_time_s`; `sweep_start_time_s` float64 scalar (GPS-epoch seconds). About 106 k points per sweep. |
| `lidar/sweeps.txt` | the rows of those sweeps: point count, the frame timestamp, first and last point time [s] |
| `meta/` | unchanged: poses and timestamps of all 80 frames (`lidar_poses_4x4.txt`: `frame timestamp_s` and row-major `T_world_from_lidar`), GPS |
| `labels/cuboids_world.csv` | the ground-truth cuboid rows of frames {FIRST}–{LAST} only (all columns, PandarGT duplicates included) |
| `camera/<cam>/intrinsics.json`, `poses.json`, `timestamps.json` | unchanged, all six cameras, all 80 frames |
| `camera/front_camera/40.jpg` | one 1920×1080 front image (frame 40), the original file, not re-encoded |

Not included: the other 46 sweeps, `labels/cuboids_lidar.csv`, the other images.

## Conventions (checked on extraction of the full excerpt)
- **Pandar64 sensor frame: x = right, y = forward, z = up.** Not the x-forward convention of KITTI or
  nuScenes. `p_world = T_world_from_lidar @ p_lidar`.
- **World frame:** local, z up, origin near the frame-0 lidar position. Cuboids and camera poses live in it.
- **Camera frame:** OpenCV optical frame (x right, y down, z forward). `poses.json` is camera → world.
  Images are already undistorted (pinhole `fx, fy, cx, cy`).
- **Cuboid columns:** `frame, timestamp_s, uuid, label, x, y, z` (box centre), `length_m` (front–back),
  `width_m`, `height_m`, `heading_rad` = angle of the **length axis**, counter-clockwise from +x.
  The raw PandaSet yaw is kept as `pandaset_yaw` (`heading_rad = wrap(pandaset_yaw + π/2)`).
- **Duplicate cuboids:** moving objects inside the overlap of the two lidars carry two cuboids with
  different uuids: `sensor_id = 0` (fit to Pandar64) and `sensor_id = 1` (fit to PandarGT). With these
  Pandar64 sweeps, **drop rows with `sensor_id == 1`** (the reader does).
- The frame timestamp is close to the **end** of the sweep (points span about 100 ms before it).
- Other columns: `stationary`, `camera_used`, `object_motion`, `rider_status`, `pedestrian_*` (attributes).
"""


def make_sample(src: Path, dst: Path) -> int:
    """Write the sample into ``dst`` (replacing it) and return its size in bytes."""
    if dst.exists():
        shutil.rmtree(dst)
    (dst / "lidar").mkdir(parents=True)
    for f in SWEEP_FRAMES:
        shutil.copyfile(src / "lidar" / f"{f:02d}.npz", dst / "lidar" / f"{f:02d}.npz")
    lines = (src / "lidar" / "sweeps.txt").read_text().splitlines()
    keep = [ln for ln in lines if ln.startswith("#") or int(ln.split()[0]) in SWEEP_FRAMES]
    (dst / "lidar" / "sweeps.txt").write_text("\n".join(keep) + "\n")
    (dst / "meta").mkdir()
    for f in sorted((src / "meta").iterdir()):
        shutil.copyfile(f, dst / "meta" / f.name)  # contents only: the sample stays writable
    for cam in sorted(p for p in (src / "camera").iterdir() if p.is_dir()):
        (dst / "camera" / cam.name).mkdir(parents=True)
        for name in ("intrinsics.json", "poses.json", "timestamps.json"):
            shutil.copyfile(cam / name, dst / "camera" / cam.name / name)
    for image in IMAGES:
        shutil.copyfile(src / "camera" / image, dst / "camera" / image)
    (dst / "labels").mkdir()
    with (
        open(src / "labels" / "cuboids_world.csv", newline="") as fin,
        open(dst / "labels" / "cuboids_world.csv", "w", newline="") as fout,
    ):
        reader = csv.reader(fin)
        writer = csv.writer(fout, lineterminator="\n")
        header = next(reader)
        writer.writerow(header)
        frame_col = header.index("frame")
        writer.writerows(row for row in reader if int(row[frame_col]) in SWEEP_FRAMES)
    (dst / "README.md").write_text(
        README.replace("{FRAMES}", "{" + ",".join(f"{f:02d}" for f in SWEEP_FRAMES) + "}")
        .replace("{NSWEEPS}", str(len(SWEEP_FRAMES)))
        .replace("{FIRST}", f"{SWEEP_FRAMES[0]:02d}")
        .replace("{LAST}", f"{SWEEP_FRAMES[-1]:02d}")
    )
    return sum(p.stat().st_size for p in dst.rglob("*") if p.is_file())


if __name__ == "__main__":
    source = Path(sys.argv[1]) if len(sys.argv) > 1 else REPO.parent / "shared" / "data" / "pandaset_seq002"
    dest = Path(sys.argv[2]) if len(sys.argv) > 2 else REPO / "data" / "samples" / "pandaset_seq002"
    size = make_sample(source, dest)
    print(f"wrote {dest} ({size / 1e6:.2f} MB)")  # noqa: T201
