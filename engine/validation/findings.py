"""Findings: the machine-readable output of every validation rule.

A :class:`Finding` names the rule, its severity, where it applies (track, timestamp, sensor), a human
message and the measured ``value`` against the configured ``threshold``. ``Finding.to_dict`` gives a
JSON-safe form (``None`` for absent fields); :func:`findings_to_json` / :func:`findings_from_json` round trip.
"""

from __future__ import annotations

import enum
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from kernels.errors import InvalidInputError

__all__ = ["Finding", "Severity", "findings_from_json", "findings_to_json"]


class Severity(enum.Enum):
    """How serious a finding is: ``error`` blocks a submission, ``warning`` asks for a look, ``info``."""

    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @classmethod
    def parse(cls, value: str | Severity) -> Severity:
        """Parse a severity name, raising with the accepted names otherwise."""
        if isinstance(value, Severity):
            return value
        try:
            return cls(value)
        except ValueError:
            raise InvalidInputError(
                f"unknown severity {value!r}; expected one of {[s.value for s in cls]}"
            ) from None

    @property
    def rank(self) -> int:
        """0 for error, 1 for warning, 2 for info (sort key)."""
        return {Severity.ERROR: 0, Severity.WARNING: 1, Severity.INFO: 2}[self]


def _num(v: float | None) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


@dataclass(frozen=True, slots=True)
class Finding:
    """One problem found by one rule.

    Parameters
    ----------
    rule : str
        Registered rule name, ``family.name`` (e.g. ``"temporal.heading_flip"``).
    severity : Severity
        Error, warning or info.
    track_id : str or None
        The track concerned, when one is.
    timestamp_us : int or None
        The keyframe / capture time concerned [µs], when one is.
    sensor : str or None
        The sensor concerned, when one is.
    message : str
        What is wrong, in words.
    value : float or None
        The measured quantity (units in the rule's description).
    threshold : float or None
        The configured limit ``value`` was compared with.
    """

    rule: str
    severity: Severity
    track_id: str | None
    timestamp_us: int | None
    sensor: str | None
    message: str
    value: float | None = None
    threshold: float | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "severity", Severity.parse(self.severity))
        if self.timestamp_us is not None:
            object.__setattr__(self, "timestamp_us", int(self.timestamp_us))
        object.__setattr__(self, "value", _num(self.value))
        object.__setattr__(self, "threshold", _num(self.threshold))

    @property
    def family(self) -> str:
        """The rule family (the part of ``rule`` before the first dot)."""
        return self.rule.split(".", 1)[0]

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict: ``rule, severity, track_id, timestamp, sensor, message, value, threshold``."""
        return {
            "rule": self.rule,
            "severity": self.severity.value,
            "track_id": self.track_id,
            "timestamp": self.timestamp_us,
            "sensor": self.sensor,
            "message": self.message,
            "value": self.value,
            "threshold": self.threshold,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Finding:
        """Inverse of :meth:`to_dict`."""
        try:
            return cls(
                rule=str(data["rule"]),
                severity=Severity.parse(data["severity"]),
                track_id=data.get("track_id"),
                timestamp_us=data.get("timestamp"),
                sensor=data.get("sensor"),
                message=str(data.get("message", "")),
                value=data.get("value"),
                threshold=data.get("threshold"),
            )
        except KeyError as exc:
            raise InvalidInputError(f"finding dict lacks the key {exc.args[0]!r}: {dict(data)!r}") from None


def findings_to_json(findings: Iterable[Finding], indent: int | None = None) -> str:
    """Serialise findings as a JSON array of :meth:`Finding.to_dict` objects."""
    return json.dumps([f.to_dict() for f in findings], indent=indent)


def findings_from_json(text: str) -> list[Finding]:
    """Parse the output of :func:`findings_to_json`."""
    data = json.loads(text)
    if not isinstance(data, list):
        raise InvalidInputError(f"findings JSON must be an array, got {type(data).__name__}")
    return [Finding.from_dict(d) for d in data]
