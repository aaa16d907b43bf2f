"""Shared public pages (contest/page_cache.py): anonymous answers carry public caching
headers, an ETag and 304s, are made once and served from the cache until a change they
show is committed; signed-in answers are never cached; nothing personal is ever in a
shared page; counts the rules hide stay hidden in cached copies."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient

from contest import create_app, page_cache
from contest.accounts.actors import SYSTEM
from contest.contests import service as contests
from contest.db import note_public_change
from contest.extensions import db
from contest.media import moderation
from contest.voting import service as voting
from tests.conftest import IsolatedClient, login, redis_client
from tests.results.test_public_views import ADULT, World, build_selection_world
from tests.voting.test_vote_web import cast_from_page

MAX_AGE_RE = re.compile(r"(?:^|, )max-age=(\d+)")
S_MAXAGE_RE = re.compile(r"s-maxage=(\d+)")
PHONE_RE = re.compile(r"1[3-9]\d{9}")


@pytest.fixture
def world(make_contest, make_entry, make_school, make_user, clock) -> World:  # type: ignore[no-untyped-def]
    return build_selection_world(make_contest, make_entry, make_school, make_user, clock)


def public_urls(world: World) -> list[str]:
    slug, entry = world.slug, world.entry(ADULT).id
    return ["/", f"/c/{slug}", f"/c/{slug}/entries", f"/c/{slug}/entries/{entry}", f"/c/{slug}/leaderboard",
            f"/c/{slug}/results", f"/c/{slug}/transparency", "/api/v1/contests", f"/api/v1/contests/{slug}/entries",
            f"/api/v1/contests/{slug}/leaderboard"]


def selects(statements: list[str]) -> int:
    return len([s for s in statements if s.lstrip().upper().startswith("SELECT")])


def count_on_entry_page(client: FlaskClient, world: World, title: str) -> str | None:
    html = client.get(f"/c/{world.slug}/entries/{world.entry(title).id}").get_data(as_text=True)
    found = re.search(r'data-vote-count="\d+">(\d+)<', html)
    return found.group(1) if found else None


def test_anonymous_pages_are_public_with_an_etag_and_answer_304(client: FlaskClient, world: World) -> None:
    world.clock.advance(hours=1)  # voting open, counts shown
    for url in public_urls(world):
        first = client.get(url)
        assert first.status_code == 200, url
        control = first.headers["Cache-Control"]
        assert control.startswith("public, "), (url, control)
        assert 0 < int(MAX_AGE_RE.search(control).group(1)) <= int(S_MAXAGE_RE.search(control).group(1)), url
        assert "stale-while-revalidate=" in control, url
        assert "Cookie" in first.headers["Vary"], url
        assert first.headers.get("Set-Cookie") is None, url
        etag = first.headers["ETag"]
        again = client.get(url, headers={"If-None-Match": etag})
        assert again.status_code == 304 and again.get_data() == b"", url
        assert client.get(url).get_data() == first.get_data(), url  # the same page for the next visitor
        assert client.get(url, headers={"If-None-Match": '"other"'}).status_code == 200, url


def test_an_api_entry_is_shared_unless_it_carries_a_view_stamp(client: FlaskClient, world: World) -> None:
    url = f"/api/v1/entries/{world.entry(ADULT).id}"
    assert client.get(url).headers["Cache-Control"] == "no-store"  # voting open: the stamp says when
    world.clock.set(world.contest.voting_ends_at)  # type: ignore[arg-type]
    world.clock.advance(hours=1)
    shared = client.get(url)
    assert shared.headers["Cache-Control"].startswith("public, ")
    assert client.get(url, headers={"If-None-Match": shared.headers["ETag"]}).status_code == 304


def test_a_cached_page_is_served_without_rendering_it_again(client: FlaskClient, world: World, count_queries) -> None:  # type: ignore[no-untyped-def]
    url = f"/c/{world.slug}/entries/{world.entry(ADULT).id}"
    with count_queries() as first:
        made = client.get(url)
    with count_queries() as second:
        served = client.get(url)
    with count_queries() as third:
        again = client.get(url)
    assert served.get_data() == made.get_data() == again.get_data()
    assert len(first) > 5
    # The page's scope (the contest's schedule and rules) is kept beside the store: read
    # once more after the versions it goes with, then trusted while they hold. No SQL.
    assert selects(second) == 1
    assert third == []


def test_signed_in_pages_are_private_and_never_304(client: FlaskClient, world: World) -> None:
    voter = world.make_user()
    login(client, voter)
    for url in public_urls(world)[:7]:
        response = client.get(url)
        assert response.headers["Cache-Control"] == "private, no-store", url
        assert "ETag" not in response.headers, url


def test_a_visitor_with_a_session_gets_a_private_page(client: FlaskClient, world: World) -> None:
    client.get("/account/login")  # the login form's CSRF token lives in the session now
    assert client.get_cookie("session") is not None
    response = client.get(f"/c/{world.slug}")
    assert response.headers["Cache-Control"] == "private, no-store"


def test_an_anonymous_page_holds_no_phone_number_csrf_token_or_view_token(
    app: Flask, client: FlaskClient, world: World, make_contest, make_entry, make_user,  # type: ignore[no-untyped-def]
) -> None:
    media = make_contest(kind="media", stage="voting", slug="meipai")
    author = make_user(name="")  # no display name: the page must not fall back on the phone
    entry = make_entry(media)
    entry.submitted_by_id = author.id
    db.session.commit()
    world.clock.advance(hours=1)
    urls = [*public_urls(world), "/c/meipai", "/c/meipai/entries", f"/c/meipai/entries/{entry.id}"]
    for url in urls:
        html = client.get(url).get_data(as_text=True)
        assert "csrf_token" not in html and 'name="vt"' not in html, url
        assert author.phone not in html and not PHONE_RE.search(html.split("<main", 1)[-1]), url
    # A signed-in visitor's own page does hold them: the check above can fail.
    signed_in = app.test_client()
    login(signed_in, make_user())
    html = signed_in.get(f"/c/meipai/entries/{entry.id}").get_data(as_text=True)
    assert "csrf_token" in html and 'name="vt"' in html


def test_a_vote_changes_a_cached_page_that_shows_counts(app: Flask, client: FlaskClient, world: World) -> None:
    before = count_on_entry_page(client, world, ADULT)
    assert before is not None and count_on_entry_page(client, world, ADULT) == before  # the shared copy
    # A voter votes from the entry page, as a browser does (the live count follows the commit).
    voter, browser = world.make_user(), app.test_client()
    world.clock.advance(hours=3)
    login(browser, voter)
    assert cast_from_page(browser, world.clock, world.contest, world.entry(ADULT)).status_code == 302
    assert int(count_on_entry_page(client, world, ADULT) or 0) == int(before) + 1


def test_a_vote_sends_the_page_versions_on_its_own_pipeline(app: Flask, world: World) -> None:
    client = redis_client(app)
    if client is None:
        assert page_cache.bumps_after(db.session, client) is None  # pages kept in process: bumped by the cache
        return
    key = f"pc:v:v{world.contest.id}"
    before = int(client.get(key) or 0)
    note_public_change(db.session, world.contest.id, votes=True)  # what the vote writer notes
    queue = page_cache.bumps_after(db.session, client)
    assert queue is not None
    pipe = client.pipeline(transaction=False)
    queue(pipe)
    pipe.execute()
    db.session.commit()  # the cache's own work after the commit finds nothing left to bump
    assert int(client.get(key) or 0) == before + 1
    again = client.pipeline(transaction=False)
    queue(again)  # a pipeline sent again (a new Redis server without the count's script)
    again.execute()
    assert int(client.get(key) or 0) == before + 2


def test_a_vote_leaves_pages_without_counts_cached(client: FlaskClient, world: World, count_queries) -> None:  # type: ignore[no-untyped-def]
    contests.set_rules(db.session, actor=SYSTEM, contest=world.contest, values={"counts_public": False},
                       now=world.clock.now())
    db.session.commit()
    url = f"/c/{world.slug}/entries/{world.entry(ADULT).id}"
    first = client.get(url)
    assert 'data-vote-count' not in first.get_data(as_text=True)
    assert client.get(url).get_data() == first.get_data()  # its scope is trusted from now on
    world.vote(ADULT)
    with count_queries() as statements:
        again = client.get(url)
    assert again.get_data() == first.get_data()
    assert statements == []


def test_counts_hide_in_cached_pages_when_the_hidden_stretch_begins(client: FlaskClient, world: World) -> None:
    contests.set_rules(db.session, actor=SYSTEM, contest=world.contest, values={"hide_counts_hours_before_close": 24},
                       now=world.clock.now())
    db.session.commit()
    end = world.contest.voting_ends_at
    assert end is not None
    world.clock.set(end - timedelta(hours=24, seconds=20))
    shown = client.get(f"/c/{world.slug}/entries/{world.entry(ADULT).id}")
    assert count_on_entry_page(client, world, ADULT) is not None
    # No cache may keep the page past the moment counts hide.
    assert int(S_MAXAGE_RE.search(shown.headers["Cache-Control"]).group(1)) <= 20
    assert "stale-while-revalidate=0" in shown.headers["Cache-Control"]
    world.clock.advance(seconds=30)
    assert count_on_entry_page(client, world, ADULT) is None
    board = client.get(f"/c/{world.slug}/leaderboard").get_data(as_text=True)
    assert "data-vote-count" not in board
    api = client.get(f"/api/v1/contests/{world.slug}/leaderboard").get_json()
    assert all(row["votes"] is None for row in api["items"])


def test_moderation_approval_shows_the_entry_in_the_cached_gallery(
    client: FlaskClient, world: World, make_entry, make_user, app: Flask,  # type: ignore[no-untyped-def]
) -> None:
    pending = make_entry(world.contest, status="submitted", title="待审核的新作品")
    gallery = f"/c/{world.slug}/entries"
    assert "待审核的新作品" not in client.get(gallery).get_data(as_text=True)
    assert "待审核的新作品" not in client.get(f"/api/v1/contests/{world.slug}/entries").get_data(as_text=True)
    moderation.decide(db.session, app.extensions["sms_sender"], actor=world.organisers[0], entry_ids=[pending.id],
                      decision="approve", reason="", now=world.clock.now())
    db.session.commit()
    assert "待审核的新作品" in client.get(gallery).get_data(as_text=True)
    assert "待审核的新作品" in client.get(f"/api/v1/contests/{world.slug}/entries").get_data(as_text=True)


def test_publication_changes_the_cached_results_page(client: FlaskClient, world: World) -> None:
    world.clock.set(world.contest.voting_ends_at)  # type: ignore[arg-type]
    world.clock.advance(hours=1)
    url = f"/c/{world.slug}/results"
    before = client.get(url).get_data(as_text=True)
    assert "结果尚未公布" in before
    etag = client.get(url).headers["ETag"]
    world.publish(advance=False)
    after = client.get(url, headers={"If-None-Match": etag})
    assert after.status_code == 200 and "结果尚未公布" not in after.get_data(as_text=True)


def test_the_language_has_its_own_copy(client: FlaskClient, world: World) -> None:
    url = f"/c/{world.slug}"
    chinese = client.get(url)
    client.set_cookie("lang", "en")
    english = client.get(url, headers={"If-None-Match": chinese.headers["ETag"]})
    assert english.status_code == 200 and english.headers["ETag"] != chinese.headers["ETag"]
    assert 'lang="en"' in english.get_data(as_text=True)


def test_the_query_string_is_part_of_the_key(client: FlaskClient, world: World) -> None:
    url = f"/c/{world.slug}/entries"
    everything = client.get(url).get_data(as_text=True)
    searched = client.get(url + "?q=%E6%8A%A4%E7%90%86").get_data(as_text=True)  # 护理
    assert ADULT in everything and ADULT not in searched


def test_a_vote_through_the_service_bumps_only_its_contest(client: FlaskClient, world: World, make_contest,  # type: ignore[no-untyped-def]
                                                           make_entry, count_queries) -> None:
    other = make_contest(kind="media", stage="voting", slug="other")
    entry = make_entry(other)
    url = f"/c/other/entries/{entry.id}"
    client.get(url)
    client.get(url)  # its scope is trusted from now on
    voting.record_vote(db.session, voter=world.make_user(), entry_id=world.entry(ADULT).id, now=world.clock.now())
    db.session.commit()
    with count_queries() as statements:
        client.get(url)
    assert statements == []


def test_a_change_to_the_contest_renews_the_scope_kept_for_its_pages(client: FlaskClient, world: World) -> None:
    # Counts shown, no hidden stretch: the next moment is far away.
    contests.set_rules(db.session, actor=SYSTEM, contest=world.contest, values={"hide_counts_hours_before_close": 0},
                       now=world.clock.now())
    db.session.commit()
    end = world.contest.voting_ends_at
    assert end is not None
    world.clock.set(end - timedelta(hours=24, seconds=20))
    url = f"/c/{world.slug}/entries/{world.entry(ADULT).id}"
    first = client.get(url)
    assert int(S_MAXAGE_RE.search(first.headers["Cache-Control"]).group(1)) == 30
    assert count_on_entry_page(client, world, ADULT) is not None
    # The organiser hides counts for the last 24 hours: the kept scope is renewed by the
    # contest's version at once, not when it expires.
    contests.set_rules(db.session, actor=SYSTEM, contest=world.contest, values={"hide_counts_hours_before_close": 24},
                       now=world.clock.now())
    db.session.commit()
    shown = client.get(url)
    assert int(S_MAXAGE_RE.search(shown.headers["Cache-Control"]).group(1)) <= 20
    world.clock.advance(seconds=30)
    assert count_on_entry_page(client, world, ADULT) is None


def test_a_page_another_worker_made_after_a_change_comes_with_the_changed_schedule(
        app: Flask, client: FlaskClient, world: World) -> None:
    if redis_client(app) is None:
        pytest.skip("needs TEST_REDIS_URL: workers share pages through Redis")
    contests.set_rules(db.session, actor=SYSTEM, contest=world.contest, values={"hide_counts_hours_before_close": 0},
                       now=world.clock.now())
    db.session.commit()
    end = world.contest.voting_ends_at
    assert end is not None
    world.clock.set(end - timedelta(hours=24, seconds=20))
    url = f"/c/{world.slug}/entries/{world.entry(ADULT).id}"
    client.get(url)
    client.get(url)  # this worker keeps the page's scope from now on
    assert int(S_MAXAGE_RE.search(client.get(url).headers["Cache-Control"]).group(1)) == 30
    contests.set_rules(db.session, actor=SYSTEM, contest=world.contest, values={"hide_counts_hours_before_close": 24},
                       now=world.clock.now())
    db.session.commit()
    other = create_app(app.extensions["settings"])  # another worker, on the same database and Redis
    other.test_client_class = IsolatedClient
    try:
        made = other.test_client().get(url)
        served = client.get(url)  # the other worker's page, with the scope renewed by its versions
        assert served.headers["ETag"] == made.headers["ETag"]
        assert int(S_MAXAGE_RE.search(served.headers["Cache-Control"]).group(1)) <= 20
    finally:
        with other.app_context():
            db.engine.dispose()


def test_an_unpublished_contest_is_gone_from_the_cache_at_once(client: FlaskClient, world: World) -> None:
    url = f"/c/{world.slug}/entries/{world.entry(ADULT).id}"
    assert client.get(url).status_code == 200
    assert client.get(f"/c/{world.slug}").status_code == 200
    world.contest.is_published = False
    db.session.commit()
    assert client.get(url).status_code == 404
    assert client.get(f"/c/{world.slug}").status_code == 404
