"""Parts of a Parquet object read through the object store: its footer, and the chunks of a
few of its columns, without fetching the rest of the file.

Sizing a window needs only the footers of its event files, and the export's start only the
``key`` column of the version's row files, whose JSON entries are most of each file's bytes:
at a billion events a window the row files are tens of GB, which one Lambda would otherwise
download to read their keys.
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import pyarrow as pa
import pyarrow.parquet as pq

from recs.stores.ports import ObjectStore

# Bytes first fetched from a file's end for its footer: a lander file's footer is a few KB,
# so one request almost always holds it; a longer one takes a second, exact request.
FOOTER_GUESS_BYTES = 64 * 1024
_PARQUET_MAGIC = b"PAR1"


def footer(objects: ObjectStore, key: str, tail: bytes, size: int) -> bytes:
    """The footer of the Parquet file at ``key`` of ``size`` bytes (its metadata, its length
    and the closing magic), given the file's last bytes (``objects.tail(key,
    FOOTER_GUESS_BYTES)``); a second, exact request when the first did not hold it all.
    ``ValueError`` when the end of the object is not a Parquet footer."""
    if len(tail) < 12 or tail[-4:] != _PARQUET_MAGIC:
        raise ValueError("no Parquet footer at the end of the file")
    length = int.from_bytes(tail[-8:-4], "little") + 8
    if length + 4 > size:
        raise ValueError(f"footer length {length - 8} exceeds the file ({size} bytes)")
    if length > len(tail):
        tail, _ = objects.tail(key, length)
    return tail[-length:]


def parquet_rows(objects: ObjectStore, key: str, tail: bytes, size: int) -> int:
    """The rows of the Parquet file at ``key``, from its footer alone (``footer``).

    Sizing a window this way fetches kilobytes per file instead of the file: under
    ``RECS_ENGINE=auto`` a window that stays on the Lambda path is then read once, not twice.
    """
    return int(pq.read_metadata(io.BytesIO(footer(objects, key, tail, size))).num_rows)


def read_columns(objects: ObjectStore, key: str, columns: Sequence[str]) -> pa.Table:
    """The ``columns`` of the Parquet file at ``key``, fetching its footer and those
    columns' chunks only (a request per run of adjacent chunks). ``ValueError`` naming the
    column when the file has no such column, or no Parquet footer."""
    tail, size = objects.tail(key, FOOTER_GUESS_BYTES)
    end = footer(objects, key, tail, size)
    metadata = pq.read_metadata(io.BytesIO(end))
    # A leaf's path starts with its top-level column's name (``history.list.element``).
    tops = [metadata.schema.column(i).path.split(".")[0] for i in range(metadata.num_columns)]
    wanted = [i for i, top in enumerate(tops) if top in columns]
    missing = [c for c in columns if c not in tops]
    if missing:
        raise ValueError(f"{key} has no column {missing[0]!r}")
    spans = []
    for group in range(metadata.num_row_groups):
        for column in wanted:
            chunk = metadata.row_group(group).column(column)
            start = chunk.data_page_offset
            if chunk.has_dictionary_page and 0 < chunk.dictionary_page_offset < start:
                start = chunk.dictionary_page_offset
            spans.append((start, start + chunk.total_compressed_size))
    # The file as the reader sees it: the wanted chunks and the footer in place, zeros in
    # between, where it never looks.
    image = bytearray(size)
    image[size - len(end):] = end
    for start, stop in _merged(spans):
        image[start:stop] = objects.span(key, start, stop - start)
    return pq.ParquetFile(pa.BufferReader(pa.py_buffer(image))).read(columns=list(columns))


def _merged(spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    """The byte ranges, adjacent or overlapping ones joined."""
    merged: list[tuple[int, int]] = []
    for start, stop in sorted(spans):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], stop))
        else:
            merged.append((start, stop))
    return merged
