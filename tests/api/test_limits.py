"""Rate limits on the vote route, per address and per account; the address is the real peer's."""

from __future__ import annotations

import re

import pytest
from flask_limiter.util import get_qualified_name

from contest.extensions import limiter
from tests.api.conftest import PREFIX, error_of, vote_count


def vote_url(entry) -> str:  # type: ignore[no-untyped-def]
    return f"{PREFIX}/entries/{entry.id}/votes"


def test_a_forged_forwarded_for_changes_neither_the_address_nor_the_limit(api, ballot, make_voter):
    """With no proxy configured (PROXY_COUNT=0) X-Forwarded-For is ignored: rotating it
    does not escape the 30-per-minute limit of the address, and votes record the peer."""
    _contest, entries = ballot
    # several accounts, so that the per-account limit (20 a minute) is not what trips
    tokens = [make_voter().token for _ in range(3)]
    outcomes = []
    for n in range(30):
        response = api.post(vote_url(entries[n % len(entries)]), json={}, token=tokens[n % 3],
                            headers={"X-Forwarded-For": f"203.0.113.{n}", "X-Real-IP": f"198.51.100.{n}"})
        outcomes.append(response.get_json().get("error", {}).get("code", response.status_code))
    assert outcomes.count(201) == 15 and "rate_limited" not in outcomes  # 5 votes a day each, then daily_quota
    stored = vote_count()
    limited = api.post(vote_url(entries[0]), json={}, token=make_voter().token,
                       headers={"X-Forwarded-For": "192.0.2.77"})
    assert error_of(limited) == (429, "rate_limited")
    assert limited.get_json()["error"]["message"] == "投票太频繁，请稍后再试。"
    assert 0 < int(limited.headers["Retry-After"]) <= 60
    assert limited.headers["X-RateLimit-Limit"] == "30"
    assert limited.headers["X-RateLimit-Remaining"] == "0"
    assert "X-RateLimit-Reset" in limited.headers
    assert vote_count() == stored == vote_count(ip="127.0.0.1")


def test_an_answer_within_the_limits_reads_no_window(api, ballot, voter):  # type: ignore[no-untyped-def]
    """The X-RateLimit headers come with a 429 only, where the API documents them: an
    answer within the limits does not read the limits' windows back (a storage round trip
    on every vote), while its request still counts against them."""
    _contest, entries = ballot
    reads: list[str] = []
    window = limiter.limiter.get_window_stats

    def counted(*args, **kwargs):  # type: ignore[no-untyped-def]
        reads.append(str(args[0]))
        return window(*args, **kwargs)

    limiter.limiter.get_window_stats = counted  # type: ignore[method-assign]
    try:
        accepted = api.post(vote_url(entries[0]), json={}, token=voter.token)
        assert accepted.status_code == 201
        assert not [name for name in accepted.headers.keys() if name.startswith("X-RateLimit")]
        assert reads == []
        for n in range(19):
            api.post(vote_url(entries[(n + 1) % len(entries)]), json={}, token=voter.token)
        limited = api.post(vote_url(entries[0]), json={}, token=voter.token)
    finally:
        limiter.limiter.get_window_stats = window  # type: ignore[method-assign]
    assert error_of(limited) == (429, "rate_limited")  # the 201 above counted: 20 a minute per account
    assert limited.headers["X-RateLimit-Remaining"] == "0" and reads


def test_another_address_has_its_own_allowance(api, ballot, make_voter):
    _contest, entries = ballot
    tokens = [make_voter().token for _ in range(2)]
    for n in range(30):
        api.post(vote_url(entries[n % len(entries)]), json={}, token=tokens[n % 2])
    assert error_of(api.post(vote_url(entries[0]), json={}, token=tokens[0])) == (429, "rate_limited")
    elsewhere = api.post(vote_url(entries[0]), json={}, token=make_voter().token,
                         environ_base={"REMOTE_ADDR": "10.1.2.3"})
    assert elsewhere.status_code == 201
    assert vote_count(ip="10.1.2.3") == 1


def test_one_account_is_limited_whatever_its_address(api, ballot, voter):
    _contest, entries = ballot
    for n in range(20):
        response = api.post(vote_url(entries[n % len(entries)]), json={}, token=voter.token,
                            environ_base={"REMOTE_ADDR": f"10.0.{n}.1"})
        assert response.status_code in (201, 409, 429)
        if response.status_code == 429:
            assert response.get_json()["error"]["code"] == "daily_quota"
    limited = api.post(vote_url(entries[0]), json={}, token=voter.token, environ_base={"REMOTE_ADDR": "10.9.9.9"})
    assert error_of(limited) == (429, "rate_limited")
    assert limited.headers["X-RateLimit-Limit"] == "20"
    assert int(limited.headers["Retry-After"]) > 0


def test_requests_without_a_valid_token_count_against_the_address(api, ballot):
    _contest, entries = ballot
    for _ in range(30):
        assert error_of(api.post(vote_url(entries[0]), json={}, headers={"Authorization": "Bearer forged"})) == (
            401, "invalid_token")
    assert error_of(api.post(vote_url(entries[0]), json={})) == (429, "rate_limited")


# --- every limit is documented ---------------------------------------------------------

def _limited_operations(app) -> set[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, path) of every API route the limiter guards, read from the limiter itself."""
    assert not limiter.limit_manager._application_limits and not limiter.limit_manager._default_limits
    found = set()
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(PREFIX + "/"):
            name = get_qualified_name(app.view_functions[rule.endpoint])
            if limiter.limit_manager.decorated_limits(name):
                path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule[len(PREFIX):])
                found |= {(method.lower(), path) for method in rule.methods - {"HEAD", "OPTIONS"}}
    return found


def test_every_limited_route_documents_its_429_with_retry_after(app, api):
    documented = {(method, path) for path, item in api.spec["paths"].items() for method, operation in item.items()
                  if "429" in operation["responses"]}
    assert _limited_operations(app) == documented == {
        ("post", "/auth/token"), ("post", "/captchas"), ("post", "/entries/{entry_id}/votes"), ("get", "/receipts/{code}"),
        ("get", "/ledger/blocks/{height}"), ("get", "/ledger/blocks/{height}/leaves"), ("get", "/ledger/consistency"),
        ("get", "/ledger/head")}
    for method, path in documented:
        headers = api.spec["paths"][path][method]["responses"]["429"]["headers"]
        assert headers["Retry-After"]["schema"]["type"] == "integer"
        assert "X-RateLimit-Limit" in headers and "X-RateLimit-Reset" in headers


def _until_limited(send, most: int):  # type: ignore[no-untyped-def]
    for _ in range(most):
        response = send()
        if response.status_code == 429:
            return response
    raise AssertionError(f"no 429 after {most} requests")


@pytest.mark.parametrize("route", ["token", "captcha", "receipt", "block", "leaves", "head", "consistency"])
def test_each_limited_route_answers_429_as_documented(api, make_user, route):
    """The ApiClient checks each answer against the document: status, body and headers
    (Retry-After is required on a 429)."""
    user = make_user()
    send = {
        # Incomplete bodies: the address's request cap, not the failed sign-in windows
        # (tests/api/test_tokens.py), is what answers.
        "token": lambda: api.post(PREFIX + "/auth/token", json={"phone": user.phone}),
        "captcha": lambda: api.post(PREFIX + "/captchas"),
        "receipt": lambda: api.get(PREFIX + "/receipts/ABCDEFGHJKLM"),
        "block": lambda: api.get(PREFIX + "/ledger/blocks/1"),
        "leaves": lambda: api.get(PREFIX + "/ledger/blocks/1/leaves"),
        "head": lambda: api.get(PREFIX + "/ledger/head"),
        "consistency": lambda: api.get(PREFIX + "/ledger/consistency?from=1&to=2"),
    }[route]
    limited = _until_limited(send, 70)
    assert error_of(limited) == (429, "rate_limited")
    assert "太频繁" in limited.get_json()["error"]["message"] or "次数过多" in limited.get_json()["error"]["message"]
    assert 0 < int(limited.headers["Retry-After"]) <= 3600
