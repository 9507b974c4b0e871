"""The object-store port on a local directory: keys are relative paths under ``root``.

What the Spark job writes to with ``--store file:///dir`` (``recs recommend-batch --engine
spark``, the engine-equivalence tests) and what the benchmarks land their partitions in, so
the steps read them one file at a time, as from S3. A write goes to a temporary file first
and is renamed into place: a reader (another executor, a listing) never sees half a file.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import BinaryIO

from recs.exceptions import NotFound


class DirectoryObjectStore:
    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)

    def put(self, key: str, body: bytes) -> None:
        path = self.root / key
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".put-")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(body)
            os.replace(temporary, path)
        except BaseException:
            Path(temporary).unlink(missing_ok=True)
            raise

    def get(self, key: str) -> bytes:
        try:
            return (self.root / key).read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NotFound(f"no object at {self.root / key}") from exc

    def tail(self, key: str, size: int) -> tuple[bytes, int]:
        with self._open(key) as handle:
            total = handle.seek(0, os.SEEK_END)
            handle.seek(max(total - size, 0))
            return handle.read(), total

    def span(self, key: str, start: int, size: int) -> bytes:
        with self._open(key) as handle:
            handle.seek(start)
            return handle.read(size)

    def _open(self, key: str) -> BinaryIO:
        try:
            return (self.root / key).open("rb")
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError) as exc:
            raise NotFound(f"no object at {self.root / key}") from exc

    def list(self, prefix: str) -> list[str]:
        """Keys under ``prefix``, sorted (as S3 lists them); temporary files are not keys."""
        keys = (p.relative_to(self.root).as_posix() for p in self.root.rglob("*")
                if p.is_file() and not p.name.startswith(".put-"))
        return sorted(key for key in keys if key.startswith(prefix))
