"""What the Spark engine refuses to train, by name, rather than train something else."""

from __future__ import annotations

import pytest

from recs.batch.config import BatchConfig
from recs.exceptions import ConfigError
from recs_spark.training import check


def test_a_short_history_route_is_refused_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="RECS_SHORT_DISCOVERY"):
        check(BatchConfig(discovery="rp3beta", short_discovery="sknn"))


def test_a_discovery_this_engine_does_not_compute_is_refused() -> None:
    with pytest.raises(ConfigError, match="RECS_DISCOVERY"):
        check(BatchConfig(discovery="als"))


def test_the_default_blend_passes() -> None:
    check(BatchConfig(discovery="rp3beta"))
