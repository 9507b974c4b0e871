"""moto for the adapter tests: fake credentials, no endpoint override, tables on demand."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import boto3
import pytest
from moto import mock_aws

REGION = "us-east-1"

MakeTable = Callable[..., None]


@pytest.fixture
def moto_aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[MakeTable]:
    """Inside moto; yields ``make_table(name, sort_key=True)`` creating a pk[/sk] table."""
    for key, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                       "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("dynamodb", region_name=REGION)

        def make_table(name: str, sort_key: bool = True) -> None:
            keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
            attributes = [{"AttributeName": "pk", "AttributeType": "S"}]
            if sort_key:
                keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
                attributes.append({"AttributeName": "sk", "AttributeType": "S"})
            client.create_table(TableName=name, BillingMode="PAY_PER_REQUEST", KeySchema=keys,
                                AttributeDefinitions=attributes)

        yield make_table
