"""Errors look like the site (HTML) or follow the one JSON shape (API)."""

from __future__ import annotations

import pytest
from flask import Flask

from contest import create_app
from contest.clock import FixedClock
from tests.conftest import START, _settings


def test_unknown_url_is_the_sites_404_page(reading_client):
    page = reading_client.get("/no/such/page")
    assert page.status_code == 404
    assert page.mimetype == "text/html"
    html = page.get_data(as_text=True)
    assert "<h1>页面不存在</h1>" in html
    assert "您要找的页面不存在，可能已被删除或链接有误。" in html
    assert 'class="site-header"' in html and 'href="/static/css/site.css?v=' in html
    assert "返回首页" in html


def test_unknown_api_path_is_json_404(reading_client):
    for path in ("/api/", "/api/v1/nothing", "/api/v1/contests/1/votes"):
        response = reading_client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "application/json"
        assert response.get_json() == {
            "error": {"code": "not_found", "message": "您要找的页面不存在，可能已被删除或链接有误。"},
        }


def test_a_client_asking_for_json_gets_json(reading_client):
    response = reading_client.get("/no/such/page", headers={"Accept": "application/json"})
    assert response.status_code == 404
    assert response.get_json()["error"]["code"] == "not_found"


def test_wrong_method_is_405_in_the_sites_style(reading_client):
    response = reading_client.delete("/")
    assert response.status_code == 405
    assert "不支持此操作。" in response.get_data(as_text=True)
    assert "GET" in response.headers["Allow"]


@pytest.fixture(scope="module")
def failing_app(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Flask:
    """An app with routes that fail, added before its first request."""
    app = create_app(_settings(database_url, tmp_path_factory.mktemp("failing"), FixedClock(START)))

    def boom() -> str:
        raise RuntimeError("secret-internal-detail in /srv/app/boom.py")

    app.add_url_rule("/boom", "boom", boom)
    app.add_url_rule("/api/v1/boom", "api_boom", boom)
    return app


def test_unexpected_error_is_a_500_page_without_a_traceback(failing_app, caplog):
    page = failing_app.test_client().get("/boom")
    assert page.status_code == 500
    html = page.get_data(as_text=True)
    assert "<h1>服务器出错了</h1>" in html
    assert "服务器开小差了，请稍后再试。我们已记录此问题。" in html
    assert 'class="site-header"' in html
    for leak in ("Traceback", "RuntimeError", "secret-internal-detail", "boom.py"):
        assert leak not in html
    # ... but the log has it, for the operators
    logged = [r for r in caplog.records if r.name == "contest.errors"]
    assert logged and logged[0].exc_info and "secret-internal-detail" in str(logged[0].exc_info[1])


def test_unexpected_error_under_api_is_json(failing_app):
    response = failing_app.test_client().get("/api/v1/boom")
    assert response.status_code == 500
    assert response.get_json() == {"error": {"code": "server_error", "message": "服务器开小差了，请稍后再试。我们已记录此问题。"}}
    assert "secret-internal-detail" not in response.get_data(as_text=True)


def test_error_pages_carry_the_request_id_and_security_headers(reading_client):
    page = reading_client.get("/no/such/page")
    assert page.headers["X-Request-ID"]
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
