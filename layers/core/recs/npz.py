"""``.npz`` files written fast: deflate level 1 rather than numpy's default level 6.

The batch steps hand their artefacts (interactions, the model) to each other as ``.npz`` in
S3. ``np.savez_compressed`` deflates at level 6, which took longer than training itself at
2 M events (5.9 s for the model, 2.8 s for the interactions); level 1 is four times faster
for files 5 % larger. Any ``np.load`` reads them, and nothing is pickled.
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
            with z.open(f"{name}.npy", "w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


def to_bytes(arrays: dict[str, np.ndarray]) -> bytes:
    buffer = io.BytesIO()
    save(buffer, arrays)
    return buffer.getvalue()
