"""Scale's "JSON-binary" container: a JSON header, then the raw bytes of every array in the tree.

Layout (``shared/reference/sfs-format.md``)::

    [UTF-8 JSON header, padded with spaces to a multiple of 4][binary section]

Every numpy array of the object tree is written as ``""`` in the header; the header key ``"$items"``
lists one descriptor per array, ``{"keys": [path...], "offset": int, "length": int, "dtype": str,
"shape": [...]}``, where ``keys`` mixes dict keys and list indices and ``offset`` counts bytes from
the start of the binary section. The binary section starts with 4 zero bytes (so the first array
sits at offset 4); every array is followed by 1-4 zero bytes so the next one starts 4-byte aligned.
A reader finds the end of the header at the first NUL byte.

Reading memory-maps the file: arrays are read-only views of the map, never copies.
"""

from __future__ import annotations

import json
import mmap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import numpy as np
import numpy.typing as npt

from kernels.errors import LogFormatError

__all__ = ["decode", "encode_to", "is_json_binary", "iter_arrays", "read_json_binary", "write_json_binary"]

Key = str | int

_ITEMS = "$items"


def _walk(node: Any, path: list[Key], out: list[tuple[list[Key], npt.NDArray[Any]]]) -> Any:
    """Copy of ``node`` with arrays replaced by ``""``; the arrays and their key paths go to ``out``."""
    if isinstance(node, np.ndarray):
        out.append((list(path), node))
        return ""
    if isinstance(node, bytes | bytearray | memoryview):
        out.append((list(path), np.frombuffer(node, dtype=np.uint8)))
        return ""
    if isinstance(node, dict):
        return {k: _walk(v, [*path, k], out) for k, v in node.items()}
    if isinstance(node, list | tuple):
        return [_walk(v, [*path, i], out) for i, v in enumerate(node)]
    if isinstance(node, np.generic):
        return node.item()
    return node


def _le(arr: npt.NDArray[Any]) -> npt.NDArray[Any]:
    """C-contiguous little-endian version of ``arr`` (no copy when it already is)."""
    dt = arr.dtype.newbyteorder("<") if arr.dtype.byteorder == ">" else arr.dtype
    return np.ascontiguousarray(arr, dtype=dt)


def encode_to(tree: dict[str, Any], f: BinaryIO) -> int:
    """Write ``tree`` to the open binary file ``f`` in JSON-binary form; return the bytes written.

    Parameters
    ----------
    tree : dict
        JSON-safe values, numpy arrays (any numeric dtype, stored little-endian) and ``bytes``
        (stored as uint8 arrays) at any depth. A top-level ``"$items"`` key is not allowed.

    Returns
    -------
    int
        File size [bytes].
    """
    if _ITEMS in tree:
        raise LogFormatError(f"the object tree must not hold the reserved key {_ITEMS!r}")
    found: list[tuple[list[Key], npt.NDArray[Any]]] = []
    header = _walk(tree, [], found)
    arrays = [_le(a) for _, a in found]
    items, offset = [], 4
    for (keys, _), arr in zip(found, arrays, strict=True):
        items.append(
            {
                "keys": keys,
                "offset": offset,
                "length": int(arr.nbytes),
                "dtype": arr.dtype.name,
                "shape": list(arr.shape),
            }
        )
        offset += arr.nbytes + _pad(arr.nbytes)
    header[_ITEMS] = items
    text = json.dumps(header, separators=(",", ":"), allow_nan=False).encode("utf-8")
    text += b" " * (-len(text) % 4)
    f.write(text)
    f.write(b"\0\0\0\0")
    for arr in arrays:
        f.write(arr.data)
        f.write(b"\0" * _pad(arr.nbytes))
    return len(text) + offset


def _pad(nbytes: int) -> int:
    """Zero bytes after an array of ``nbytes``: 1-4, so that the next array is 4-byte aligned."""
    return 4 - nbytes % 4


def write_json_binary(path: str | Path, tree: dict[str, Any]) -> int:
    """Write ``tree`` to ``path`` (atomically: temporary file, then rename); return the size [bytes]."""
    path = Path(path)
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        size = encode_to(tree, f)
    tmp.replace(path)
    return size


def _set(tree: Any, keys: list[Key], value: Any, where: str) -> None:
    node = tree
    try:
        for k in keys[:-1]:
            node = node[k]
        if node[keys[-1]] != "":
            raise LogFormatError(f"{where}: $items entry {keys} points at a non-empty value")
        node[keys[-1]] = value
    except (KeyError, IndexError, TypeError) as exc:
        raise LogFormatError(f"{where}: $items entry {keys} matches no place in the header") from exc


def decode(buffer: Any, where: str = "buffer") -> dict[str, Any]:
    """Parse a JSON-binary buffer; arrays become read-only views of ``buffer`` (zero copy).

    Parameters
    ----------
    buffer : bytes, mmap or uint8 ndarray
        The whole file.
    where : str
        Name used in error messages.

    Returns
    -------
    dict
        The object tree with every array in place.
    """
    raw = np.frombuffer(buffer, dtype=np.uint8)
    end = buffer.find(b"\0") if hasattr(buffer, "find") else int(np.argmax(raw == 0)) if raw.size else 0
    if end < 0 or end >= raw.size or raw[end] != 0:
        end = raw.size
    try:
        tree = json.loads(bytes(raw[:end]).decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LogFormatError(f"{where}: the JSON header does not parse: {exc}") from exc
    if not isinstance(tree, dict):
        raise LogFormatError(f"{where}: the JSON header must be an object, got {type(tree).__name__}")
    for item in tree.pop(_ITEMS, []):
        try:
            keys, off, length = item["keys"], int(item["offset"]), int(item["length"])
            dtype = np.dtype(item.get("dtype", "uint8")).newbyteorder("<")
            shape = tuple(item["shape"]) if "shape" in item else (length // dtype.itemsize,)
        except (KeyError, TypeError, ValueError) as exc:
            raise LogFormatError(f"{where}: malformed $items descriptor {item!r}: {exc}") from exc
        start = end + off
        if off < 0 or start + length > raw.size:
            raise LogFormatError(
                f"{where}: array {keys} at offset {off} with {length} bytes runs past the end of the "
                f"file ({raw.size - end} binary bytes)"
            )
        if int(np.prod(shape, dtype=np.int64)) * dtype.itemsize != length:
            raise LogFormatError(
                f"{where}: array {keys}: shape {list(shape)} of {dtype} is not {length} bytes"
            )
        arr = raw[start : start + length].view(dtype).reshape(shape)
        _set(tree, keys, arr, where)
    return tree


def read_json_binary(path: str | Path) -> dict[str, Any]:
    """Memory-map ``path`` and decode it (arrays are views of the map; the map lives as long as they do)."""
    path = Path(path)
    try:
        with open(path, "rb") as f:
            if path.stat().st_size == 0:
                raise LogFormatError(f"{str(path)!r} is empty")
            mm = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    except OSError as exc:
        raise LogFormatError(f"cannot read {str(path)!r}: {exc}") from exc
    return decode(mm, str(path))


def is_json_binary(path: str | Path) -> bool:
    """Whether ``path`` starts like a JSON-binary container: ``{``, then a NUL (or a header > 64 KiB)."""
    p = Path(path)
    if not p.is_file():
        return False
    with open(p, "rb") as f:
        head = f.read(1 << 16)
    return head[:1] == b"{" and (b"\0" in head or len(head) == 1 << 16)


def iter_arrays(tree: Any) -> Iterator[npt.NDArray[Any]]:
    """Every array in ``tree`` (depth first), for checks and tests."""
    if isinstance(tree, np.ndarray):
        yield tree
    elif isinstance(tree, dict):
        for v in tree.values():
            yield from iter_arrays(v)
    elif isinstance(tree, list):
        for v in tree:
            yield from iter_arrays(v)
