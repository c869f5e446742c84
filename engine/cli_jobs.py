"""The job commands of ``fusionlabel``: prelabel and validate (tools: :mod:`engine.cli_tools`).

They are registered on the one app in :mod:`engine.cli`; the ``demo`` command reuses
:func:`run_prelabel` (stage progress bars, outputs, pictures, the summary tables).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, NoReturn

import typer
from pydantic import ValidationError
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from engine.errors import EngineError

if TYPE_CHECKING:
    from engine.pipeline import PrelabelResult
    from engine.stages import PipelineConfig
    from engine.stages import Progress as StageProgress

__all__ = [
    "csv_option",
    "fail",
    "load_pipeline_config",
    "prelabel",
    "run_prelabel",
    "summary_tables",
    "validate",
]

console = Console()
log = logging.getLogger("fusionlabel")


def fail(exc: Exception) -> NoReturn:
    """Print a red one-line error and exit with status 2."""
    console.print(f"[bold red]error:[/] {exc}")
    raise typer.Exit(code=2)


def csv_option(value: str | None) -> tuple[str, ...] | None:
    """A comma-separated option as a tuple of its non-empty items (None stays None)."""
    return None if value is None else tuple(v.strip() for v in value.split(",") if v.strip())


@contextmanager
def stage_bars() -> Iterator[StageProgress]:
    """A rich progress bar per pipeline stage; yields the ``progress(stage, done, total)`` callback."""
    with Progress(
        TextColumn("[bold]{task.description:<13}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
    ) as bars:
        tasks: dict[str, Any] = {}

        def update(stage: str, done: int, total: int) -> None:
            if stage not in tasks:
                tasks[stage] = bars.add_task(stage, total=total)
            bars.update(tasks[stage], completed=done, total=total)

        yield update


def summary_tables(result: PrelabelResult, title: str) -> tuple[Table, Table]:
    """The closing summary: counts, and per-stage frames / seconds / frames per second."""
    s = result.summary()
    counts = Table(title=title)
    counts.add_column("item")
    counts.add_column("value", justify="right")
    sev = s["findings_by_severity"]
    for key, value in (
        ("sweeps (frames)", s["frames"]),
        ("tracks", s["tracks"]),
        ("links (2D observations linked)", _links_text(s)),
        ("camera footprints (visible)", s["footprints"]),
        (
            "findings (error / warning / info)",
            f"{s['findings']} ({sev['error']} / {sev['warning']} / {sev['info']})",
        ),
        ("backend", s["backend"]),
    ):
        counts.add_row(key, str(value))
    stages = Table(title="stages")
    for col in ("stage", "status", "frames", "items", "seconds", "frames/s", "median ms/frame"):
        stages.add_column(col, justify="left" if col in ("stage", "status") else "right")
    for st in result.stages:
        d = st.to_dict()
        median = f"{d['frame_ms_median']:.1f}" if "frame_ms_median" in d else "-"
        stages.add_row(
            st.name,
            st.status,
            str(st.frames),
            str(st.items),
            f"{st.seconds:.2f}",
            f"{st.frames_per_s:.2f}",
            median,
        )
    return counts, stages


def _links_text(s: dict[str, Any]) -> str:
    """``links of observations``, or why there is nothing to link (no 2D boxes come with most logs)."""
    status = next((st["status"] for st in s["stages"] if st["name"] == "links"), "skipped")
    if status != "ok":
        return f"- (links stage {status})"
    if s["observations"] == 0:
        return "0 (no 2D boxes given: --observations)"
    return f"{s['links']} of {s['observations']}"


def run_prelabel(
    log_path: Path,
    out: Path,
    config: PipelineConfig,
    *,
    observations: Path | None = None,
    formats: tuple[str, ...] = ("native", "sfs"),
    render_pictures: bool = True,
) -> PrelabelResult:
    """Open a log, pre-label it with progress bars, write outputs (and pictures), print the summary."""
    from engine.io import open_log
    from engine.linking import read_observations
    from engine.pipeline import prelabel as run
    from engine.render import RenderConfig, render_log
    from engine.stages.outputs import write_outputs

    drive = open_log(log_path)
    obs = read_observations(observations) if observations is not None else None
    with stage_bars() as progress:
        result = run(drive, config, observations=obs, progress=progress)
    written = write_outputs(result, drive, out, formats)
    for note in written.notes:
        console.print(f"[yellow]note:[/] {note}")
    counts, stages = summary_tables(result, f"pre-labels of {drive.name}")
    console.print(counts)
    console.print(stages)
    if render_pictures:
        with console.status("drawing pictures"):
            pics = render_log(
                drive,
                result.annotations,
                out / "render",
                findings=result.findings,
                frame_times_us=result.frame_times_us,
                config=RenderConfig(rerun=True),
            )
        for note in pics.notes:
            console.print(f"[yellow]note:[/] {note}")
    for name, path in written.files.items():
        console.print(f"  {name:<12} [bold]{path}[/]")
    return result


def load_pipeline_config(path: Path | None, backend: str | None, max_frames: int | None) -> PipelineConfig:
    """A :class:`PipelineConfig` from a YAML/JSON file and CLI overrides; bad values raise ``EngineError``."""
    from engine.stages import PipelineConfig

    data: dict[str, Any] = {}
    if path is not None:
        import yaml

        try:
            data = yaml.safe_load(path.read_text()) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise EngineError(f"cannot read pipeline config {str(path)!r}: {exc}") from exc
    if backend is not None:
        data["backend"] = backend
    if max_frames is not None:
        data.setdefault("frames", {})["max_frames"] = max_frames
    try:
        return PipelineConfig(**data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise EngineError(f"pipeline config: {where}: {first['msg']} (got {first.get('input')!r})") from None


def prelabel(
    log_path: Annotated[
        Path, typer.Argument(help="A drive log: native, PandaSet, SFS, ... (picked by content).")
    ],
    out: Annotated[Path, typer.Option("--out", help="Output folder.")],
    backend: Annotated[str | None, typer.Option(help="Where kernels run: cpu, cuda or auto.")] = None,
    config: Annotated[
        Path | None, typer.Option(help="Pipeline config (YAML/JSON, PipelineConfig fields).")
    ] = None,
    observations: Annotated[
        Path | None, typer.Option(help="2D observations JSON to link to the tracks.")
    ] = None,
    max_frames: Annotated[int | None, typer.Option(help="Only the first N frames (previews).")] = None,
    sfs: Annotated[bool, typer.Option("--sfs/--no-sfs", help="Also write the SFS scene.")] = True,
    pictures: Annotated[
        bool, typer.Option("--render/--no-render", help="Draw BEV and camera pictures.")
    ] = True,
    executor: Annotated[
        str, typer.Option(help="Where the work runs: inprocess (default, embedded) or ray.")
    ] = "inprocess",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address; a local 127.0.0.1-only instance when omitted.")
    ] = None,
    chunk_frames: Annotated[
        int | None,
        typer.Option(help="Run the per-frame stages in chunks of N frames (tracks: whole log, once)."),
    ] = None,
    overlap_frames: Annotated[
        int, typer.Option(help="Frames computed again at each chunk border (a determinism check).")
    ] = 0,
    num_cpus: Annotated[float, typer.Option(help="CPUs per Ray task.")] = 1.0,
    num_gpus: Annotated[float, typer.Option(help="GPUs per Ray task.")] = 0.0,
) -> None:
    """Pre-label a drive log: shared frame -> proposals -> tracks -> links -> validation.

    Writes labels (OUT/annotations.json, OUT/scene.sfs), OUT/findings.json, OUT/stats.json and pictures.
    With --executor ray (or --chunk-frames) the work goes through engine.executors: outputs are
    written idempotently with a completion marker, OUT/_DONE.json; a run whose marker matches the
    configuration is kept (delete the marker to recompute) and an interrupted one resumes.

    Example: fusionlabel prelabel data/samples/pandaset_seq002 --out out/seq002

    Example: fusionlabel prelabel LOG --out out/run --backend cuda --max-frames 20 --no-render

    Example: fusionlabel prelabel LOG --out out/run --executor ray --chunk-frames 100 --overlap-frames 2
    """
    from engine.cli_batch import ExecutorOptions, run_single

    try:
        cfg = load_pipeline_config(config, backend, max_frames)
        options = ExecutorOptions(executor, address, chunk_frames, overlap_frames, num_cpus, num_gpus)
        if not options.is_default:
            run_single(
                log_path,
                out,
                _with_observations(cfg, observations),
                options,
                formats=("native", "sfs") if sfs else ("native",),
                render_pictures=pictures,
            )
            return
        run_prelabel(
            log_path,
            out,
            cfg,
            observations=observations,
            formats=("native", "sfs") if sfs else ("native",),
            render_pictures=pictures,
        )
    except EngineError as exc:
        fail(exc)


def _with_observations(config: PipelineConfig, observations: Path | None) -> PipelineConfig:
    """``config`` with ``links.observations`` set (absolute) when an observations file is given."""
    if observations is None:
        return config
    links = config.links.model_copy(update={"observations": observations.resolve()})
    return config.model_copy(update={"links": links})


def validate(
    log_path: Annotated[Path, typer.Argument(help="A drive log.")],
    annotations: Annotated[
        Path | None, typer.Option(help="Annotations JSON (native); the log's own annotations by default.")
    ] = None,
    rules: Annotated[
        str | None, typer.Option(help="Comma-separated rule or family names (default all).")
    ] = None,
    config: Annotated[Path | None, typer.Option(help="Validation YAML merged over the defaults.")] = None,
    out: Annotated[Path | None, typer.Option(help="Also write the findings JSON here.")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Check annotations against the sensor data (schema, geometry, temporal, fusion, data rules).

    Exits with status 1 when there are error findings.

    Example: fusionlabel validate data/samples/pandaset_seq002

    Example: fusionlabel validate LOG --annotations out/seq002/annotations.json --rules geometry,temporal
    """
    from engine.io import open_log
    from engine.io.annotations_json import read_annotations
    from engine.validation import findings_to_json, validate_report

    try:
        drive = open_log(log_path)
        ann = read_annotations(annotations) if annotations is not None else None
        report = validate_report(drive, ann, config=config, rules=csv_option(rules))
    except EngineError as exc:
        fail(exc)
    if out is not None:
        out.write_text(findings_to_json(report.findings, indent=1))
    if as_json:
        typer.echo(json.dumps(report.to_dict(), indent=1))
    else:
        table = Table(title=f"{len(report.findings)} findings on {drive.name}")
        for col in ("severity", "rule", "track", "time (µs)", "message"):
            table.add_column(col)
        for f in report.findings:
            table.add_row(f.severity.value, f.rule, f.track_id or "", str(f.timestamp_us or ""), f.message)
        console.print(table)
        for name, why in report.skipped.items():
            console.print(f"[dim]skipped {name}: {why}[/]")
    if any(f.severity.value == "error" for f in report.findings):
        raise typer.Exit(code=1)
