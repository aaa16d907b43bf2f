"""Schemathesis against the real app, in process: the OpenAPI document is what the API does.

Schemathesis reads /api/v1/openapi.json from the app and, for every operation, sends the
document's examples, its boundary and just-out-of-bounds values (the coverage phase) and
generated requests, valid and invalid (the fuzzing phase); a second test follows the
document's links (contests → entries → votes → receipts). Every answer goes through every
check Schemathesis has: no 5xx, a documented status, content type, headers and body, valid
requests accepted and invalid ones refused with a 4xx, a bearer-only route refused without
its token, undocumented methods answered 405 with Allow, a vote's receipt readable at once.

Requests sent with a wrong or malformed Content-Type are, for Schemathesis, probes in which
only a 5xx is a finding; the 415 they get is proved in test_tokens.py and test_votes.py.

No check is left out. use_after_free has no DELETE to follow here and
object_level_authorization no resource owned by an account (a receipt is readable by
whoever holds its code, by design); they run and find nothing to compare. One check is
widened, for the vote only: see _config.

The run is bounded and reproducible: a fixed seed, derandomized generation, no example
database between runs, MAX_EXAMPLES generated requests per operation. The data is seeded
fresh for each test: an open contest whose votes succeed (no captcha, a voter of standing
with five votes a day, one per entry), a contest past its voting window, and a contest
without a public vote, so refusals are the documented ones too.

Rate limiting is off in this app, or generated requests would trip the limits at random;
the documented 429s are proved in tests/api/test_limits.py.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

import hypothesis
import pytest
import schemathesis
from flask import Flask
from schemathesis.checks import CHECKS, load_all_checks
from sqlalchemy import update

from contest import create_app
from contest.api.models import ApiToken
from contest.clock import FixedClock
from contest.extensions import db, limiter
from tests.api.conftest import PREFIX
from tests.conftest import PASSWORD, _empty_tables, _settings

SEED = 20230514
MAX_EXAMPLES = 30

# Every check Schemathesis ships, each named so that none is off by accident.
CHECK_NAMES = (
    "not_a_server_error", "status_code_conformance", "content_type_conformance", "response_headers_conformance",
    "response_schema_conformance", "negative_data_rejection", "positive_data_acceptance", "missing_required_header",
    "unsupported_method", "allow_header_conformance", "use_after_free", "ensure_resource_availability", "ignored_auth",
    "object_level_authorization",
)


class IsolatedApp:
    """The app with each request in an app context of its own, as on a real server (and as
    tests.conftest.IsolatedClient does for Flask's client): the test's pushed context would
    otherwise be shared by every request, and with it `g`, where the API keeps the
    request's authenticated account."""

    def __init__(self, app: Flask) -> None:
        self.app = app

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        with self.app.app_context():
            return self.app(environ, start_response)


@pytest.fixture
def app(database_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Flask]:
    """tests.conftest's app with rate limiting off (see the module's docstring)."""
    app = create_app(replace(_settings(database_url, tmp_path, clock), ratelimit_enabled=False))
    with app.app_context():
        yield app
        db.session.remove()
        _empty_tables()
        if app.extensions["redis"] is not None:
            app.extensions["redis"].flushdb()
        limiter.reset()
        db.engine.dispose()


def _config(token: str, known: dict[str, list[Any]] | None = None) -> schemathesis.Config:
    known = known or {}
    return schemathesis.Config.from_dict({
        "seed": SEED,
        "generation": {"max-examples": MAX_EXAMPLES, "deterministic": True, "database": "none"},
        # Generating is slow on a busy machine; that says nothing about the API.
        "suppress-health-check": ["too_slow"],
        "phases": {name: {"enabled": True} for name in ("examples", "coverage", "fuzzing", "stateful")},
        "checks": {name: {"enabled": True} for name in CHECK_NAMES},
        "auth": {"openapi": {"bearer": {"bearer": token}}},
        # Most generated slugs, ids and codes name nothing (a 404 before any parameter is
        # read): mostly use ones that exist, so the parameters and bodies are what is tested.
        "dictionaries": {name: {"values": values} for name, values in known.items()},
        "parameters": {f"{where}.{name}": {"dictionary": name, "probability": 0.8} for where, name in (
            ("path", "slug"), ("path", "entry_id"), ("path", "code"), ("body", "phone"), ("body", "password"))
            if name in known},
        "operations": [{
            "include-operation-id": "castVote",
            # A schema-valid vote can meet a documented refusal that depends on what was
            # sent before, not on its own data: an Idempotency-Key already used with another
            # body is 422 (as the Idempotency-Key draft says), beside the default 401, 403,
            # 404, 409 and 429 of this check.
            "checks": {"positive_data_acceptance": {"expected-statuses": ["2xx", "401", "403", "404", "409", "422", "429"]}},
        }],
    })


@dataclass(frozen=True)
class Seeded:
    token: str  # the bearer token Schemathesis sends
    known: dict[str, list[Any]]  # values that name something, by parameter


@pytest.fixture
def seeded(app: Flask, make_contest: Callable[..., Any], make_entry: Callable[..., Any],
           make_school: Callable[..., Any], make_user: Callable[..., Any], clock: FixedClock) -> Seeded:
    # The slug the document gives as its example, so that the example and coverage phases
    # reach the parameters too.
    open_contest = make_contest(kind="media", stage="voting", slug="meipai", rules={"captcha_mode": "never"})
    school = make_school(district="章丘区")
    photo, video = open_contest.categories
    entries = [make_entry(open_contest, title=f"参赛作品{i}", school=school if i % 2 else None,
                          category_id=(photo if i % 3 else video).id) for i in range(6)]
    closed_contest = make_contest(kind="media", stage="judging")
    entries.append(make_entry(closed_contest, title="评审中的作品"))
    entries.append(make_entry(open_contest, status="submitted", title="待审核的作品"))
    no_public_vote = make_contest(kind="innovation", stage="voting", categories=())
    voter, other_voter = make_user(), make_user()
    for user in (voter, other_voter):
        user.created_at = clock.now() - timedelta(days=90)  # no new-account risk points
    db.session.commit()
    client = app.test_client()
    token, other_token = (_token(client, user) for user in (voter, other_voter))
    receipt = client.post(f"{PREFIX}/entries/{entries[0].id}/votes", json={},
                          headers={"Authorization": f"Bearer {other_token}"}).get_json()["receipt"]
    known = {
        "slug": [open_contest.slug, closed_contest.slug, no_public_vote.slug], "entry_id": [e.id for e in entries],
        "code": [receipt], "phone": [voter.phone], "password": [PASSWORD],
    }
    return Seeded(token, known)


@pytest.fixture
def api_schema(app: Flask, seeded: Seeded) -> Any:
    return schemathesis.openapi.from_wsgi(PREFIX + "/openapi.json", IsolatedApp(app),
                                          config=_config(seeded.token, seeded.known))


def _token(client: Any, user: Any) -> str:
    issued = client.post(PREFIX + "/auth/token", json={"phone": user.phone, "password": PASSWORD})
    assert issued.status_code == 201, issued.get_json()
    return issued.get_json()["token"]


schema = schemathesis.pytest.from_fixture("api_schema")


@schema.parametrize()
def test_every_operation_does_what_the_document_says(case: Any) -> None:
    case.call_and_validate()


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def test_following_the_links_from_contests_to_receipts(api_schema: Any, seeded: Seeded, make_user: Callable[..., Any],
                                                        clock: FixedClock) -> None:

    class FromAFreshVoter(api_schema.as_state_machine()):  # type: ignore[misc]
        def setup(self) -> None:
            """Each scenario votes as an account that has not voted yet: the bearer token
            moves to a new voter of standing. Hypothesis replays a scenario and expects the
            same answers, which the votes of earlier scenarios (already voted, today's
            quota, Idempotency-Keys) would otherwise change."""
            voter = make_user()
            voter.created_at = clock.now() - timedelta(days=90)
            db.session.execute(update(ApiToken).where(ApiToken.token_hash == _digest(seeded.token)).values(
                user_id=voter.id, session_stamp=_digest(voter.session_token)))
            db.session.commit()

    FromAFreshVoter.run(settings=hypothesis.settings(
        max_examples=MAX_EXAMPLES, stateful_step_count=8, derandomize=True, database=None, deadline=None,
        suppress_health_check=list(hypothesis.HealthCheck)))


def test_every_check_schemathesis_has_is_on() -> None:
    load_all_checks()
    assert set(CHECK_NAMES) == {check.__name__ for check in CHECKS.get_all()}
    checks = _config("token").projects.default.checks
    assert all(checks.get_by_name(name=name).enabled for name in CHECK_NAMES)
