"""What a signed-in voter's vote buttons say: 投一票 until they voted for the entry today,
then a disabled 今日已投; the votes left today; the quota's words once it is used up.
The script-enhanced vote gets the same facts in its JSON reply."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from contest.accounts.actors import SYSTEM
from contest.contests import service as contests
from contest.extensions import db
from contest.voting import service as voting
from tests.conftest import CSRF_RE, login

ROOT = Path(__file__).resolve().parents[2]
# One entry's vote form and the state of its button: {entry id: (words, disabled)}.
BUTTON_RE = re.compile(r'action="/c/[^/"]+/entries/(\d+)/vote".*?<button type="submit" class="[^"]*"[^>]*?( disabled)?>'
                       r'<span data-label>([^<]*)</span>', re.S)
VT_RE = re.compile(r'name="vt" value="([^"]*)"')


def buttons(html: str) -> dict[int, tuple[str, bool]]:
    return {int(entry_id): (words, bool(disabled)) for entry_id, disabled, words in BUTTON_RE.findall(html)}


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


@pytest.fixture
def ballot(make_contest, make_entry):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="media", stage="voting")
    return contest, [make_entry(contest) for _ in range(3)]


@pytest.fixture
def voter(client, make_user, clock):  # type: ignore[no-untyped-def]
    user = make_user()
    clock.advance(hours=3)  # an account a few hours old: nothing unusual for the anti-fraud
    login(client, user)
    return user


def set_rules(contest, clock, **values) -> None:  # type: ignore[no-untyped-def]
    contests.set_rules(db.session, actor=SYSTEM, contest=contest, values=values, now=clock.now())
    db.session.commit()


def vote(user, entry, clock) -> None:  # type: ignore[no-untyped-def]
    """A vote stored through the service, committed."""
    voting.record_vote(db.session, voter=user, entry_id=entry.id, now=clock.now())
    db.session.commit()


def entry_page(client, contest, entry) -> str:  # type: ignore[no-untyped-def]
    return text(client.get(f"/c/{contest.slug}/entries/{entry.id}"))


def gallery(client, contest) -> str:  # type: ignore[no-untyped-def]
    return text(client.get(f"/c/{contest.slug}/entries"))


def json_vote(client, clock, contest, entry):  # type: ignore[no-untyped-def]
    """What static/js/vote.js does: the page's form posted with Accept: application/json."""
    page = entry_page(client, contest, entry)
    clock.advance(seconds=10)
    return client.post(f"/c/{contest.slug}/entries/{entry.id}/vote", headers={"Accept": "application/json"},
                       data={"csrf_token": CSRF_RE.search(page).group(1), "vt": VT_RE.search(page).group(1)})


# --- pages ----------------------------------------------------------------------------------

def test_before_voting_every_button_votes(client, ballot, voter):
    contest, entries = ballot
    page = entry_page(client, contest, entries[0])
    assert buttons(page) == {entries[0].id: ("投一票", False)}
    assert "今日还可投 5 票" in page
    assert buttons(gallery(client, contest)) == {e.id: ("投票", False) for e in entries}


def test_an_entry_voted_for_today_says_so_on_its_page_and_its_card(client, ballot, voter, clock):
    contest, entries = ballot
    vote(voter, entries[1], clock)

    page = entry_page(client, contest, entries[1])
    assert buttons(page) == {entries[1].id: ("今日已投", True)}
    assert "投一票" not in page and "今日还可投 4 票" in page
    assert buttons(entry_page(client, contest, entries[0])) == {entries[0].id: ("投一票", False)}

    cards = gallery(client, contest)
    assert buttons(cards) == {entries[0].id: ("投票", False), entries[1].id: ("今日已投", True),
                              entries[2].id: ("投票", False)}
    assert "今日还可投 4 票" in cards


def test_a_held_or_voided_vote_still_used_the_entrys_vote_today(client, ballot, voter, clock):
    contest, entries = ballot
    result = voting.record_vote(db.session, voter=voter, entry_id=entries[0].id, now=clock.now())
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[result.vote.id], to="voided", reason="核查作废",
                         now=clock.now())
    db.session.commit()
    # a second vote would be refused (409): the button says so
    assert buttons(entry_page(client, contest, entries[0])) == {entries[0].id: ("今日已投", True)}


def test_when_the_days_votes_are_used_up_the_buttons_say_so(client, ballot, voter, clock):
    contest, entries = ballot
    set_rules(contest, clock, votes_per_day=2)
    vote(voter, entries[0], clock)
    vote(voter, entries[1], clock)

    page = entry_page(client, contest, entries[2])
    assert buttons(page) == {entries[2].id: ("今日票数已用完", True)}
    assert "今日还可投 0 票" in page
    assert buttons(gallery(client, contest)) == {entries[0].id: ("今日已投", True), entries[1].id: ("今日已投", True),
                                                 entries[2].id: ("票已用完", True)}


def test_the_buttons_come_back_the_next_day_beijing_time(client, ballot, voter, clock):
    contest, entries = ballot
    vote(voter, entries[0], clock)
    clock.advance(hours=14)  # 10:00 + 3 h + 14 h: past midnight in Beijing
    page = entry_page(client, contest, entries[0])
    assert buttons(page) == {entries[0].id: ("投一票", False)} and "今日还可投 5 票" in page


def test_with_two_votes_per_entry_a_day_one_vote_leaves_the_button(client, ballot, voter, clock):
    contest, entries = ballot
    set_rules(contest, clock, votes_per_entry_per_day=2)
    vote(voter, entries[0], clock)
    assert buttons(entry_page(client, contest, entries[0])) == {entries[0].id: ("投一票", False)}
    vote(voter, entries[0], clock)
    assert buttons(entry_page(client, contest, entries[0])) == {entries[0].id: ("今日已投", True)}


def test_another_voters_vote_changes_nothing_for_me(client, ballot, voter, make_user, clock):
    contest, entries = ballot
    vote(make_user(), entries[0], clock)
    page = entry_page(client, contest, entries[0])
    assert buttons(page) == {entries[0].id: ("投一票", False)} and "今日还可投 5 票" in page


def test_signed_out_visitors_see_no_vote_state(client, ballot, make_user, clock):
    contest, entries = ballot
    vote(make_user(), entries[0], clock)
    page = entry_page(client, contest, entries[0])
    assert buttons(page) == {} and "登录后投票" in page
    assert "今日已投" not in page and "今日还可投" not in page
    cards = gallery(client, contest)
    assert buttons(cards) == {} and cards.count("登录投票") == 3 and "今日还可投" not in cards


def test_the_gallery_asks_once_which_entries_were_voted_for(app, client, ballot, voter, make_entry, clock,
                                                            count_queries):
    contest, entries = ballot
    vote(voter, entries[0], clock)
    url = f"/c/{contest.slug}/entries"

    def statements() -> list[str]:
        with count_queries() as seen:
            assert client.get(url).status_code == 200
        return seen

    statements()  # with Redis, the first page of a contest builds its live board
    few = statements()
    more = [make_entry(contest) for _ in range(9)]
    vote(voter, more[0], clock)
    vote(voter, more[8], clock)
    many = statements()
    assert len(many) == len(few)
    assert sum("vote_entry_quota" in s for s in many) == 1
    page = gallery(client, contest)
    assert sum(disabled for _words, disabled in buttons(page).values()) == 3


def test_voted_today_is_one_query_for_any_number_of_entries(app, ballot, make_user, make_entry, clock, count_queries):
    contest, entries = ballot
    user = make_user()
    clock.advance(hours=3)
    more = entries + [make_entry(contest) for _ in range(20)]
    for entry in (more[0], more[5], more[22]):
        vote(user, entry, clock)
    ids = [e.id for e in more]
    contests.rules_of(contest), user.id  # loaded already when a page asks
    with count_queries() as seen:
        found = voting.voted_today(db.session, contest=contest, voter=user, entry_ids=ids, now=clock.now())
    assert found == {ids[0], ids[5], ids[22]}
    assert len(seen) == 1
    assert voting.voted_today(db.session, contest=contest, voter=user, entry_ids=[], now=clock.now()) == frozenset()
    tomorrow = clock.now() + timedelta(days=1)
    assert voting.voted_today(db.session, contest=contest, voter=user, entry_ids=[more[0].id], now=tomorrow) == frozenset()


# --- the JSON reply that drives the buttons without a reload ----------------------------------

def test_the_json_reply_says_the_entry_is_done_and_what_is_left(client, ballot, voter, clock):
    contest, entries = ballot
    response = json_vote(client, clock, contest, entries[0])

    assert response.status_code == 201
    body = response.get_json()
    assert body["entry_done"] is True and body["done_text"] == "今日已投"
    assert body["spent"] is False and body["spent_text"] == "今日票数已用完"
    assert body["votes_left_today"] == 4 and body["votes_left_text"] == "今日还可投 4 票"
    assert body["receipt_url"] == f"/receipts/{body['receipt']}" and body["receipt_text"] == "查看凭证"
    assert body["my_votes_url"] == "/me/votes" and body["my_votes_text"] == "我的投票"
    assert body["receipt"] in body["message"]
    # and the page, loaded again, agrees with what the script showed
    assert buttons(entry_page(client, contest, entries[0])) == {entries[0].id: ("今日已投", True)}


def test_the_json_reply_of_the_last_vote_of_the_day_says_spent(client, ballot, voter, clock):
    contest, entries = ballot
    set_rules(contest, clock, votes_per_day=1)
    body = json_vote(client, clock, contest, entries[0]).get_json()
    assert body["spent"] is True and body["votes_left_today"] == 0 and body["votes_left_text"] == "今日还可投 0 票"


def test_the_json_reply_leaves_the_button_when_the_entry_takes_more_votes(client, ballot, voter, clock):
    contest, entries = ballot
    set_rules(contest, clock, votes_per_entry_per_day=2)
    body = json_vote(client, clock, contest, entries[0]).get_json()
    assert body["entry_done"] is False and body["spent"] is False


def test_the_script_reads_the_reply_the_view_sends():
    """static/js/vote.js and vote_reply speak of the same fields, and the script switches the
    button the way the pages draw it."""
    script = (ROOT / "static/js/vote.js").read_text(encoding="utf-8")
    for key in ("entry_done", "done_text", "spent", "spent_text", "votes_left_text", "receipt_url", "receipt_text",
                "my_votes_url", "my_votes_text", "message"):
        assert f"body.{key}" in script, key
    for hook in ('"[data-votes-left]"', '"[data-label]"', '"data-" + state', '"is-" + state', '"already_voted"',
                 '"daily_quota"'):
        assert hook in script, hook
    macros = (ROOT / "templates/voting/_macros.html").read_text(encoding="utf-8")
    assert "data-votes-left" in macros and "data-label" in macros and "data-done=" in macros and "data-spent=" in macros


def test_the_flash_after_a_vote_without_script_links_the_receipt_and_my_votes(client, ballot, voter, clock):
    contest, entries = ballot
    page = entry_page(client, contest, entries[0])
    clock.advance(seconds=10)
    response = client.post(f"/c/{contest.slug}/entries/{entries[0].id}/vote",
                           data={"csrf_token": CSRF_RE.search(page).group(1), "vt": VT_RE.search(page).group(1)})
    assert response.status_code == 302
    shown = text(client.get(response.headers["Location"]))
    code = re.search(r"投票凭证：([A-Z0-9]{12})", shown).group(1)
    assert f'<a href="/receipts/{code}">查看凭证</a>' in shown
    assert '<a href="/me/votes">我的投票</a>' in shown
    assert buttons(shown) == {entries[0].id: ("今日已投", True)}
