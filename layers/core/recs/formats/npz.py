"""``.npz`` files written fast: integers deflated at level 1, floats stored as they are.

The batch steps hand their artefacts (interactions, the model) to each other as ``.npz`` in
S3. ``np.savez_compressed`` deflates every array at level 6, which costs more than training
the model; level 1 is about four times faster for files about 5 % larger. Float scores and
weights hardly deflate (to about 88 % of their size), so they are stored as they are. Any
``np.load`` reads the files, and nothing is pickled. The measurements behind these choices
are in benchmarks/results/history.md.
"""

from __future__ import annotations

import io
import os
import zipfile
from typing import IO

import numpy as np

COMPRESS_LEVEL = 1


def save(file: str | os.PathLike[str] | IO[bytes], arrays: dict[str, np.ndarray]) -> None:
    with zipfile.ZipFile(file, "w", zipfile.ZIP_DEFLATED, compresslevel=COMPRESS_LEVEL) as z:
        for name, array in arrays.items():
            array = np.asanyarray(array)
            member: str | zipfile.ZipInfo = f"{name}.npy"
            if array.dtype.kind == "f":
                member = zipfile.ZipInfo(f"{name}.npy")
                member.compress_type = zipfile.ZIP_STORED
            with z.open(member, "w", force_zip64=True) as out:
                np.lib.format.write_array(out, array, allow_pickle=False)


def to_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    save(buffer, arrays)
    return buffer.getvalue()
