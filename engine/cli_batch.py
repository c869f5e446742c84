"""Pre-labeling on an executor from the command line: ``prelabel --executor ...`` and ``prelabel-batch``.

``fusionlabel prelabel`` keeps its embedded default (one log, in process, progress bars); with
``--executor ray``, ``--address`` or ``--chunk-frames`` it goes through :mod:`engine.executors`
(:func:`run_single`). ``fusionlabel prelabel-batch LOG... --out DIR`` pre-labels many logs into
``DIR/LOG_NAME/`` on either executor.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from engine.cli_jobs import console, fail, load_pipeline_config
from engine.errors import EngineError

if TYPE_CHECKING:
    from engine.executors import Chunking, Executor, LogOutcome, PrelabelJob
    from engine.stages import PipelineConfig

__all__ = ["ExecutorOptions", "prelabel_batch", "run_single"]


@dataclass(frozen=True, slots=True)
class ExecutorOptions:
    """The executor flags shared by ``prelabel`` and ``prelabel-batch``."""

    executor: str = "inprocess"
    address: str | None = None
    chunk_frames: int | None = None
    overlap_frames: int = 0
    num_cpus: float = 1.0
    num_gpus: float = 0.0

    @property
    def is_default(self) -> bool:
        """True for the embedded default: in process, whole log, no cluster."""
        return self.executor == "inprocess" and self.address is None and self.chunk_frames is None

    def make(self) -> Executor:
        """The executor the flags name."""
        from engine.executors import make_executor

        return make_executor(
            self.executor, address=self.address, num_cpus=self.num_cpus, num_gpus=self.num_gpus
        )

    def chunking(self) -> Chunking | None:
        """The chunking the flags name (None: one unit per log)."""
        from engine.executors import Chunking

        if self.chunk_frames is None:
            if self.overlap_frames:
                raise EngineError("--overlap-frames needs --chunk-frames")
            return None
        return Chunking(self.chunk_frames, self.overlap_frames)


def _run(jobs: Sequence[PrelabelJob], options: ExecutorOptions, overwrite: bool) -> list[LogOutcome]:
    from engine.executors import prelabel_batch as run_batch

    chunking = options.chunking()
    executor = options.make()
    try:
        with console.status(f"pre-labeling {len(jobs)} log(s) on {executor.name}"):
            return run_batch(jobs, executor, chunking=chunking, overwrite=overwrite)
    finally:
        executor.close()


def _outcome_table(outcomes: list[LogOutcome]) -> Table:
    table = Table(title="pre-labeled logs")
    for col in ("log", "frames", "tracks", "chunks", "status", "output"):
        table.add_column(col, justify="right" if col in ("frames", "tracks", "chunks") else "left")
    for o in outcomes:
        status = "already complete" if o.skipped else "done"
        table.add_row(o.log_name, str(o.frames), str(o.tracks), str(o.chunks), status, o.out_dir)
    return table


def run_single(
    log_path: Path,
    out: Path,
    config: PipelineConfig,
    options: ExecutorOptions,
    *,
    formats: tuple[str, ...],
    render_pictures: bool,
    overwrite: bool = False,
) -> LogOutcome:
    """``prelabel`` on an executor: one job writing to ``out``; pictures drawn here afterwards.

    Complete outputs (``OUT/_DONE.json`` matching the configuration) are kept unless ``overwrite``;
    complete chunks of an interrupted run are reused.
    """
    from engine.executors import PrelabelJob

    if not log_path.exists():
        raise EngineError(f"log {str(log_path)!r} does not exist")
    job = PrelabelJob(str(log_path.resolve()), str(out.resolve()), config, formats)
    (outcome,) = _run([job], options, overwrite)
    stats = json.loads((out / "stats.json").read_text())
    console.print(_outcome_table([outcome]))
    times = ", ".join(f"{st['name']} {st['seconds']:.2f} s" for st in stats["stages"])
    console.print(f"stages: {times}")
    if render_pictures:
        from engine.io import open_log
        from engine.render import RenderConfig, render_log
        from engine.stages import frame_times
        from engine.stages.outputs import read_outputs

        drive = open_log(log_path)
        annotations, findings = read_outputs(out)
        with console.status("drawing pictures"):
            render_log(
                drive,
                annotations,
                out / "render",
                findings=findings,
                frame_times_us=frame_times(drive, config.frames),
                config=RenderConfig(rerun=True),
            )
    return outcome


def prelabel_batch(
    logs: Annotated[list[Path], typer.Argument(help="Drive logs (any format open_log reads).")],
    out: Annotated[Path, typer.Option("--out", help="Output root: one folder per log name.")],
    executor: Annotated[str, typer.Option(help="Where units run: inprocess or ray.")] = "inprocess",
    address: Annotated[
        str | None, typer.Option(help="Ray cluster address; a local 127.0.0.1-only instance when omitted.")
    ] = None,
    chunk_frames: Annotated[
        int | None, typer.Option(help="Per-frame stages in chunks of N frames (tracks: whole log).")
    ] = None,
    overlap_frames: Annotated[int, typer.Option(help="Frames computed again at chunk borders.")] = 0,
    num_cpus: Annotated[float, typer.Option(help="CPUs per Ray task.")] = 1.0,
    num_gpus: Annotated[float, typer.Option(help="GPUs per Ray task.")] = 0.0,
    backend: Annotated[str | None, typer.Option(help="Where kernels run: cpu, cuda or auto.")] = None,
    config: Annotated[Path | None, typer.Option(help="Pipeline config (YAML/JSON).")] = None,
    sfs: Annotated[bool, typer.Option("--sfs/--no-sfs", help="Also write SFS scenes.")] = False,
    overwrite: Annotated[bool, typer.Option(help="Run logs whose outputs are complete again.")] = False,
) -> None:
    """Pre-label many logs, one output folder each (OUT/LOG_NAME), in process or on Ray.

    Outputs are idempotent: a log whose OUT/LOG_NAME/_DONE.json matches is skipped, and a crashed
    run picks up where it stopped.

    Example: fusionlabel prelabel-batch logs/a logs/b --out out/batch

    Example: fusionlabel prelabel-batch logs/* --out out/batch --executor ray --chunk-frames 200
    """
    from engine.executors import batch_jobs

    try:
        cfg = load_pipeline_config(config, backend, None)
        formats = ("native", "sfs") if sfs else ("native",)
        jobs = batch_jobs(logs, out, cfg, formats=formats)
        opts = ExecutorOptions(executor, address, chunk_frames, overlap_frames, num_cpus, num_gpus)
        outcomes = _run(jobs, opts, overwrite)
    except EngineError as exc:
        fail(exc)
    console.print(_outcome_table(outcomes))
