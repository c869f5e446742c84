"""Scale's Sensor Fusion Scene (SFS) format: JSON-binary container, scene, annotations.

``read_sfs(path) -> Log`` and ``write_sfs(log, path)``; see :mod:`engine.io.sfs.read`,
:mod:`engine.io.sfs.write`, :mod:`engine.io.sfs.annotations` and :mod:`engine.io.sfs.container`.
"""

from engine.io.sfs._common import AngleUnit, SensorPoses
from engine.io.sfs.container import read_json_binary, write_json_binary
from engine.io.sfs.read import is_sfs, read_sfs
from engine.io.sfs.write import camera_to_sfs, write_sfs

__all__ = [
    "AngleUnit",
    "SensorPoses",
    "camera_to_sfs",
    "is_sfs",
    "read_json_binary",
    "read_sfs",
    "write_json_binary",
    "write_sfs",
]
