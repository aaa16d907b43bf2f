"""The transparency page's held and voided totals are the fraud desk's less what the rules withhold, and where a
minor's figures are withheld the page says so instead of "no voided votes"."""

from __future__ import annotations

import re
from datetime import date

from contest.accounts.actors import SYSTEM
from contest.antifraud.service import Verdict
from contest.extensions import db
from contest.results import service as results
from contest.voting import figures, ledger, review
from contest.voting import service as voting


def minor_and_adult(make_contest, make_entry, make_school, minor_title: str, adult_title: str):  # type: ignore[no-untyped-def]
    """A selection contest whose rules hide minors' counts, with a minor's entry and an adult's."""
    contest = make_contest(kind="selection", stage="voting", categories=())
    school = make_school(f"{adult_title}的学校")
    minor = make_entry(contest, title=minor_title, school=school, nominee=f"{minor_title}选手")
    adult = make_entry(contest, title=adult_title, school=school, nominee=f"{adult_title}选手")
    assert minor.nominee is not None and adult.nominee is not None
    minor.nominee.birth_date, adult.nominee.birth_date = date(2009, 1, 9), date(2001, 4, 2)
    db.session.commit()
    return contest, minor, adult


def test_transparency_totals_match_the_fraud_desk(client, make_contest, make_entry, make_school, make_user, clock):  # type: ignore[no-untyped-def]
    contest, minor, adult = minor_and_adult(make_contest, make_entry, make_school, "护理之星", "焊花里的青春")

    def cast(entry, *, held=False):  # type: ignore[no-untyped-def]
        verdict = Verdict(action="hold", score=80, reasons=("subnet_velocity",)) if held else Verdict()
        result = voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now(), verdict=verdict)
        db.session.commit()
        return result.vote.id

    # Every voided vote and one held vote are on the minor's entry, whose figures the rules hide.
    minor_votes = [cast(minor) for _ in range(4)] + [cast(minor, held=True) for _ in range(2)]
    for _ in range(3):
        cast(adult)
    cast(adult, held=True)
    voting.change_status(db.session, actor=SYSTEM, vote_ids=minor_votes[:3], to="voided", reason="同一设备多个账号投票",
                         now=clock.now())
    voting.change_status(db.session, actor=SYSTEM, vote_ids=minor_votes[4:5], to="voided", reason="刷票", now=clock.now())
    db.session.commit()
    clock.advance(seconds=10)
    assert ledger.seal_pending(db.session, now=clock.now()) is not None
    db.session.commit()

    desk = next(item for item in review.contests_with_voting(db.session, actor=make_user("organiser"), now=clock.now())
                if item.contest.id == contest.id)
    assert (desk.voided, desk.held) == (4, 2)

    html = client.get(f"/c/{contest.slug}/transparency").get_data(as_text=True)
    # the desk's figures less the minor's (4 voided, 1 held), which the rules withhold: a
    # total that included them would give the minor's counts away
    assert f"<dt>已作废</dt><dd>{desk.voided - 4}</dd>" in html
    assert f"<dt>待核实</dt><dd>{desk.held - 1}</dd>" in html
    assert "没有作废" not in html
    assert "未满 18 周岁选手作品的票数不公开，也不计入本页的各项合计" in html
    assert "下表中有 1 件作品的票数因此显示为“不公开”" in html
    assert re.search(r"以上为截至 .+? 投票记录中的实时数字", html)
    by_entry = html[html.index("<caption>按作品和原因统计</caption>"):html.index('id="held-title"')]
    assert "护理之星" in by_entry and "不公开" in by_entry
    # The minor's reasons stay out of the per-reason summary (its count would show).
    assert "<caption>按原因汇总</caption>" not in html


def test_withheld_entries_rank_as_if_they_had_no_votes(make_contest, make_entry, make_school, make_user, clock):  # type: ignore[no-untyped-def]
    """The tables are ranked by the database; a minor's withheld rows sort below every
    shown count, so their place cannot tell how many votes they hold."""
    contest, minor, adult = minor_and_adult(make_contest, make_entry, make_school, "电商新秀", "数控追梦人")
    verdict = Verdict(action="hold", score=80, reasons=("subnet_velocity",))
    minor_votes = [voting.record_vote(db.session, voter=make_user(), entry_id=minor.id, now=clock.now()).vote.id
                   for _ in range(3)]
    adult_votes = [voting.record_vote(db.session, voter=make_user(), entry_id=adult.id, now=clock.now()).vote.id]
    for entry in (minor, minor, minor, adult):
        voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now(), verdict=verdict)
    voting.change_status(db.session, actor=SYSTEM, vote_ids=minor_votes + adult_votes, to="voided", reason="刷票",
                         now=clock.now())
    db.session.commit()

    report = results.transparency_report(db.session, contest, clock.now())
    assert [(row.title, row.votes) for row in report.voided] == [("数控追梦人", 1), ("电商新秀", None)]
    assert [(row.title, row.votes) for row in report.held] == [("数控追梦人", 1), ("电商新秀", None)]
    assert (report.total_voided, report.total_held, report.withheld_entries) == (1, 1, 1)


def test_pages_and_totals_are_the_figures_of_every_entry(make_contest, make_entry, make_user, clock):  # type: ignore[no-untyped-def]
    """Summed and paged by the database, the tables and totals are what the per-entry
    figures give: every row once across the pages, in order of votes, then entry, then
    stored reason; a page out of range shows the first."""
    contest = make_contest(kind="media", stage="voting")
    entries = [make_entry(contest, title=f"作品{i}") for i in range(5)]
    withdrawn = make_entry(contest, title="已撤回")
    db.session.commit()
    verdict = Verdict(action="hold", score=80, reasons=("subnet_velocity",))
    for i, entry in enumerate([*entries, withdrawn]):
        votes = [voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now()).vote.id
                 for _ in range(i + 2)]
        voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now(), verdict=verdict)
        voting.change_status(db.session, actor=SYSTEM, vote_ids=votes[:1 + i % 2], to="voided", reason="刷票",
                             now=clock.now())
        voting.change_status(db.session, actor=SYSTEM, vote_ids=votes[-1:], to="voided", reason="", now=clock.now())
    withdrawn.status = "withdrawn"
    db.session.commit()

    found = figures.figures(db.session, contest.id)
    competing = [e.id for e in entries]
    expected = [(e, reason or "未说明", n) for e, reason, n in sorted(
        ((e, reason, n) for e in competing for reason, n in found.of(e).voided_by_reason.items()),
        key=lambda r: (-r[2], r[0], r[1]))]
    seen = []
    for page in (1, 2, 3, 4):
        report = results.transparency_report(db.session, contest, clock.now(), voided_page=page, per_page=3)
        assert report.voided_page.pages == 4 and report.voided_page.total == len(expected) == 10
        seen += [(row.entry_id, row.reason, row.votes) for row in report.voided]
    assert seen == expected
    totals = found.totals(only=competing)
    report = results.transparency_report(db.session, contest, clock.now(), voided_page=99, per_page=3)
    assert report.voided_page.page == 1
    assert (report.total_voided, report.total_held) == (totals.voided, totals.held) == (12, 5)
    assert dict(report.by_reason) == {"刷票": 7, "未说明": 5}
    assert [row.entry_id for row in report.held] == competing[:3]
