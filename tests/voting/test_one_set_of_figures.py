"""One season, one set of figures: every page that shows a number of votes shows the same
number — the entry page's vote box, the gallery, the web and API leaderboards, the fraud
desk, the transparency page, the votes export, the results preview, the published results
and their daily chart, receipts and 我的投票 — through held, released and voided votes, an
entry withdrawn after it had votes, and a minor whose counts the rules keep private. On
PostgreSQL + Redis the live pages read the Redis boards; on SQLite, the database."""

from __future__ import annotations

import csv
import io
import re
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select

from contest.accounts.models import User
from contest.antifraud.service import Verdict
from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.media.models import WithdrawalRequest
from contest.results import service as results
from contest.voting import ledger, review
from contest.voting import service as voting
from contest.voting.figures import figures
from contest.voting.models import Vote
from tests.conftest import login, submit
from tests.results.test_public_views import finalise_round

HELD = Verdict(action="hold", score=80, reasons=("subnet_velocity",))
FARM = "同一设备多个账号投票"


@dataclass(frozen=True)
class Expected:
    counted: int
    held: int
    voided: int


@dataclass
class Season:
    contest: Contest
    a: Entry  # adult, voided and released votes
    b: Entry  # adult, one vote still held
    minor: Entry  # 16: counts private
    gone: Entry  # withdrawn after it had votes
    voter: User  # one citizen with a counted vote (A) and a held one (B)
    organisers: tuple[User, User]
    receipts: dict[str, str]


def _cast(season_entry: Entry, make_user: Any, clock: Any, *, voter: User | None = None, held: bool = False) -> Vote:
    result = voting.record_vote(db.session, voter=voter or make_user(), entry_id=season_entry.id, now=clock.now(),
                                verdict=HELD if held else Verdict())
    db.session.commit()
    return result.vote


@pytest.fixture
def season(client: FlaskClient, make_contest: Any, make_entry: Any, make_school: Any, make_user: Any, clock: Any) -> Season:
    contest = make_contest(kind="selection", stage="voting", categories=(), title="最美职校生网络评选")
    school = make_school("济南信息工程学校")
    a = make_entry(contest, title="焊花里的青春", school=school, nominee="李明")
    b = make_entry(contest, title="数控追梦人", school=school, nominee="王强")
    minor = make_entry(contest, title="护理之星", school=school, nominee="张小雨")
    gone = make_entry(contest, title="撤回的作品", school=school, nominee="赵磊")
    entrant = make_user("school_contact")
    for entry, born in ((a, date(2001, 4, 2)), (b, date(2003, 6, 1)), (minor, date(2009, 1, 9)), (gone, date(2002, 2, 2))):
        assert entry.nominee is not None
        entry.nominee.birth_date = born
    gone.submitted_by_id = entrant.id
    db.session.commit()
    organisers = (make_user("organiser", name="组织者甲"), make_user("organiser", name="组织者乙"))
    voter = make_user(name="市民小周")
    receipts = {"a": _cast(a, make_user, clock, voter=voter).receipt, "b": _cast(b, make_user, clock, voter=voter, held=True).receipt}

    a_valid = [_cast(a, make_user, clock) for _ in range(5)]
    a_held = [_cast(a, make_user, clock, held=True) for _ in range(2)]
    for _ in range(3):
        _cast(b, make_user, clock)
    m_valid = [_cast(minor, make_user, clock) for _ in range(4)]
    m_held = [_cast(minor, make_user, clock, held=True) for _ in range(2)]
    for _ in range(2):
        _cast(gone, make_user, clock)
    organiser = organisers[0]
    review.release_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[a_held[0].id],
                         reason="核实为本人投票", now=clock.now())
    review.void_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[a_held[1].id], reason="刷票",
                      now=clock.now())
    review.void_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[v.id for v in a_valid[:2]],
                      reason=FARM, now=clock.now())
    review.void_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[m_held[0].id], reason=FARM,
                      now=clock.now())
    db.session.commit()
    assert m_valid
    # The entrant asks to withdraw the entry through its page, an organiser approves on the
    # moderation desk: it leaves every board and total.
    login(client, entrant)
    assert submit(client, "/me/entries", {"reason": "作者不再参加本次活动"},
                  action=f"/me/entries/{gone.id}/withdrawal-request").status_code == 302
    client.get("/account/logout")
    login(client, organiser)
    [request_id] = db.session.scalars(select(WithdrawalRequest.id).where(WithdrawalRequest.entry_id == gone.id))
    assert submit(client, "/admin/moderation/withdrawals", {"decision": "approve", "reason": "作者本人申请，同意撤回"},
                  action=f"/admin/moderation/withdrawals/{request_id}").status_code == 302
    client.get("/account/logout")
    return Season(contest, a, b, minor, gone, voter, organisers, receipts)


# What the season left: A 1 + 5 + 1 released − 2 voided = 5 counted, 3 voided (1 刷票, 2 farm);
# B 3 + the voter's held one; the minor 4 counted, 1 held, 1 voided; the withdrawn entry 2.
TRUTH = {"a": Expected(5, 0, 3), "b": Expected(3, 1, 0), "minor": Expected(4, 1, 1), "gone": Expected(2, 0, 0)}


def _html(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return response.get_data(as_text=True)


def _row(html: str, entry_id: int, tag: str = "tr") -> str | None:
    found = re.search(rf'<{tag}[^>]*data-entry="{entry_id}"[^>]*>(.*?)</{tag}>', html, re.S)
    return found.group(1) if found else None


def _numbers(fragment: str) -> list[int]:
    return [int(n) for n in re.findall(r'class="num"[^>]*>(?:<strong[^>]*>)?(\d+)', fragment)]


def vote_box(client: FlaskClient, season: Season, entry: Entry) -> int | None:
    html = _html(client, f"/c/{season.contest.slug}/entries/{entry.id}")
    found = re.search(rf'data-vote-count="{entry.id}">(\d+)<', html)
    return int(found.group(1)) if found else None


def gallery(client: FlaskClient, season: Season) -> dict[int, int]:
    html = _html(client, f"/c/{season.contest.slug}/entries")
    return {int(e): int(n) for e, n in re.findall(r'data-vote-count="(\d+)">(\d+)<', html)}


def web_board(client: FlaskClient, season: Season) -> list[tuple[int, int, int]]:
    html = _html(client, f"/c/{season.contest.slug}/leaderboard")
    return [(int(rank), int(entry), int(votes)) for rank, entry, votes in re.findall(
        r'<li value="(\d+)"[^>]*data-entry="(\d+)">.*?<strong>(\d+)</strong>', html, re.S)]


def api_board(client: FlaskClient, season: Season) -> list[tuple[int, int, int]]:
    body = client.get(f"/api/v1/contests/{season.contest.slug}/leaderboard").get_json()
    return [(row["rank"], row["entry_id"], row["votes"]) for row in body["items"]]


def fraud_desk(client: FlaskClient, season: Season) -> dict[int, tuple[int, int, int]]:
    html = _html(client, f"/admin/fraud/{season.contest.id}")
    rows = {}
    for entry in (season.a, season.b, season.minor, season.gone):
        row = _row(html, entry.id)
        assert row is not None, entry.title
        rows[entry.id] = tuple(_numbers(row)[:3])
    return rows


def fraud_index(client: FlaskClient, season: Season) -> tuple[int, ...]:
    html = _html(client, "/admin/fraud/")
    html = html[html.index("<main"):]  # the page's head names the contests in its description
    row = html[html.index(season.contest.title):]
    return tuple(_numbers(row[:row.index("</tr>")])[:3])


def transparency(client: FlaskClient, season: Season) -> dict[str, Any]:
    html = _html(client, f"/c/{season.contest.slug}/transparency")
    stats = dict(re.findall(r"<dt>(有效票|待核实|已作废)</dt><dd>(\d+)</dd>", html))
    voided = html[html.index('id="voided-title"'):html.index('id="held-title"')]
    held = html[html.index('id="held-title"'):]
    return {"totals": {k: int(v) for k, v in stats.items()}, "voided": voided, "held": held, "html": html}


def votes_export(client: FlaskClient, season: Season) -> dict[int, tuple[int, int, int]]:
    response = client.get(f"/admin/results/{season.contest.slug}/export/votes.csv")
    assert response.status_code == 200
    rows = list(csv.reader(io.StringIO(response.get_data(as_text=True).lstrip("\ufeff"))))
    header = next(i for i, row in enumerate(rows) if row and row[0] == "作品编号")
    columns = rows[header]
    at = {name: columns.index(name) for name in ("有效票", "待审票", "作废票")}
    return {int(row[0]): (int(row[at["有效票"]]), int(row[at["待审票"]]), int(row[at["作废票"]]))
            for row in rows[header + 1:] if row and row[0].isdigit()}


def results_preview(client: FlaskClient, season: Season) -> dict[int, tuple[int, int, int]]:
    html = _html(client, f"/admin/results/{season.contest.slug}/")
    found = {}
    for entry in (season.a, season.b, season.minor):
        row = _row(html, entry.id)
        assert row is not None, entry.title
        counted = int(re.search(r'<td class="num">(\d+)', row).group(1))  # type: ignore[union-attr]
        split = re.search(r"待审 (\d+) · 作废 (\d+)", row)
        found[entry.id] = (counted, *(int(n) for n in split.groups())) if split else (counted, 0, 0)
    return found


def published(client: FlaskClient, season: Season) -> tuple[dict[int, str], int]:
    html = _html(client, f"/c/{season.contest.slug}/results")
    ranking = html[html.index('id="ranking-title"'):]
    cells = {}
    for entry in (season.a, season.b, season.minor):
        row = _row(ranking, entry.id)
        assert row is not None, entry.title
        cells[entry.id] = re.search(r'data-label="有效票数">(.*?)</td>', row, re.S).group(1)  # type: ignore[union-attr]
    day_total = sum(int(n) for n in re.findall(r'<tr><th scope="row">[^<]*日</th><td>(\d+)</td></tr>', html))
    return cells, day_total


def _expected(season: Season, key: str) -> tuple[int, int, int]:
    e = TRUTH[key]
    return (e.counted, e.held, e.voided)


def test_every_surface_shows_the_same_figures(client: FlaskClient, season: Season, clock: Any, make_user: Any) -> None:
    a, b, minor, gone = season.a, season.b, season.minor, season.gone
    # The service itself, now and (once sealed) at the head.
    now = figures(db.session, season.contest.id, now=clock.now())
    for key, entry in (("a", a), ("b", b), ("minor", minor), ("gone", gone)):
        assert (now.of(entry.id).counted, now.of(entry.id).held, now.of(entry.id).voided) == _expected(season, key)
    assert now.of(a.id).voided_by_reason == {"刷票": 1, FARM: 2}
    clock.advance(seconds=5)
    ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    sealed = figures(db.session, season.contest.id, sealed=True)
    assert sealed.entries == now.entries and sealed.unsealed == 0 and sealed.mismatched == ()

    # Public pages: the adults' counted votes; the minor and the withdrawn entry on no board.
    assert vote_box(client, season, a) == 5 and vote_box(client, season, b) == 3
    assert vote_box(client, season, minor) is None
    assert gallery(client, season) == {a.id: 5, b.id: 3}
    assert web_board(client, season) == api_board(client, season) == [(1, a.id, 5), (2, b.id, 3)]
    report = transparency(client, season)
    assert report["totals"] == {"有效票": 8, "待核实": 1, "已作废": 3}  # A and B: the minor's withheld, the withdrawn gone
    assert _numbers(_row(report["voided"], a.id) or "") and "不公开" in (_row(report["voided"], minor.id) or "")
    assert gone.title not in report["html"]
    voided_a = re.findall(rf'data-entry="{a.id}">.*?<td>(.*?)</td>\s*<td class="num">(\d+)</td>', report["voided"], re.S)
    assert sorted((reason, int(n)) for reason, n in voided_a) == sorted([("刷票", 1), (FARM, 2)])

    # The voter's own pages.
    login(client, season.voter)
    mine = _html(client, "/me/votes")
    assert "共 2 票" in mine and season.receipts["a"] in mine and season.receipts["b"] in mine
    assert "vote-status-valid" in mine and "vote-status-held" in mine
    assert "status-valid" in _html(client, f"/receipts/{season.receipts['a']}")
    assert "status-held" in _html(client, f"/receipts/{season.receipts['b']}")
    client.get("/account/logout")

    # The back office: every entry with votes, the withdrawn one marked; contest totals of
    # the entries in the running.
    first, second = season.organisers
    login(client, first)
    desk = fraud_desk(client, season)
    assert desk == {a.id: _expected(season, "a"), b.id: _expected(season, "b"), minor.id: _expected(season, "minor"),
                    gone.id: _expected(season, "gone")}
    assert "不在评比中" in (_row(_html(client, f"/admin/fraud/{season.contest.id}"), gone.id) or "")
    assert fraud_index(client, season) == (5 + 3 + 4, 1 + 1, 3 + 1)
    assert votes_export(client, season) == desk

    # Results: the preview (sealed head) and the publication agree with all of the above.
    clock.set(season.contest.voting_ends_at)
    clock.advance(hours=1)
    judge = make_user("judge", name="评委")
    finalise_round(season.contest, first, judge, {a: 90, b: 80, minor: 70}, clock.now())
    db.session.commit()
    assert results_preview(client, season) == {a.id: _expected(season, "a"), b.id: _expected(season, "b"),
                                               minor.id: _expected(season, "minor")}
    publication = results.request_publication(db.session, actor=first, contest=season.contest, now=clock.now())
    results.confirm_publication(db.session, actor=second, publication=publication, now=clock.now())
    db.session.commit()
    client.get("/account/logout")
    cells, day_total = published(client, season)
    assert cells[a.id].strip() == "5" and cells[b.id].strip() == "3" and "不公开" in cells[minor.id]
    assert day_total == 8  # the daily chart sums to the published counts shown
    rows = {int(r["entry_id"]): (r["valid_votes"], r["held_votes"], r["voided_votes"]) for r in publication.rows}
    assert rows == {a.id: _expected(season, "a"), b.id: _expected(season, "b"), minor.id: _expected(season, "minor")}
