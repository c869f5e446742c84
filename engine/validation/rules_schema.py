"""Schema rules: ids, timestamps, quaternions, sizes, labels, attribute values, link targets.

They read the annotations as submitted (:class:`~engine.validation.records.TrackRecord`), so they catch
what :class:`engine.CuboidTrack` would refuse to build. A superset of what the SFS SDK checks
(``shared/reference/sfs-format.md``: timestamps, dtypes, unique ids).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import numpy as np

from engine.validation.findings import Finding
from engine.validation.registry import SkipRule, finding, register
from engine.validation.scene import Scene

__all__: list[str] = []


@register("schema.malformed", "error", "a track or link entry that cannot be read at all")
def malformed(scene: Scene) -> Iterator[Finding]:
    for where, why in scene.parsed.malformed:
        yield finding("schema.malformed", f"{where} cannot be read: {why}")


@register("schema.unique_ids", "error", "track ids must be unique")
def unique_ids(scene: Scene) -> Iterator[Finding]:
    counts = Counter(r.track_id for r in scene.parsed.tracks)
    for tid, n in counts.items():
        if n > 1:
            yield finding(
                "schema.unique_ids", f"track id {tid!r} is used by {n} tracks", track_id=tid, value=n
            )


@register("schema.monotonic_timestamps", "error", "keyframe timestamps must increase strictly")
def monotonic_timestamps(scene: Scene) -> Iterator[Finding]:
    for r in scene.parsed.tracks:
        d = np.diff(r.timestamps_us)
        bad = np.flatnonzero(d <= 0)
        if bad.size:
            i = int(bad[0])
            yield finding(
                "schema.monotonic_timestamps",
                f"keyframe {i + 1} at {int(r.timestamps_us[i + 1])} us does not follow keyframe {i} at "
                f"{int(r.timestamps_us[i])} us ({bad.size} such steps)",
                track_id=r.track_id,
                timestamp_us=int(r.timestamps_us[i + 1]),
                value=float(d[i]),
                threshold=0.0,
            )


@register("schema.timestamps_in_coverage", "error", "keyframes must lie inside the sensors' time span")
def timestamps_in_coverage(scene: Scene) -> Iterator[Finding]:
    lo, hi = scene.log.time_range_us
    margin = int(round(scene.config.schema_.coverage_margin_s * 1e6))
    for r in scene.parsed.tracks:
        out = (r.timestamps_us < lo - margin) | (r.timestamps_us > hi + margin)
        if out.any():
            t = int(r.timestamps_us[np.argmax(out)])
            dist = max(lo - t, t - hi)
            yield finding(
                "schema.timestamps_in_coverage",
                f"{int(out.sum())} keyframe(s) outside the captures' span [{lo}, {hi}] us, first at {t} us",
                track_id=r.track_id,
                timestamp_us=t,
                value=dist / 1e6,
                threshold=margin / 1e6,
            )


@register("schema.unit_quaternions", "error", "rotations must be unit quaternions (w, x, y, z)")
def unit_quaternions(scene: Scene) -> Iterator[Finding]:
    atol = scene.config.schema_.quaternion_atol
    for r in scene.parsed.tracks:
        err = np.abs(np.linalg.norm(r.rotations_wxyz, axis=1) - 1.0)
        bad = ~(err <= atol)
        if bad.any():
            i = int(np.argmax(bad))
            yield finding(
                "schema.unit_quaternions",
                f"{int(bad.sum())} keyframe(s) with |q| != 1, first keyframe {i} "
                f"(| |q| - 1 | = {err[i]:.3g})",
                track_id=r.track_id,
                timestamp_us=int(r.timestamps_us[i]),
                value=float(err[i]),
                threshold=atol,
            )


@register("schema.positive_sizes", "error", "sizes must be finite and > 0, centres finite")
def positive_sizes(scene: Scene) -> Iterator[Finding]:
    for r in scene.parsed.tracks:
        bad = ~((r.sizes > 0).all(1) & np.isfinite(r.sizes).all(1) & np.isfinite(r.centers).all(1))
        if bad.any():
            i = int(np.argmax(bad))
            yield finding(
                "schema.positive_sizes",
                f"{int(bad.sum())} keyframe(s) with a non-positive or non-finite size/centre, first keyframe "
                f"{i}: size {r.sizes[i].tolist()}, centre {r.centers[i].tolist()}",
                track_id=r.track_id,
                timestamp_us=int(r.timestamps_us[i]),
                value=float(np.min(r.sizes[i])) if np.isfinite(r.sizes[i]).all() else None,
                threshold=0.0,
            )


@register("schema.known_labels", "error", "labels must belong to the taxonomy")
def known_labels(scene: Scene) -> Iterator[Finding]:
    name, tax = scene.taxonomy
    if tax is None:
        raise SkipRule("no taxonomy for this log (set config.taxonomy)")
    allowed = set(tax.labels)
    for r in scene.parsed.tracks:
        if r.label not in allowed:
            yield finding(
                "schema.known_labels",
                f"label {r.label!r} is not in the {name!r} taxonomy",
                track_id=r.track_id,
                timestamp_us=int(r.timestamps_us[0]) if r.timestamps_us.size else None,
            )


@register("schema.known_attributes", "error", "attribute names and values must belong to the taxonomy")
def known_attributes(scene: Scene) -> Iterator[Finding]:
    name, tax = scene.taxonomy
    if tax is None:
        raise SkipRule("no taxonomy for this log (set config.taxonomy)")
    class_attrs = set(scene.config.class_attribute_names)
    labels = set(tax.labels)
    for r in scene.parsed.tracks:
        pairs: list[tuple[str, str, int | None]] = [(k, v, None) for k, v in r.static_attributes.items()]
        pairs += [
            (a.name, v, t) for a in r.attributes for v, t in zip(a.values, a.timestamps_us, strict=False)
        ]
        for key, value, t in pairs:
            if key in class_attrs:
                ok, what = value in labels, f"class value {value!r}"
            elif key not in tax.attributes:
                ok, what = False, f"attribute {key!r}"
            else:
                vals = tax.attributes[key]
                ok, what = "*" in vals or value in vals, f"value {value!r} of attribute {key!r}"
            if not ok:
                yield finding(
                    "schema.known_attributes",
                    f"{what} is not in the {name!r} taxonomy",
                    track_id=r.track_id,
                    timestamp_us=t,
                )


@register("schema.link_targets", "error", "links must point at existing annotations")
def link_targets(scene: Scene) -> Iterator[Finding]:
    ids = {r.track_id for r in scene.parsed.tracks}
    for cb in scene.boxes_2d or ():
        for b in cb.boxes:
            bid = getattr(b, "box_id", None)
            if bid:
                ids.add(str(bid))
    for link in scene.parsed.links:
        for end in (link.from_id, link.to_id):
            if end not in ids:
                yield finding(
                    "schema.link_targets",
                    f"link {link.label!r} {link.from_id!r} -> {link.to_id!r}: no annotation {end!r}",
                    track_id=end,
                )
