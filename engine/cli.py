"""The ``fusionlabel`` command line (typer + rich)."""

from __future__ import annotations

import json
import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.table import Table

from engine import cli_batch, cli_jobs, cli_tools
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


# Job and tool commands live in engine.cli_jobs / engine.cli_tools; registered here, on the one app.
for _command in (
    cli_jobs.prelabel,
    cli_batch.prelabel_batch,
    cli_jobs.validate,
    cli_tools.interpolate,
    cli_tools.render,
    cli_tools.bench,
):
    app.command()(_command)


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
    out: Annotated[Path, typer.Option(help="Where the demo writes its outputs.")] = Path("out/demo"),
    backend: Annotated[str, typer.Option(help="Where kernels run: cpu, cuda or auto.")] = "cpu",
) -> None:
    """Run the main job on the embedded default: pre-label the bundled real PandaSet sample end to end.

    Opens the bundled PandaSet excerpt (4 real Pandar64 sweeps, 6 cameras), runs shared frame ->
    proposals -> tracks -> links -> validation on CPU, writes native and SFS outputs plus pictures
    (bird's-eye views, camera overlays, a contact sheet) and prints the summary. The first run
    compiles the numba kernels (about a minute).

    Example: fusionlabel demo --out out/demo
    """
    try:
        cli_jobs.run_prelabel(SAMPLE_LOG, out, cli_jobs.load_pipeline_config(None, backend, None))
    except EngineError as exc:
        _fail(exc)
        return
    console.print("\n[bold]look at[/] (reproduce with: make demo, or fusionlabel demo --out DIR):")
    for path, what in (
        (out / "render" / "contact_sheet.png", "every frame: bird's-eye view and the six cameras"),
        (out / "render" / "camera" / "front_camera" / "0002.png", "the real front image with the pre-labels"),
        (out / "render" / "bev", "bird's-eye views: points by height, tracks, velocities, findings"),
        (out / "annotations.json", "the pre-labels (native); scene.sfs: the same as an SFS scene"),
        (
            out / "render" / "scene.rrd",
            "interactive 3D, points and cuboids over time: open it with the rerun viewer",
        ),
    ):
        if path.exists():
            console.print(f"  [bold]{path}[/]  {what}")


@app.command()
def warmup() -> None:
    """Compile the kernels of the service's low-latency endpoints now (numba caches them on disk).

    ``fusionlabel serve`` does this in the background at start-up; run it in a deployment step so that
    not even the first minute after a start pays for compilation (the cache is per machine type).

    Example: fusionlabel warmup
    """
    from engine.service.warmup import warm_up

    table = Table(title="kernel warm-up (compile, or load from numba's cache)")
    table.add_column("step")
    table.add_column("seconds", justify="right")
    for step, seconds in warm_up().items():
        table.add_row(step, f"{seconds:.2f}")
    console.print(table)


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


@app.command()
def convert(
    src: Annotated[Path, typer.Argument(help="A log: native, PandaSet, SFS, MCAP, nuScenes, KITTI.")],
    dst: Annotated[Path, typer.Argument(help="Output: a folder (native) or a file (sfs, kitti, openlabel).")],
    to: Annotated[str, typer.Option("--to", help="Output format: native, sfs, kitti, openlabel.")] = "native",
    angle_unit: Annotated[str, typer.Option(help="SFS cuboid angle unit: radians or degrees.")] = "radians",
) -> None:
    """Convert a log between formats (the reader is picked by content).

    Examples: ``fusionlabel convert data/samples/pandaset_seq002 out/seq002.sfs --to sfs``;
    ``fusionlabel convert out/seq002.sfs out/seq002_native``;
    ``fusionlabel convert out/seq002.sfs out/labels.txt --to kitti``.
    """
    from engine.io.convert import OutputFormat
    from engine.io.convert import convert as run_convert

    try:
        fmt = OutputFormat.parse(to)
        options = {"angle_unit": angle_unit} if fmt is OutputFormat.SFS else {}
        written = run_convert(src, dst, fmt, **options)
    except EngineError as exc:
        _fail(exc)
        return
    console.print(f"wrote [bold]{written}[/] ({fmt.value})")
