"""Every request has an id: on the response and on every log line it causes."""

from __future__ import annotations

import logging
import re


def test_every_response_has_a_request_id(reading_client):
    ids = set()
    for path in ("/", "/healthz", "/no/such/page", "/static/css/site.css"):
        response = reading_client.get(path)
        request_id = response.headers.get("X-Request-ID", "")
        assert re.fullmatch(r"[0-9a-f]{32}", request_id), (path, request_id)
        ids.add(request_id)
    assert len(ids) == 4  # a fresh one each time


def test_a_valid_incoming_request_id_is_echoed(reading_client):
    response = reading_client.get("/", headers={"X-Request-ID": "nginx-4f2a.9b_01"})
    assert response.headers["X-Request-ID"] == "nginx-4f2a.9b_01"


def test_an_invalid_incoming_request_id_is_replaced(reading_client):
    for incoming in ("short", "x" * 65, "has space in it", "evil\u00e9-id-1234", "a;b=c-1234567", "../../etc/passwd"):
        response = reading_client.get("/", headers={"X-Request-ID": incoming})
        returned = response.headers["X-Request-ID"]
        assert re.fullmatch(r"[0-9a-f]{32}", returned), (incoming, returned)


def test_log_records_of_a_request_carry_its_id(app, caplog):
    @app.get("/log-something")
    def log_something() -> str:
        logging.getLogger("contest.test").warning("inside the request")
        return "ok"

    caplog.set_level(logging.INFO)
    response = app.test_client().get("/log-something", headers={"X-Request-ID": "req-0123456789"})
    assert response.status_code == 200
    mine = [r for r in caplog.records if r.name == "contest.test"]
    assert len(mine) == 1
    assert mine[0].request_id == "req-0123456789"
    access = [r for r in caplog.records if r.name == "contest.access"]
    assert access and access[-1].request_id == "req-0123456789"
    assert "GET /log-something 200" in access[-1].getMessage()
    # outside a request there is no id, and the next request gets its own
    logging.getLogger("contest.test").warning("outside any request")
    assert caplog.records[-1].request_id == "-"
    app.test_client().get("/log-something")
    assert [r for r in caplog.records if r.name == "contest.test"][-1].request_id not in ("-", "req-0123456789")
