"""Fixtures for anti-fraud: the two stores the windows and captchas can live in."""

from __future__ import annotations

from typing import Any

import pytest
import redis
from redis.backoff import NoBackoff
from redis.retry import Retry


@pytest.fixture(params=["database", "redis"])
def store(request: pytest.FixtureRequest, app: Any) -> Any:
    """None (the database alone) or the configured Redis client: each test runs on both."""
    if request.param == "database":
        return None
    client = app.extensions["redis"]
    if client is None:
        pytest.skip("set TEST_REDIS_URL to run against Redis")
    return client


@pytest.fixture
def dead_redis() -> redis.Redis:  # type: ignore[type-arg]
    """A client for a Redis that is not there. Without retries every command fails at once
    (redis-py's default retries with back-off would make each one take seconds)."""
    return redis.Redis(host="127.0.0.1", port=1, socket_timeout=0.2, socket_connect_timeout=0.2,
                       retry=Retry(NoBackoff(), 0))
