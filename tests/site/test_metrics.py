"""/metrics: what a scrape shows after real requests, who may read it, and two gunicorn
workers' figures added up in multiprocess mode.

The metrics are one set per process, shared by every app a test run makes, so each test
compares a scrape taken after its requests with one taken before them.
"""

from __future__ import annotations

import http.client
import os
import re
import shutil
import signal
import threading
import time
from collections.abc import Iterable
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from prometheus_client import CollectorRegistry
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from contest import create_app, metrics
from contest.accounts.actors import SYSTEM
from contest.clock import FixedClock
from contest.config import ConfigError, Settings
from contest.contests import service as contests
from contest.extensions import db
from tests.conftest import CSRF_RE, PASSWORD, START, TEST_DATABASE_URL, TEST_REDIS_URL, _settings, login
from tests.media.conftest import photo_entry, upload
from tests.voting.test_server_concurrency import REAL_SERVER_REASON, GunicornServer

Key = tuple[str, frozenset[tuple[str, str]]]
TOKEN = "m" * 40
UNKNOWN_PAGE = "/no-such-page"


def samples(text: str) -> dict[Key, float]:
    return {(s.name, frozenset(s.labels.items())): s.value
            for family in text_string_to_metric_families(text) for s in family.samples}


def scrape(client: FlaskClient, **kwargs: Any) -> dict[Key, float]:
    response = client.get("/metrics", **kwargs)
    assert response.status_code == 200, response.status_code
    assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    return samples(response.get_data(as_text=True))


def key(name: str, **labels: str) -> Key:
    return name, frozenset(labels.items())


def moved(before: dict[Key, float], after: dict[Key, float], prefix: str) -> dict[Key, float]:
    """How the samples named `prefix…` changed (new ones counted from zero)."""
    return {k: v - before.get(k, 0.0) for k, v in after.items()
            if k[0].startswith(prefix) and v != before.get(k, 0.0)}


def requests_moved(before: dict[Key, float], after: dict[Key, float]) -> dict[tuple[str, str], float]:
    counts = moved(before, after, "contest_request_duration_seconds_count")
    return {(dict(labels)["endpoint"], dict(labels)["status"]): n for (_name, labels), n in counts.items()}


# --- what a scrape shows -------------------------------------------------------------------------

def test_a_scrape_moves_by_exactly_what_happened(app: Flask, client: FlaskClient, make_contest: Any,
                                                 make_entry: Any, make_user: Any, clock: FixedClock) -> None:
    voting_contest = make_contest(kind="media", stage="voting")
    entry = make_entry(voting_contest, category_id=voting_contest.categories[0].id)
    open_contest = make_contest(kind="media", stage="submission")
    user = make_user()
    clock.advance(hours=3)  # an account a few hours old: the anti-fraud sees nothing unusual
    login(client, user)

    before = scrape(client)
    page = client.get(f"/c/{voting_contest.slug}/entries/{entry.id}")
    token = CSRF_RE.search(page.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    clock.advance(seconds=10)
    vote_url = f"/c/{voting_contest.slug}/entries/{entry.id}/vote"
    assert client.post(vote_url, data={"csrf_token": token}).status_code == 302
    assert client.post(vote_url, data={"csrf_token": token}).status_code == 409  # one vote per entry a day
    form = client.get(f"/c/{open_contest.slug}/submit")
    form_token = CSRF_RE.search(form.get_data(as_text=True)).group(1)  # type: ignore[union-attr]
    web_page = upload(b"<!doctype html><html><body>not a photo</body></html>", "photo.jpg", "image/jpeg")
    refused = client.post(f"/c/{open_contest.slug}/submit", content_type="multipart/form-data",
                          data={"csrf_token": form_token, **photo_entry(open_contest, photos=[web_page])})
    assert refused.status_code == 415
    assert client.get("/healthz").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get(UNKNOWN_PAGE).status_code == 404
    clock.advance(seconds=42)
    after = scrape(client)

    assert moved(before, after, "contest_votes_total") == {
        key("contest_votes_total", outcome="counted", reason=""): 1,
        key("contest_votes_total", outcome="refused", reason="already_voted"): 1,
    }
    assert moved(before, after, "contest_uploads_total") == {
        key("contest_uploads_total", endpoint="submit.submit_entry", outcome="refused", reason="unsupported_image"): 1,
    }
    assert requests_moved(before, after) == {
        ("contests.entry_page", "2xx"): 1, ("voting.vote", "3xx"): 1, ("voting.vote", "4xx"): 1,
        ("submit.submit_entry", "2xx"): 1, ("submit.submit_entry", "4xx"): 1, ("site.healthz", "2xx"): 2,
        (metrics.UNMATCHED, "4xx"): 1,
    }
    # The vote's ledger event waits for its block (no job runner here): 42 s since the vote.
    assert after[key("contest_ledger_oldest_unsealed_age_seconds")] == 42.0
    assert after[key("contest_database_up")] == 1.0
    assert after[key("contest_requests_in_progress")] == 1.0  # the scrape itself


def test_a_vote_through_the_api_is_counted_in_the_same_place(app: Flask, client: FlaskClient, make_contest: Any,
                                                             make_entry: Any, make_user: Any, clock: FixedClock) -> None:
    contest = make_contest(kind="media", stage="voting")
    entry = make_entry(contest, category_id=contest.categories[0].id)
    user = make_user()  # voting a moment after registering: too new for this contest's rule
    contests.set_rules(db.session, actor=SYSTEM, contest=contest, values={"min_account_age_hours": 24}, now=clock.now())
    db.session.commit()
    token = client.post("/api/v1/auth/token", json={"phone": user.phone, "password": PASSWORD})
    assert token.status_code in (200, 201), token.get_data(as_text=True)
    before = scrape(client)
    refused = client.post(f"/api/v1/entries/{entry.id}/votes", json={},
                          headers={"Authorization": f"Bearer {token.get_json()['token']}"})
    assert refused.status_code == 403 and refused.get_json()["error"]["code"] == "account_too_new"
    after = scrape(client)
    assert moved(before, after, "contest_votes_total") == {
        key("contest_votes_total", outcome="refused", reason="account_too_new"): 1}
    assert requests_moved(before, after) == {("api.cast_vote", "4xx"): 1}


def test_the_reporting_functions_set_what_they_say() -> None:
    before = samples(_default_registry_text())
    metrics.sms_sent("console", "sent")
    metrics.sms_sent("console", "sent")
    metrics.sms_sent("aliyun", "failed")
    metrics.sms_budget_left(150, total=2000)
    metrics.jobs_observed(queued=7, failed=1, scheduled=3)
    metrics.vote_counted("held")
    after = samples(_default_registry_text())
    assert moved(before, after, "contest_votes_total") == {key("contest_votes_total", outcome="held", reason=""): 1}
    assert moved(before, after, "contest_sms_sent_total") == {
        key("contest_sms_sent_total", provider="console", outcome="sent"): 2,
        key("contest_sms_sent_total", provider="aliyun", outcome="failed"): 1,
    }
    assert after[key("contest_sms_budget_left", provider="")] == 150
    assert after[key("contest_sms_budget", provider="")] == 2000
    assert (after[key("contest_jobs_queued")], after[key("contest_jobs_failed")],
            after[key("contest_jobs_scheduled")]) == (7, 1, 3)


def _default_registry_text() -> str:
    from prometheus_client import REGISTRY, generate_latest

    return generate_latest(REGISTRY).decode()


def test_a_scrape_runs_one_query_and_leaves_the_session_alone(app: Flask, client: FlaskClient, make_user: Any,
                                                             count_queries: Any) -> None:
    login(client, make_user())
    with count_queries() as statements:
        response = client.get("/metrics")
    assert response.status_code == 200
    assert len(statements) == 1 and "ledger_event" in statements[0] and "block_id IS NULL" in statements[0]
    assert "Set-Cookie" not in response.headers
    assert response.headers["Cache-Control"] == "no-store"


def test_a_scrape_still_answers_when_the_database_does_not(tmp_path: Path) -> None:
    settings = _settings(f"sqlite:///{tmp_path / 'missing' / 'folder' / 'contest.sqlite3'}", tmp_path, FixedClock(START))
    scraped = scrape(create_app(settings).test_client())
    assert scraped[key("contest_database_up")] == 0.0
    assert key("contest_ledger_oldest_unsealed_age_seconds") not in scraped


# --- who may read it -----------------------------------------------------------------------------

def _client(database_url: str, tmp: Path, **overrides: Any) -> FlaskClient:
    return create_app(replace(_settings(database_url, tmp, FixedClock(START)), **overrides)).test_client()


def _not_found_page(client: FlaskClient) -> str:
    return client.get(UNKNOWN_PAGE).get_data(as_text=True)


def test_the_machine_itself_may_read_it_and_nobody_else(database_url: str, tmp_path: Path) -> None:
    client = _client(database_url, tmp_path)
    assert client.get("/metrics").status_code == 200  # the test client comes from 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::ffff:127.0.0.1"}).status_code == 200
    for outsider in ("203.0.113.9", "10.0.0.1", "2001:db8::1"):
        denied = client.get("/metrics", environ_base={"REMOTE_ADDR": outsider})
        assert denied.status_code == 404
        # the page of any unknown address (its sign-in links come back to the address asked for)
        assert denied.get_data(as_text=True).replace("/metrics", UNKNOWN_PAGE) == _not_found_page(client)
    # Other methods are not told that GET would work (405, Allow: GET).
    for method in ("POST", "PUT", "DELETE", "OPTIONS"):
        answer = client.open("/metrics", method=method, environ_base={"REMOTE_ADDR": "203.0.113.9"})
        assert answer.status_code == 404 and "Allow" not in answer.headers, method


def test_the_token_opens_it_from_anywhere(database_url: str, tmp_path: Path) -> None:
    client = _client(database_url, tmp_path, metrics_allow=(), metrics_token=TOKEN)
    outside = {"REMOTE_ADDR": "198.51.100.7"}
    assert client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"}, environ_base=outside).status_code == 200
    assert client.get("/metrics", headers={"Authorization": f"bearer {TOKEN}"}, environ_base=outside).status_code == 200
    for wrong in (f"Bearer {TOKEN[:-1]}", f"Bearer {TOKEN}x", f"Basic {TOKEN}", TOKEN, "Bearer ", ""):
        assert client.get("/metrics", headers={"Authorization": wrong}, environ_base=outside).status_code == 404, wrong
    # With METRICS_ALLOW empty, the machine itself needs the token too.
    assert client.get("/metrics").status_code == 404


def test_the_allowed_networks_are_the_clients_behind_the_proxy(database_url: str, tmp_path: Path) -> None:
    client = _client(database_url, tmp_path, proxy_count=1, metrics_allow=("10.20.0.0/16",))
    # Behind nginx the peer is the proxy: the client is the address it forwards.
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.20.3.4"}).status_code == 200
    assert client.get("/metrics", headers={"X-Forwarded-For": "10.21.3.4"}).status_code == 404
    assert client.get("/metrics", headers={"X-Forwarded-For": "127.0.0.1, 203.0.113.9"}).status_code == 404


# --- the settings --------------------------------------------------------------------------------

def _checked(tmp_path: Path, **values: Any) -> Settings:
    return Settings(env="testing", instance_path=str(tmp_path), **values).with_defaults()


def test_the_settings_come_from_the_environment(tmp_path: Path) -> None:
    assert Settings.from_env({}, str(tmp_path)).metrics_allow == ("127.0.0.1/32", "::1/128")
    read = Settings.from_env({"METRICS_ALLOW": " 10.0.0.0/8, 192.168.1.7 ,::1/128", "METRICS_TOKEN": TOKEN,
                              "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}, str(tmp_path))
    assert (read.metrics_allow, read.metrics_token, read.metrics_multiproc_dir) == (
        ("10.0.0.0/8", "192.168.1.7", "::1/128"), TOKEN, str(tmp_path))
    assert Settings.from_env({"METRICS_ALLOW": ""}, str(tmp_path)).metrics_allow == ()
    assert _checked(tmp_path, metrics_allow=("192.168.1.7", "fd00::/8")).metrics_allow == ("192.168.1.7/32", "fd00::/8")


@pytest.mark.parametrize(("values", "message"), [
    ({"metrics_allow": ("10.0.0.0/33",)}, "METRICS_ALLOW: '10.0.0.0/33'"),
    ({"metrics_allow": ("192.168.1.7/24",)}, "METRICS_ALLOW: '192.168.1.7/24'"),  # host bits set: which was meant?
    ({"metrics_allow": ("localhost",)}, "METRICS_ALLOW: 'localhost'"),
    ({"metrics_token": "short"}, "METRICS_TOKEN must be at least 32 characters"),
    ({"metrics_multiproc_dir": "/nonexistent/prometheus"}, "PROMETHEUS_MULTIPROC_DIR '/nonexistent/prometheus' is not"),
])
def test_bad_metrics_settings_stop_the_start(tmp_path: Path, values: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError, match=re.escape(message)):
        _checked(tmp_path, **values)


def test_a_multiprocess_folder_set_after_start_up_is_refused(tmp_path: Path) -> None:
    """prometheus_client picks its storage when imported: a folder named later would be
    written by nobody, and the scrape would show nothing of the workers."""
    assert not metrics.multiprocess_mode()
    with pytest.raises(ConfigError, match="PROMETHEUS_MULTIPROC_DIR must be set in the environment"):
        metrics.check_settings(_checked(tmp_path, metrics_multiproc_dir=str(tmp_path)))


# --- two gunicorn workers --------------------------------------------------------------------------

def _get(port: int, path: str) -> tuple[int, str]:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        conn.request("GET", path)
        response = conn.getresponse()
        return response.status, response.read().decode()
    finally:
        conn.close()


def _per_worker(folder: Path, scratch: Path) -> dict[int, float]:
    """api.ping's count in each worker's own file, read alone."""
    found = {}
    for path in folder.glob("histogram_*.db"):
        alone = scratch / path.stem
        alone.mkdir(exist_ok=True)
        shutil.copy(path, alone / path.name)
        registry = CollectorRegistry()
        MultiProcessCollector(registry, path=str(alone))
        counts = [s.value for family in registry.collect() for s in family.samples
                  if s.name == "contest_request_duration_seconds_count" and s.labels == {"endpoint": "api.ping", "status": "2xx"}]
        found[int(path.stem.split("_")[1])] = sum(counts)
    return found


def _burst(port: int, n: int) -> None:
    answers: list[int] = []

    def ping() -> None:
        answers.append(_get(port, "/api/v1/ping")[0])

    threads = [threading.Thread(target=ping) for _ in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert answers == [200] * n


def _wait(condition: Any, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, what
        time.sleep(0.1)


def _counts(scraped: dict[Key, float], wanted: Iterable[tuple[str, str]]) -> dict[tuple[str, str], float]:
    got = {(dict(labels)["endpoint"], dict(labels)["status"]): v for (name, labels), v in scraped.items()
           if name == "contest_request_duration_seconds_count"}
    return {w: got.get(w, 0.0) for w in wanted}


def test_two_gunicorn_workers_are_added_up(app: Flask, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    if not (TEST_DATABASE_URL.startswith("postgresql") and TEST_REDIS_URL):
        pytest.skip(REAL_SERVER_REASON)
    folder = tmp_path / "prometheus"
    folder.mkdir()
    (folder / "counter_999999.db").write_bytes(b"figures of an earlier run")
    with monkeypatch.context() as env:
        env.setenv("PROMETHEUS_MULTIPROC_DIR", str(folder))
        server = GunicornServer(tmp_path, redis_url=TEST_REDIS_URL, workers=2, threads=4)
    try:
        assert not (folder / "counter_999999.db").exists()  # emptied when the server started
        sent = 0
        scratch = tmp_path / "scratch"
        scratch.mkdir()
        # The kernel hands connections to whichever worker takes them: send until both have.
        while sent < 400:
            _burst(server.port, 20)
            sent += 20
            if sum(1 for n in _per_worker(folder, scratch).values() if n) == 2:
                break
        per_worker = _per_worker(folder, scratch)
        assert sorted(n > 0 for n in per_worker.values()) == [True, True], per_worker
        assert sum(per_worker.values()) == sent

        status, text = _get(server.port, "/metrics")  # no X-Forwarded-For: the client is 127.0.0.1
        assert status == 200, text
        scraped = samples(text)
        assert _counts(scraped, [("api.ping", "2xx")]) == {("api.ping", "2xx"): sent}
        assert scraped[key("contest_database_up")] == 1.0 and scraped[key("contest_redis_up")] == 1.0
        # From outside (what nginx forwards), it is not there.
        conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
        conn.request("GET", "/metrics", headers={"X-Forwarded-For": "203.0.113.9"})
        assert conn.getresponse().status == 404
        conn.close()

        # A worker that dies takes its live gauge with it (child_exit); its counts stay.
        victim = next(pid for pid, n in per_worker.items() if n)
        assert (folder / f"gauge_livesum_{victim}.db").exists()
        os.kill(victim, signal.SIGTERM)
        _wait(lambda: not (folder / f"gauge_livesum_{victim}.db").exists(), "the dead worker's live gauge stayed")
        _wait(lambda: _get(server.port, "/healthz")[0] == 200, "no worker answered after the restart")
        scraped = samples(_get(server.port, "/metrics")[1])
        assert _counts(scraped, [("api.ping", "2xx")]) == {("api.ping", "2xx"): sent}
    finally:
        server.stop()
