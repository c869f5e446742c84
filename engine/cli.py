"""The ``fusionlabel`` command line (typer + rich)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine.errors import EngineError

app = typer.Typer(
    name="fusionlabel",
    help="GPU-accelerated 3D sensor-fusion annotation engine.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
log = logging.getLogger("fusionlabel")


def _fail(exc: Exception) -> None:
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


@app.callback()
def _main(
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress.")] = False,
) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
    )


@app.command()
def info(
    log_path: Annotated[Path, typer.Argument(help="A native log directory or a PandaSet folder.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Summarise a drive log without reading its sweeps.

    Example: ``fusionlabel info data/samples/pandaset_seq002``
    """
    from engine.io import open_log

    try:
        summary = open_log(log_path).summary()
    except EngineError as exc:
        _fail(exc)
        return
    if as_json:
        typer.echo(json.dumps(summary, indent=1))
        return
    table = Table(title=f"log {summary['name']}")
    table.add_column("item")
    table.add_column("value", justify="right")
    for key, value in summary.items():
        table.add_row(key, str(value))
    console.print(table)


SAMPLE_LOG = Path(__file__).resolve().parents[1] / "data" / "samples" / "pandaset_seq002"


@app.command()
def demo(
    out: Annotated[Path, typer.Option(help="Where the demo writes its logs.")] = Path("out/demo"),
    seconds: Annotated[float, typer.Option(help="Length of the simulated log [s].")] = 3.0,
) -> None:
    """Run the main job on the embedded default: the bundled real PandaSet sample and a simulated rig, on CPU.

    Opens the bundled PandaSet excerpt (real data), converts it to a native log, simulates a nuScenes-like
    rig with ground truth, and prints a summary of both. (The pre-labeling pipeline replaces this with
    the full job as it lands.)

    Example: ``fusionlabel demo --out out/demo``
    """
    import shutil
    import time

    import numpy as np

    from engine.io import open_log, write_native_log
    from engine.sim import read_ground_truth, write_simulation

    out.mkdir(parents=True, exist_ok=True)
    rows: list[tuple[str, str, str]] = []
    try:
        t0 = time.perf_counter()
        real = open_log(SAMPLE_LOG)
        native_dir = out / "pandaset_native"
        shutil.rmtree(native_dir, ignore_errors=True)
        write_native_log(real, native_dir)
        reopened = open_log(native_dir)
        lidar_id = next(iter(reopened.lidar))
        sweep = reopened.lidar[lidar_id][0]
        cars = [t for t in reopened.annotations.tracks if t.label.lower() == "car"]
        rows += [
            ("PandaSet sample", "lidar sweeps", str(len(reopened.lidar[lidar_id]))),
            ("PandaSet sample", "points in first sweep", f"{len(sweep):,}"),
            (
                "PandaSet sample",
                "point time span (ms)",
                f"{np.ptp(sweep.time_offset_us) / 1e3:.1f}",
            ),
            ("PandaSet sample", "cameras", str(len(reopened.cameras))),
            (
                "PandaSet sample",
                "GT tracks (cars)",
                f"{len(reopened.annotations.tracks)} ({len(cars)})",
            ),
            (
                "PandaSet sample",
                "motion compensated",
                str(reopened.metadata.get("lidar_motion_compensated", "?")),
            ),
            ("PandaSet sample", "open + convert (s)", f"{time.perf_counter() - t0:.2f}"),
        ]
        t0 = time.perf_counter()
        sim_dir = out / "sim_nuscenes"
        shutil.rmtree(sim_dir, ignore_errors=True)
        log_dir = write_simulation(sim_dir, "nuscenes", seconds, seed=0)
        sim = open_log(log_dir)
        gt = read_ground_truth(sim_dir / "ground_truth")
        lid = next(iter(sim.lidar))
        rows += [
            ("simulated nuScenes-like", "lidar sweeps", str(len(sim.lidar[lid]))),
            ("simulated nuScenes-like", "points in first sweep", f"{len(sim.lidar[lid][0]):,}"),
            (
                "simulated nuScenes-like",
                "cameras / radars",
                f"{len(sim.cameras)} / {len(sim.radar)}",
            ),
            ("simulated nuScenes-like", "GT tracks", str(len(gt.annotations.tracks))),
            ("simulated nuScenes-like", "simulate + write (s)", f"{time.perf_counter() - t0:.2f}"),
        ]
    except EngineError as exc:
        _fail(exc)
        return
    table = Table(title="fusionlabel demo (CPU, embedded default)")
    for col in ("log", "item", "value"):
        table.add_column(col)
    for row in rows:
        table.add_row(*row)
    console.print(table)
    console.print(f"native logs written under [bold]{out}[/]")


@app.command()
def sim(
    out: Annotated[Path, typer.Option("--out", help="Output folder (gets log/ and ground_truth/).")],
    rig: Annotated[str, typer.Option(help="Rig preset: nuscenes, robotaxi or tiny.")] = "nuscenes",
    seconds: Annotated[float, typer.Option(help="Length of the drive [s].")] = 10.0,
    seed: Annotated[int, typer.Option(help="Seed; the same seed gives bit-identical output.")] = 0,
) -> None:
    """Simulate a drive with ground truth: a native log plus its ground truth, deterministic per seed.

    Output layout:

    * ``OUT/log/``: native log (``fusionlabel info OUT/log``; ``engine.open_log``): lidar sweeps with
      per-point times (not motion compensated), radar scans, camera frames (no pixels), 100 Hz poses.

    * ``OUT/ground_truth/annotations.json``: world-frame GT cuboid tracks keyframed at every lidar sweep,
      vehicle attributes ``blinker`` and ``brake_light`` as AttributePaths.

    * ``OUT/ground_truth/boxes_2d.json``: GT 2D boxes per camera frame (track, label, box, visible
      fraction, truncation, occlusion, attributes at capture time).

    * ``OUT/ground_truth/labels/SENSOR/NNNNNNNN.npy``: per-point class and instance of every lidar and
      radar sweep; ``OUT/ground_truth/manifest.json``: run facts and static structures.

    Read it back with ``engine.sim.read_ground_truth(OUT)``.

    Example: ``fusionlabel sim --rig tiny --seconds 2 --seed 0 --out out/sim_tiny``
    """
    import time

    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from engine.io import open_log
    from engine.sim import get_rig, read_ground_truth, write_simulation

    try:
        spec = get_rig(rig)
        t0 = time.perf_counter()
        with Progress(
            TextColumn("simulating [bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as bar:
            task = bar.add_task(spec.name, total=None)
            log_dir = write_simulation(
                out,
                spec,
                seconds,
                seed,
                progress=lambda done, total: bar.update(task, completed=done, total=total),
            )
        elapsed = time.perf_counter() - t0
        result = open_log(log_dir)
        truth = read_ground_truth(out)
    except EngineError as exc:
        _fail(exc)
        return
    lidar_id = spec.lidars[0].sensor_id
    stream = result.lidar[lidar_id]
    counts = [len(stream[i]) for i in range(len(stream))]
    table = Table(title=f"simulated rig {spec.name!r}, seed {seed}")
    table.add_column("item")
    table.add_column("value", justify="right")
    for key, value in (
        ("lidar sweeps", str(len(stream))),
        ("points / sweep (mean)", f"{sum(counts) / max(len(counts), 1):,.0f}"),
        ("radar scans", str(sum(len(s) for s in result.radar.values()))),
        ("cameras / frames", f"{len(result.cameras)} / {sum(len(s) for s in result.cameras.values())}"),
        ("GT tracks", str(len(truth.annotations.tracks))),
        ("GT 2D boxes", str(sum(len(f.boxes) for f in truth.camera_boxes))),
        ("wall time (s)", f"{elapsed:.2f}"),
    ):
        table.add_row(key, value)
    console.print(table)
    console.print(f"log: [bold]{log_dir}[/]  ground truth: [bold]{Path(out) / 'ground_truth'}[/]")
