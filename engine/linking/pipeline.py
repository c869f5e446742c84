"""Camera linking end to end: footprints, association, attribute fusion, links (issue 6).

:func:`link_cameras` checks the observations against the log, computes the footprints of every track
in every observed camera frame (or every capture, ``all_frames=True``, for complete SFS
``projections``), matches observations to tracks, fuses their attributes, and returns a
:class:`LinkResult` that yields engine :class:`~engine.annotations.Link` objects, updated
:class:`~engine.annotations.Annotations` and SFS dicts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from engine.annotations import Annotations, CuboidTrack, Link
from engine.linking.associate import AssociationConfig, Match, associate
from engine.linking.attributes import DEFAULT_SPECS, AttributeSpec, FusedAttribute, fuse_attributes
from engine.linking.footprints import FootprintConfig, Footprints, camera_frames, compute_footprints
from engine.linking.observations import Observation2D, check_observations
from engine.log import Log

__all__ = ["LinkConfig", "LinkResult", "link_cameras"]


@dataclass(frozen=True, slots=True)
class LinkConfig:
    """Settings of :func:`link_cameras`."""

    footprint: FootprintConfig = field(default_factory=FootprintConfig)
    association: AssociationConfig = field(default_factory=AssociationConfig)
    attributes: tuple[AttributeSpec, ...] = DEFAULT_SPECS
    per_camera_attributes: bool = False
    all_frames: bool = False
    max_time_gap_us: int = 1_000
    box_tolerance_px: float = 2.0


@dataclass(frozen=True, slots=True, eq=False)
class LinkResult:
    """Everything :func:`link_cameras` found."""

    observations: tuple[Observation2D, ...]
    footprints: Footprints
    matches: tuple[Match, ...]
    attributes: tuple[FusedAttribute, ...]

    def links(self) -> tuple[Link, ...]:
        """One :class:`Link` per match: observation id -> track id, label ``"camera_link"``."""
        return tuple(
            Link(
                m.obs_id,
                m.track_id,
                "camera_link",
                True,
                {"sensor_id": m.sensor_id, "timestamp_us": str(m.timestamp_us), "iou": f"{m.iou:.4f}"},
            )
            for m in self.matches
        )

    def annotations(self, base: Annotations) -> Annotations:
        """``base`` with the fused attribute paths on its tracks (replacing same-named ones) and the links."""
        fused: dict[str, list[Any]] = {}
        for fa in self.attributes:
            fused.setdefault(fa.track_id, []).append(fa.path)
        tracks = []
        for tr in base.tracks:
            new = fused.get(tr.track_id)
            if not new:
                tracks.append(tr)
                continue
            names = {(p.name, p.sensor_id) for p in new}
            kept = tuple(a for a in tr.attributes if (a.name, a.sensor_id) not in names)
            tracks.append(replace(tr, attributes=kept + tuple(new)))
        return Annotations(tuple(tracks), tuple(base.links) + self.links())

    def to_sfs(
        self, log: Log, tracks: Sequence[CuboidTrack], time_offset_us: int, angle_unit: str = "radians"
    ) -> dict[str, Any]:
        """SFS annotations (see :func:`engine.linking.sfs.to_sfs`)."""
        from engine.linking.sfs import to_sfs

        return to_sfs(self, log, tracks, time_offset_us, angle_unit)


def link_cameras(
    log: Log,
    annotations: Annotations | Sequence[CuboidTrack],
    observations: Sequence[Observation2D],
    config: LinkConfig | None = None,
) -> LinkResult:
    """Link 2D observations to the 3D tracks of a log and fuse their attributes.

    Parameters
    ----------
    log : Log
        The drive log.
    annotations : Annotations or sequence of CuboidTrack
        The 3D tracks.
    observations : sequence of Observation2D
        2D boxes (e.g. from :func:`engine.linking.read_observations`).
    config : LinkConfig, optional
        Settings.

    Returns
    -------
    LinkResult

    Raises
    ------
    InvalidInputError
        Unknown cameras, timestamps outside the log's captures, boxes outside the image, unknown
        attribute values (naming the observation).
    """
    cfg = LinkConfig() if config is None else config
    tracks = list(annotations.tracks if isinstance(annotations, Annotations) else annotations)
    obs = check_observations(
        log, observations, max_time_gap_us=cfg.max_time_gap_us, box_tolerance_px=cfg.box_tolerance_px
    )
    frames = camera_frames(log) if cfg.all_frames else sorted({(o.sensor_id, o.timestamp_us) for o in obs})
    fp = compute_footprints(log, tracks, frames, cfg.footprint)
    sizes = {}
    for sid in log.cameras:
        cam = log.sensors[sid].camera
        if cam is not None:
            sizes[sid] = (cam.width, cam.height)
    labels = {t.track_id: t.label for t in tracks}
    matches = associate(obs, fp, labels, sizes, cfg.association)
    starts = {t.track_id: int(t.timestamps_us[0]) for t in tracks}
    fused = fuse_attributes(
        matches, obs, cfg.attributes, start_us=starts, per_camera=cfg.per_camera_attributes
    )
    return LinkResult(obs, fp, matches, fused)
