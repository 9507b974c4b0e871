"""``.npz`` files written and read fast: integers deflated at level 1 on every core, floats
stored.

The batch steps hand their artefacts (interactions, the model) to each other as ``.npz`` in
S3. ``np.savez_compressed`` deflates every array at level 6, one after the other, which costs
more than training the model; level 1 is about four times faster for files about 5 % larger,
and the arrays are deflated side by side (zlib releases the GIL), then laid out one after the
other in the archive. Float scores and weights hardly deflate (to about 88 % of their size),
so they are stored as they are. Any ``np.load`` reads the files (an ordinary ZIP64 archive of
``.npy`` members), nothing is pickled, and the same arrays give the same bytes (every member
is dated 1980-01-01). ``read`` inflates the members of any ``.npz`` side by side too, for
the steps that load the previous step's artefact. The measurements behind these choices are in
benchmarks/results/history.md.
"""

from __future__ import annotations

import io
import os
import struct
import zipfile
import zlib
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import IO

import numpy as np

COMPRESS_LEVEL = 1
_DEFLATED, _STORED = 8, 0
_VERSION = 45  # ZIP64
_DOS_DATE = (0 << 9) | (1 << 5) | 1  # 1980-01-01, the earliest a ZIP can say
_UNKNOWN = 0xFFFFFFFF  # "see the ZIP64 extra field"


@dataclass
class _Member:
    name: bytes
    method: int
    crc: int
    size: int
    chunks: list[bytes | memoryview]

    @property
    def compressed_size(self) -> int:
        return sum(len(c) for c in self.chunks)


def _npy(name: str, array: np.ndarray) -> _Member:
    """One array as a ``.npy`` member: its header and data, deflated unless floats."""
    array = np.asanyarray(array)
    if array.dtype.hasobject:
        raise ValueError(f"{name}: object arrays are not written (nothing here is pickled)")
    if not array.flags.c_contiguous:
        array = array.copy(order="C")
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, np.lib.format.header_data_from_array_1_0(array))
    head = header.getvalue()
    data = array.reshape(-1).view(np.uint8).data  # the array's bytes, not a copy
    crc = zlib.crc32(data, zlib.crc32(head))
    size = len(head) + data.nbytes
    if array.dtype.kind == "f":
        return _Member(f"{name}.npy".encode(), _STORED, crc, size, [head, data])
    deflate = zlib.compressobj(COMPRESS_LEVEL, zlib.DEFLATED, -15)
    chunks = [deflate.compress(head), deflate.compress(data), deflate.flush()]
    return _Member(f"{name}.npy".encode(), _DEFLATED, crc, size, [c for c in chunks if c])


def _workers(count: int) -> int:
    try:
        cpus = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cpus = os.cpu_count() or 1
    return max(1, min(cpus, count))


def _archive(members: list[_Member]) -> Iterator[bytes | memoryview]:
    """The ZIP64 archive's bytes: each member's local header and data, then the directory."""
    offset, directory = 0, []
    for m in members:
        packed = m.compressed_size
        extra = struct.pack("<HHQQ", 1, 16, m.size, packed)
        local = struct.pack("<IHHHHHIIIHH", 0x04034B50, _VERSION, 0, m.method, 0, _DOS_DATE,
                            m.crc, _UNKNOWN, _UNKNOWN, len(m.name), len(extra)) + m.name + extra
        yield local
        yield from m.chunks
        extra = struct.pack("<HHQQQ", 1, 24, m.size, packed, offset)
        directory.append(struct.pack(
            "<IHHHHHHIIIHHHHHII", 0x02014B50, _VERSION, _VERSION, 0, m.method, 0, _DOS_DATE,
            m.crc, _UNKNOWN, _UNKNOWN, len(m.name), len(extra), 0, 0, 0, 0, _UNKNOWN,
        ) + m.name + extra)
        offset += len(local) + packed
    start, size = offset, sum(len(d) for d in directory)
    yield from directory
    count = len(members)
    yield struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, _VERSION, _VERSION, 0, 0, count, count,
                      size, start)
    yield struct.pack("<IIQI", 0x07064B50, 0, start + size, 1)
    yield struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, min(count, 0xFFFF), min(count, 0xFFFF),
                      _UNKNOWN, _UNKNOWN, 0)


def save(file: str | os.PathLike[str] | IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    with ThreadPoolExecutor(_workers(len(arrays))) as pool:
        members = list(pool.map(_npy, arrays.keys(), arrays.values()))
    if isinstance(file, str | os.PathLike):
        with open(file, "wb") as out:
            for part in _archive(members):
                out.write(part)
        return
    for part in _archive(members):
        file.write(part)


def to_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    save(buffer, arrays)
    return buffer.getvalue()


def _member(blob: memoryview, info: zipfile.ZipInfo) -> np.ndarray:
    """One member's array: its bytes inflated in one call (zlib releases the GIL), parsed as
    ``.npy`` (``allow_pickle=False``)."""
    name_length, extra_length = struct.unpack_from("<HH", blob, info.header_offset + 26)
    start = info.header_offset + 30 + name_length + extra_length
    raw = blob[start:start + info.compress_size]
    if info.compress_type == _DEFLATED:
        data: bytes | memoryview = zlib.decompress(raw, -15, info.file_size)
    elif info.compress_type == _STORED:
        data = raw
    else:
        raise ValueError(f"{info.filename}: unsupported compression {info.compress_type}")
    if zlib.crc32(data) != info.CRC:
        raise ValueError(f"{info.filename}: CRC mismatch, the archive is damaged")
    return np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)


def read(data: bytes) -> dict[str, np.ndarray]:
    """Every array of an ``.npz`` archive, its members inflated side by side; what
    ``np.load`` returns for it, as a dict."""
    blob = memoryview(data)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        infos = [i for i in archive.infolist() if i.filename.endswith(".npy")]
    with ThreadPoolExecutor(_workers(len(infos))) as pool:
        arrays = list(pool.map(lambda info: _member(blob, info), infos))
    return {info.filename[:-4]: array for info, array in zip(infos, arrays, strict=True)}
