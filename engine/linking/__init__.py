"""Camera linking (issue 6): tracks into cameras at capture time, 2D<->3D association, attributes.

Camera attributes are fused into time-varying attributes of the tracks; results go out in SFS terms.

Entry point: :func:`link_cameras`. Pieces: :func:`compute_footprints` (fisheye-correct footprints,
visible fraction, truncation, occlusion), :func:`associate` (optimal assignment on footprint IoU,
gated by class and plausible depth), :func:`fuse_attributes` (flicker-tolerant HMM), the observation
JSON schema (:mod:`engine.linking.observations`) and SFS dicts (:mod:`engine.linking.sfs`).
"""

from engine.linking.associate import AssociationConfig, Match, associate, box_iou_matrix
from engine.linking.attributes import (
    BLINKER,
    BRAKE_LIGHT,
    DEFAULT_SPECS,
    DOOR,
    AttributeSpec,
    Evidence,
    FusedAttribute,
    fuse_attributes,
)
from engine.linking.footprints import (
    Footprint,
    FootprintConfig,
    Footprints,
    camera_frames,
    compute_footprints,
)
from engine.linking.observations import (
    Observation2D,
    check_observations,
    observations_from_dict,
    observations_json_schema,
    observations_to_dict,
    read_observations,
)
from engine.linking.pipeline import LinkConfig, LinkResult, link_cameras
from engine.linking.sfs import sfs_attribute_path, sfs_box_2d, sfs_cuboid, sfs_projections, to_sfs

__all__ = [
    "BLINKER",
    "BRAKE_LIGHT",
    "DEFAULT_SPECS",
    "DOOR",
    "AssociationConfig",
    "AttributeSpec",
    "Evidence",
    "Footprint",
    "FootprintConfig",
    "Footprints",
    "FusedAttribute",
    "LinkConfig",
    "LinkResult",
    "Match",
    "Observation2D",
    "associate",
    "box_iou_matrix",
    "camera_frames",
    "check_observations",
    "compute_footprints",
    "fuse_attributes",
    "link_cameras",
    "observations_from_dict",
    "observations_json_schema",
    "observations_to_dict",
    "read_observations",
    "sfs_attribute_path",
    "sfs_box_2d",
    "sfs_cuboid",
    "sfs_projections",
    "to_sfs",
]
