"""The fraud review pages: access, the entry report, preview then confirm, and bad input."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent, User
from contest.antifraud.service import Verdict, subnet_of
from contest.clock import LOCAL_TZ
from contest.extensions import db
from contest.voting import ledger, live
from contest.voting import service as voting
from contest.voting.models import LedgerEvent, Vote
from tests.conftest import csrf_token, login, redis_client
from tests.site.isolation import committed


@pytest.fixture
def ballot(make_contest, make_entry):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="media", stage="voting", title="全民美拍测试")
    return contest, [make_entry(contest, title=f"美拍作品{i}") for i in range(1, 4)]


@pytest.fixture
def vote(make_user, clock):  # type: ignore[no-untyped-def]
    def cast(entry, ip: str, *, voter: User | None = None, held: bool = False, device: str = "") -> Vote:
        verdict = Verdict(action="hold", score=70, reasons=("shared_device",)) if held else Verdict()
        context = voting.VoteContext(ip=ip, subnet=subnet_of(ip), device_id=device, user_agent="Mozilla/5.0")
        result = voting.record_vote(db.session, voter=voter or make_user(), entry_id=entry.id, now=clock.now(),
                                  verdict=verdict, context=context)
        db.session.commit()
        return result.vote
    return cast


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def statuses(votes: list[Vote]) -> list[str]:
    with db.engine.connect() as conn:
        found = dict(conn.execute(select(Vote.id, Vote.status).where(Vote.id.in_([v.id for v in votes]))).all())
    return [found[v.id] for v in votes]


def changes_recorded() -> tuple[int, int]:
    """(void and release ledger events, votes.* audit rows), committed."""
    return (committed(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.kind != "cast")),
            committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action.like("votes.%"))))


def post(client: FlaskClient, entry_id: int, action: str, data: dict[str, Any]) -> Any:
    token = csrf_token(client, f"/admin/fraud/entries/{entry_id}")
    return client.post(f"/admin/fraud/entries/{entry_id}/{action}", data={"csrf_token": token, **data})


HIDDEN = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')


def confirm_fields(page: str) -> list[tuple[str, str]]:
    """The hidden fields of the confirmation form, as the browser would send them."""
    form = page[page.index('class="confirm-form"'):]
    return [(k, v.replace("&#34;", '"').replace("&#39;", "'").replace("&amp;", "&").replace("&lt;", "<").replace("&gt;", ">"))
            for k, v in HIDDEN.findall(form) if k != "csrf_token"]


def confirm(client: FlaskClient, entry_id: int, action: str, page: str) -> Any:
    token = csrf_token(client, f"/admin/fraud/entries/{entry_id}")
    data: dict[str, list[str]] = {"csrf_token": [token]}
    for key, value in confirm_fields(page):
        data.setdefault(key, []).append(value)
    return client.post(f"/admin/fraud/entries/{entry_id}/{action}", data=data)


# --- access ------------------------------------------------------------------------------

def pages(contest, entry) -> list[str]:  # type: ignore[no-untyped-def]
    return ["/admin/fraud/", f"/admin/fraud/{contest.id}", f"/admin/fraud/entries/{entry.id}"]


def test_anonymous_visitors_are_sent_to_login(client, ballot):
    contest, entries = ballot
    for path in pages(contest, entries[0]):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/account/login?next="), path
    for action in ("void", "release"):
        assert client.post(f"/admin/fraud/entries/{entries[0].id}/{action}").status_code in (302, 400)


def test_a_citizen_gets_403_and_changes_nothing(client, ballot, make_user, vote):
    contest, entries = ballot
    v = vote(entries[0], "10.0.0.1", held=True)
    login(client, make_user("citizen"))
    for path in pages(contest, entries[0]):
        assert client.get(path).status_code == 403, path
    token = csrf_token(client, "/")
    for action in ("void", "release"):
        response = client.post(f"/admin/fraud/entries/{entries[0].id}/{action}",
                               data={"csrf_token": token, "mode": "pick", "vote_ids": [str(v.id)], "reason": "x", "confirm": "1"})
        assert response.status_code == 403
    assert statuses([v]) == ["held"] and changes_recorded() == (0, 0)


def test_the_back_office_has_a_tab(client, organiser, ballot):
    page = html(client.get("/admin/"))
    assert 'href="/admin/fraud/"' in page and "刷票审查" in page


# --- pages -------------------------------------------------------------------------------

def test_index_and_contest_overview(client, organiser, ballot, vote):
    contest, entries = ballot
    vote(entries[0], "10.0.0.1")
    vote(entries[1], "10.0.0.2", held=True)
    index = html(client.get("/admin/fraud/"))
    assert "全民美拍测试" in index and f'href="/admin/fraud/{contest.id}"' in index
    overview = client.get(f"/admin/fraud/{contest.id}")
    assert overview.status_code == 200
    body = html(overview)
    assert body.index("美拍作品2") < body.index("美拍作品1")  # the entry with a held vote comes first
    assert "美拍作品3" not in body  # no votes
    assert client.get("/admin/fraud/999999").status_code == 404


def test_the_entry_report_shows_the_chart_sources_and_held_votes(client, organiser, ballot, vote, clock):
    contest, entries = ballot
    clock.set(datetime(2023, 5, 16, 8, 10, tzinfo=LOCAL_TZ))
    vote(entries[0], "10.0.0.1", device="device-aaaa-1")
    clock.set(datetime(2023, 5, 16, 9, 20, tzinfo=LOCAL_TZ))
    held = vote(entries[0], "10.0.0.1", held=True, device="device-aaaa-1")
    response = client.get(f"/admin/fraud/entries/{entries[0].id}")
    assert response.status_code == 200
    page = html(response)
    assert '<svg class="hour-chart' in page and 'role="img"' in page and 'aria-labelledby="chart-svg-title chart-svg-desc"' in page
    assert "共 2 票：有效 1，待审 1，作废 0。" in page
    assert "5月16日 09:00–10:00：有效 0 票，待审 1 票，作废 0 票" in page
    assert 'class="bar-valid"' in page and 'class="bar-held"' in page
    assert "<code>10.0.0.1</code>" in page and "10.0.0.0/24" in page and "device-aa" in page
    assert f'name="vote_ids" value="{held.id}"' in page and "一台设备上多个账号投票" in page and "shared_device" not in page
    assert "<script" not in re.sub(r'<script src="/static/js/fraud\.js\?v=[0-9a-f]{12}" defer></script>', "", page)
    assert 'style="' not in page  # the content security policy allows no inline styles
    assert client.get(f"/admin/fraud/entries/{entries[0].id}?hours=24").status_code == 200
    assert client.get("/admin/fraud/entries/999999").status_code == 404


def test_a_source_link_fills_in_the_rule(client, organiser, ballot, vote):
    _contest, entries = ballot
    vote(entries[0], "10.0.0.1")
    page = html(client.get(f"/admin/fraud/entries/{entries[0].id}?ip_range=10.0.0.0/24"))
    assert 'name="ip_range" value="10.0.0.0/24"' in page


def test_the_entry_report_runs_a_bounded_number_of_queries(client, organiser, ballot, vote, count_queries):
    _contest, entries = ballot

    def queries() -> int:
        with count_queries() as statements:
            assert client.get(f"/admin/fraud/entries/{entries[0].id}").status_code == 200
        return len(statements)

    for i in range(3):
        vote(entries[0], f"10.0.{i}.1", held=i % 2 == 0, device=f"d{i}")
    few = queries()
    for i in range(3, 30):
        vote(entries[0], f"10.0.{i}.1", held=i % 2 == 0, device=f"d{i % 7}")
    assert queries() == few
    assert few <= 17  # two of them: the scope check (the person's roles in units, the entry's contest)


# --- void and release: preview, then confirm ---------------------------------------------

def test_void_by_ip_range_previews_then_voids_exactly_those_votes(app, client, organiser, ballot, vote):
    contest, entries = ballot
    inside = [vote(entries[0], "203.0.113.5"), vote(entries[0], "203.0.113.77", held=True)]
    elsewhere = vote(entries[1], "203.0.113.9")  # same range, another entry
    outside = vote(entries[0], "203.0.114.5")
    redis = redis_client(app)
    if redis is not None:
        live.rebuild(db.session, redis, contest.id)
    ids = [e.id for e in entries]
    assert live.counts_for(db.session, redis, contest, ids) == {ids[0]: 2, ids[1]: 1, ids[2]: 0}
    rule = {"mode": "rule", "scope": "entry", "ip_range": "203.0.113.0/24", "reason": "同一网段集中刷票"}
    preview = post(client, entries[0].id, "void", rule)
    assert preview.status_code == 200
    page = html(preview)
    assert "将作废 2 票" in page and "确认作废 2 票" in page and "IP 段 203.0.113.0/24" in page
    assert statuses([*inside, elsewhere, outside]) == ["valid", "held", "valid", "valid"]
    assert changes_recorded() == (0, 0)

    done = confirm(client, entries[0].id, "void", page)
    assert done.status_code == 302 and done.headers["Location"] == f"/admin/fraud/entries/{entries[0].id}"
    assert statuses([*inside, elsewhere, outside]) == ["voided", "voided", "valid", "valid"]
    assert changes_recorded() == (2, 1)
    row = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "votes.void"))
    assert row.after["count"] == 2 and row.after["rule"]["ip_range"] == "203.0.113.0/24" and row.actor_id == organiser.id
    assert "已作废 2 票。" in html(client.get(done.headers["Location"]))
    assert voting.valid_counts(db.session, contest.id) == {entries[0].id: 1, entries[1].id: 1}
    db.session.expire_all()
    assert live.counts_for(db.session, redis, contest, ids) == {ids[0]: 1, ids[1]: 1, ids[2]: 0}  # the live board follows


def test_the_whole_contest_scope(client, organiser, ballot, vote):
    _contest, entries = ballot
    votes = [vote(entries[0], "203.0.113.5"), vote(entries[1], "203.0.113.9"), vote(entries[2], "203.0.114.9")]
    page = html(post(client, entries[0].id, "void", {"mode": "rule", "scope": "contest", "ip_range": "203.0.113.0/24",
                                                      "reason": "刷票"}))
    assert "将作废 2 票" in page and "美拍作品2" in page
    assert confirm(client, entries[0].id, "void", page).status_code == 302
    assert statuses(votes) == ["voided", "voided", "valid"]


def test_release_of_ticked_held_votes_makes_them_count(client, organiser, ballot, vote):
    contest, entries = ballot
    held = [vote(entries[0], "10.0.0.1", held=True), vote(entries[0], "10.0.0.2", held=True)]
    assert voting.valid_counts(db.session, contest.id) == {}
    page = html(post(client, entries[0].id, "release", {"mode": "pick", "vote_ids": [str(held[0].id)], "reason": "核实为本人投票"}))
    assert "将放行 1 票" in page
    assert confirm(client, entries[0].id, "release", page).status_code == 302
    assert statuses(held) == ["valid", "held"]
    db.session.expire_all()
    assert voting.valid_counts(db.session, contest.id) == {entries[0].id: 1}
    assert changes_recorded() == (1, 1)


def test_void_of_ticked_votes(client, organiser, ballot, vote):
    _contest, entries = ballot
    held = [vote(entries[0], "10.0.0.1", held=True), vote(entries[0], "10.0.0.2", held=True)]
    page = html(post(client, entries[0].id, "void", {"mode": "pick", "vote_ids": [str(v.id) for v in held], "reason": "刷票"}))
    assert "将作废 2 票" in page
    assert confirm(client, entries[0].id, "void", page).status_code == 302
    assert statuses(held) == ["voided", "voided"]


def test_time_window_in_beijing_time(client, organiser, ballot, vote, clock):
    _contest, entries = ballot
    cast = []
    for hour in (8, 9, 10):
        clock.set(datetime(2023, 5, 16, hour, 15, tzinfo=LOCAL_TZ))
        cast.append(vote(entries[0], "10.0.0.1"))
    page = html(post(client, entries[0].id, "void", {"mode": "rule", "start": "2023-05-16T09:00", "end": "2023-05-16T10:00",
                                                      "reason": "凌晨集中投票"}))
    assert "将作废 1 票" in page and "时间 2023-05-16 09:00 至 2023-05-16 10:00" in page
    assert confirm(client, entries[0].id, "void", page).status_code == 302
    assert statuses(cast) == ["valid", "voided", "valid"]


def test_account_list_rule(client, organiser, ballot, vote, make_user):
    _contest, entries = ballot
    farm = [make_user(), make_user()]
    votes = [vote(entries[0], "10.0.0.1", voter=farm[0]), vote(entries[0], "10.0.0.2", voter=farm[1]), vote(entries[0], "10.0.0.3")]
    phones = f"{farm[0].phone}\n{farm[1].phone}, 13999999999"
    page = html(post(client, entries[0].id, "void", {"mode": "rule", "phones": phones, "reason": "刷票账号"}))
    assert "将作废 2 票" in page and "以下手机号没有注册账号，已忽略：13999999999" in page
    assert confirm(client, entries[0].id, "void", page).status_code == 302
    assert statuses(votes) == ["voided", "voided", "valid"]


def test_a_changed_count_between_preview_and_confirm_is_shown_again(client, organiser, ballot, vote):
    _contest, entries = ballot
    first = vote(entries[0], "10.0.0.1")
    page = html(post(client, entries[0].id, "void", {"mode": "rule", "ip_range": "10.0.0.0/24", "reason": "刷票"}))
    assert "将作废 1 票" in page
    second = vote(entries[0], "10.0.0.2")
    again = confirm(client, entries[0].id, "void", page)
    assert again.status_code == 409
    text = html(again)
    assert "符合条件的票数已从 1 变为 2，请核对后再确认。" in text and "将作废 2 票" in text
    assert statuses([first, second]) == ["valid", "valid"] and changes_recorded() == (0, 0)
    assert confirm(client, entries[0].id, "void", text).status_code == 302
    assert statuses([first, second]) == ["voided", "voided"]


# --- bad input ---------------------------------------------------------------------------

@pytest.mark.parametrize("confirmed", [False, True])
def test_an_invalid_cidr_is_a_400_and_nothing_changes(client, organiser, ballot, vote, confirmed):
    _contest, entries = ballot
    v = vote(entries[0], "10.0.0.1")
    data = {"mode": "rule", "ip_range": "10.0.0.0/33", "reason": "刷票", **({"confirm": "1"} if confirmed else {})}
    response = post(client, entries[0].id, "void", data)
    assert response.status_code == 400
    page = html(response)
    assert "IP 段格式不正确，请填写如 203.0.113.0/24 的网段或单个 IP 地址。" in page
    assert 'name="ip_range" value="10.0.0.0/33"' in page  # the form comes back as typed
    assert statuses([v]) == ["valid"] and changes_recorded() == (0, 0)


@pytest.mark.parametrize("action, message", [("void", "请填写作废原因"), ("release", "请填写放行原因")])
@pytest.mark.parametrize("confirmed", [False, True])
def test_a_missing_reason_is_a_400_and_nothing_changes(client, organiser, ballot, vote, action, message, confirmed):
    _contest, entries = ballot
    v = vote(entries[0], "10.0.0.1", held=True)
    data = {"mode": "pick", "vote_ids": [str(v.id)], "reason": "  ", **({"confirm": "1"} if confirmed else {})}
    response = post(client, entries[0].id, action, data)
    assert response.status_code == 400
    assert message in html(response)
    assert statuses([v]) == ["held"] and changes_recorded() == (0, 0)


def test_other_bad_input(client, organiser, ballot, vote):
    _contest, entries = ballot
    v = vote(entries[0], "10.0.0.1")
    cases = [
        ({"mode": "rule", "reason": "刷票"}, 400, "请至少设置一个条件：IP 段、时间段或账号。"),
        ({"mode": "rule", "start": "2023-05-16T12:00", "end": "2023-05-16T11:00", "reason": "刷票"}, 400, "结束时间必须晚于开始时间。"),
        ({"mode": "rule", "start": "昨天", "reason": "刷票"}, 400, "时间格式不正确，请选择日期和时间。"),
        ({"mode": "rule", "phones": "12345", "reason": "刷票"}, 400, "手机号“12345”格式不正确"),
        ({"mode": "pick", "reason": "刷票"}, 400, "请先勾选要处理的票。"),
        ({"mode": "pick", "vote_ids": ["abc"], "reason": "刷票"}, 400, "请先勾选要处理的票。"),
        ({"mode": "rule", "ip_range": "10.0.0.0/24", "reason": "长" * 301}, 400, "原因不能超过 300 个字。"),
    ]
    for data, status, message in cases:
        response = post(client, entries[0].id, "void", data)
        assert response.status_code == status, data
        assert message in html(response), data
    assert statuses([v]) == ["valid"] and changes_recorded() == (0, 0)
    # without its CSRF token
    response = client.post(f"/admin/fraud/entries/{entries[0].id}/void",
                           data={"mode": "pick", "vote_ids": [str(v.id)], "reason": "刷票", "confirm": "1"})
    assert response.status_code == 400
    assert statuses([v]) == ["valid"] and changes_recorded() == (0, 0)


def test_the_ledger_verifies_after_voids_and_releases_through_the_pages(client, organiser, ballot, vote, clock):
    _contest, entries = ballot
    held = vote(entries[0], "10.0.0.1", held=True)
    vote(entries[0], "10.0.0.2")
    clock.advance(seconds=5)
    ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    assert confirm(client, entries[0].id, "release", html(post(client, entries[0].id, "release",
                   {"mode": "pick", "vote_ids": [str(held.id)], "reason": "正常"}))).status_code == 302
    assert confirm(client, entries[0].id, "void", html(post(client, entries[0].id, "void",
                   {"mode": "rule", "ip_range": "10.0.0.0/24", "reason": "刷票"}))).status_code == 302
    clock.advance(seconds=5)
    ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    report = ledger.verify_ledger(db.session)
    assert report.ok, report.problem
    assert report.blocks == 2 and report.events == 5
