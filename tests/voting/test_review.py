"""Fraud review: selecting votes by rule, voiding and releasing them, and the reports."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent, User
from contest.antifraud.service import Verdict, subnet_of
from contest.clock import LOCAL_TZ
from contest.errors import Forbidden, InvalidInput
from contest.extensions import db
from contest.voting import ledger, review
from contest.voting import service as voting
from contest.voting.models import LedgerEvent, Vote
from tests.conftest import START
from tests.site.isolation import committed


@pytest.fixture
def organiser(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user("organiser", name="组织者")


@pytest.fixture
def ballot(make_contest, make_entry):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="media", stage="voting")
    return contest, [make_entry(contest) for _ in range(3)]


@pytest.fixture
def vote(make_user, clock):  # type: ignore[no-untyped-def]
    """Cast one vote now from `ip` (a new voter unless one is given); committed."""
    def cast(entry, ip: str, *, voter: User | None = None, held: bool = False, device: str = "", reasons=("subnet_velocity",)) -> Vote:
        verdict = Verdict(action="hold", score=80, reasons=tuple(reasons)) if held else Verdict()
        context = voting.VoteContext(ip=ip, subnet=subnet_of(ip), device_id=device, user_agent="Mozilla/5.0")
        result = voting.record_vote(db.session, voter=voter or make_user(), entry_id=entry.id, now=clock.now(),
                                  verdict=verdict, context=context)
        db.session.commit()
        return result.vote
    return cast


def statuses(votes: list[Vote]) -> list[str]:
    ids = [v.id for v in votes]
    with db.engine.connect() as conn:
        found = dict(conn.execute(select(Vote.id, Vote.status).where(Vote.id.in_(ids))).all())
    return [found[i] for i in ids]


def count_of(statement) -> int:  # type: ignore[no-untyped-def]
    return committed(statement) or 0


def audit_rows(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


# --- matching rules ----------------------------------------------------------------------

IPS = ["10.1.2.3", "10.1.2.200", "10.1.3.4", "10.1.15.9", "10.1.16.1", "10.2.0.1", "1.2.3.4", "11.2.3.4",
       "192.168.1.1", "2001:db8:0:1::5", "2001:db8:0:1::9", "2001:db8:0:2::7", "2001:db8:1::1"]


@pytest.mark.parametrize("cidr, expected", [
    ("10.1.2.0/24", ["10.1.2.3", "10.1.2.200"]),
    ("10.1.2.0/25", ["10.1.2.3"]),
    ("10.1.2.128/25", ["10.1.2.200"]),
    ("10.1.2.0/23", ["10.1.2.3", "10.1.2.200", "10.1.3.4"]),
    ("10.1.0.0/20", ["10.1.2.3", "10.1.2.200", "10.1.3.4", "10.1.15.9"]),
    ("10.1.0.0/16", ["10.1.2.3", "10.1.2.200", "10.1.3.4", "10.1.15.9", "10.1.16.1"]),
    ("10.0.0.0/8", ["10.1.2.3", "10.1.2.200", "10.1.3.4", "10.1.15.9", "10.1.16.1", "10.2.0.1"]),
    ("1.0.0.0/8", ["1.2.3.4"]),  # not 11.2.3.4
    ("10.1.2.3", ["10.1.2.3"]),
    ("10.1.2.3/32", ["10.1.2.3"]),
    ("10.1.2.7/24", ["10.1.2.3", "10.1.2.200"]),  # host bits are cleared
    ("2001:db8:0:1::/64", ["2001:db8:0:1::5", "2001:db8:0:1::9"]),
    ("2001:db8::/56", ["2001:db8:0:1::5", "2001:db8:0:1::9", "2001:db8:0:2::7"]),
    ("2001:db8:0:1::9", ["2001:db8:0:1::9"]),
    ("172.16.0.0/12", []),
])
def test_an_ip_range_matches_exactly_the_addresses_inside_it(ballot, vote, cidr, expected):
    contest, entries = ballot
    cast = {ip: vote(entries[0], ip).id for ip in IPS}
    found = review.select_votes(db.session, contest_id=contest.id, ip_range=cidr)
    assert sorted(found) == sorted(cast[ip] for ip in expected)


@pytest.mark.parametrize("cidr, code", [
    ("10.1.2.0/33", "invalid_ip_range"), ("10.1.2", "invalid_ip_range"), ("not an ip", "invalid_ip_range"),
    ("10.1.2.0/24; drop table vote", "invalid_ip_range"), ("0.0.0.0/0", "ip_range_too_wide"),
    ("10.0.0.0/7", "ip_range_too_wide"), ("2001:db8::/48", "ip_range_unsupported"),
    ("2001:db8:0:1::/96", "ip_range_unsupported"),
])
def test_a_bad_ip_range_is_refused_with_a_clear_message(ballot, cidr, code):
    contest, _entries = ballot
    with pytest.raises(InvalidInput) as caught:
        review.select_votes(db.session, contest_id=contest.id, ip_range=cidr)
    assert caught.value.status == 400 and caught.value.code == code
    assert caught.value.field == "ip_range"
    if code == "invalid_ip_range":
        assert caught.value.message == "IP 段格式不正确，请填写如 203.0.113.0/24 的网段或单个 IP 地址。"


def test_a_rule_needs_a_condition_and_a_window_the_right_way_round(ballot, clock):
    contest, entries = ballot
    with pytest.raises(InvalidInput) as caught:
        review.select_votes(db.session, contest_id=contest.id, entry_id=entries[0].id)
    assert caught.value.message == "请至少设置一个条件：IP 段、时间段或账号。"
    with pytest.raises(InvalidInput) as caught:
        review.select_votes(db.session, contest_id=contest.id, start=clock.now(), end=clock.now())
    assert caught.value.message == "结束时间必须晚于开始时间。"


def test_time_window_entry_scope_and_statuses(ballot, vote, clock):
    contest, entries = ballot
    at = {}
    for hour in (10, 11, 12, 13):
        clock.set(datetime(2023, 5, 16, hour, 30, tzinfo=LOCAL_TZ))
        at[hour] = vote(entries[0], "10.0.0.1").id
    other = vote(entries[1], "10.0.0.1").id  # 13:30, another entry
    start, end = datetime(2023, 5, 16, 11, 0, tzinfo=LOCAL_TZ), datetime(2023, 5, 16, 13, 30, tzinfo=LOCAL_TZ)
    assert review.select_votes(db.session, contest_id=contest.id, start=start, end=end) == [at[11], at[12]]
    assert review.select_votes(db.session, contest_id=contest.id, start=end) == [at[13], other]
    assert review.select_votes(db.session, contest_id=contest.id, entry_id=entries[0].id, start=end) == [at[13]]
    assert review.select_votes(db.session, contest_id=contest.id, end=start) == [at[10]]
    assert review.select_votes(db.session, contest_id=contest.id, start=start, statuses=["held"]) == []


def test_account_list_by_phone_or_id(ballot, vote, make_user):
    contest, entries = ballot
    a, b, c = make_user(), make_user(), make_user()
    a_votes = [vote(entries[0], "1.1.1.1", voter=a).id, vote(entries[1], "1.1.1.1", voter=a).id]
    b_vote = vote(entries[2], "2.2.2.2", voter=b).id
    vote(entries[0], "3.3.3.3", voter=c)
    assert review.select_votes(db.session, contest_id=contest.id, phones=[a.phone, "+86 " + b.phone]) == [*a_votes, b_vote]
    assert review.select_votes(db.session, contest_id=contest.id, voter_ids=[b.id]) == [b_vote]
    assert review.select_votes(db.session, contest_id=contest.id, phones=["13900000000"]) == []
    with pytest.raises(InvalidInput):
        review.select_votes(db.session, contest_id=contest.id, phones=["12345"])


def test_the_form_parser_reads_beijing_time_and_phone_lists(ballot, make_user):
    contest, entries = ballot
    a, b = make_user(), make_user()
    rule = review.parse_rule_form({"scope": "contest", "ip_range": " 10.0.0.0/8 ", "start": "2023-05-16T10:00",
                                   "end": "", "phones": f"{a.phone}\n{b.phone}，{a.phone}"},
                                  contest_id=contest.id, entry_id=entries[0].id)
    assert rule.entry_id is None and rule.ip_range == "10.0.0.0/8"
    assert rule.start == datetime(2023, 5, 16, 10, 0, tzinfo=LOCAL_TZ)
    assert rule.start.utcoffset() == timedelta(hours=8) and rule.end is None
    assert rule.phones == (a.phone, b.phone)
    assert review.parse_rule_form({}, contest_id=contest.id, entry_id=entries[0].id).entry_id == entries[0].id
    with pytest.raises(InvalidInput) as caught:
        review.parse_rule_form({"phones": "1380013800x"}, contest_id=contest.id, entry_id=entries[0].id)
    assert caught.value.message == "手机号“1380013800x”格式不正确，请每行填写一个 11 位手机号。"
    with pytest.raises(InvalidInput) as caught:
        review.parse_rule_form({"start": "16/05/2023"}, contest_id=contest.id, entry_id=entries[0].id)
    assert caught.value.message == "时间格式不正确，请选择日期和时间。"


def test_a_rule_matching_too_many_votes_is_refused_not_cut_short(ballot, vote, monkeypatch):
    contest, entries = ballot
    for _ in range(4):
        vote(entries[0], "10.0.0.1")
    monkeypatch.setattr(review, "SELECT_MAX", 3)
    with pytest.raises(InvalidInput) as caught:
        review.select_votes(db.session, contest_id=contest.id, ip_range="10.0.0.1")
    assert caught.value.code == "selection_too_large"


# --- voiding and releasing ---------------------------------------------------------------

def test_void_by_ip_range_changes_exactly_those_votes_with_ledger_events_and_one_audit_row(ballot, vote, organiser, clock):
    contest, entries = ballot
    inside = [vote(entries[0], "203.0.113.7"), vote(entries[1], "203.0.113.15"), vote(entries[0], "203.0.113.0", held=True)]
    outside = [vote(entries[0], "203.0.113.16"), vote(entries[0], "203.0.114.7"), vote(entries[0], "198.51.100.1", held=True)]
    assert voting.valid_counts(db.session, contest.id) == {entries[0].id: 3, entries[1].id: 1}
    rule = review.VoteRule(contest_id=contest.id, ip_range="203.0.113.0/28")
    preview = review.preview_change(db.session, actor=organiser, contest_id=contest.id, to="voided", reason="同一网段集中刷票",
                                    rule=rule)
    assert preview.count == 3 and preview.by_status == {"valid": 2, "held": 1}
    clock.advance(minutes=5)
    result = review.void_votes(db.session, actor=organiser, contest_id=contest.id, rule=rule, reason="同一网段集中刷票",
                               now=clock.now(), ip="127.0.0.9", expected_count=3)
    db.session.commit()
    assert result.changed == 3 and result.entry_ids == sorted([entries[0].id, entries[1].id])
    assert statuses(inside) == ["voided"] * 3
    assert statuses(outside) == ["valid", "valid", "held"]
    events = db.session.execute(select(LedgerEvent.vote_id, LedgerEvent.detail, LedgerEvent.at)
                                .where(LedgerEvent.kind == "void")).all()
    assert sorted(e.vote_id for e in events) == sorted(v.id for v in inside)
    assert {e.detail for e in events} == {"同一网段集中刷票"} and {e.at for e in events} == {clock.now()}
    rows = audit_rows("votes.void")
    assert len(rows) == 1
    row = rows[0]
    assert row.actor_id == organiser.id and row.target_type == "contest" and row.target_id == str(contest.id)
    assert row.after["count"] == 3 and row.after["reason"] == "同一网段集中刷票"
    assert row.after["rule"] == {"scope": "contest", "ip_range": "203.0.113.0/28"}
    assert row.before == {"status": {"valid": 2, "held": 1}} and row.ip == "127.0.0.9"
    assert "作废 3 票" in row.summary and "203.0.113.0/28" in row.summary
    assert voting.valid_counts(db.session, contest.id) == {entries[0].id: 2}
    assert count_of(select(func.count()).select_from(Vote)) == 6  # nothing deleted


def test_void_only_in_range_and_entry(ballot, vote, organiser, clock):
    contest, entries = ballot
    mine = vote(entries[0], "203.0.113.7")
    other_entry = vote(entries[1], "203.0.113.7")
    out_of_range = vote(entries[0], "203.0.114.7")
    rule = review.VoteRule(contest_id=contest.id, entry_id=entries[0].id, ip_range="203.0.113.0/24")
    review.void_votes(db.session, actor=organiser, contest_id=contest.id, rule=rule, reason="刷票", now=clock.now())
    db.session.commit()
    assert statuses([mine, other_entry, out_of_range]) == ["voided", "valid", "valid"]
    assert audit_rows("votes.void")[0].after["rule"] == {"scope": "entry", "entry_id": entries[0].id, "ip_range": "203.0.113.0/24"}


@pytest.mark.parametrize("reason, message", [("", "请填写作废原因"), ("   \n ", "请填写作废原因"), ("长" * 301, "原因不能超过 300 个字。")])
def test_a_void_without_a_reason_changes_nothing(ballot, vote, organiser, clock, reason, message):
    contest, entries = ballot
    votes = [vote(entries[0], "203.0.113.7"), vote(entries[0], "203.0.113.8", held=True)]
    rule = review.VoteRule(contest_id=contest.id, ip_range="203.0.113.0/24")
    for call in (review.void_votes, review.preview_change):
        kwargs = {"to": "voided"} if call is review.preview_change else {"now": clock.now()}
        with pytest.raises(InvalidInput) as caught:
            call(db.session, actor=organiser, contest_id=contest.id, rule=rule, reason=reason, **kwargs)
        assert caught.value.status == 400 and caught.value.message == message and caught.value.field == "reason"
    db.session.rollback()
    assert statuses(votes) == ["valid", "held"]
    assert count_of(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.kind != "cast")) == 0
    assert count_of(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("votes.%"))) == 0


def test_an_invalid_range_in_a_void_changes_nothing(ballot, vote, organiser, clock):
    contest, entries = ballot
    votes = [vote(entries[0], "203.0.113.7")]
    with pytest.raises(InvalidInput) as caught:
        review.void_votes(db.session, actor=organiser, contest_id=contest.id, reason="刷票", now=clock.now(),
                          rule=review.VoteRule(contest_id=contest.id, ip_range="203.0.113.0/99"))
    assert caught.value.status == 400
    db.session.rollback()
    assert statuses(votes) == ["valid"]
    assert count_of(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("votes.%"))) == 0


def test_release_of_held_votes_makes_them_count(ballot, vote, organiser, clock):
    contest, entries = ballot
    held = [vote(entries[0], "10.0.0.1", held=True), vote(entries[0], "10.0.0.2", held=True),
            vote(entries[1], "10.0.0.3", held=True)]
    valid = vote(entries[0], "10.0.0.4")
    assert voting.valid_counts(db.session, contest.id) == {entries[0].id: 1}
    result = review.release_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[held[0].id, held[2].id, valid.id],
                                  reason="人工核实为正常投票", now=clock.now())
    db.session.commit()
    assert result.changed == 2  # the valid vote is not "released"
    assert statuses(held) == ["valid", "held", "valid"]
    assert voting.valid_counts(db.session, contest.id) == {entries[0].id: 2, entries[1].id: 1}
    row = audit_rows("votes.release")[0]
    assert row.after["rule"] == {"vote_ids": sorted([held[0].id, held[2].id, valid.id])}
    assert row.before == {"status": {"held": 2}} and row.after["status"] == {"valid": 2}
    assert count_of(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.kind == "release")) == 2


def test_a_voided_vote_is_never_released(ballot, vote, organiser, clock):
    contest, entries = ballot
    held = vote(entries[0], "10.0.0.1", held=True)
    review.void_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[held.id], reason="刷票", now=clock.now())
    db.session.commit()
    with pytest.raises(InvalidInput) as caught:
        review.release_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[held.id], reason="误判",
                             now=clock.now())
    assert caught.value.code == "no_votes_matched"
    db.session.rollback()
    assert statuses([held]) == ["voided"]


def test_time_window_and_account_rules_void_the_right_votes(ballot, vote, organiser, clock, make_user):
    contest, entries = ballot
    farm = [make_user() for _ in range(2)]
    early = vote(entries[0], "10.0.0.1")
    clock.advance(hours=1)
    burst = [vote(entries[0], "10.0.0.2"), vote(entries[1], "10.0.0.3", voter=farm[0])]
    clock.advance(hours=1)
    late = [vote(entries[0], "10.0.0.4", voter=farm[1]), vote(entries[2], "10.0.0.5")]
    window = review.VoteRule(contest_id=contest.id, start=START + timedelta(minutes=30), end=START + timedelta(hours=1, minutes=30))
    assert review.void_votes(db.session, actor=organiser, contest_id=contest.id, rule=window, reason="异常时段",
                             now=clock.now()).changed == 2
    accounts_rule = review.VoteRule(contest_id=contest.id, phones=tuple(u.phone for u in farm))
    assert review.void_votes(db.session, actor=organiser, contest_id=contest.id, rule=accounts_rule, reason="刷票账号",
                             now=clock.now()).changed == 1  # farm[0]'s vote was already voided
    db.session.commit()
    assert statuses([early, *burst, *late]) == ["valid", "voided", "voided", "voided", "valid"]
    assert len(audit_rows("votes.void")) == 2


def test_a_confirmation_whose_count_has_changed_is_refused(ballot, vote, organiser, clock):
    contest, entries = ballot
    first = vote(entries[0], "10.0.0.1")
    rule = review.VoteRule(contest_id=contest.id, ip_range="10.0.0.0/24")
    assert review.preview_change(db.session, actor=organiser, contest_id=contest.id, to="voided", reason="刷票",
                                 rule=rule).count == 1
    second = vote(entries[0], "10.0.0.2")  # arrives between the preview and the confirmation
    with pytest.raises(review.SelectionChanged) as caught:
        review.void_votes(db.session, actor=organiser, contest_id=contest.id, rule=rule, reason="刷票", now=clock.now(),
                          expected_count=1)
    assert caught.value.status == 409 and caught.value.message == "符合条件的票数已从 1 变为 2，请核对后再确认。"
    db.session.rollback()
    assert statuses([first, second]) == ["valid", "valid"]


def test_picked_votes_of_another_contest_are_not_touched(ballot, vote, organiser, clock, make_contest, make_entry):
    contest, _entries = ballot
    elsewhere = make_contest(kind="media", stage="voting")
    foreign = vote(make_entry(elsewhere), "10.0.0.1")
    with pytest.raises(InvalidInput) as caught:
        review.void_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[foreign.id], reason="刷票", now=clock.now())
    assert caught.value.code == "no_votes_matched"
    db.session.rollback()
    assert statuses([foreign]) == ["valid"]


def test_the_ledger_still_verifies_after_voids_and_releases(ballot, vote, organiser, clock):
    contest, entries = ballot
    held = [vote(entries[0], f"10.0.1.{i}", held=True) for i in range(3)]
    valid = [vote(entries[1], f"10.0.2.{i}") for i in range(3)]
    clock.advance(seconds=10)
    assert ledger.seal_pending(db.session, now=clock.now()) is not None
    db.session.commit()
    review.release_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[held[0].id], reason="正常", now=clock.now())
    review.void_votes(db.session, actor=organiser, contest_id=contest.id, reason="刷票", now=clock.now(),
                      rule=review.VoteRule(contest_id=contest.id, ip_range="10.0.2.0/24"))
    review.void_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[held[1].id], reason="刷票", now=clock.now())
    db.session.commit()
    clock.advance(seconds=10)
    ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    report = ledger.verify_ledger(db.session)
    assert report.ok, report.problem
    assert report.events == 6 + 1 + 3 + 1
    assert statuses([*held, *valid]) == ["valid", "voided", "held", "voided", "voided", "voided"]


def test_only_organisers_and_admins(ballot, vote, make_user, clock):
    contest, entries = ballot
    v = vote(entries[0], "10.0.0.1", held=True)
    citizen = make_user("citizen")
    calls = [
        lambda actor: review.contests_with_voting(db.session, actor=actor, now=clock.now()),
        lambda actor: review.contest_overview(db.session, actor=actor, contest_id=contest.id),
        lambda actor: review.entry_report(db.session, actor=actor, entry_id=entries[0].id, now=clock.now()),
        lambda actor: review.preview_change(db.session, actor=actor, contest_id=contest.id, to="voided", reason="x", vote_ids=[v.id]),
        lambda actor: review.void_votes(db.session, actor=actor, contest_id=contest.id, reason="x", vote_ids=[v.id], now=clock.now()),
        lambda actor: review.release_votes(db.session, actor=actor, contest_id=contest.id, reason="x", vote_ids=[v.id], now=clock.now()),
    ]
    for call in calls:
        for actor in (None, citizen):
            with pytest.raises(Forbidden):
                call(actor)
    assert statuses([v]) == ["held"]
    admin = make_user("admin")
    assert review.release_votes(db.session, actor=admin, contest_id=contest.id, reason="正常", vote_ids=[v.id],
                                now=clock.now()).changed == 1


# --- reports -----------------------------------------------------------------------------

def test_votes_per_hour_and_top_sources(ballot, vote, organiser, clock, make_user):
    contest, entries = ballot
    entry = entries[0]
    shared = make_user()
    times_and_ips = [
        (datetime(2023, 5, 16, 8, 5), "10.0.0.1", False, "dev-a"),
        (datetime(2023, 5, 16, 8, 40), "10.0.0.1", True, "dev-a"),
        (datetime(2023, 5, 16, 8, 59, 59), "10.0.0.2", False, "dev-a"),
        (datetime(2023, 5, 16, 9, 0), "10.0.1.1", True, "dev-b"),
        (datetime(2023, 5, 16, 9, 30), "2001:db8::1", False, ""),
        (datetime(2023, 5, 16, 11, 15), "10.0.0.1", False, "dev-c"),
    ]
    cast = []
    for at, ip, held, device in times_and_ips:
        clock.set(at.replace(tzinfo=LOCAL_TZ))
        cast.append(vote(entry, ip, held=held, device=device))
    clock.set(datetime(2023, 5, 16, 11, 20, tzinfo=LOCAL_TZ))
    vote(entries[1], "10.0.0.1", voter=shared)  # another entry: not in this report
    review.void_votes(db.session, actor=organiser, contest_id=contest.id, vote_ids=[cast[2].id], reason="刷票", now=clock.now())
    db.session.commit()

    report = review.entry_report(db.session, actor=organiser, entry_id=entry.id, now=clock.now(), hours=24)
    assert report.period_end == datetime(2023, 5, 16, 12, 0, tzinfo=LOCAL_TZ)
    assert report.period_start == datetime(2023, 5, 15, 12, 0, tzinfo=LOCAL_TZ)
    assert len(report.hours) == 24
    by_hour = {b.start.astimezone(LOCAL_TZ).hour: (b.valid, b.held, b.voided) for b in report.hours if b.total}
    assert by_hour == {8: (1, 1, 1), 9: (1, 1, 0), 11: (1, 0, 0)}
    assert report.busiest is not None and report.busiest.start == datetime(2023, 5, 16, 8, 0, tzinfo=LOCAL_TZ)
    assert report.totals == {"valid": 3, "held": 2, "voided": 1}

    assert [(s.key, s.votes, s.voters, s.valid, s.held, s.voided) for s in report.top_ips] == [
        ("10.0.0.1", 3, 3, 2, 1, 0), ("10.0.0.2", 1, 1, 0, 0, 1), ("10.0.1.1", 1, 1, 0, 1, 0), ("2001:db8::1", 1, 1, 1, 0, 0)]
    subnets = {s.key: s.votes for s in report.top_subnets}
    assert subnets == {"10.0.0.0/24": 4, "10.0.1.0/24": 1, "2001:db8::/64": 1}
    devices = [(s.key, s.voters, s.votes) for s in report.top_devices]
    assert devices == [("dev-a", 3, 3), ("dev-b", 1, 1), ("dev-c", 1, 1)]  # most voters first; no empty device
    assert [h.vote.id for h in report.held] == [cast[3].id, cast[1].id]  # newest first
    assert report.held[0].vote.reasons == ["subnet_velocity"] and "****" in report.held[0].voter_label


def test_the_default_period_is_the_voting_window_up_to_now(ballot, organiser, clock):
    contest, entries = ballot
    report = review.entry_report(db.session, actor=organiser, entry_id=entries[0].id, now=clock.now())
    start, _end = contest.window("voting")
    assert report.whole_window
    assert report.period_start == start.replace(minute=0, second=0, microsecond=0)
    assert report.period_end == START + timedelta(hours=1)
    assert all(b.total == 0 for b in report.hours)


def test_contest_overview_puts_held_and_suspicious_entries_first(ballot, vote, organiser):
    contest, entries = ballot
    for _ in range(3):
        vote(entries[0], "10.0.0.1")
    vote(entries[1], "10.0.0.2", held=True)
    vote(entries[1], "10.0.0.3")
    overview = review.contest_overview(db.session, actor=organiser, contest_id=contest.id)
    assert [e.entry_id for e in overview.entries] == [entries[1].id, entries[0].id]  # no votes, no row
    first = overview.entries[0]
    assert (first.valid, first.held, first.voided, first.max_risk) == (1, 1, 0, 80)
    listed = review.contests_with_voting(db.session, actor=organiser, now=START)
    row = next(item for item in listed if item.contest.id == contest.id)
    assert (row.valid, row.held, row.voided) == (4, 1, 0)
    # a contest with more entries than the overview lists: the ones most in need of a look
    first_only = review.contest_overview(db.session, actor=organiser, contest_id=contest.id, rows=1)
    assert [e.entry_id for e in first_only.entries] == [entries[1].id] and first_only.more == 1
    assert overview.more == 0
