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
                "point time span [ms]",
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
            ("PandaSet sample", "open + convert [s]", f"{time.perf_counter() - t0:.2f}"),
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
            ("simulated nuScenes-like", "simulate + write [s]", f"{time.perf_counter() - t0:.2f}"),
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
