"""/healthz: what a load balancer asks before sending traffic."""

from __future__ import annotations

from pathlib import Path

import pytest

from contest import create_app
from contest.config import Settings
from tests.conftest import TEST_REDIS_URL


def settings(tmp_path: Path, **values: str) -> Settings:
    return Settings(env="testing", instance_path=str(tmp_path / "instance"), secret_key="k" * 40,
                    media_root=str(tmp_path / "media"), **values)


def test_healthy(reading_client):
    response = reading_client.get("/healthz")
    assert response.status_code == 200
    assert response.mimetype == "application/json"
    expected_redis = "up" if TEST_REDIS_URL else "not configured"
    assert response.get_json() == {"status": "ok", "database": "up", "redis": expected_redis}


@pytest.mark.parametrize("database_url", [
    "postgresql+psycopg://nobody@127.0.0.1:1/none",
    "sqlite:////nonexistent-directory/for/sure/contest.sqlite3",
])
def test_database_down_is_503(tmp_path, database_url):
    app = create_app(settings(tmp_path, database_url=database_url))
    response = app.test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["database"] == "down"
    assert body["status"] == "unavailable"
    assert body["redis"] == "not configured"


def test_redis_down_is_reported_but_the_site_stays_up(tmp_path, database_url):
    app = create_app(settings(tmp_path, database_url=database_url, redis_url="redis://127.0.0.1:1/0"))
    client = app.test_client()
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "database": "up", "redis": "down"}
    # pages keep working while Redis is away
    assert client.get("/").status_code == 200


def test_health_check_answers_only_get(reading_client):
    assert reading_client.post("/healthz").status_code == 405
