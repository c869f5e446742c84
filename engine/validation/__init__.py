"""Validation and quality assurance of annotations.

* :func:`validate` / :func:`validate_report` -- the rule engine: scene + annotations -> :class:`Finding`
  objects (``rule, severity, track_id, timestamp, sensor, message, value, threshold``). Rules live in
  families (``schema``, ``geometry``, ``temporal``, ``fusion``, ``data``), are registered in
  :data:`RULES` and selectable by name or family; thresholds and class priors come from
  :class:`ValidationConfig` (packaged ``defaults.yaml``, :func:`load_config`).
* :mod:`engine.validation.golden` -- golden-set QA: a submission scored against a golden annotation set.
* :mod:`engine.validation.consensus` -- merging K annotators' cuboids with reliability weights.
"""

from engine.validation import (  # noqa: F401  (registers the rules)
    rules_data,
    rules_fusion,
    rules_geometry,
    rules_schema,
    rules_temporal,
    rules_tracks,
)
from engine.validation.config import ClassPrior, Taxonomy, ValidationConfig, default_config, load_config
from engine.validation.findings import Finding, Severity, findings_from_json, findings_to_json
from engine.validation.registry import FAMILIES, RULES, Rule, SkipRule, select_rules
from engine.validation.run import ValidationReport, validate, validate_report

__all__ = [
    "FAMILIES",
    "RULES",
    "ClassPrior",
    "Finding",
    "Rule",
    "Severity",
    "SkipRule",
    "Taxonomy",
    "ValidationConfig",
    "ValidationReport",
    "default_config",
    "findings_from_json",
    "findings_to_json",
    "load_config",
    "select_rules",
    "validate",
    "validate_report",
]
