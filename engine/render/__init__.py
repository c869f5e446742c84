"""Pictures of a log and its annotations: bird's-eye views, camera overlays, a contact sheet, rerun export.

Pillow + NumPy only (no plotting library). Entry point :func:`render_log`; the pieces
(:func:`render_bev`, :func:`render_camera`, :func:`contact_sheet`) draw plain values gathered by
:func:`boxes_at` / :func:`lidar_points_at`.
"""

from engine.render.bev import BevConfig, bev_corners, bev_pixels, render_bev
from engine.render.camera import CameraConfig, cuboid_polylines, render_camera
from engine.render.colors import SEVERITY_COLORS, ramp, track_color
from engine.render.log_render import (
    RenderConfig,
    RenderOutput,
    render_frame_bev,
    render_frame_camera,
    render_log,
)
from engine.render.rerun_export import export_rerun, rerun_available
from engine.render.scene import DrawBox, boxes_at, frame_findings, lidar_points_at
from engine.render.sheet import contact_sheet

__all__ = [
    "SEVERITY_COLORS",
    "BevConfig",
    "CameraConfig",
    "DrawBox",
    "RenderConfig",
    "RenderOutput",
    "bev_corners",
    "bev_pixels",
    "boxes_at",
    "contact_sheet",
    "cuboid_polylines",
    "export_rerun",
    "frame_findings",
    "lidar_points_at",
    "ramp",
    "render_bev",
    "render_camera",
    "render_frame_bev",
    "render_frame_camera",
    "render_log",
    "rerun_available",
    "track_color",
]
