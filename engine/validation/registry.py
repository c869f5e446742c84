"""The rule table: every rule is a small function registered under ``family.name`` with a default severity.

A rule takes the :class:`~engine.validation.scene.Scene` and yields :class:`Finding` objects (built with
:func:`finding`, which fills in the registered severity); it raises :class:`SkipRule` with a reason when
the log lacks what it needs (no radar, no 2D boxes, no images...). Families: ``schema``, ``geometry``,
``temporal``, ``fusion``, ``data``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from engine.validation.findings import Finding, Severity
from kernels.errors import InvalidInputError

if TYPE_CHECKING:
    from engine.validation.scene import Scene

__all__ = ["FAMILIES", "RULES", "Rule", "SkipRule", "finding", "register", "select_rules"]

FAMILIES = ("schema", "geometry", "temporal", "fusion", "data")
RuleFunc = Callable[["Scene"], Iterable[Finding]]


class SkipRule(Exception):
    """Raised by a rule that cannot run on this input; the message is the recorded reason."""


@dataclass(frozen=True, slots=True)
class Rule:
    """A registered rule."""

    name: str
    family: str
    severity: Severity
    description: str
    func: RuleFunc


RULES: dict[str, Rule] = {}
"""Every registered rule by name, in registration order."""


def register(name: str, severity: Severity | str, description: str) -> Callable[[RuleFunc], RuleFunc]:
    """Decorator registering ``func`` as rule ``name`` (``family.rule``)."""
    family = name.split(".", 1)[0]
    if family not in FAMILIES or "." not in name:
        raise InvalidInputError(f"rule name {name!r} must be 'family.rule' with family in {FAMILIES}")

    def deco(func: RuleFunc) -> RuleFunc:
        if name in RULES:
            raise InvalidInputError(f"rule {name!r} is registered twice")
        RULES[name] = Rule(name, family, Severity.parse(severity), description, func)
        return func

    return deco


def finding(
    rule: str,
    message: str,
    *,
    track_id: str | None = None,
    timestamp_us: int | None = None,
    sensor: str | None = None,
    value: float | None = None,
    threshold: float | None = None,
) -> Finding:
    """A :class:`Finding` of ``rule`` with the rule's registered severity."""
    return Finding(rule, RULES[rule].severity, track_id, timestamp_us, sensor, message, value, threshold)


def select_rules(selection: Iterable[str] | None, disabled: Iterable[str] = ()) -> list[Rule]:
    """The rules named by ``selection`` (rule names or family names; None: all) minus ``disabled``.

    Raises
    ------
    InvalidInputError
        A name that is neither a registered rule nor a family.
    """
    names = list(RULES) if selection is None else list(selection)
    if isinstance(selection, str):
        names = [selection]
    chosen: list[str] = []
    for n in names:
        if n in RULES:
            chosen.append(n)
        elif n in FAMILIES:
            chosen.extend(r for r in RULES if RULES[r].family == n)
        else:
            raise InvalidInputError(
                f"unknown rule or family {n!r}; expected one of {list(FAMILIES) + list(RULES)}"
            )
    off = set(disabled)
    for n in off:
        if n not in RULES and n not in FAMILIES:
            raise InvalidInputError(f"disabled: unknown rule or family {n!r}")
    seen: set[str] = set()
    out = []
    for n in chosen:
        if n in seen or n in off or RULES[n].family in off:
            continue
        seen.add(n)
        out.append(RULES[n])
    return out
