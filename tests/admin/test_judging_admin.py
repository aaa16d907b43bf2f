"""The organisers' judging pages: rounds and rubrics, entries, the panel, assignment,
the state of a round, the dashboard, advancing, reopening a score and the live final."""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent, User
from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.judging import service as judging
from contest.judging.models import Assignment, Criterion, JudgeInvite, PanelMember, Round, RoundEntry, Score
from tests.conftest import csrf_token
from tests.site.isolation import committed

from .conftest import sign_in
from .form_fields import error_message, form_fields

BASE = "/admin/judging"
RUBRIC = [("创新性", "理念与技术的新颖程度", 30), ("商业可行性", "", 25), ("团队", "", 20), ("社会价值", "", 15),
          ("路演表现", "", 10)]


class Round1:
    """An innovation contest with six approved entries of three schools, a draft round
    (k judges per entry, the five-line rubric) and its organiser."""

    def __init__(self, contest: Contest, rnd: Round, organiser: User, entries: list[Entry], make_user: Any, now: Any) -> None:
        self.contest, self.round, self.organiser, self.entries, self.make_user, self.now = (
            contest, rnd, organiser, entries, make_user, now)
        self.judges: list[User] = []

    @property
    def url(self) -> str:
        return f"{BASE}/rounds/{self.round.id}"

    def add_judges(self, n: int) -> list[User]:
        new = [self.make_user("judge", name=f"评委{len(self.judges) + i + 1}") for i in range(n)]
        for judge in new:
            judging.add_judge(db.session, actor=self.organiser, rnd=self.round, user=judge, now=self.now)
        db.session.commit()
        self.judges += new
        return new

    def add_all_entries(self) -> None:
        judging.add_entries(db.session, actor=self.organiser, rnd=self.round, entry_ids=[e.id for e in self.entries],
                            now=self.now)
        db.session.commit()

    def set_state(self, state: str) -> None:
        judging.set_state(db.session, actor=self.organiser, rnd=self.round, state=state, now=self.now)
        db.session.commit()

    def score(self, judge: User, entry_id: int, fraction: float, *, submit: bool = True) -> Score:
        """The judge gives every criterion `fraction` of its maximum (signing first)."""
        db.session.expire_all()  # requests may have changed the round
        member = judging.membership(db.session, self.round, judge)
        if member is not None and member.declared_at is None:
            judging.sign_declaration(db.session, judge=judge, rnd=self.round, accepted=True, now=self.now)
        values = {str(c.id): round(c.maximum * fraction * 2) / 2 for c in self.round.criteria}
        score = judging.save_score(db.session, judge=judge, rnd=self.round, entry_id=entry_id, raw_values=values,
                                   submit=submit, now=self.now)
        db.session.commit()
        return score

    def pairs(self) -> set[tuple[int, int]]:
        """(judge, entry) pairs as committed."""
        with db.engine.connect() as conn:
            return {(j, e) for j, e in conn.execute(
                select(Assignment.judge_id, Assignment.entry_id).where(Assignment.round_id == self.round.id))}

    def score_all(self, fraction_of: Any = lambda judge_index, entry_index: 0.8) -> None:
        """Every assigned pair not yet submitted gets its score."""
        index = {j.id: i for i, j in enumerate(self.judges)}
        order = {e.id: i for i, e in enumerate(self.entries)}
        with db.engine.connect() as conn:
            done = {(j, e) for j, e in conn.execute(select(Score.judge_id, Score.entry_id).where(
                Score.round_id == self.round.id, Score.status == "submitted"))}
        for judge_id, entry_id in sorted(self.pairs() - done):
            judge = next(j for j in self.judges if j.id == judge_id)
            self.score(judge, entry_id, fraction_of(index[judge_id], order[entry_id]))


@pytest.fixture
def r1(app, clock, make_user, make_contest, make_entry, make_school, organiser) -> Round1:  # type: ignore[no-untyped-def]
    contest = make_contest(kind="innovation", stage="judging", slug="hyp-2023", title="黄炎培职业教育创新创业大赛",
                           categories=())
    schools = [make_school() for _ in range(3)]
    entries = [make_entry(contest, school=schools[i % 3], title=f"项目{i + 1}") for i in range(6)]
    rnd = judging.create_round(
        db.session, actor=organiser, contest=contest, now=clock.now(),
        criteria=[judging.CriterionFields(n, 10, w, d) for n, d, w in RUBRIC],
        fields=judging.RoundFields(key="online", name="网络评审", judges_per_entry=3))
    db.session.commit()
    return Round1(contest, rnd, organiser, entries, make_user, clock.now())


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def post(client: FlaskClient, page: str, action: str, data: dict[str, Any] | None = None) -> Any:
    """Post to `action` with the CSRF token of `page`, as the browser does."""
    return client.post(action, data={"csrf_token": csrf_token(client, page), **(data or {})})


def audit_count(action: str) -> int:
    return committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action))


def judges_per_entry(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'data-judges="(\d+)"', page)]


# --- access --------------------------------------------------------------------------


def _paths(r: Round1) -> tuple[list[str], list[str]]:
    pages = [f"{BASE}/", f"{BASE}/contests/{r.contest.slug}/rounds/new", f"{r.url}/edit", r.url, f"{r.url}/dashboard",
             f"{r.url}/live"]
    posts = [f"{BASE}/contests/{r.contest.slug}/rounds/new", f"{r.url}/edit", f"{r.url}/state", f"{r.url}/entries",
             f"{r.url}/judges", f"{r.url}/invites", f"{r.url}/judges/1/withdraw", f"{r.url}/judges/1/profile",
             f"{r.url}/rebalance", f"{r.url}/pin", f"{r.url}/unassign", f"{r.url}/scores/reopen", f"{r.url}/advance",
             f"{r.url}/advance-from", f"{r.url}/live"]
    return pages, posts


def test_citizens_and_judges_get_403_on_every_page_and_post(r1, new_client, make_user):  # type: ignore[no-untyped-def]
    pages, posts = _paths(r1)
    judge = r1.add_judges(1)[0]
    audit_rows = committed(select(func.count()).select_from(AuditEvent))
    for user in (make_user("citizen"), judge, make_user("school_contact", "judge")):
        client = new_client()
        sign_in(client, user)
        for path in pages:
            response = client.get(path)
            assert response.status_code == 403, (user.role_names, path)
            assert "您没有权限访问此页面。" in html(response)
        token = csrf_token(client, "/")
        for path in posts:
            data = {"csrf_token": token, "to": "open", "mode": "all", "phone": judge.phone, "name": "某评委",
                    "reason": "测试", "entry_id": str(r1.entries[0].id), "judge_id": str(judge.id)}
            assert client.post(path, data=data).status_code == 403, (user.role_names, path)
        assert "/admin/judging/" not in html(client.get("/"))
    assert committed(select(func.count()).select_from(AuditEvent)) == audit_rows
    assert committed(select(Round.state).where(Round.id == r1.round.id)) == "draft"


def test_anonymous_visitors_are_sent_to_login(r1, new_client):  # type: ignore[no-untyped-def]
    client = new_client()
    for path in _paths(r1)[0]:
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/account/login?next="), path


def test_posts_without_csrf_token_are_400_and_change_nothing(client, r1):  # type: ignore[no-untyped-def]
    r1.add_all_entries()
    r1.add_judges(3)
    audit_rows = committed(select(func.count()).select_from(AuditEvent))
    _pages, posts = _paths(r1)
    for path in posts:
        for token in (None, "forged-token"):
            data = {"to": "open", "mode": "all", "name": "某评委", "reason": "测试", "key": "x", "entry_id": "1"}
            if token:
                data["csrf_token"] = token
            response = client.post(path, data=data)
            assert response.status_code == 400, path
            assert "页面已过期或来源不明，请刷新页面后重新提交。" in html(response), path
    assert committed(select(func.count()).select_from(AuditEvent)) == audit_rows
    assert committed(select(Round.state).where(Round.id == r1.round.id)) == "draft"
    assert committed(select(func.count()).select_from(Assignment)) == 0
    assert committed(select(func.count()).select_from(JudgeInvite)) == 0


def test_the_back_office_links_to_judging_and_lists_rounds(client, r1):  # type: ignore[no-untyped-def]
    page = html(client.get("/admin/"))
    assert f'href="{BASE}/"' in page
    r1.add_all_entries()
    r1.add_judges(3)
    r1.set_state("open")
    r1.score(r1.judges[0], r1.entries[0].id, 0.8)
    listing = html(client.get(f"{BASE}/"))
    assert '<a href="/admin/judging/" aria-current="page">评审</a>' in listing
    assert "黄炎培职业教育创新创业大赛" in listing and "网络评审" in listing and "评审中" in listing
    # 6 entries × 3 judges = 18 scores to give, one given
    assert "已提交 1 / 18 份" in listing
    assert f'href="{BASE}/contests/hyp-2023/rounds/new"' in listing


# --- the round form ----------------------------------------------------------------


def round_form(client: FlaskClient, url: str, rubric: list[tuple[str, str, float]], **changes: str) -> dict[str, Any]:
    page = client.get(url)
    assert page.status_code == 200
    fields = form_fields(html(page), "key")
    for i in range(len(rubric), 20):
        for name in ("name", "description", "maximum", "weight"):
            fields.pop(f"criteria-{i}-{name}", None)
    for i, (name, description, weight) in enumerate(rubric):
        fields.update({f"criteria-{i}-name": name, f"criteria-{i}-description": description,
                       f"criteria-{i}-maximum": "10", f"criteria-{i}-weight": str(weight)})
    fields.update(changes)
    return fields


def test_an_organiser_creates_a_round_with_a_rubric(client, organiser, make_contest):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="innovation", stage="judging", slug="hyp", categories=())
    url = f"{BASE}/contests/hyp/rounds/new"
    page = html(client.get(url))
    # five empty rubric rows, the three aggregation methods, the two kinds
    assert page.count('data-rubric-row') == 5
    for label in ("平均", "去掉最高最低后平均（≥5 位评委时）", "中位数", "网络评审", "现场路演"):
        assert label in page
    fields = round_form(client, url, RUBRIC, key="online", name="网络评审", judges_per_entry="5", aggregation="trimmed",
                        spread_threshold="15", score_step="0.5", instructions="请在 5 月 18 日前完成评分。")
    response = client.post(url, data=fields)
    assert response.status_code == 302, error_message(html(response))
    rnd = db.session.scalar(select(Round).where(Round.contest_id == contest.id))
    assert rnd is not None and response.headers["Location"] == f"{BASE}/rounds/{rnd.id}"
    assert (rnd.key, rnd.name, rnd.kind, rnd.judges_per_entry, rnd.aggregation, rnd.state) == (
        "online", "网络评审", "review", 5, "trimmed", "draft")
    assert rnd.spread_threshold == 15 and rnd.blind is True and rnd.instructions == "请在 5 月 18 日前完成评分。"
    assert [(c.name, c.weight, c.maximum) for c in rnd.criteria] == [
        ("创新性", 30, 10), ("商业可行性", 25, 10), ("团队", 20, 10), ("社会价值", 15, 10), ("路演表现", 10, 10)]
    assert rnd.criteria[0].description == "理念与技术的新颖程度"
    assert audit_count("round.create") == 1
    # the edit form shows the rubric and its sum
    edit = html(client.get(f"{BASE}/rounds/{rnd.id}/edit"))
    assert 'value="创新性"' in edit and "<strong data-weight-total>100</strong>" in edit


def test_a_rubric_summing_to_90_is_refused_and_nothing_is_stored(client, organiser, make_contest):  # type: ignore[no-untyped-def]
    make_contest(kind="innovation", stage="judging", slug="hyp", categories=())
    url = f"{BASE}/contests/hyp/rounds/new"
    rubric = [(n, d, w) for n, d, w in RUBRIC[:-1]]  # 30 + 25 + 20 + 15
    fields = round_form(client, url, rubric, key="online", name="网络评审")
    response = client.post(url, data=fields)
    assert response.status_code == 400
    page = html(response)
    assert error_message(page) == "各项权重之和必须为 100，现在是 90。"
    assert 'class="jd-weight-sum bad"' in page and "<strong data-weight-total>90</strong>" in page
    assert 'value="社会价值"' in page  # what was typed comes back
    assert committed(select(func.count()).select_from(Round)) == 0
    assert committed(select(func.count()).select_from(Criterion)) == 0
    assert audit_count("round.create") == 0


def test_rubric_rows_added_by_script_may_leave_gaps_and_empty_rows_are_ignored(client, organiser, make_contest):  # type: ignore[no-untyped-def]
    make_contest(kind="innovation", stage="judging", slug="hyp", categories=())
    url = f"{BASE}/contests/hyp/rounds/new"
    fields = round_form(client, url, RUBRIC[:4], key="final", name="决赛")
    fields.update({"criteria-4-name": "", "criteria-4-maximum": "", "criteria-4-weight": "",  # emptied: removed
                   "criteria-9-name": "答辩", "criteria-9-maximum": "20", "criteria-9-weight": "10"})
    response = client.post(url, data=fields)
    assert response.status_code == 302, error_message(html(response))
    rnd = db.session.scalar(select(Round))
    assert rnd is not None
    assert [(c.name, c.maximum, c.weight) for c in rnd.criteria][-2:] == [("社会价值", 10, 15), ("答辩", 20, 10)]


@pytest.mark.parametrize("rubric, message", [
    ([], "评分标准至少需要一项。"),
    ([("创新性", "", 50), ("创新性", "", 50)], "评分标准的名称不能重复。"),
    ([("", "说明", 100)], "每项评分标准都需要名称。"),
])
def test_other_bad_rubrics_are_refused(client, organiser, make_contest, rubric, message):  # type: ignore[no-untyped-def]
    make_contest(kind="innovation", stage="judging", slug="hyp", categories=())
    url = f"{BASE}/contests/hyp/rounds/new"
    response = client.post(url, data=round_form(client, url, rubric, key="online", name="网络评审"))
    assert response.status_code == 400
    assert error_message(html(response)) == message
    assert committed(select(func.count()).select_from(Round)) == 0


def test_the_rubric_is_read_only_once_the_round_has_opened(client, r1):  # type: ignore[no-untyped-def]
    r1.add_all_entries()
    r1.add_judges(3)
    draft = html(client.get(f"{r1.url}/edit"))
    assert 'name="criteria-0-name"' in draft and 'id="judges_per_entry"' in draft
    r1.set_state("open")
    page = html(client.get(f"{r1.url}/edit"))
    assert 'name="criteria-0-name"' not in page and 'id="judges_per_entry"' not in page
    assert '<input type="hidden" name="judges_per_entry" value="3">' in page
    assert "评分标准已锁定。" in page and "<th scope=\"row\">创新性</th>" in page
    # the rest can still change
    fields = form_fields(page, "key")
    fields.update(name="网络评审（第一轮）", spread_threshold="25")
    response = client.post(f"{r1.url}/edit", data=fields)
    assert response.status_code == 302, error_message(html(response))
    assert committed(select(Round.name).where(Round.id == r1.round.id)) == "网络评审（第一轮）"
    assert committed(select(Round.judges_per_entry).where(Round.id == r1.round.id)) == 3
    assert committed(select(func.count()).select_from(Criterion).where(Criterion.round_id == r1.round.id)) == 5
    # a forged change of k is refused by the service
    fields.update(judges_per_entry="5")
    refused = client.post(f"{r1.url}/edit", data=fields)
    assert refused.status_code == 409
    assert error_message(html(refused)) == "轮次已开始评审，评分标准、每件评委数和类型不能再改。"


# --- entries, panel, assignment ------------------------------------------------------


def test_entries_and_judges_are_added_and_each_entry_gets_exactly_k_judges(client, r1, make_user):  # type: ignore[no-untyped-def]
    response = post(client, r1.url, f"{r1.url}/entries", {"mode": "selected", "entry_ids": [str(r1.entries[0].id)]})
    assert response.status_code == 302
    assert committed(select(func.count()).select_from(RoundEntry)) == 1
    response = post(client, r1.url, f"{r1.url}/entries", {"mode": "all"})
    assert response.status_code == 302
    assert committed(select(func.count()).select_from(RoundEntry)) == 6
    judges = [make_user("citizen", name=f"专家{i}") for i in range(4)]
    for judge in judges:
        response = post(client, r1.url, f"{r1.url}/judges", {"phone": judge.phone})
        assert response.status_code == 302, error_message(html(response))
    db.session.expire_all()
    assert all(db.session.get(User, j.id).has_role("judge") for j in judges)
    assert committed(select(func.count()).select_from(PanelMember).where(PanelMember.status == "active")) == 4
    unknown = post(client, r1.url, f"{r1.url}/judges", {"phone": "13900000000"})
    assert unknown.status_code == 404
    assert error_message(html(unknown)) == "没有用这个手机号注册的账号。可以改用邀请链接请评委自行注册。"
    assert 'value="13900000000"' in html(unknown)

    assert "尚未分配" in html(client.get(r1.url))
    response = post(client, r1.url, f"{r1.url}/rebalance")
    assert response.status_code == 302
    page = html(client.get(r1.url))
    assert judges_per_entry(page) == [3] * 6
    pairs = r1.pairs()
    assert Counter(e for _j, e in pairs) == {e.id: 3 for e in r1.entries}
    loads = Counter(j for j, _e in pairs)
    assert sorted(loads.values()) == [4, 4, 5, 5]  # 18 pairs over 4 judges, as even as can be
    assert "工作量均衡" in page and "凑不满" not in page
    assert audit_count("round.assign") == 1


def test_a_shortfall_is_shown_when_k_cannot_be_met(client, r1):  # type: ignore[no-untyped-def]
    r1.add_all_entries()
    r1.add_judges(2)
    assert post(client, r1.url, f"{r1.url}/rebalance").status_code == 302
    page = html(client.get(r1.url))
    assert judges_per_entry(page) == [2] * 6
    assert "有 6 件作品凑不满每件 3 位评委" in page
    assert f"项目1：作品 #{r1.entries[0].id} 只有 2 位无回避评委，少于每件 3 位的要求，还差 1 位。" in page
    assert 'class="jd-short"' in page


def test_invitation_link_is_shown_once(client, r1, make_school):  # type: ignore[no-untyped-def]
    school = make_school(name="济南市历城职业中等专业学校")
    response = post(client, r1.url, f"{r1.url}/invites", {"name": "李老师", "organisation": "山东大学",
                                                         "school_id": str(school.id)})
    assert response.status_code == 200
    page = html(response)
    link = re.search(r'id="invite-link" type="text" value="(http://[^"]+/judge/invite/[^"]+)"', page)
    assert link, page[:2000]
    assert "data-copy-target=\"invite-link\"" in page
    invite = db.session.scalar(select(JudgeInvite))
    assert invite is not None and (invite.name, invite.organisation, invite.school_id) == ("李老师", "山东大学", school.id)
    token = link.group(1).rsplit("/", 1)[1]
    assert token not in invite.token_hash
    assert token not in html(client.get(r1.url))
    refused = post(client, r1.url, f"{r1.url}/invites", {"name": " "})
    assert refused.status_code == 400 and error_message(html(refused)) == "请填写评委姓名。"


def test_withdrawing_a_judge_rebalances_and_keeps_submitted_scores(client, r1):  # type: ignore[no-untyped-def]
    r1.add_all_entries()
    r1.add_judges(4)
    r1.set_state("open")
    leaving = r1.judges[0]
    theirs = sorted(e for j, e in r1.pairs() if j == leaving.id)
    r1.score(leaving, theirs[0], 0.9)
    refused = post(client, r1.url, f"{r1.url}/judges/{leaving.id}/withdraw", {"reason": "  "})
    assert refused.status_code == 400 and error_message(html(refused)) == "请填写原因。"
    response = post(client, r1.url, f"{r1.url}/judges/{leaving.id}/withdraw", {"reason": "临时出差"})
    assert response.status_code == 302
    pairs = r1.pairs()
    assert {e for j, e in pairs if j == leaving.id} == {theirs[0]}  # the scored pair stays
    assert Counter(e for _j, e in pairs) == {e.id: 3 for e in r1.entries}
    assert committed(select(Score.status).where(Score.judge_id == leaving.id)) == "submitted"
    assert committed(select(PanelMember.status).where(PanelMember.judge_id == leaving.id)) == "withdrawn"
    page = html(client.get(r1.url))
    assert "已退出" in page and judges_per_entry(page) == [3] * 6
    assert audit_count("round.judge_withdraw") == 1


def test_judge_profile_is_edited(client, r1, make_school):  # type: ignore[no-untyped-def]
    school = make_school(name="济南工程职业技术学院")
    judge = r1.add_judges(1)[0]
    response = post(client, r1.url, f"{r1.url}/judges/{judge.id}/profile",
                    {"organisation": "济南市人社局", "title": "高级工程师", "school_id": str(school.id)})
    assert response.status_code == 302
    page = html(client.get(r1.url))
    assert "济南市人社局 · 高级工程师 · 济南工程职业技术学院" in page
    assert audit_count("judge.profile") == 1
    refused = post(client, r1.url, f"{r1.url}/judges/{judge.id}/profile", {"organisation": "某单位", "school_id": "99999"})
    assert refused.status_code == 404 and error_message(html(refused)) == "没有找到这所学校。"
    assert audit_count("judge.profile") == 1


def test_pin_and_unassign(client, r1):  # type: ignore[no-untyped-def]
    r1.add_all_entries()
    r1.add_judges(4)
    r1.set_state("open")
    entry = r1.entries[0]
    outside = next(j for j in r1.judges if (j.id, entry.id) not in r1.pairs())
    response = post(client, r1.url, f"{r1.url}/pin", {"judge_id": str(outside.id), "entry_id": str(entry.id)})
    assert response.status_code == 302
    assert committed(select(Assignment.pinned).where(Assignment.judge_id == outside.id, Assignment.entry_id == entry.id))
    assert "指定" in html(client.get(r1.url))
    # a re-balance keeps the pinned pair
    post(client, r1.url, f"{r1.url}/rebalance")
    assert (outside.id, entry.id) in r1.pairs()

    # unassigning needs a reason, and is refused once the judge has scored the entry
    pair = f"{entry.id}:{outside.id}"
    refused = post(client, r1.url, f"{r1.url}/unassign", {"pair": pair, "reason": ""})
    assert refused.status_code == 400 and error_message(html(refused)) == "请填写原因。"
    r1.score(outside, entry.id, 0.7)
    refused = post(client, r1.url, f"{r1.url}/unassign", {"pair": pair, "reason": "利益相关"})
    assert refused.status_code == 409
    assert error_message(html(refused)) == "这位评委已为该作品评分，不能撤下；如需重评请先退回评分。"
    assert (outside.id, entry.id) in r1.pairs()

    other_entry = r1.entries[1]
    judge = next(j for j, e in sorted(r1.pairs()) if e == other_entry.id)
    response = post(client, r1.url, f"{r1.url}/unassign", {"pair": f"{other_entry.id}:{judge}", "reason": "评委申请回避"})
    assert response.status_code == 302
    assert (judge, other_entry.id) not in r1.pairs()
    page = html(client.get(r1.url))
    assert "组织方" in page  # the removal is remembered as an organiser's conflict
    assert audit_count("round.unassign") == 1 and audit_count("round.pin") == 1


# --- the state of a round ----------------------------------------------------------


def test_open_close_finalise_flow_with_refusals(client, r1):  # type: ignore[no-untyped-def]
    refused = post(client, r1.url, f"{r1.url}/state", {"to": "open"})
    assert refused.status_code == 409 and error_message(html(refused)) == "请先加入参评作品。"
    r1.add_all_entries()
    r1.add_judges(3)
    refused = post(client, r1.url, f"{r1.url}/state", {"to": "finalised"})
    assert refused.status_code == 409 and error_message(html(refused)) == "轮次不能从“草稿”变为“已定稿”。"

    response = post(client, r1.url, f"{r1.url}/state", {"to": "open"})
    assert response.status_code == 302
    assert committed(select(Round.state).where(Round.id == r1.round.id)) == "open"
    assert len(r1.pairs()) == 18  # opening planned the assignment
    page = html(client.get(r1.url))
    assert "截止评审" in page and "开启评审" not in page

    first = sorted(r1.pairs())[0]
    r1.score(next(j for j in r1.judges if j.id == first[0]), first[1], 0.8)
    assert post(client, r1.url, f"{r1.url}/state", {"to": "closed"}).status_code == 302
    refused = post(client, r1.url, f"{r1.url}/state", {"to": "finalised"})
    assert refused.status_code == 409
    assert error_message(html(refused)) == "还有 17 份评分未提交，不能定稿。"
    assert committed(select(Round.state).where(Round.id == r1.round.id)) == "closed"

    assert post(client, r1.url, f"{r1.url}/state", {"to": "open"}).status_code == 302  # reopened
    db.session.expire_all()
    r1.score_all()
    post(client, r1.url, f"{r1.url}/state", {"to": "closed"})
    response = post(client, r1.url, f"{r1.url}/state", {"to": "finalised"})
    assert response.status_code == 302
    assert committed(select(Round.state).where(Round.id == r1.round.id)) == "finalised"
    assert [audit_count(a) for a in ("round.open", "round.closed", "round.reopen", "round.finalised")] == [1, 2, 1, 1]
    assert "本轮已定稿" in html(client.get(r1.url))
    unknown = post(client, r1.url, f"{r1.url}/state", {"to": "archived"})
    assert unknown.status_code == 400


# --- the dashboard -------------------------------------------------------------------


def test_dashboard_shows_agreement_flags_a_wide_spread_and_ranks(client, r1):  # type: ignore[no-untyped-def]
    r1.add_all_entries()
    r1.add_judges(3)
    r1.set_state("open")
    wide = r1.entries[2]

    def fraction(judge_index: int, entry_index: int) -> float:
        if r1.entries[entry_index].id == wide.id:
            return (0.95, 0.4, 0.7)[judge_index]  # totals 95, 40, 70: a spread of 55
        return 0.5 + 0.07 * entry_index + 0.01 * judge_index

    r1.score_all(fraction)
    page = html(client.get(f"{r1.url}/dashboard"))
    assert "评委一致性 ICC =" in page and "的差异来自作品本身水平的高低" in page
    flagged = re.findall(r'<tr class="jd-flagged">.*?<th scope="row">(.*?)</th>', page, re.S)
    assert [re.sub(r"\s*<span.*", "", f) for f in flagged] == ["项目3"]
    assert "需复评" in page and ">55.0<" in page
    # the ranking: 项目6 has the highest marks
    first = re.search(r'<td class="num">1</td>\s*<th scope="row">(项目\d)', page)
    assert first and first.group(1) == "项目6"
    # per judge: progress, mean, SD and the "not calibrated" warning (6 scores each, min 5: calibrated)
    assert "100% <span class=\"muted small\">6/6</span>" in page
    assert "jd-muted-badge" not in page and ">打分过于集中<" not in page
    # every submitted score with its values per criterion, for reopening
    assert page.count('name="reason"') == 18


def test_dashboard_warns_of_uncalibrated_and_flat_judges(client, r1):  # type: ignore[no-untyped-def]
    r1.add_all_entries()
    r1.add_judges(3)
    r1.set_state("open")
    # judge 1 gives everything the same marks
    r1.score_all(lambda j, e: 0.6 if j == 0 else 0.3 + 0.1 * e)
    page = html(client.get(f"{r1.url}/dashboard"))
    assert '<span class="badge jd-warn">打分过于集中</span>' in page  # SD 0: flat …
    assert '<span class="badge jd-muted-badge">未校准</span>' in page  # … and not calibrated


def test_reopening_a_score_needs_a_reason_and_is_audited(client, r1):  # type: ignore[no-untyped-def]
    r1.add_all_entries()
    r1.add_judges(3)
    r1.set_state("open")
    judge_id, entry_id = sorted(r1.pairs())[0]
    judge = next(j for j in r1.judges if j.id == judge_id)
    r1.score(judge, entry_id, 0.8)
    dash = f"{r1.url}/dashboard"
    data = {"entry_id": str(entry_id), "judge_id": str(judge_id)}
    refused = post(client, dash, f"{r1.url}/scores/reopen", {**data, "reason": " "})
    assert refused.status_code == 400 and error_message(html(refused)) == "请填写原因。"
    assert committed(select(Score.status)) == "submitted"
    assert audit_count("score.reopen") == 0
    response = post(client, dash, f"{r1.url}/scores/reopen", {**data, "reason": "创新性一项打分有误"})
    assert response.status_code == 302 and response.headers["Location"] == f"{dash}#scores"
    assert committed(select(Score.status)) == "draft"
    assert committed(select(Score.reopen_reason)) == "创新性一项打分有误"
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "score.reopen"))
    assert event is not None and event.actor_id == r1.organiser.id and event.after == {"status": "draft", "reason": "创新性一项打分有误"}
    refused = post(client, dash, f"{r1.url}/scores/reopen", {**data, "reason": "再来一次"})
    assert refused.status_code == 409 and error_message(html(refused)) == "这份评分还没有提交。"


# --- advancing -----------------------------------------------------------------------


def test_advance_by_top_n_with_a_preview_then_confirm(client, r1):  # type: ignore[no-untyped-def]
    r1.add_all_entries()
    r1.add_judges(3)
    final = judging.create_round(
        db.session, actor=r1.organiser, contest=r1.contest, now=r1.now,
        criteria=[judging.CriterionFields("现场路演", 10, 100)],
        fields=judging.RoundFields(key="final", name="决赛路演", kind="live", judges_per_entry=3, position=1))
    db.session.commit()
    r1.set_state("open")
    r1.score_all(lambda j, e: 0.4 + 0.1 * e)  # 项目6 best, then 项目5 …
    dash = f"{r1.url}/dashboard"
    data = {"target_id": str(final.id), "mode": "top", "top_n": "2"}
    assert "本轮定稿后才能晋级作品。" in html(client.get(dash))
    refused = post(client, r1.url, f"{r1.url}/advance", data)
    assert refused.status_code == 409 and error_message(html(refused)) == "请先将本轮定稿，再晋级作品。"
    r1.set_state("closed")
    r1.set_state("finalised")

    page = html(client.get(dash))
    assert "不同分数线下的晋级数" in page and "≥ 90" in page
    preview = post(client, dash, f"{r1.url}/advance", data)
    assert preview.status_code == 200
    text = html(preview)
    assert "将有 2 件作品从“网络评审”晋级到“决赛路演”" in text
    assert re.findall(r'<th scope="row">(项目\d)</th>', text) == ["项目6", "项目5"]
    assert committed(select(func.count()).select_from(RoundEntry).where(RoundEntry.round_id == final.id)) == 0
    assert audit_count("round.advance") == 0
    fields = form_fields(text, "confirm")
    response = client.post(f"{r1.url}/advance", data=fields)
    assert response.status_code == 302 and response.headers["Location"] == f"{BASE}/rounds/{final.id}#entries"
    with db.engine.connect() as conn:
        advanced = set(conn.execute(select(RoundEntry.entry_id).where(RoundEntry.round_id == final.id)).scalars())
    assert advanced == {r1.entries[5].id, r1.entries[4].id}
    assert audit_count("round.advance") == 1

    # from the later round: by threshold, previewed from its overview
    later = f"{BASE}/rounds/{final.id}"
    assert "从已定稿的轮次晋级" in html(client.get(later))
    preview = post(client, later, f"{later}/advance-from", {"source_id": str(r1.round.id), "mode": "threshold",
                                                             "threshold": "60"})
    assert preview.status_code == 200
    assert "得分不低于 60 分" in html(preview)
    bad = post(client, dash, f"{r1.url}/advance", {"target_id": str(final.id), "mode": "top", "top_n": "0"})
    assert bad.status_code == 400 and error_message(html(bad)) == "晋级名额至少为 1。"


# --- the live final ----------------------------------------------------------------


def test_live_control_brings_entries_on_stage(client, r1):  # type: ignore[no-untyped-def]
    live = judging.create_round(
        db.session, actor=r1.organiser, contest=r1.contest, now=r1.now,
        criteria=[judging.CriterionFields("现场路演", 10, 100)],
        fields=judging.RoundFields(key="final", name="决赛路演", kind="live", judges_per_entry=3, position=1))
    db.session.commit()
    r1.round = live
    r1.add_all_entries()
    r1.add_judges(3)
    page = html(client.get(f"{r1.url}/live"))
    assert "请先开启本轮评审，才能请项目上台。" in page
    assert f'href="/judge/rounds/{live.id}/screen"' in page
    refused = post(client, f"{r1.url}/live", f"{r1.url}/live", {"entry_id": str(r1.entries[0].id)})
    assert refused.status_code == 409 and error_message(html(refused)) == "请先开启本轮评审。"

    r1.set_state("open")
    page = html(client.get(f"{r1.url}/live"))
    assert "下一个：项目1" in page and "路演中" not in page
    response = post(client, f"{r1.url}/live", f"{r1.url}/live", {"entry_id": str(r1.entries[0].id)})
    assert response.status_code == 302
    assert committed(select(Round.live_entry_id).where(Round.id == live.id)) == r1.entries[0].id
    page = html(client.get(f"{r1.url}/live"))
    assert "路演中" in page and "下一个：项目2" in page
    assert audit_count("round.live") == 1

    db.session.expire_all()
    r1.round = db.session.get(Round, live.id)
    for judge in r1.judges:
        r1.score(judge, r1.entries[0].id, 0.8)
    page = html(client.get(f"{r1.url}/live"))
    assert "已提交 3 / 3 位评委" in page and "现场排名" in page
    response = post(client, f"{r1.url}/live", f"{r1.url}/live", {"entry_id": ""})
    assert response.status_code == 302
    assert committed(select(Round.live_entry_id).where(Round.id == live.id)) is None
    page = html(client.get(f"{r1.url}/live"))
    assert "已评分 3/3" in page and "下一个：项目2" in page


def test_a_review_round_has_no_stage(client, r1):  # type: ignore[no-untyped-def]
    r1.add_all_entries()
    r1.add_judges(3)
    r1.set_state("open")
    refused = post(client, f"{r1.url}/live", f"{r1.url}/live", {"entry_id": str(r1.entries[0].id)})
    assert refused.status_code == 409 and error_message(html(refused)) == "只有现场路演轮次可以切换路演项目。"


# --- bounded queries -------------------------------------------------------------------


def test_pages_run_a_bounded_number_of_queries(client, r1, make_entry, make_school, count_queries):  # type: ignore[no-untyped-def]
    def grow(entries: int, judges: int) -> None:
        new = [make_entry(r1.contest, school=make_school(), title=f"新项目{len(r1.entries) + i}") for i in range(entries)]
        r1.entries += new
        judging.add_entries(db.session, actor=r1.organiser, rnd=r1.round, entry_ids=[e.id for e in new], now=r1.now)
        db.session.commit()
        r1.add_judges(judges)
        judging.rebalance(db.session, actor=r1.organiser, rnd=r1.round, now=r1.now)
        db.session.commit()

    def counts() -> list[int]:
        found = []
        for path in (f"{BASE}/", r1.url, f"{r1.url}/dashboard", f"{r1.url}/live"):
            with count_queries() as statements:
                assert client.get(path).status_code == 200
            found.append(len(statements))
        return found

    grow(6, 3)
    small = counts()
    grow(8, 3)
    assert counts() == small


def test_invitation_link_is_built_on_the_public_address(app, client, r1):  # type: ignore[no-untyped-def]
    from dataclasses import replace
    app.extensions["settings"] = replace(app.extensions["settings"], public_base_url="https://vote.example.cn")
    token = csrf_token(client, r1.url)
    response = client.post(f"{r1.url}/invites", data={"csrf_token": token, "name": "李老师"})
    assert response.status_code == 200
    assert re.search(r'id="invite-link" type="text" value="https://vote\.example\.cn/judge/invite/[^"]+"', html(response))
