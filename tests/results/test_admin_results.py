"""The organisers' results desk: access, the formula lock, publishing by two organisers,
objections, exports (CSV / XLSX), certificates (PDF) and the `flask results` commands."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import dataclass
from datetime import date
from typing import Any
from urllib.parse import quote

import openpyxl
import pytest
from flask import Flask
from flask.testing import FlaskClient
from markupsafe import escape
from PIL import Image
from sqlalchemy import func, select

from contest.accounts.actors import SYSTEM
from contest.accounts.models import AuditEvent, User
from contest.contests.models import Contest, Entry
from contest.errors import Forbidden
from contest.extensions import db
from contest.jobs import jobs_of
from contest.judging import service as judging
from contest.judging.models import Round
from contest.media import withdrawals
from contest.results import certificates, exports
from contest.results import service as results
from contest.results.models import FormulaChange, Objection, PreparedFile, Publication, ResultFormula
from contest.typesetting import resolve_font
from contest.voting import ledger
from contest.voting import service as voting
from tests.conftest import csrf_token, fixture_unit, sign_in_id
from tests.site.isolation import committed

RUBRIC = [judging.CriterionFields("事迹感染力", 60, 60), judging.CriterionFields("技能水平", 40, 40)]
INJECTED_TITLE = "=HYPERLINK(\"http://x\",\"点我\")"
INJECTED_COMMENT = "@SUM(A1:A9) 表现突出"
OPEN_ROUND_COMMENT = "未定稿轮次里的评语"


def sign_in(client: FlaskClient, user: User) -> None:
    """Sign in through the session cookie (the login form is covered by tests/admin)."""
    with client.session_transaction() as session:
        session["_user_id"] = sign_in_id(user)
        session["_fresh"] = True


def html(response: Any) -> str:
    return response.get_data(as_text=True)


@dataclass
class World:
    contest: Contest
    entries: list[Entry]
    votes: dict[int, tuple[int, int, int]]  # entry id → (valid, held, voided)
    expert: Round
    extra: Round
    judges: list[User]
    org_a: User
    org_b: User
    citizen: User

    @property
    def base(self) -> str:
        return f"/admin/results/{self.contest.slug}"


def _score(judge: User, rnd: Round, entry_id: int, part: float, clock: Any, comment: str = "") -> None:
    values = {str(c.id): round(c.maximum * part * 2) / 2 for c in rnd.criteria}
    judging.save_score(db.session, judge=judge, rnd=rnd, entry_id=entry_id, raw_values=values, comment=comment,
                       submit=True, now=clock.now())


@pytest.fixture
def world(app: Flask, clock: Any, make_user: Any, make_contest: Any, make_entry: Any, make_school: Any) -> World:
    """A 最美职校生 selection in its voting stage: four nominees (the third with a title
    that looks like a formula), votes (valid, one held, one voided), a finalised 专家评审
    round without the fourth nominee, and a second round still open."""
    society, bureau = fixture_unit(clock, "济南市中华职业教育社"), fixture_unit(clock, "济南市教育局")
    contest = make_contest(kind="selection", stage="voting", slug="zuimei-test", title="济南市“最美职校生”网络评选活动",
                           categories=(), unit_id=society.id, co_unit_ids=(bureau.id,))
    schools = [make_school(f"济南测试职业学校{i}") for i in range(1, 3)]
    titles = ["匠心筑梦的护理之星", "数控车间里的追光少年", INJECTED_TITLE, "乡村振兴的电商新农人"]
    entries = [make_entry(contest, title=t, school=schools[i % 2], nominee=f"学生{i + 1}") for i, t in enumerate(titles)]
    org_a = make_user("organiser", name="组织者甲", unit=society)
    org_b = make_user("organiser", name="组织者乙", unit=society)
    citizen = make_user("citizen")
    judges = [make_user("judge", name=f"评委{i}") for i in (1, 2)]
    now = clock.now()
    valid = {entries[0].id: 3, entries[1].id: 2, entries[2].id: 1, entries[3].id: 1}
    for entry in entries:
        for _n in range(valid[entry.id]):
            voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=now)
            db.session.commit()
    held = voting.record_vote(db.session, voter=make_user(), entry_id=entries[1].id, now=now,
                            verdict=voting.Verdict(action="hold", score=70, reasons=("shared_device",)))
    voided = voting.record_vote(db.session, voter=make_user(), entry_id=entries[2].id, now=now)
    db.session.commit()
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[voided.vote.id], to="voided", reason="同一设备多账号", now=now)
    db.session.commit()
    assert held.vote.status == "held"
    votes = {entries[0].id: (3, 0, 0), entries[1].id: (2, 1, 0), entries[2].id: (1, 0, 1), entries[3].id: (1, 0, 0)}

    expert = judging.create_round(db.session, actor=org_a, contest=contest, now=now, criteria=RUBRIC,
                                  fields=judging.RoundFields(key="expert", name="专家评审", judges_per_entry=2))
    extra = judging.create_round(db.session, actor=org_a, contest=contest, now=now, criteria=RUBRIC,
                                 fields=judging.RoundFields(key="extra", name="复核评审", judges_per_entry=2, position=1))
    for rnd, scored in ((expert, entries[:3]), (extra, entries[:1])):
        judging.add_entries(db.session, actor=org_a, rnd=rnd, entry_ids=[e.id for e in scored], now=now)
        for judge in judges:
            judging.add_judge(db.session, actor=org_a, rnd=rnd, user=judge, now=now)
        judging.set_state(db.session, actor=org_a, rnd=rnd, state="open", now=now)
        for judge in judges:
            judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=now)
    for part, entry in zip((0.9, 0.8, 0.7), entries[:3], strict=True):
        for judge in judges:
            comment = INJECTED_COMMENT if entry is entries[0] and judge is judges[0] else "材料翔实"
            _score(judge, expert, entry.id, part, clock, comment)
    _score(judges[0], extra, entries[0].id, 0.5, clock, OPEN_ROUND_COMMENT)
    judging.set_state(db.session, actor=org_a, rnd=expert, state="closed", now=now)
    judging.set_state(db.session, actor=org_a, rnd=expert, state="finalised", now=now)
    db.session.commit()
    # the sealer daemon's work
    clock.advance(seconds=10)
    ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    return World(contest, entries, votes, expert, extra, judges, org_a, org_b, citizen)


def after_voting(clock: Any) -> None:
    clock.advance(days=3)


def post(client: FlaskClient, url: str, data: dict[str, Any] | None = None, page: str = "/") -> Any:
    return client.post(url, data={"csrf_token": csrf_token(client, page), **(data or {})})


def state_of(publication_id: int) -> str:
    return committed(select(Publication.state).where(Publication.id == publication_id))


def publish(client: FlaskClient, w: World) -> int:
    """Organiser A requests, organiser B confirms: the results are in 公示."""
    sign_in(client, w.org_a)
    assert post(client, f"{w.base}/request", {"publicity_days": "5"}, f"{w.base}/").status_code == 302
    publication_id = committed(select(Publication.id).where(Publication.contest_id == w.contest.id))
    sign_in(client, w.org_b)
    assert post(client, f"{w.base}/publications/{publication_id}/confirm", page=f"{w.base}/").status_code == 302
    return publication_id


# --- access -----------------------------------------------------------------------------


def organiser_urls(w: World) -> tuple[list[str], list[str]]:
    gets = [
        "/admin/results/", f"{w.base}/", f"{w.base}/formula", f"{w.base}/objections", f"{w.base}/versions",
        f"{w.base}/versions/1", f"{w.base}/exports", f"{w.base}/certificates", f"{w.base}/certificates/{w.entries[0].id}.pdf",
        f"{w.base}/objections/1/evidence/1",
    ] + [f"{w.base}/export/{what}.{fmt}" for what in exports.WHATS for fmt in exports.FORMATS]
    posts = [f"{w.base}/formula", f"{w.base}/request", f"{w.base}/publications/1/confirm", f"{w.base}/publications/1/cancel",
             f"{w.base}/publications/1/finalise", f"{w.base}/objections/1/answer"]
    return gets, posts


@pytest.mark.parametrize("role", ["citizen", "judge"])
def test_citizens_and_judges_get_403_everywhere(client: FlaskClient, world: World, role: str) -> None:
    sign_in(client, world.citizen if role == "citizen" else world.judges[0])
    gets, posts = organiser_urls(world)
    for url in gets:
        assert client.get(url).status_code == 403, url
    for url in posts:
        response = post(client, url, {"publicity_days": "5", "answer": "答复内容足够长", "outcome": "rejected"})
        assert response.status_code == 403, url
    assert committed(select(func.count()).select_from(Publication)) == 0
    assert committed(select(func.count()).select_from(ResultFormula)) == 0


def test_signed_out_visitors_are_sent_to_the_login(client: FlaskClient, world: World) -> None:
    response = client.get(f"{world.base}/export/results.csv")
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]


# --- publishing by two organisers ---------------------------------------------------------------


def test_the_requester_cannot_confirm_a_second_organiser_can(client: FlaskClient, world: World, clock: Any) -> None:
    after_voting(clock)
    sign_in(client, world.org_a)
    page = html(client.get(f"{world.base}/"))
    assert "以下问题解决前不能发布" not in page and "提交发布" in page
    response = post(client, f"{world.base}/request", {"publicity_days": "5"}, f"{world.base}/")
    assert response.status_code == 302
    publication_id = committed(select(Publication.id).where(Publication.contest_id == world.contest.id))
    assert state_of(publication_id) == "pending"

    page = html(client.get(f"{world.base}/"))
    assert "您本人不能确认" in page and f"/publications/{publication_id}/confirm" not in page
    refused = post(client, f"{world.base}/publications/{publication_id}/confirm", page=f"{world.base}/")
    assert refused.status_code == 403
    assert "发布结果需要另一位组织者确认，不能由提交人本人确认。" in html(refused)
    assert state_of(publication_id) == "pending"

    sign_in(client, world.org_b)
    assert f"/publications/{publication_id}/confirm" in html(client.get(f"{world.base}/"))
    confirmed = post(client, f"{world.base}/publications/{publication_id}/confirm", page=f"{world.base}/")
    assert confirmed.status_code == 302
    assert state_of(publication_id) == "publicity"
    actions = set(db.session.scalars(select(AuditEvent.action).where(AuditEvent.action.like("results.%"))))
    assert {"results.request", "results.publish"} <= actions

    # 公示 runs five days: finalising earlier is refused with the service's message
    early = post(client, f"{world.base}/publications/{publication_id}/finalise", page=f"{world.base}/")
    assert early.status_code == 409 and "公示期尚未结束。" in html(early)
    clock.advance(days=5, seconds=1)
    assert post(client, f"{world.base}/publications/{publication_id}/finalise", page=f"{world.base}/").status_code == 302
    assert state_of(publication_id) == "final"
    versions = html(client.get(f"{world.base}/versions"))
    assert "第 1 版" in versions and "最终结果" in versions


def test_posts_without_the_csrf_token_are_refused(client: FlaskClient, world: World, clock: Any) -> None:
    after_voting(clock)
    sign_in(client, world.org_a)
    response = client.post(f"{world.base}/request", data={"publicity_days": "5"})
    assert response.status_code == 400 and "页面已过期或来源不明" in html(response)
    assert committed(select(func.count()).select_from(Publication)) == 0


def test_publishing_during_voting_is_refused_and_nothing_is_stored(client: FlaskClient, world: World) -> None:
    sign_in(client, world.org_a)
    response = post(client, f"{world.base}/request", {"publicity_days": "5"}, f"{world.base}/")
    assert response.status_code == 409 and "投票尚未结束，不能发布结果。" in html(response)
    bad_days = post(client, f"{world.base}/request", {"publicity_days": "99"}, f"{world.base}/")
    assert bad_days.status_code == 400 and "公示期应为 1 到 30 天。" in html(bad_days)
    assert committed(select(func.count()).select_from(Publication)) == 0


def test_a_cancelled_request_can_be_requested_again(client: FlaskClient, world: World, clock: Any) -> None:
    after_voting(clock)
    sign_in(client, world.org_a)
    post(client, f"{world.base}/request", {"publicity_days": "3"}, f"{world.base}/")
    publication_id = committed(select(Publication.id))
    assert post(client, f"{world.base}/publications/{publication_id}/cancel", page=f"{world.base}/").status_code == 302
    assert state_of(publication_id) == "cancelled"
    assert post(client, f"{world.base}/request", {"publicity_days": "3"}, f"{world.base}/").status_code == 302
    assert committed(select(func.max(Publication.version))) == 2


# --- the formula -------------------------------------------------------------------------------

def formula_fields(**changes: str) -> dict[str, str]:
    fields = {"f_vote_weight": "30", "f_expert_weight": "70", "f_vote_scoring": "max", "f_expert_round": "expert",
              "f_awards_0_name": "最美职校生", "f_awards_0_mode": "count", "f_awards_0_value": "2",
              "f_awards_1_name": "提名奖", "f_awards_1_mode": "count", "f_awards_1_value": "1", "mode": "fields"}
    fields.update(changes)
    return fields


def test_a_formula_change_after_voting_opened_needs_the_override_and_a_reason(client: FlaskClient, world: World) -> None:
    sign_in(client, world.org_a)
    url = f"{world.base}/formula"
    page = html(client.get(url))
    assert "特别变更" in page and "公式已锁定" in page

    refused = post(client, url, formula_fields(f_vote_weight="40", f_expert_weight="60"), url)
    assert refused.status_code == 409
    assert "计分公式已锁定" in html(refused)
    no_reason = post(client, url, formula_fields(f_vote_weight="40", f_expert_weight="60", override="1"), url)
    assert no_reason.status_code == 400 and "特别变更必须说明理由" in html(no_reason)
    assert committed(select(func.count()).select_from(FormulaChange)) == 0

    reason = "专家评审名额调整，经组委会研究决定"
    saved = post(client, url, formula_fields(f_vote_weight="40", f_expert_weight="60", override="1", reason=reason), url)
    assert saved.status_code == 302
    stored = committed(select(ResultFormula.formula).where(ResultFormula.contest_id == world.contest.id))
    assert (json.loads(stored) if isinstance(stored, str) else stored)["vote_weight"] == 40
    assert committed(select(FormulaChange.reason).where(FormulaChange.is_override.is_(True))) == reason
    assert committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "results.formula_override")) == 1
    listed = html(client.get(url))
    assert reason in listed and "特别变更（公开）" in listed


def test_formula_json_editor_explains_refusals(client: FlaskClient, world: World) -> None:
    sign_in(client, world.org_a)
    url = f"{world.base}/formula"
    broken = post(client, url, {"mode": "json", "formula_json": "{\"vote_weight\": 30,", "override": "1",
                                "reason": "测试 JSON 的错误提示"}, url)
    assert broken.status_code == 400 and "JSON 格式有误" in html(broken)
    wrong_sum = post(client, url, {"mode": "json", "formula_json": json.dumps({"vote_weight": 50, "expert_weight": 70}),
                                   "override": "1", "reason": "测试权重之和的提示"}, url)
    assert wrong_sum.status_code == 400 and "投票权重与专家权重之和必须为 100%" in html(wrong_sum)
    assert committed(select(func.count()).select_from(FormulaChange)) == 0


# --- exports -------------------------------------------------------------------------------------

EXPECTED_HEADERS = {
    "results": ["名次", "作品", "学校", "有效票", "待审票", "作废票", "投票得分", "专家评审得分", "最终得分", "奖项"],
    "votes": ["作品编号", "作品", "学校", "有效票", "待审票", "作废票", "合计"],
    "scores": ["轮次", "作品", "评委", "事迹感染力（满分60）", "技能水平（满分40）", "加权总分", "评语", "提交时间"],
    "audit": ["时间", "操作人", "操作", "对象类型", "摘要", "变更前", "变更后"],
}


def read_table(response: Any, fmt: str) -> list[list[Any]]:
    data = response.get_data()
    if fmt == "csv":
        assert data.startswith(b"\xef\xbb\xbf")
        assert response.headers["Content-Type"] == "text/csv; charset=utf-8"
        return [list(row) for row in csv.reader(io.StringIO(data.decode("utf-8-sig")))]
    assert response.headers["Content-Type"] == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
    sheet = openpyxl.load_workbook(io.BytesIO(data)).worksheets[0]
    assert sheet.freeze_panes == "A2" and sheet["A1"].font.b
    return [list(row) for row in sheet.iter_rows(values_only=True)]


@pytest.mark.parametrize("fmt", exports.FORMATS)
@pytest.mark.parametrize("what", exports.WHATS)
def test_exports_open_with_chinese_headers_and_the_rows_created(client: FlaskClient, world: World, clock: Any,
                                                                 what: str, fmt: str) -> None:
    after_voting(clock)
    publish(client, world)
    response = client.get(f"{world.base}/export/{what}.{fmt}")
    assert response.status_code == 200
    disposition = response.headers["Content-Disposition"]
    assert disposition.startswith("attachment;") and f'filename="zuimei-test-{what}.{fmt}"' in disposition
    assert f"filename*=UTF-8''{quote(exports.file_names(world.contest, what, fmt)[1], safe='')}" in disposition
    table = read_table(response, fmt)
    header, rows = table[0], table[1:]
    assert set(EXPECTED_HEADERS[what]) <= set(header)
    if what == "results":
        assert len(rows) == len(world.entries)
        by_id = {int(r[header.index("作品编号")]): r for r in rows}
        for entry in world.entries:
            valid, held, voided = world.votes[entry.id]
            row = by_id[entry.id]
            assert [int(row[header.index(h)]) for h in ("有效票", "待审票", "作废票")] == [valid, held, voided]
        assert by_id[world.entries[0].id][header.index("奖项")] == "最美职校生"
        assert by_id[world.entries[3].id][header.index("奖项")] in ("", None)
    elif what == "votes":
        assert len(rows) == len(world.entries)
        totals = {int(r[0]): [int(r[header.index(h)]) for h in ("有效票", "待审票", "作废票")] for r in rows}
        assert totals == {e: list(v) for e, v in world.votes.items()}
    elif what == "scores":
        assert len(rows) == 3 * len(world.judges)  # three nominees in the finalised round, two judges each
        assert {r[0] for r in rows} == {"专家评审"}
        assert OPEN_ROUND_COMMENT not in json.dumps(rows, ensure_ascii=False)
    else:
        # The contest's own audit rows (not the units' or other contests').
        assert len(rows) == committed(select(func.count()).select_from(AuditEvent)
                                      .where(AuditEvent.contest_id == world.contest.id)) > 10


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_formula_like_cells_are_neutralised(client: FlaskClient, world: World, fmt: str) -> None:
    sign_in(client, world.org_a)
    results_rows = read_table(client.get(f"{world.base}/export/results.{fmt}"), fmt)
    titles = [r[results_rows[0].index("作品")] for r in results_rows[1:]]
    assert "'" + INJECTED_TITLE in titles and INJECTED_TITLE not in titles
    scores_rows = read_table(client.get(f"{world.base}/export/scores.{fmt}"), fmt)
    comments = [r[scores_rows[0].index("评语")] for r in scores_rows[1:]]
    assert "'" + INJECTED_COMMENT in comments
    if fmt == "xlsx":
        sheet = openpyxl.load_workbook(io.BytesIO(client.get(f"{world.base}/export/results.xlsx").get_data())).worksheets[0]
        assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_safe_cell_leaves_numbers_and_plain_text_alone() -> None:
    assert exports.safe_cell(-3) == -3 and exports.safe_cell("技能") == "技能" and exports.safe_cell(None) is None
    assert [exports.safe_cell(v) for v in ("=1", "+1", "-1", "@A1", "\tx")] == ["'=1", "'+1", "'-1", "'@A1", "'\tx"]


def test_scores_of_a_round_not_finalised_are_refused(client: FlaskClient, world: World) -> None:
    sign_in(client, world.org_a)
    refused = client.get(f"{world.base}/export/scores.csv?round={world.extra.id}")
    assert refused.status_code == 409 and "尚未定稿，评委评分只能在轮次定稿后导出" in html(refused)
    one = read_table(client.get(f"{world.base}/export/scores.csv?round={world.expert.id}"), "csv")
    assert len(one) - 1 == 6
    page = html(client.get(f"{world.base}/exports"))
    assert "尚未定稿，不能导出" in page


def test_results_export_before_publication_is_the_preview(client: FlaskClient, world: World) -> None:
    sign_in(client, world.org_a)
    workbook = openpyxl.load_workbook(io.BytesIO(client.get(f"{world.base}/export/results.xlsx").get_data()))
    notes = {row[0]: row[1] for row in workbook.worksheets[1].iter_rows(values_only=True)}
    assert "预览" in notes["来源"] and notes["公式指纹"] == results.formula_of(db.session, world.contest)[1]


def test_audit_export_takes_the_audit_pages_filters(client: FlaskClient, world: World) -> None:
    sign_in(client, world.org_a)
    header, *rows = read_table(client.get(f"{world.base}/export/audit.csv?action=round.finalised"), "csv")
    assert len(rows) == 1 and rows[0][2] == "评审定稿" and rows[0][header.index("操作代码")] == "round.finalised"


# --- objections ------------------------------------------------------------------------------------


def test_objections_are_answered_from_the_queue(client: FlaskClient, world: World, clock: Any, make_user: Any) -> None:
    after_voting(clock)
    publish(client, world)
    objector = make_user("citizen")
    publication = results.current_publication(db.session, world.contest)
    assert publication is not None
    objection = results.file_objection(db.session, user=objector, contest=world.contest, entry_id=world.entries[1].id,
                                       subject="votes", body="该作品的票数在深夜异常增长，请核查。", storage=app_storage(client),
                                       now=clock.now())
    db.session.commit()
    sign_in(client, world.org_a)
    queue = html(client.get(f"{world.base}/objections"))
    assert "该作品的票数在深夜异常增长" in queue and objector.phone not in queue
    url = f"{world.base}/objections/{objection.id}/answer"
    short = post(client, url, {"answer": "好", "outcome": "rejected"}, f"{world.base}/objections")
    assert short.status_code == 400 and "请写明答复内容" in html(short)
    done = post(client, url, {"answer": "经核查，相关投票均来自不同的已验证账号，票数有效。", "outcome": "rejected"},
                f"{world.base}/objections")
    assert done.status_code == 302
    assert committed(select(Objection.outcome).where(Objection.id == objection.id)) == "rejected"
    assert "经核查" in html(client.get(f"{world.base}/objections?show=answered"))


def app_storage(client: FlaskClient) -> Any:
    return client.application.extensions["storage"]


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 240), (200, 40, 40)).save(out, format="PNG")
    return out.getvalue()


def test_every_organiser_page_renders(client: FlaskClient, world: World, clock: Any, make_user: Any) -> None:
    """Walk every page in each state: before publishing, pending, in 公示 with an objection."""
    sign_in(client, world.org_a)
    gets = ["/admin/results/", f"{world.base}/", f"{world.base}/formula", f"{world.base}/objections", f"{world.base}/versions",
            f"{world.base}/exports", f"{world.base}/certificates"]
    for url in gets:
        assert client.get(url).status_code == 200, url
    after_voting(clock)
    publication_id = publish(client, world)
    objection = results.file_objection(
        db.session, user=make_user("citizen"), contest=world.contest, entry_id=None, subject="score",
        body="专家评分标准是否统一，请公开说明。", storage=app_storage(client), now=clock.now(),
        uploads=[results.Upload("评分截图.png", png_bytes())])
    db.session.commit()
    sign_in(client, world.org_a)
    for url in gets + [f"{world.base}/versions/1", f"{world.base}/objections?show=all"]:
        page = client.get(url)
        assert page.status_code == 200, url
    index = html(client.get("/admin/results/"))
    assert "公示中" in index and "第 1 版" in index
    evidence = objection.evidence[0]
    served = client.get(f"{world.base}/objections/{objection.id}/evidence/{evidence.id}")
    assert served.status_code == 200 and served.mimetype == "image/jpeg"
    assert served.headers["Cache-Control"] == "private, no-store"
    assert client.get(f"{world.base}/objections/{objection.id}/evidence/{evidence.id + 1}").status_code == 404
    assert client.get(f"{world.base}/versions/9").status_code == 404
    assert client.get(f"{world.base}/publications/{publication_id}/confirm").status_code == 405


# --- certificates ------------------------------------------------------------------------------------


def test_certificates_for_winners_only(client: FlaskClient, world: World, clock: Any) -> None:
    sign_in(client, world.org_a)
    assert client.get(f"{world.base}/certificates/{world.entries[0].id}.pdf").status_code == 404  # not published yet
    after_voting(clock)
    publish(client, world)
    listing = html(client.get(f"{world.base}/certificates"))
    assert f"/certificates/{world.entries[0].id}.pdf" in listing and f"/certificates/{world.entries[3].id}.pdf" not in listing
    response = client.get(f"{world.base}/certificates/{world.entries[0].id}.pdf")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert response.get_data().startswith(b"%PDF")
    assert "filename*=UTF-8''" in response.headers["Content-Disposition"]
    # the fourth nominee was not in the expert round: no score, no award, no certificate
    refused = client.get(f"{world.base}/certificates/{world.entries[3].id}.pdf")
    assert refused.status_code == 404 and "没有获奖" in html(refused)


def test_certificate_says_who_what_and_carries_its_check_code(world: World, clock: Any, app: Flask) -> None:
    after_voting(clock)
    publication = results.request_publication(db.session, actor=world.org_a, contest=world.contest, now=clock.now())
    results.confirm_publication(db.session, actor=world.org_b, publication=publication, now=clock.now())
    db.session.commit()
    found = certificates.certificates_for(db.session, world.contest, publication, world.entries[0].id)
    assert len(found) == 1
    cert = found[0]
    assert cert.award == "最美职校生" and cert.recipient.endswith("学生1 同学")
    assert cert.organisers == ("济南市中华职业教育社", "济南市教育局")
    assert cert.code == certificates.verification_code(publication.fingerprint, world.entries[0].id, "最美职校生")
    assert len(cert.code) == 8 and cert.number.endswith(f"-{world.entries[0].id:05d}")
    assert certificates.chinese_date(cert.issued_on) == "二〇二三年五月十九日"


def test_a_publication_is_confirmed_only_by_an_organiser_of_the_contests_own_unit(world: World, clock: Any,
                                                                               make_user: Any, make_unit: Any) -> None:
    """Two people publish results, both organisers of the contest's unit: an organiser of
    another unit (a 区县's, or the co-organising bureau's) cannot be the second."""
    after_voting(clock)
    publication = results.request_publication(db.session, actor=world.org_a, contest=world.contest, now=clock.now())
    db.session.commit()
    district = make_user("organiser", name="历下区组织者", unit=make_unit("历下区教育和体育局"))
    co_organiser = make_user("organiser", name="市教育局组织者", unit=fixture_unit(clock, "济南市教育局"))
    reviewer = make_user("citizen", name="审核员", unit=fixture_unit(clock, "济南市中华职业教育社"), unit_role="reviewer")
    for outsider in (district, co_organiser, reviewer):
        with pytest.raises(Forbidden):
            results.confirm_publication(db.session, actor=outsider, publication=publication, now=clock.now())
        db.session.rollback()
        assert results.get_publication(db.session, publication.id).state == "pending"
    results.confirm_publication(db.session, actor=world.org_b, publication=publication, now=clock.now())
    db.session.commit()
    assert results.get_publication(db.session, publication.id).state == "publicity"


def test_certificates_are_dated_with_the_award_date_else_the_publication_day(world: World, clock: Any) -> None:
    after_voting(clock)  # published on 19 May 2023 (Beijing time)
    publication = results.request_publication(db.session, actor=world.org_a, contest=world.contest, now=clock.now())
    results.confirm_publication(db.session, actor=world.org_b, publication=publication, now=clock.now())
    db.session.commit()
    clock.advance(days=40)  # printed weeks later: today is not the date on the certificate
    today = clock.now().date()
    (cert,) = certificates.certificates_for(db.session, world.contest, publication, world.entries[0].id)
    assert cert.issued_on == date(2023, 5, 19) != today
    assert dict(exports.results_table(db.session, world.contest).notes)["颁奖日期"] == "2023-05-19"

    world.contest.awarded_on = date(2023, 5, 26)
    db.session.commit()
    (cert,) = certificates.certificates_for(db.session, world.contest, publication, world.entries[0].id)
    assert cert.issued_on == date(2023, 5, 26) != today
    assert certificates.chinese_date(cert.issued_on) == "二〇二三年五月二十六日"
    assert dict(exports.results_table(db.session, world.contest).notes)["颁奖日期"] == "2023-05-26"
    assert certificates.week_name(cert.issued_on.year) == "济南市 2023 年职业教育活动周"
    assert cert.number.startswith("JN2023-")

    # The number carries the award date's year, never a fixed one.
    world.contest.awarded_on = date(2031, 5, 20)
    db.session.commit()
    (cert,) = certificates.certificates_for(db.session, world.contest, publication, world.entries[0].id)
    assert cert.number == f"JN2031-{world.contest.id:02d}{publication.version:02d}-{world.entries[0].id:05d}"
    assert certificates.week_name(cert.issued_on.year) == "济南市 2031 年职业教育活动周"


def test_an_entry_with_two_awards_gets_a_two_page_pdf(app: Flask) -> None:
    both = [certificates.Certificate(kind="media", contest_title="“技能：让生活更美好”全民美拍活动", award=award, entry_id=7,
                                     entry_title="老师傅的最后一堂课", school="", recipient="市民李女士", people="",
                                     organisers=certificates.DEFAULT_ORGANISERS, issued_on=date(2023, 5, 26),
                                     number=f"JN2023-0101-00007{suffix}", code="0123abcd")
            for award, suffix in (("评委奖", ""), ("人气奖", "-2"))]
    pdf = certificates.pdf_bytes(both, resolve_font(app.extensions["settings"].font_path))
    assert pdf.startswith(b"%PDF") and b"/Count 2" in pdf
    assert certificates.chinese_date(date(2023, 5, 20)) == "二〇二三年五月二十日"


def test_preview_explains_each_line_with_its_style_and_rounds_by_name(client: FlaskClient, world: World) -> None:
    sign_in(client, world.org_a)
    page = html(client.get(f"{world.base}/"))
    block = page[page.index('<div class="rs-explain">'):]
    lines = [line for line in results.compute(db.session, world.contest).explain() if line]
    assert "总分 = 投票分 × 30% + 专家分 × 70%；专家分为“专家评审”轮的定稿得分。" in lines
    for line in lines:
        style = next((css for prefix, css in (("  ", "rs-ex-math"), ("#", "rs-ex-entry"), ("【", "rs-ex-group"))
                      if line.startswith(prefix)), "")
        assert (f'<p class="{style}">' if style else "<p>") + str(escape(line.strip())) + "</p>" in block, line
    assert page.count('<p class="rs-ex-math">') == len(world.entries)
    # the formula page names rounds by key, as before
    assert "专家分为轮次“expert”的定稿得分" in html(client.get(f"{world.base}/formula"))


# --- the CLI --------------------------------------------------------------------------------------------


def test_cli_compute_explains_the_arithmetic(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    result = runner.invoke(args=["results", "compute", world.contest.slug, "--explain"])
    assert result.exit_code == 0, result.output
    comp = results.compute(db.session, world.contest)
    for line in exports.explain_lines(comp):
        assert line in result.output
    assert "总分 = 投票分 × 30% + 专家分 × 70%" in result.output
    assert "没有阻止发布的问题。" in result.output
    plain = runner.invoke(args=["results", "compute", world.contest.slug])
    assert plain.exit_code == 0 and "总分 = 投票分" not in plain.output and world.entries[0].title in plain.output


def test_cli_formula_needs_the_override_after_voting_opened(app: Flask, world: World) -> None:
    runner = app.test_cli_runner()
    wanted = json.dumps({"vote_weight": 20, "expert_weight": 80})
    refused = runner.invoke(args=["results", "formula", world.contest.slug, "--set-json", wanted])
    assert refused.exit_code == 1 and "计分公式已锁定" in refused.output
    done = runner.invoke(args=["results", "formula", world.contest.slug, "--set-json", wanted, "--override",
                               "--reason", "组委会决定提高专家评审占比"])
    assert done.exit_code == 0, done.output
    assert committed(select(FormulaChange.reason)) == "组委会决定提高专家评审占比"
    shown = runner.invoke(args=["results", "formula", world.contest.slug])
    assert '"vote_weight": 20' in shown.output


# --- files made by the job runner: the audit log, every certificate --------------------------------


def run_file_jobs(app: Flask) -> list[str]:
    """What the consumer would do next: run the queued make_file tasks; their outcomes."""
    huey = jobs_of(app)
    outcomes = []
    while (task := huey.dequeue()) is not None:
        if task.name == "make_file":
            outcomes.append(huey.execute(task))
    return outcomes


def status_of(client: FlaskClient, url: str) -> dict[str, Any]:
    response = client.get(url)
    assert response.status_code == 200 and response.headers["Cache-Control"] == "private, no-store"
    answer: dict[str, Any] = response.get_json()
    return answer


@pytest.mark.parametrize("fmt", exports.FORMATS)
def test_the_audit_log_is_made_in_the_background_and_downloaded_when_ready(app: Flask, client: FlaskClient, world: World,
                                                                            fmt: str) -> None:
    sign_in(client, world.org_a)
    asked = post(client, f"{world.base}/prepare/audit.{fmt}", {"action": "round.finalised"}, f"{world.base}/exports")
    assert asked.status_code == 302 and asked.headers["Location"].endswith("/exports#prepared")
    again = post(client, f"{world.base}/prepare/audit.{fmt}", {"action": "round.finalised"}, f"{world.base}/exports")
    assert again.status_code == 302
    [file] = committed_files(world.contest.id)  # the same file on its way: asked for once
    assert (file.state, file.what, file.fmt, file.params) == ("queued", "audit", fmt, {"action": "round.finalised"})
    page = html(client.get(f"{world.base}/exports"))
    assert "排队中" in page and "<progress" in page and f"/prepared/{file.id}/status" in page
    assert client.get(f"{world.base}/prepared/{file.id}").status_code == 404  # not ready yet
    assert status_of(client, f"{world.base}/prepared/{file.id}/status")["state"] == "queued"

    assert run_file_jobs(app) == ["ready"]
    status = status_of(client, f"{world.base}/prepared/{file.id}/status")
    assert (status["state"], status["percent"], status["label"]) == ("ready", 100, "可以下载")
    assert status["done"] == status["total"] >= 1  # the finalised rounds
    page = html(client.get(f"{world.base}/exports"))
    assert f"/prepared/{file.id}\"" in page and "/status" not in page
    downloaded = client.get(f"{world.base}/prepared/{file.id}")
    assert downloaded.status_code == 200 and downloaded.headers["Cache-Control"] == "private, no-store"
    assert "filename*=UTF-8''" in downloaded.headers["Content-Disposition"]
    direct = client.get(f"{world.base}/export/audit.{fmt}?action=round.finalised")
    assert read_table(downloaded, fmt) == read_table(direct, fmt)  # the same table as the direct export
    assert run_file_jobs(app) == []  # one job per file


def committed_files(contest_id: int) -> list[PreparedFile]:
    db.session.rollback()
    return list(db.session.scalars(select(PreparedFile).where(PreparedFile.contest_id == contest_id)
                                   .order_by(PreparedFile.id)))


def test_every_certificate_in_one_pdf_made_in_the_background(app: Flask, client: FlaskClient, world: World,
                                                             clock: Any) -> None:
    sign_in(client, world.org_a)
    refused = post(client, f"{world.base}/prepare/certificates.pdf", page=f"{world.base}/certificates")
    assert refused.status_code == 404 and "公示" in html(refused)  # nothing published yet
    assert committed_files(world.contest.id) == []
    after_voting(clock)
    publish(client, world)
    listing = html(client.get(f"{world.base}/certificates"))
    assert "生成全部证书（一个 PDF）" in listing
    assert post(client, f"{world.base}/prepare/certificates.pdf", page=f"{world.base}/certificates").status_code == 302
    assert run_file_jobs(app) == ["ready"]
    [file] = committed_files(world.contest.id)
    publication = db.session.scalars(select(Publication).where(Publication.contest_id == world.contest.id)).one()
    expected = sum(len(certificates.certificates_for(db.session, world.contest, publication, int(row["entry_id"])))
                   for row in certificates.winners(publication))
    assert (file.state, file.done, file.total) == ("ready", expected, expected) and expected >= 2
    pdf = client.get(f"{world.base}/prepared/{file.id}")
    assert pdf.status_code == 200 and pdf.mimetype == "application/pdf"
    data = pdf.get_data()
    assert data.count(b"/Type /Page") - data.count(b"/Type /Pages") == expected  # a page each


def test_prepared_files_are_for_organisers_of_the_contest_and_kept_a_day(app: Flask, client: FlaskClient, world: World,
                                                                       clock: Any, make_contest: Any) -> None:
    sign_in(client, world.citizen)
    assert post(client, f"{world.base}/prepare/audit.csv", page="/").status_code == 403
    sign_in(client, world.org_a)
    assert post(client, f"{world.base}/prepare/audit.pdf", page=f"{world.base}/exports").status_code == 400
    assert post(client, f"{world.base}/prepare/votes.csv", page=f"{world.base}/exports").status_code == 404
    assert post(client, f"{world.base}/prepare/audit.csv", page=f"{world.base}/exports").status_code == 302
    run_file_jobs(app)
    [file] = committed_files(world.contest.id)
    other = make_contest(kind="media", stage="voting", slug="other-contest", unit_id=world.contest.unit_id)
    assert client.get(f"/admin/results/{other.slug}/prepared/{file.id}").status_code == 404  # not that contest's
    sign_in(client, world.citizen)
    assert client.get(f"{world.base}/prepared/{file.id}").status_code == 403
    assert client.get(f"{world.base}/prepared/{file.id}/status").status_code == 403
    sign_in(client, world.org_b)
    assert client.get(f"{world.base}/prepared/{file.id}").status_code == 200  # any organiser of the contest
    clock.advance(hours=24)
    assert client.get(f"{world.base}/prepared/{file.id}").status_code == 404
    assert "还没有生成过文件" in html(client.get(f"{world.base}/exports"))
    assert app.extensions["job_tasks"].prune_now().endswith("; 1 expired prepared files removed")
    assert committed_files(world.contest.id) == []


def test_a_file_whose_data_changed_fails_with_the_reason(app: Flask, client: FlaskClient, world: World, clock: Any) -> None:
    after_voting(clock)
    publication_id = publish(client, world)
    sign_in(client, world.org_a)
    assert post(client, f"{world.base}/prepare/certificates.pdf", page=f"{world.base}/certificates").status_code == 302
    # before the job runs, the results are withdrawn
    publication = db.session.get(Publication, publication_id)
    assert publication is not None
    publication.state = "cancelled"
    db.session.commit()
    assert run_file_jobs(app) == ["failed"]
    [file] = committed_files(world.contest.id)
    assert file.state == "failed" and "公示" in file.error


def test_an_entry_withdrawn_after_publication_is_listed_on_the_results_page(app: Flask, client: FlaskClient, world: World,
                                                                           clock: Any, make_user: Any) -> None:
    after_voting(clock)
    publish(client, world)
    winner = world.entries[0]
    submitter = make_user("school_contact")
    winner.submitted_by_id = submitter.id
    db.session.commit()
    page = html(client.get(f"/c/{world.contest.slug}/results"))
    assert "公布后撤回的作品" not in page
    asked = withdrawals.request_withdrawal(db.session, actor=submitter, entry_id=winner.id, reason="学生已转学，申请撤回",
                                           now=clock.now())
    db.session.commit()
    assert "公布后撤回的作品" not in html(client.get(f"/c/{world.contest.slug}/results"))  # asked, not decided
    clock.advance(hours=1)
    withdrawals.decide_withdrawal(db.session, app.extensions["sms_sender"], actor=world.org_a, request_id=asked.id,
                                  approve=True, reason="核实属实，同意撤回", now=clock.now())
    db.session.commit()
    page = html(client.get(f"/c/{world.contest.slug}/results"))
    assert "公布后撤回的作品" in page and "主办方将发布新版本的结果" in page
    assert str(escape(winner.title)) in page and "核实属实，同意撤回" in page
