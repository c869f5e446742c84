"""fusionlabel engine: the drive-log model, I/O, the pre-labeling pipeline, the simulator and the CLI."""

from engine.annotations import (
    Annotations,
    AttributePath,
    CoordinateFrame,
    Cuboid,
    CuboidTrack,
    Link,
)
from engine.errors import EngineError, InvalidInputError, InvalidTypeError, LogFormatError
from engine.io import LogWriter, open_log, read_native_log, write_native_log
from engine.log import Log, Stream
from engine.sensors import Sensor, SensorKind
from engine.sweeps import CameraFrame, LidarSweep, RadarSweep

__all__ = [
    "Annotations",
    "AttributePath",
    "CameraFrame",
    "CoordinateFrame",
    "Cuboid",
    "CuboidTrack",
    "EngineError",
    "InvalidInputError",
    "InvalidTypeError",
    "LidarSweep",
    "Link",
    "Log",
    "LogFormatError",
    "LogWriter",
    "RadarSweep",
    "Sensor",
    "SensorKind",
    "Stream",
    "open_log",
    "read_native_log",
    "write_native_log",
]
