from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask

from contest import create_app
from contest.clock import FixedClock
from tests.conftest import START, _settings


@pytest.fixture(scope="module")
def reading_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """One app per module for tests that only read (headers, redirects, error pages).

    No app context is held open, so every request gets its own context as on a real
    server, and there is nothing to empty afterwards: such tests store nothing.
    """
    yield create_app(_settings(database_url, tmp_path_factory.mktemp("reading"), FixedClock(START)))


@pytest.fixture
def reading_client(reading_app: Flask):  # type: ignore[no-untyped-def]
    return reading_app.test_client()
