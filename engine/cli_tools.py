"""Tool commands of ``fusionlabel``: interpolate, render, bench (registered in :mod:`engine.cli`)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from engine.cli_jobs import console, csv_option, fail
from engine.errors import EngineError

__all__ = ["bench", "interpolate", "render"]


def interpolate(
    keyframes: Annotated[Path, typer.Argument(help="Annotations JSON (native) holding keyframed tracks.")],
    at: Annotated[str | None, typer.Option(help="Comma-separated timestamps [µs].")] = None,
    step_us: Annotated[int | None, typer.Option(help="Sample every track's span at this step [µs].")] = None,
    track: Annotated[str | None, typer.Option(help="Only this track id.")] = None,
    hold: Annotated[
        bool, typer.Option(help="Hold end poses outside a track's span instead of failing.")
    ] = False,
    out: Annotated[Path | None, typer.Option(help="Write the JSON here instead of stdout.")] = None,
) -> None:
    """Cuboids of keyframed tracks at given timestamps (Hermite positions, slerp rotations).

    Prints JSON {"tracks": [...]}: per track its id, label, frame, timestamps_us, centers, sizes, rotations.

    Example: fusionlabel interpolate out/seq002/annotations.json --step-us 20000

    Example: fusionlabel interpolate ann.json --track track-0003 --at 1557539960350000,1557539960450000
    """
    import numpy as np

    from engine.io.annotations_json import read_annotations
    from engine.tracks import interpolate_track
    from tracking import OutOfRange

    try:
        ann = read_annotations(keyframes)
        tracks = [ann.track(track)] if track is not None else list(ann.tracks)
        if (at is None) == (step_us is None):
            raise EngineError("give exactly one of --at (timestamps) and --step-us (a sampling step)")
        if step_us is not None and step_us <= 0:
            raise EngineError(f"--step-us must be > 0, got {step_us}")
        try:
            fixed = None if at is None else np.array([int(v) for v in csv_option(at) or ()], np.int64)
        except ValueError as exc:
            raise EngineError(f"--at must be comma-separated integers [µs], got {at!r}") from exc
        rows = []
        for tr in tracks:
            lo, hi = int(tr.timestamps_us[0]), int(tr.timestamps_us[-1])
            times = fixed if fixed is not None else np.arange(lo, hi + 1, step_us, dtype=np.int64)
            path = interpolate_track(tr, times, out_of_range=OutOfRange.HOLD if hold else OutOfRange.RAISE)
            rows.append(
                {
                    "track_id": tr.track_id,
                    "label": tr.label,
                    "frame": tr.frame.value,
                    "timestamps_us": [int(t) for t in path.timestamps_us],
                    "centers": path.centers.tolist(),
                    "sizes": path.sizes.tolist(),
                    "rotations_wxyz": path.rotations_wxyz.tolist(),
                }
            )
    except EngineError as exc:
        fail(exc)
    text = json.dumps({"tracks": rows})
    if out is None:
        typer.echo(text)
    else:
        out.write_text(text)
        console.print(f"wrote [bold]{out}[/] ({len(rows)} tracks)")


def render(
    log_path: Annotated[Path, typer.Argument(help="A drive log.")],
    out: Annotated[Path, typer.Option("--out", help="Output folder for the pictures.")],
    annotations: Annotated[
        Path | None, typer.Option(help="Annotations JSON (default: the log's own).")
    ] = None,
    findings: Annotated[
        Path | None, typer.Option(help="Findings JSON to mark (from prelabel/validate).")
    ] = None,
    cameras: Annotated[
        str | None, typer.Option(help="Comma-separated cameras (default all; '' for none).")
    ] = None,
    max_frames: Annotated[int | None, typer.Option(help="Only the first N frames.")] = None,
    scale: Annotated[float, typer.Option(help="Camera picture size relative to the image.")] = 0.5,
    rerun: Annotated[bool, typer.Option(help="Also export scene.rrd (needs rerun-sdk).")] = False,
) -> None:
    """Draw a log and its annotations: BEV per frame, camera overlays, a contact sheet.

    Example: fusionlabel render data/samples/pandaset_seq002 --out out/render_gt

    Example: fusionlabel render LOG --annotations a/annotations.json --findings a/findings.json --out pics
    """
    from engine.io import open_log
    from engine.io.annotations_json import read_annotations
    from engine.render import CameraConfig, RenderConfig, render_log
    from engine.validation import findings_from_json

    try:
        drive = open_log(log_path)
        ann = read_annotations(annotations) if annotations is not None else drive.annotations
        found = findings_from_json(findings.read_text()) if findings is not None else []
        cfg = RenderConfig(
            camera=CameraConfig(scale=scale), cameras=csv_option(cameras), max_frames=max_frames, rerun=rerun
        )
        with console.status("drawing pictures"):
            pics = render_log(drive, ann, out, findings=found, config=cfg)
    except (EngineError, OSError) as exc:
        fail(exc)
    for note in pics.notes:
        console.print(f"[yellow]note:[/] {note}")
    console.print(
        f"{len(pics.bev)} BEV and {len(pics.cameras)} camera pictures under [bold]{out}[/]; "
        f"contact sheet [bold]{pics.contact_sheet}[/]"
    )


def _suites() -> list[str]:
    import benchmarks

    root = Path(benchmarks.__file__).parent
    return sorted(p.stem for p in root.glob("*.py") if p.stem.startswith(("bench_", "eval_")))


def bench(
    suite: Annotated[
        str, typer.Argument(help="A suite (bench_boxes, eval_tracking, ...), or 'all'.")
    ] = "all",
    args: Annotated[
        list[str] | None, typer.Argument(help="Arguments passed to the suite (after --).")
    ] = None,
    list_suites: Annotated[bool, typer.Option("--list", help="List the suites and exit.")] = False,
) -> None:
    """Run the benchmark suite (python -m benchmarks) or one module of it.

    Example: fusionlabel bench all -- --quick

    Example: fusionlabel bench bench_boxes

    Example: fusionlabel bench --list
    """
    suites = _suites()
    if list_suites:
        for name in suites:
            typer.echo(name)
        return
    if suite != "all" and suite not in suites:
        fail(EngineError(f"unknown benchmark suite {suite!r}; expected 'all' or one of {suites}"))
    module = "benchmarks" if suite == "all" else f"benchmarks.{suite}"
    code = subprocess.call([sys.executable, "-m", module, *(args or [])])
    raise typer.Exit(code=code)
