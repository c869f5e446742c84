"""Writing a pre-labeling result: native JSON files and Scale SFS.

``OUT/`` after :func:`write_outputs`::

    annotations.json   the tracks and links (native ``fusionlabel-annotations``, as a log's annotations.json)
    findings.json      validation findings (engine.validation.findings_to_json)
    stats.json         counts and per-stage frames, seconds, frames/s
    config.json        the PipelineConfig used
    scene.sfs          (sfs) the log with the pre-labels as an SFS scene (engine.io.sfs.write_sfs)
    links_sfs.json     (sfs, when links ran) SFS cuboids with camera projections, box_2d and link annotations

:func:`read_outputs` reads the native files back.
"""

from __future__ import annotations

import enum
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from engine.annotations import Annotations
from engine.io.annotations_json import read_annotations, write_annotations
from engine.log import Log
from engine.validation import Finding, findings_from_json, findings_to_json
from kernels.errors import InvalidInputError, LogFormatError

if TYPE_CHECKING:
    from engine.pipeline import PrelabelResult

__all__ = ["OutputFormat", "Outputs", "read_outputs", "write_outputs"]


class OutputFormat(enum.Enum):
    """What :func:`write_outputs` writes."""

    NATIVE = "native"
    SFS = "sfs"

    @classmethod
    def parse(cls, value: str | OutputFormat) -> OutputFormat:
        """Parse a format name, raising with the accepted names otherwise."""
        if isinstance(value, OutputFormat):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown output format {value!r}; expected one of {[f.value for f in cls]}"
            ) from None


@dataclass(frozen=True, slots=True)
class Outputs:
    """Files written by :func:`write_outputs` (name -> path) and notes on what was left out."""

    files: Mapping[str, Path]
    notes: tuple[str, ...] = ()


def _write_json(path: Path, text: str) -> Path:
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(text)
    tmp.replace(path)
    return path


def write_outputs(
    result: PrelabelResult,
    log: Log,
    out_dir: str | Path,
    formats: Iterable[str | OutputFormat] = (OutputFormat.NATIVE, OutputFormat.SFS),
) -> Outputs:
    """Write a pre-labeling result (layout in the module docstring).

    Parameters
    ----------
    result : PrelabelResult
        Output of :func:`engine.pipeline.prelabel` on ``log``.
    log : Log
        The log it was computed on.
    out_dir : str or Path
        Output folder (created).
    formats : iterable of {"native", "sfs"}
        What to write; the native files are always written when ``sfs`` is asked for alone.

    Returns
    -------
    Outputs
    """
    wanted = {OutputFormat.parse(f) for f in formats}
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}
    notes: list[str] = []
    files["annotations"] = out / "annotations.json"
    write_annotations(files["annotations"], result.annotations)
    files["findings"] = _write_json(out / "findings.json", findings_to_json(result.findings, indent=1))
    files["stats"] = _write_json(out / "stats.json", json.dumps(result.summary(), indent=1))
    files["config"] = _write_json(out / "config.json", result.config.model_dump_json(indent=1))
    if OutputFormat.SFS in wanted:
        try:
            from engine.io.sfs import write_sfs
        except ImportError as exc:  # the SFS writer is optional in partial builds
            notes.append(f"SFS scene not written: engine.io.sfs is unavailable ({exc})")
        else:
            files["sfs"] = write_sfs(replace(log, annotations=result.annotations), out / "scene.sfs")
        if result.link_result is not None:
            t0 = (
                min(int(t.timestamps_us[0]) for t in result.annotations.tracks)
                if result.annotations.tracks
                else 0
            )
            offset = min(t0, log.time_range_us[0])
            sfs = result.link_result.to_sfs(log, result.annotations.tracks, offset)
            sfs["time_offset_us"] = offset
            files["links_sfs"] = _write_json(out / "links_sfs.json", json.dumps(sfs))
    return Outputs(files, tuple(notes))


def read_outputs(out_dir: str | Path) -> tuple[Annotations, list[Finding]]:
    """The annotations and findings :func:`write_outputs` wrote to ``out_dir``."""
    out = Path(out_dir)
    if not (out / "annotations.json").is_file():
        raise LogFormatError(f"{str(out)!r} holds no annotations.json (not a pre-labeling output folder)")
    findings_path = out / "findings.json"
    findings = findings_from_json(findings_path.read_text()) if findings_path.is_file() else []
    return read_annotations(out / "annotations.json"), findings
