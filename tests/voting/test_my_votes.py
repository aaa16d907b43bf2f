"""我的投票: a voter's own votes, newest first, with receipts and their status in plain words;
nobody else's, a page of 50 at a time in a bounded number of queries."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest

from contest.accounts.actors import SYSTEM
from contest.antifraud.service import Verdict
from contest.errors import Forbidden
from contest.extensions import db
from contest.voting import service as voting
from contest.voting.models import Vote
from contest.voting.records import local_day
from tests.conftest import login

MY_VOTES = "/me/votes"
ROW_RE = re.compile(r'<li class="card vote-row vote-row-(\w+)">(.*?)</li>', re.S)


def rows(html: str) -> list[tuple[str, str]]:
    """(state, the row's text without tags) of each vote listed, in order."""
    return [(state, re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", body)).strip()) for state, body in ROW_RE.findall(html)]


def text(response) -> str:  # type: ignore[no-untyped-def]
    return response.get_data(as_text=True)


@pytest.fixture
def contest_and_entries(make_contest, make_entry):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="media", stage="voting", title="全民美拍测试")
    return contest, [make_entry(contest, title=f"作品{n}") for n in range(1, 4)]


@pytest.fixture
def voter(client, make_user, clock):  # type: ignore[no-untyped-def]
    user = make_user()
    clock.advance(hours=3)
    login(client, user)
    return user


def cast(user, entry, clock, *, held: bool = False) -> int:  # type: ignore[no-untyped-def]
    verdict = Verdict(action="hold", score=80, reasons=("subnet_velocity",)) if held else Verdict()
    result = voting.record_vote(db.session, voter=user, entry_id=entry.id, now=clock.now(), verdict=verdict)
    db.session.commit()
    return result.vote.id


def test_the_voters_votes_newest_first_with_receipts_in_beijing_time(client, contest_and_entries, voter, clock):
    contest, entries = contest_and_entries
    cast(voter, entries[0], clock)  # 2023-05-16 13:00 Beijing
    clock.advance(minutes=30)
    cast(voter, entries[2], clock)
    receipts = dict(db.session.execute(db.select(Vote.entry_id, Vote.receipt)).all())

    response = client.get(MY_VOTES)
    assert response.headers["Cache-Control"] == "no-store"
    page = text(response)

    listed = rows(page)
    assert [state for state, _ in listed] == ["valid", "valid"]
    assert listed[0][1].startswith("作品3 全民美拍测试 2023-05-16 13:30 有效 凭证")
    assert listed[1][1].startswith("作品1 全民美拍测试 2023-05-16 13:00 有效 凭证")
    for entry in (entries[0], entries[2]):
        assert f'<a href="/c/{contest.slug}/entries/{entry.id}">{entry.title}</a>' in page
        code = receipts[entry.id]
        assert f'<a class="receipt-code" href="/receipts/{code}">{code}</a>' in page
    assert "共 2 票" in page


def test_statuses_after_a_hold_a_void_and_a_release(client, contest_and_entries, voter, clock):
    contest, entries = contest_and_entries
    voided = cast(voter, entries[0], clock)
    clock.advance(minutes=1)
    released = cast(voter, entries[1], clock, held=True)
    clock.advance(minutes=1)
    cast(voter, entries[2], clock, held=True)
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[voided], to="voided", reason="同一网段集中刷票",
                         now=clock.now())
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[released], to="valid", reason="核实为正常投票",
                         now=clock.now())
    db.session.commit()

    listed = rows(text(client.get(MY_VOTES)))

    assert [state for state, _ in listed] == ["held", "released", "voided"]
    held_row, released_row, voided_row = (row for _, row in listed)
    assert "审核中" in held_row and "这一票正在人工核实，核实通过后计入票数。" in held_row
    assert "已恢复" in released_row and "这一票经人工核实后已计入票数。" in released_row
    assert "已作废" in voided_row and "作废原因： 同一网段集中刷票" in voided_row
    # the anti-fraud's own reasons are never shown to the voter
    assert "subnet_velocity" not in text(client.get(MY_VOTES))


def test_only_the_voters_own_votes(client, contest_and_entries, voter, make_user, clock):
    contest, entries = contest_and_entries
    other = make_user()
    cast(other, entries[0], clock)
    theirs = db.session.scalar(db.select(Vote.receipt).where(Vote.voter_id == other.id))
    cast(voter, entries[1], clock)

    page = text(client.get(MY_VOTES))
    assert len(rows(page)) == 1 and theirs not in page and "作品2" in page

    # and the service itself answers for the actor only, whoever asks
    assert [v.entry_id for v in voting.votes_of_voter(db.session, actor=other).items] == [entries[0].id]
    with pytest.raises(Forbidden):
        voting.votes_of_voter(db.session, actor=SYSTEM)  # type: ignore[arg-type]
    with pytest.raises(Forbidden):
        voting.votes_of_voter(db.session, actor=None)  # type: ignore[arg-type]


def test_a_visitor_is_sent_to_log_in_and_back(client):
    response = client.get(MY_VOTES)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")


def test_no_votes_yet(client, voter):
    page = text(client.get(MY_VOTES))
    assert rows(page) == [] and "您还没有投过票。" in page


def test_an_entry_no_longer_public_is_listed_without_a_link(client, contest_and_entries, voter, clock):
    contest, entries = contest_and_entries
    cast(voter, entries[0], clock)
    entries[0].status = "withdrawn"
    db.session.commit()
    page = text(client.get(MY_VOTES))
    assert "作品1" in page and "（作品已不公开）" in page
    assert f"/c/{contest.slug}/entries/{entries[0].id}\"" not in page


def test_linked_from_the_site_header(client, voter):
    assert f'<a href="{MY_VOTES}">我的投票</a>' in text(client.get("/"))


def add_votes(user, entry, contest, clock, n: int) -> None:  # type: ignore[no-untyped-def]
    """n past votes of one voter, a minute apart, written directly (one a day per entry is
    the vote path's business, not the listing's)."""
    for i in range(n):
        at = clock.now() - timedelta(minutes=n - i)
        db.session.add(Vote(contest_id=contest.id, entry_id=entry.id, voter_id=user.id, day=local_day(at), created_at=at,
                            status="valid", receipt=f"R{user.id:03d}{i:08d}"))
    db.session.commit()


def test_fifty_a_page_in_a_bounded_number_of_queries(client, contest_and_entries, voter, make_user, clock, count_queries):
    contest, entries = contest_and_entries
    add_votes(voter, entries[0], contest, clock, 3)

    def statements(url: str = MY_VOTES) -> list[str]:
        with count_queries() as seen:
            assert client.get(url).status_code == 200
        return seen

    few = statements()
    add_votes(make_user(), entries[1], contest, clock, 5)  # someone else's, never counted
    db.session.execute(db.delete(Vote).where(Vote.voter_id == voter.id))
    db.session.commit()
    add_votes(voter, entries[0], contest, clock, 53)
    many = statements()
    assert len(many) == len(few)
    assert sum(bool(re.search(r"FROM vote\b", s)) for s in many) == 2  # the count and the page

    first = text(client.get(MY_VOTES))
    assert len(rows(first)) == 50 and "共 53 票" in first and "第 1 / 2 页" in first
    assert first.index(f"R{voter.id:03d}00000052") < first.index(f"R{voter.id:03d}00000003")  # newest first
    second = text(client.get(MY_VOTES + "?page=2"))
    assert len(rows(second)) == 3 and f"R{voter.id:03d}00000000" in second
    assert len(rows(text(client.get(MY_VOTES + "?page=99")))) == 3  # past the end: the last page
    assert len(rows(text(client.get(MY_VOTES + "?page=x")))) == 50
