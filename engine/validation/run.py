"""The public entry points: :func:`validate` and :func:`validate_report`."""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from engine.annotations import Annotations
from engine.log import Log
from engine.validation.config import ValidationConfig, default_config, load_config
from engine.validation.findings import Finding
from engine.validation.records import parse_annotations, sanitise
from engine.validation.registry import SkipRule, select_rules
from engine.validation.scene import CameraBoxesLike, Scene
from kernels.errors import InvalidTypeError

__all__ = ["ValidationReport", "validate", "validate_report"]

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class ValidationReport:
    """Findings plus what did not run and how long each rule took.

    Attributes
    ----------
    findings : tuple of Finding
        Sorted by severity, time, rule and track.
    skipped : mapping of str to str
        Rule name -> why it did not run (no radar in the log, no 2D boxes, ...).
    timings_s : mapping of str to float
        Seconds per rule (shared derived data is charged to the first rule that needs it).
    """

    findings: tuple[Finding, ...]
    skipped: Mapping[str, str] = field(default_factory=dict)
    timings_s: Mapping[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``findings`` (list of dicts), ``skipped``, ``timings_s``."""
        return {
            "findings": [f.to_dict() for f in self.findings],
            "skipped": dict(self.skipped),
            "timings_s": dict(self.timings_s),
        }


def _config(config: ValidationConfig | str | Path | Mapping[str, Any] | None) -> ValidationConfig:
    if config is None:
        return default_config()
    if isinstance(config, ValidationConfig):
        return config
    return load_config(config)


def validate_report(
    log: Log,
    annotations: Annotations | Mapping[str, Any] | None = None,
    *,
    config: ValidationConfig | str | Path | Mapping[str, Any] | None = None,
    rules: Iterable[str] | None = None,
    boxes_2d: Sequence[CameraBoxesLike] | None = None,
) -> ValidationReport:
    """Run the selected rules and return findings, skipped rules and timings.

    Parameters are those of :func:`validate`.
    """
    if not isinstance(log, Log):
        raise InvalidTypeError(f"log must be an engine.Log, got {type(log).__name__}")
    cfg = _config(config)
    ann = log.annotations if annotations is None else annotations
    if not isinstance(ann, Annotations | Mapping):
        raise InvalidTypeError(
            f"annotations must be Annotations or their JSON dict form, got {type(ann).__name__}"
        )
    parsed = parse_annotations(ann)
    clean, source = sanitise(parsed)
    scene = Scene(log, parsed, clean, source, cfg, boxes_2d)
    findings: list[Finding] = []
    skipped: dict[str, str] = {}
    timings: dict[str, float] = {}
    for rule in select_rules(rules, cfg.disabled):
        t0 = time.perf_counter()
        try:
            out = list(rule.func(scene))
        except SkipRule as exc:
            skipped[rule.name] = str(exc)
            logger.info("rule %s skipped: %s", rule.name, exc)
            out = []
        timings[rule.name] = time.perf_counter() - t0
        override = cfg.severity.get(rule.name)
        if override is not None:
            out = [dataclasses.replace(f, severity=override) for f in out]
        findings.extend(out)
    findings.sort(
        key=lambda f: (
            f.severity.rank,
            -1 if f.timestamp_us is None else f.timestamp_us,
            f.rule,
            f.track_id or "",
        )
    )
    return ValidationReport(tuple(findings), skipped, timings)


def validate(
    log: Log,
    annotations: Annotations | Mapping[str, Any] | None = None,
    *,
    config: ValidationConfig | str | Path | Mapping[str, Any] | None = None,
    rules: Iterable[str] | None = None,
    boxes_2d: Sequence[CameraBoxesLike] | None = None,
) -> list[Finding]:
    """Validate the annotations of a log against the sensor data.

    Parameters
    ----------
    log : Log
        The drive log (sensors, trajectory, sweeps, images).
    annotations : Annotations or mapping, optional
        The tracks to check; their JSON dict form (``fusionlabel-annotations``) is read leniently so
        the schema rules see what :class:`engine.CuboidTrack` would refuse. Default: ``log.annotations``.
    config : ValidationConfig, YAML path or mapping, optional
        Thresholds and priors; a path or mapping is merged over the packaged defaults.
    rules : iterable of str, optional
        Rule names (``"temporal.heading_flip"``) and/or family names (``"geometry"``); default all.
        ``config.disabled`` is removed from the selection.
    boxes_2d : sequence of camera-frame 2D boxes, optional
        Objects with ``sensor_id``, ``timestamp_us`` and ``boxes`` (each with ``track_id``, ``box``
        ``(x0, y0, x1, y1)`` px), e.g. :class:`engine.sim.CameraBoxes`; enables the 2D-box fusion rules.

    Returns
    -------
    list of Finding
        Sorted by severity, then time. Rules that could not run are listed by :func:`validate_report`.
    """
    return list(validate_report(log, annotations, config=config, rules=rules, boxes_2d=boxes_2d).findings)
