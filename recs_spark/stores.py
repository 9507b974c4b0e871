"""The object store a ``--store`` URL names: ``s3://bucket`` or ``file:///directory``.

Executors open their own store from the URL (a boto3 client does not travel between
processes); boto3 honours ``AWS_ENDPOINT_URL``, so locally the same URL reaches moto.
"""

from __future__ import annotations

from urllib.parse import urlparse

from recs.exceptions import ConfigError
from recs.stores.directory import DirectoryObjectStore
from recs.stores.ports import ObjectStore


def open_store(url: str) -> ObjectStore:
    parsed = urlparse(url)
    if parsed.scheme == "s3" and parsed.netloc:
        from recs.stores.aws import S3ObjectStore

        return S3ObjectStore(parsed.netloc)
    if parsed.scheme == "file" and parsed.path:
        return DirectoryObjectStore(parsed.path)
    raise ConfigError(f"--store: expected s3://<bucket> or file:///<directory>, got {url!r}")
