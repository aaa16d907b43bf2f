"""The judges' pages, invitation links and the live final's big screen.

Rounds, rubrics, panels and scores are set up through the judging service (as the
organisers' pages would); the judges then act through HTTP, with the CSRF token of the
page like a browser. Every refusal asserts its status, its message and that nothing was
stored.
"""

from __future__ import annotations

import html as html_lib
import json
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from contest.accounts.actors import SYSTEM
from contest.accounts.models import User
from contest.clock import FixedClock
from contest.contests.models import Contest, Entry, NomineeProfile, School, TeamMember
from contest.extensions import db
from contest.judging import service as judging
from contest.judging.models import Conflict as ConflictRow
from contest.judging.models import JudgeProfile, PanelMember, Round, Score
from contest.judging.visibility import what_judge_sees
from tests.conftest import csrf_token, sign_in_id

CSRF_MESSAGE = "页面已过期或来源不明，请刷新页面后重新提交。"
RUBRIC = (("创新性", 40.0, 40.0, "理念、技术或模式的新颖程度"), ("可行性", 30.0, 30.0, "市场分析与商业模式"),
          ("团队", 30.0, 30.0, "分工与执行力"))


# --- set-up through the service ---------------------------------------------------------------


@dataclass
class Setup:
    contest: Contest
    round: Round
    entries: list[Entry]
    judges: list[User]
    schools: list[School]
    criteria: list[int] = field(default_factory=list)

    def url(self, suffix: str = "") -> str:
        return f"/judge/rounds/{self.round.id}{suffix}"

    def entry_url(self, entry: Entry) -> str:
        return self.url(f"/entries/{entry.id}")

    def field(self, position: int) -> str:
        return f"c{self.criteria[position]}"


def _team(entry: Entry, school: School, names: tuple[str, ...]) -> None:
    for position, name in enumerate(names):
        entry.team_members.append(TeamMember(
            contest_id=entry.contest_id, role="leader" if position == 0 else "advisor" if position == len(names) - 1 else "member",
            name=name, student_no=f"{entry.id}-{position}", school_id=school.id, major="电子商务", position=position))


@pytest.fixture
def build(app: Flask, clock: FixedClock, make_user, make_school, make_contest, make_entry) -> Callable[..., Setup]:  # type: ignore[no-untyped-def]
    """A contest with a round, its rubric, entries (with teams) and a panel, all through the
    service. Judges have signed the declaration unless declared=False."""
    counter = iter(range(1, 1000))

    def make(*, kind: str = "review", blind: bool = True, judges: int = 3, entries: int = 3, k: int | None = None,
             declared: bool = True, rubric: tuple[tuple[str, float, float, str], ...] = RUBRIC,
             step: float = 0.5, open_round: bool = True) -> Setup:
        n = next(counter)
        now = clock.now()
        contest = make_contest(kind="innovation", stage="judging", slug=f"hyp-{n}", title=f"黄炎培创新创业大赛{n}",
                               categories=())
        schools = [make_school(name=f"济南第{n}{i}职业学校") for i in range(entries)]
        made = []
        for i in range(entries):
            entry = make_entry(contest, title=f"项目{n}-{i + 1}：智慧农业", school=schools[i])
            _team(entry, schools[i], (f"王同学{n}{i}", f"李同学{n}{i}", f"赵老师{n}{i}"))
            made.append(entry)
        db.session.commit()
        rnd = judging.create_round(
            db.session, actor=SYSTEM, contest=contest, now=now,
            fields=judging.RoundFields(key=f"r{n}", name="决赛路演" if kind == "live" else "网络评审", kind=kind,
                                       judges_per_entry=k or judges, blind=blind, score_step=step),
            criteria=[judging.CriterionFields(name, maximum, weight, description) for name, maximum, weight, description in rubric],
        )
        judging.add_entries(db.session, actor=SYSTEM, rnd=rnd, entry_ids=[e.id for e in made], now=now)
        panel = [make_user("judge", name=f"评委{n}-{j + 1}") for j in range(judges)]
        for judge in panel:
            judging.add_judge(db.session, actor=SYSTEM, rnd=rnd, user=judge, now=now)
        if open_round:
            judging.set_state(db.session, actor=SYSTEM, rnd=rnd, state="open", now=now)
        if declared and open_round:
            for judge in panel:
                judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=now)
        db.session.commit()
        return Setup(contest, rnd, made, panel, schools, [c.id for c in rnd.criteria])

    return make


@pytest.fixture
def browser(app: Flask, client: FlaskClient) -> Callable[[User | None], FlaskClient]:
    """A client of its own (own cookies) signed in as the user, through the session cookie."""
    def make(user: User | None) -> FlaskClient:
        other = app.test_client()
        if user is not None:
            with other.session_transaction() as session:
                session["_user_id"] = sign_in_id(user)
                session["_fresh"] = True
        return other
    return make


def text(response: Any) -> str:
    return response.get_data(as_text=True)


def post(client: FlaskClient, url: str, data: dict[str, Any], page: str | None = None) -> Any:
    """Post like a browser: the CSRF token comes from the page the form is on."""
    token = csrf_token(client, page or url)
    return client.post(url, data={"csrf_token": token, **data})


def scores() -> list[Score]:
    db.session.rollback()
    return list(db.session.scalars(select(Score).order_by(Score.id)))


def field_error(page: str, field_id: str) -> str:
    """The text of the error shown with a field."""
    match = re.search(rf'id="{field_id}-error"[^>]*>([^<]*)<', page)
    return html_lib.unescape(match.group(1)) if match else ""


def values(s: Setup, *marks: float | str) -> dict[str, Any]:
    return {s.field(i): mark for i, mark in enumerate(marks)}


def submit_score(s: Setup, judge: User, entry: Entry, *marks: float) -> None:
    """A judge submits through the service (as another judge's phone would)."""
    judging.save_score(db.session, judge=judge, rnd=s.round, entry_id=entry.id,
                       raw_values={str(c): m for c, m in zip(s.criteria, marks, strict=True)}, submit=True,
                       now=judging_now())
    db.session.commit()


def judging_now() -> Any:
    from contest import web
    return web.now()


# --- who may see the pages ----------------------------------------------------------------------


def test_anonymous_visitors_are_sent_to_log_in(build, client) -> None:
    s = build()
    for url in ("/judge/", s.url(), s.url("/declaration"), s.entry_url(s.entries[0]), s.url("/screen")):
        response = client.get(url)
        assert response.status_code == 302, url
        assert "/account/login" in response.headers["Location"]


def test_a_citizen_gets_403_on_every_judging_page(build, browser, make_user) -> None:
    s = build(kind="live")
    citizen = browser(make_user())
    for url in ("/judge/", s.url(), s.url("/declaration"), s.entry_url(s.entries[0]), s.url("/screen"),
                s.url("/screen.json")):
        response = citizen.get(url)
        assert response.status_code == 403, url
    token = csrf_token(citizen, "/")  # the header's log-out form
    for url in (s.url("/declaration"), s.entry_url(s.entries[0])):
        response = citizen.post(url, data={"csrf_token": token, "accept": "yes", "action": "submit", "confirmed": "1",
                                           **values(s, 30, 20, 20)})
        assert response.status_code == 403, url
    assert scores() == []


def test_a_judge_not_on_the_panel_gets_403(build, browser, make_user) -> None:
    s = build(kind="live")
    outsider = browser(make_user("judge"))
    assert outsider.get("/judge/").status_code == 200
    for url in (s.url(), s.url("/declaration"), s.entry_url(s.entries[0]), s.url("/screen"), s.url("/screen.json")):
        response = outsider.get(url)
        assert response.status_code == 403, url
        assert "您不是本轮评委" in text(response) or "您没有权限" in text(response)
    assert outsider.get("/judge/rounds/999999").status_code == 404


def test_the_judges_rounds_show_progress(build, browser) -> None:
    s = build(declared=False)
    judge = s.judges[0]
    page = text(browser(judge).get("/judge/"))
    assert s.round.name in page and s.contest.title in page
    assert "已提交 0 / 3" in page
    assert '<progress id="progress-' in page
    assert "签署回避声明" in page
    judging.sign_declaration(db.session, judge=judge, rnd=s.round, accepted=True, now=judging_now())
    db.session.commit()
    submit_score(s, judge, s.entries[0], 30, 20, 20)
    page = text(browser(judge).get("/judge/"))
    assert "已提交 1 / 3" in page and "进入评分" in page


# --- the declaration ------------------------------------------------------------------------------


def test_the_declaration_comes_before_the_queue_and_any_entry(build, browser) -> None:
    s = build(declared=False)
    judge = browser(s.judges[0])
    response = judge.get(s.url())
    assert response.status_code == 302 and response.headers["Location"].endswith(s.url("/declaration"))
    response = judge.get(s.entry_url(s.entries[0]))
    assert response.status_code == 302 and response.headers["Location"].endswith(s.url("/declaration"))
    response = post(judge, s.entry_url(s.entries[0]), {"action": "draft", **values(s, 30)}, page="/")
    assert response.status_code == 403
    assert "请先签署回避声明" in text(response)
    assert scores() == []

    page = text(judge.get(s.url("/declaration")))
    assert "关于回避的承诺" in page and "近亲属" in page and "师生关系" in page and "保密" in page and "独立评分" in page
    response = judge.get(s.url("/screen"))  # a review round has no big screen
    assert response.status_code == 404


def test_the_declaration_needs_the_confirmation(build, browser) -> None:
    s = build(declared=False)
    judge = browser(s.judges[0])
    response = post(judge, s.url("/declaration"), {"conflict": str(s.entries[1].id)})
    assert response.status_code == 400
    page = text(response)
    assert field_error(page, "accept") == "请阅读并确认回避声明。"
    assert 'aria-describedby="accept-error"' in page
    assert re.search(rf'value="{s.entries[1].id}" checked', page)  # the ticks are kept
    db.session.rollback()
    assert db.session.scalar(select(PanelMember.declared_at).where(PanelMember.judge_id == s.judges[0].id)) is None
    assert db.session.scalar(select(func.count()).select_from(ConflictRow)) == 0


def test_a_declared_conflict_takes_the_entry_off_the_judge(build, browser) -> None:
    s = build(declared=False)
    judge_user = s.judges[0]
    judge = browser(judge_user)
    conflicted = s.entries[1]
    response = post(judge, s.url("/declaration"), {"accept": "yes", "conflict": str(conflicted.id), "note": "指导教师是同事"})
    assert response.status_code == 302 and response.headers["Location"].endswith(s.url())

    queue = text(judge.get(s.url()))
    assert conflicted.title not in queue
    assert s.entries[0].title in queue and s.entries[2].title in queue
    response = judge.get(s.entry_url(conflicted))
    assert response.status_code == 403 and "这件作品没有分配给您" in text(response)
    db.session.rollback()
    row = db.session.scalar(select(ConflictRow).where(ConflictRow.judge_id == judge_user.id))
    assert row is not None and (row.entry_id, row.source, row.note) == (conflicted.id, "declared", "指导教师是同事")
    # Coming back to the declaration shows it as already excluded.
    page = text(judge.get(s.url("/declaration")))
    assert re.search(rf'id="conflict-{conflicted.id}" checked disabled', page)
    assert "您已申报回避" in page and "您已于" in page


def test_affiliation_conflicts_are_shown_as_already_excluded(build, browser) -> None:
    s = build(declared=False, blind=False)
    judge_user = s.judges[0]
    db.session.add(JudgeProfile(user_id=judge_user.id, organisation="济南职教研究所", school_id=s.schools[2].id))
    db.session.commit()
    page = text(browser(judge_user).get(s.url("/declaration")))
    assert re.search(rf'id="conflict-{s.entries[2].id}" checked disabled', page)
    assert "与您任职的学校相关，已自动回避" in page
    assert re.search(rf'name="conflict" value="{s.entries[0].id}"', page)


# --- scoring --------------------------------------------------------------------------------------


def test_an_entry_not_assigned_to_the_judge_is_refused(build, browser) -> None:
    s = build()
    other = build()
    judge = browser(s.judges[0])
    # an entry of another round
    response = judge.get(s.entry_url(other.entries[0]))
    assert response.status_code == 403 and "这件作品没有分配给您" in text(response)
    # an entry of this round that an organiser took off the judge
    judging.unassign(db.session, actor=SYSTEM, rnd=s.round, judge_id=s.judges[0].id, entry_id=s.entries[0].id,
                     reason="亲属关系", now=judging_now())
    db.session.commit()
    assert judge.get(s.entry_url(s.entries[0])).status_code == 403
    response = post(judge, s.entry_url(s.entries[0]), {"action": "draft", **values(s, 30)}, page=s.url())
    assert response.status_code == 403
    assert scores() == []


def test_save_a_draft_then_submit(build, browser) -> None:
    s = build()
    judge_user = s.judges[0]
    judge = browser(judge_user)
    first, second = s.entries[0], s.entries[1]
    page = text(judge.get(s.entry_url(first)))
    for i, (name, maximum, weight, description) in enumerate(RUBRIC):
        fid = s.field(i)
        assert f'<legend>{name}</legend>' in page and description in page
        assert re.search(rf'<input type="number" id="{fid}" name="{fid}" min="0" max="{maximum:g}" step="0.5" inputmode="decimal"', page)
        assert f'<label for="{fid}">' in page
        assert f"权重 {weight:g}%" in page
    assert "保存草稿" in page and "提交评分" in page and "提交后评分将锁定" in page

    response = post(judge, s.entry_url(first), {"action": "draft", "comment": "思路清晰", **values(s, "32.5", "", "")})
    assert response.status_code == 302 and response.headers["Location"].endswith(s.entry_url(first))
    [draft] = scores()
    assert (draft.status, draft.values, draft.comment) == ("draft", {str(s.criteria[0]): 32.5}, "思路清晰")
    page = text(judge.get(s.entry_url(first)))
    assert f'id="{s.field(0)}" name="{s.field(0)}"' in page and 'value="32.5"' in page and "思路清晰" in page
    assert "32.50" in page  # the running total of what is filled in
    assert "草稿" in text(judge.get(s.url()))

    # Submitting without the script's confirmation: the page asks first and stores nothing.
    response = post(judge, s.entry_url(first), {"action": "submit", "comment": "思路清晰", **values(s, 32.5, 24, 27)})
    assert response.status_code == 200
    page = text(response)
    assert "确认提交" in page and 'name="confirmed" value="1"' in page and "83.50" in page
    assert scores()[0].status == "draft"

    response = post(judge, s.entry_url(first), {"action": "submit", "confirmed": "1", "comment": "思路清晰",
                                                **values(s, 32.5, 24, 27)})
    assert response.status_code == 302
    assert response.headers["Location"].endswith(s.entry_url(second))  # the next unscored entry
    [score] = scores()
    assert score.status == "submitted" and score.submitted_at is not None
    assert score.values == {str(s.criteria[0]): 32.5, str(s.criteria[1]): 24.0, str(s.criteria[2]): 27.0}

    page = text(judge.get(s.entry_url(first)))
    assert "评分已锁定" in page and "只有组织方可以退回评分" in page
    assert 'type="number"' not in page and "保存草稿" not in page
    assert "83.50" in page
    queue = text(judge.get(s.url()))
    assert "已提交 1 / 3" in queue and "已提交" in queue and "待评" in queue


def test_a_submitted_score_is_locked(build, browser) -> None:
    s = build()
    judge = browser(s.judges[0])
    entry = s.entries[0]
    response = post(judge, s.entry_url(entry), {"action": "submit", "confirmed": "1", **values(s, 30, 20, 20)})
    assert response.status_code == 302
    for action, confirmed in (("submit", "1"), ("submit", ""), ("draft", "")):
        response = post(judge, s.entry_url(entry), {"action": action, "confirmed": confirmed, **values(s, 40, 30, 30)},
                        page=s.url())
        assert response.status_code == 409
        assert "评分已提交并锁定；如需修改请联系组织方退回。" in text(response)
    [score] = scores()
    assert score.values == {str(s.criteria[0]): 30.0, str(s.criteria[1]): 20.0, str(s.criteria[2]): 20.0}


@pytest.mark.parametrize(("marks", "action", "position", "message"), [
    (("40.5", "20", "20"), "submit", 0, "“创新性”的分数必须在 0 到 40 之间。"),
    (("-1", "20", "20"), "draft", 0, "“创新性”的分数必须在 0 到 40 之间。"),
    (("30", "20.3", "20"), "submit", 1, "“可行性”的分数须为 0.5 的整数倍。"),
    (("30", "20", ""), "submit", 2, "请为“团队”打分。"),
    (("30", "abc", "20"), "draft", 1, "“可行性”的分数必须是数字。"),
    (("30", "20", "1e999"), "submit", 2, "“团队”的分数必须在 0 到 30 之间。"),
])
def test_bad_marks_are_refused_next_to_the_field(build, browser, marks, action, position, message) -> None:
    s = build()
    judge = browser(s.judges[0])
    for confirmed in ("", "1"):
        response = post(judge, s.entry_url(s.entries[0]), {"action": action, "confirmed": confirmed, "comment": "待定",
                                                           **values(s, *marks)})
        assert response.status_code == 400
        page = text(response)
        fid = s.field(position)
        assert field_error(page, fid) == message
        assert re.search(rf'id="{fid}"[^>]*aria-describedby="[^"]*{fid}-error"[^>]*aria-invalid="true"', page)
        for i, mark in enumerate(marks):  # what was typed comes back
            assert re.search(rf'id="{s.field(i)}" [^>]*value="{re.escape(mark)}"', page)
        assert ">待定</textarea>" in page
    assert scores() == []


def test_a_submission_in_a_closed_round_is_refused(build, browser) -> None:
    s = build()
    judge = browser(s.judges[0])
    page = s.entry_url(s.entries[0])
    token = csrf_token(judge, page)
    judging.set_state(db.session, actor=SYSTEM, rnd=s.round, state="closed", now=judging_now())
    db.session.commit()
    response = judge.post(page, data={"csrf_token": token, "action": "submit", "confirmed": "1", **values(s, 30, 20, 20)})
    assert response.status_code == 409
    assert "本轮评审已截止，不能再提交评分。" in text(response)
    assert scores() == []
    page_now = text(judge.get(page))
    assert "本轮评审已截止" in page_now and 'type="number"' not in page_now


def test_a_post_without_the_csrf_token_is_refused(build, browser) -> None:
    s = build(declared=False)
    judge = browser(s.judges[0])
    response = judge.post(s.url("/declaration"), data={"accept": "yes"})
    assert response.status_code == 400 and CSRF_MESSAGE in text(response)
    judging.sign_declaration(db.session, judge=s.judges[0], rnd=s.round, accepted=True, now=judging_now())
    db.session.commit()
    response = judge.post(s.entry_url(s.entries[0]), data={"action": "submit", "confirmed": "1", **values(s, 30, 20, 20)})
    assert response.status_code == 400 and CSRF_MESSAGE in text(response)
    response = judge.post(s.entry_url(s.entries[0]), data={"csrf_token": "forged", "action": "draft", **values(s, 30)})
    assert response.status_code == 400
    assert scores() == []


def test_a_judge_never_sees_another_judges_marks(build, browser) -> None:
    s = build()
    mine, theirs = s.judges[:2]
    submit_score(s, theirs, s.entries[0], 37.5, 28.5, 13.5)
    submit_score(s, s.judges[2], s.entries[0], 11.5, 12.5, 14.5)
    judge = browser(mine)
    pages = [text(judge.get(url)) for url in (s.url(), s.entry_url(s.entries[0]), "/judge/")]
    for page in pages:
        for mark in ("37.5", "28.5", "13.5", "11.5", "12.5", "14.5", "79.50", "38.50"):
            assert mark not in page
    assert "本轮汇总结果" not in pages[0]


def test_a_blind_round_hides_who_made_the_entry(build, browser, make_contest, make_entry, make_school) -> None:
    s = build(blind=True)
    judge = browser(s.judges[0])
    entry = s.entries[0]
    hidden = [s.schools[0].name, *[m.name for m in entry.team_members]]
    pages = {url: text(judge.get(url)) for url in (s.url(), s.url("/declaration"), s.entry_url(entry))}
    for url, page in pages.items():
        assert entry.title in page, url
        for name in hidden:
            assert name not in page, (url, name)
    assert "2 名学生，1 名指导教师" in pages[s.entry_url(entry)]

    shown = build(blind=False)
    judge = browser(shown.judges[0])
    page = text(judge.get(shown.entry_url(shown.entries[0])))
    assert shown.schools[0].name in page
    assert all(m.name in page for m in shown.entries[0].team_members)


def test_what_a_judge_sees_of_a_nominee(app, make_contest, make_entry, make_school) -> None:
    contest = make_contest(kind="selection", categories=())
    school = make_school(name="济南护理职业学校")
    entry = make_entry(contest, title="白衣天使", school=school, nominee="张小燕")
    blind = what_judge_sees(entry, blind=True)
    assert (blind.title, blind.school, blind.nominee_name, blind.team) == ("白衣天使", "", "", ())
    assert (blind.nominee_major, blind.nominee_grade, blind.nominee_story) == ("护理", "二年级", "故事")
    assert blind.has_nominee
    open_ = what_judge_sees(entry, blind=False)
    assert (open_.school, open_.nominee_name) == ("济南护理职业学校", "张小燕")
    # gender and birth date are never part of what a judge sees
    assert not {"gender", "birth_date", "nominee_gender"} & set(open_.__dataclass_fields__)


def test_the_queue_of_a_live_round_shows_the_entry_on_stage(build, browser) -> None:
    s = build(kind="live", blind=False)
    judge = browser(s.judges[0])
    page = text(judge.get(s.url()))
    assert 'data-refresh="5000"' in page and "js/judging.js" in page
    assert "请等待下一个项目上台路演" in page
    # off stage: no scoring
    response = post(judge, s.entry_url(s.entries[1]), {"action": "draft", **values(s, 30)})
    assert response.status_code == 409 and "请在该项目路演时评分。" in text(response)
    judging.set_live_entry(db.session, actor=SYSTEM, rnd=s.round, entry_id=s.entries[1].id, now=judging_now())
    db.session.commit()
    page = text(judge.get(s.url()))
    assert "正在路演" in page and "为该项目评分" in page and "on-stage-row" in page
    response = post(judge, s.entry_url(s.entries[1]), {"action": "submit", "confirmed": "1", **values(s, 30, 20, 20)})
    assert response.status_code == 302 and response.headers["Location"].endswith(s.url())
    assert scores()[0].status == "submitted"


# --- the big screen -----------------------------------------------------------------------------


FIVE = ((45, 45), (40, 40), (42.5, 42.5), (35, 35), (47.5, 47.5))  # totals 90, 80, 85, 70, 95


@pytest.fixture
def final(build) -> Setup:
    """A live final: 5 judges, two projects, a rubric of two halves (total = sum)."""
    s = build(kind="live", blind=False, judges=5, entries=2,
              rubric=(("项目展示", 50.0, 50.0, "路演陈述"), ("答辩", 50.0, 50.0, "回答问题")))
    judging.set_live_entry(db.session, actor=SYSTEM, rnd=s.round, entry_id=s.entries[0].id, now=judging_now())
    db.session.commit()
    return s


def test_the_big_screen_shows_progress_then_the_trimmed_mean(final, browser, make_user) -> None:
    s = final
    organiser = browser(make_user("organiser"))
    for judge, marks in zip(s.judges[:3], FIVE[:3], strict=True):
        submit_score(s, judge, s.entries[0], *marks)
    response = organiser.get(s.url("/screen"))
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    page = text(response)
    assert s.entries[0].title in page and s.schools[0].name in page
    assert "已提交 3/5" in page
    assert re.search(r'class="screen-result" data-stage-result role="status" hidden', page)
    assert "85.00" not in page and "暂无完成评分的项目" in page
    board = organiser.get(s.url("/screen.json")).get_json()
    assert board["current"]["progress_text"] == "已提交 3/5" and board["current"]["complete"] is False
    assert board["current"]["mean"] == "" and board["ranking"] == []

    for judge, marks in zip(s.judges[3:], FIVE[3:], strict=True):
        submit_score(s, judge, s.entries[0], *marks)
    page = text(organiser.get(s.url("/screen")))
    assert "已提交 5/5" in page
    assert "<s data-stage-high>95.00</s>" in page and "<s data-stage-low>70.00</s>" in page
    assert "<strong data-stage-mean>85.00</strong>" in page
    assert re.search(r'<span class="mean" data-rank-mean>85.00</span>', page)
    board = organiser.get(s.url("/screen.json")).get_json()
    assert board["current"]["complete"] is True
    assert (board["current"]["dropped_high"], board["current"]["dropped_low"], board["current"]["mean"]) == ("95.00", "70.00", "85.00")
    assert [(r["rank"], r["title"], r["mean"]) for r in board["ranking"]] == [(1, s.entries[0].title, "85.00")]
    # a judge of the round sees the same screen
    assert browser(s.judges[0]).get(s.url("/screen.json")).get_json()["current"]["mean"] == "85.00"


def test_the_big_screen_of_a_blind_round_names_nobody(build, browser, make_user) -> None:
    s = build(kind="live", blind=True, judges=3, entries=1)
    judging.set_live_entry(db.session, actor=SYSTEM, rnd=s.round, entry_id=s.entries[0].id, now=judging_now())
    db.session.commit()
    organiser = browser(make_user("organiser"))
    page = text(organiser.get(s.url("/screen")))
    assert s.entries[0].title in page and "已提交 0/3" in page
    for name in (s.schools[0].name, *[m.name for m in s.entries[0].team_members]):
        assert name not in page
    board = json.dumps(organiser.get(s.url("/screen.json")).get_json(), ensure_ascii=False)
    assert s.schools[0].name not in board and "王同学" not in board


def test_the_big_screen_is_refused_to_others(final, build, browser, make_user) -> None:
    s = final
    other = build(kind="live")
    for user in (make_user(), other.judges[0]):
        for url in (s.url("/screen"), s.url("/screen.json")):
            response = browser(user).get(url)
            assert response.status_code == 403, (user.role_names, url)
    response = browser(make_user()).get(s.url("/screen.json"), headers={"Accept": "application/json"})
    assert response.get_json()["error"]["code"] == "forbidden"


# --- invitations ----------------------------------------------------------------------------------


@pytest.fixture
def invitation(build, clock) -> Iterator[tuple[Setup, str]]:
    s = build(judges=1)
    _invite, token = judging.create_invite(db.session, actor=SYSTEM, rnd=s.round, name="周教授", organisation="山东职业学院",
                                           now=clock.now())
    db.session.commit()
    yield s, token


def test_an_invitation_is_accepted_once(invitation, browser, client, make_user) -> None:
    s, token = invitation
    url = f"/judge/invite/{token}"
    page = text(client.get(url))
    assert "周教授" in page and s.round.name in page and s.contest.title in page and "济南市中华职业教育社" in page
    assert f'href="/account/login?next={url}"' in page and "接受邀请</button>" not in page

    user = make_user(name="")
    invited = browser(user)
    assert "接受邀请</button>" in text(invited.get(url))
    response = post(invited, url, {})
    assert response.status_code == 302 and response.headers["Location"].endswith(s.url("/declaration"))
    db.session.rollback()
    member = db.session.scalar(select(PanelMember).where(PanelMember.round_id == s.round.id, PanelMember.judge_id == user.id))
    assert member is not None and member.status == "active"
    assert db.session.get(JudgeProfile, user.id).organisation == "山东职业学院"
    assert invited.get(s.url("/declaration")).status_code == 200

    for again in (invited, browser(make_user())):
        response = again.get(url)
        assert response.status_code == 409 and "这个邀请链接已经使用过了。" in text(response)
        response = again.post(url, data={"csrf_token": csrf_token(again, "/")})
        assert response.status_code == 409


def test_an_expired_or_unknown_invitation_is_refused(invitation, browser, clock, make_user) -> None:
    s, token = invitation
    user = make_user()
    invited = browser(user)
    csrf = csrf_token(invited, "/")
    clock.advance(days=8)
    response = invited.get(f"/judge/invite/{token}")
    assert response.status_code == 409 and "这个邀请链接已过期，请联系组织方重新发送。" in text(response)
    response = invited.post(f"/judge/invite/{token}", data={"csrf_token": csrf})
    assert response.status_code == 409
    response = invited.get("/judge/invite/not-a-real-token")
    assert response.status_code == 404 and "邀请链接无效。" in text(response)
    db.session.rollback()
    assert db.session.scalar(select(PanelMember).where(PanelMember.judge_id == user.id)) is None


def test_an_anonymous_accept_is_sent_to_log_in(invitation, client) -> None:
    s, token = invitation
    url = f"/judge/invite/{token}"
    response = client.post(url, data={"csrf_token": csrf_token(client, "/account/login")})
    assert response.status_code == 302 and "/account/login" in response.headers["Location"]
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(PanelMember).where(PanelMember.round_id == s.round.id)) == 1


def test_the_nominee_page_of_a_selection_round(build, browser, make_contest, make_entry, make_school, clock) -> None:
    """A blind 最美职校生 round: the nominee's story and major show, the name does not."""
    contest = make_contest(kind="selection", stage="judging", categories=())
    school = make_school(name="济南商贸职业学校")
    entry = make_entry(contest, title="追光的少年", school=school, nominee="刘晓明")
    assert isinstance(entry.nominee, NomineeProfile)
    judge_user = build().judges[0]
    rnd = judging.create_round(
        db.session, actor=SYSTEM, contest=contest, now=clock.now(),
        fields=judging.RoundFields(key="expert", name="专家评审", judges_per_entry=1, blind=True),
        criteria=[judging.CriterionFields("技能水平", 100, 100)])
    judging.add_entries(db.session, actor=SYSTEM, rnd=rnd, entry_ids=[entry.id], now=clock.now())
    judging.add_judge(db.session, actor=SYSTEM, rnd=rnd, user=judge_user, now=clock.now())
    judging.set_state(db.session, actor=SYSTEM, rnd=rnd, state="open", now=clock.now())
    judging.sign_declaration(db.session, judge=judge_user, rnd=rnd, accepted=True, now=clock.now())
    db.session.commit()
    page = text(browser(judge_user).get(f"/judge/rounds/{rnd.id}/entries/{entry.id}"))
    assert "追光的少年" in page and "护理" in page and "故事" in page
    assert "刘晓明" not in page and "济南商贸职业学校" not in page


@pytest.mark.parametrize("blind", [True, False])
def test_list_pages_run_a_bounded_number_of_queries(build, browser, count_queries, blind) -> None:
    counts = {}
    for n in (2, 8):
        s = build(kind="live", blind=blind, judges=3, entries=n)
        judging.set_live_entry(db.session, actor=SYSTEM, rnd=s.round, entry_id=s.entries[0].id, now=judging_now())
        for judge in s.judges:
            submit_score(s, judge, s.entries[0], 30, 20, 20)
        judge = browser(s.judges[0])
        for url in (s.url(), s.url("/declaration"), s.url("/screen.json"), s.url("/screen"), "/judge/"):
            judge.get(url)  # warm
            with count_queries() as statements:
                assert judge.get(url).status_code == 200
            counts[(url.replace(str(s.round.id), "R"), n)] = len(statements)
    for (url, n), count in counts.items():
        if n == 8:
            assert count == counts[(url, 2)], (url, counts)


def test_the_entry_page_shows_photos_video_and_business_plan(build, browser, app, clock) -> None:
    from PIL import Image

    from contest.media.models import MediaItem
    from contest.media.service import attach_image

    s = build(blind=False)
    entry = s.entries[0]
    photo = attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (800, 600), (200, 90, 40)),
                         now=clock.now(), caption="田间的传感器")
    db.session.add_all([
        MediaItem(entry_id=entry.id, kind="video", role="pitch", original_key="a" * 64 + ".mp4", poster_key="b" * 64 + ".jpg",
                  content_type="video/mp4", width=1280, height=720, duration_seconds=95.0, position=5, created_at=clock.now()),
        MediaItem(entry_id=entry.id, kind="pdf", role="plan", original_key="c" * 64 + ".pdf", content_type="application/pdf",
                  byte_size=2 * 1048576, position=6, created_at=clock.now()),
    ])
    db.session.commit()
    page = text(browser(s.judges[0]).get(s.entry_url(entry)))
    assert f'src="/media/{photo.thumb_key}"' in page and f'href="/media/{photo.display_key}"' in page
    assert "田间的传感器" in page
    assert f'poster="/media/{"b" * 64}.jpg"' in page and f'<source src="/media/{"a" * 64}.mp4" type="video/mp4">' in page
    assert "路演视频" in page and "时长 95 秒" in page
    assert f'href="/media/{"c" * 64}.pdf" download>下载 PDF</a>' in page and "商业计划书" in page and "2.0 MB" in page


def test_the_review_queue_leads_to_the_next_entry_and_the_result_after_closing(build, browser) -> None:
    s = build(judges=3, entries=2)
    judge_user = s.judges[0]
    judge = browser(judge_user)
    page = text(judge.get(s.url()))
    assert f'href="{s.entry_url(s.entries[0])}">评下一件' in page
    assert 'data-refresh' not in page
    for entry in s.entries:
        for judge_ in s.judges:
            submit_score(s, judge_, entry, 30, 20, 20 if entry is s.entries[0] else 10)
    page = text(judge.get(s.url()))
    assert "您已完成本轮全部评分" in page and "本轮汇总结果" not in page
    judging.set_state(db.session, actor=SYSTEM, rnd=s.round, state="closed", now=judging_now())
    db.session.commit()
    page = text(judge.get(s.url()))
    assert "本轮评审已截止" in page and "本轮汇总结果" in page
    assert "70.00" in page and "60.00" in page


def test_a_blind_round_shows_no_uploaders_words_about_the_files(build, browser) -> None:
    """Alternative texts and captions are the uploader's words (often the file's name):
    they can name the school or the student, so a blind round shows none of them."""
    from contest.media.models import MediaItem

    def attach(entry: Entry) -> None:
        db.session.add_all([
            MediaItem(entry_id=entry.id, kind="image", content_type="image/jpeg", original_key="a" * 64 + ".jpg",
                      alt_text="路演现场（济南第九职专）", caption="王同学在车间", position=0, created_at=judging_now()),
            MediaItem(entry_id=entry.id, kind="pdf", role="plan", content_type="application/pdf",
                      original_key="b" * 64 + ".pdf", caption="李明_济南第九职专_计划书.pdf", byte_size=2048, position=1,
                      created_at=judging_now()),
        ])
        db.session.commit()

    words = ("济南第九职专", "王同学在车间", "李明_")
    s = build(blind=True)
    attach(s.entries[0])
    page = text(browser(s.judges[0]).get(s.entry_url(s.entries[0])))
    assert "下载 PDF" in page and 'alt="第 1 张照片"' in page
    for word in words:
        assert word not in page, word
    shown = build(blind=False)
    attach(shown.entries[0])
    page = text(browser(shown.judges[0]).get(shown.entry_url(shown.entries[0])))
    for word in words:
        assert word in page, word


# --- a nominee's name in the entry's own words -----------------------------------------------


def _selection_round(clock: FixedClock, contest: Contest, entries: list[Entry], judge: User, *, blind: bool,
                     declared: bool = True) -> Round:
    now = clock.now()
    rnd = judging.create_round(
        db.session, actor=SYSTEM, contest=contest, now=now,
        fields=judging.RoundFields(key=f"expert-{int(blind)}", name="专家评审", judges_per_entry=1, blind=blind),
        criteria=[judging.CriterionFields("技能水平", 100, 100)])
    judging.add_entries(db.session, actor=SYSTEM, rnd=rnd, entry_ids=[e.id for e in entries], now=now)
    judging.add_judge(db.session, actor=SYSTEM, rnd=rnd, user=judge, now=now)
    judging.set_state(db.session, actor=SYSTEM, rnd=rnd, state="open", now=now)
    if declared:
        judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=now)
    db.session.commit()
    return rnd


def test_a_blind_round_masks_the_nominees_name_in_the_title_and_story(browser, make_user, make_contest, make_entry,
                                                                      make_school, clock) -> None:
    """Nominations once took the student's name as their title when none was given, and a
    story usually names the student: a blind round shows neither name, on any page."""
    contest = make_contest(kind="selection", stage="judging", categories=())
    entry = make_entry(contest, title="刘晓明", school=make_school(name="济南商贸职业学校"), nominee="刘晓明")
    titled = make_entry(contest, title="刘 晓明的护理之路", school=make_school(), nominee="刘晓明")
    entry.nominee.story = "刘晓明坚持每周去社区服务。"
    db.session.commit()
    judge_user = make_user("judge", name="评委")
    rnd = _selection_round(clock, contest, [entry, titled], judge_user, blind=True, declared=False)
    judge = browser(judge_user)
    mask = f"候选人 #{entry.id}"

    page = text(judge.get(f"/judge/rounds/{rnd.id}/declaration"))
    assert mask in page and "刘晓明" not in page
    judging.sign_declaration(db.session, judge=judge_user, rnd=rnd, accepted=True, now=clock.now())
    db.session.commit()
    for url in (f"/judge/rounds/{rnd.id}", f"/judge/rounds/{rnd.id}/entries/{entry.id}"):
        page = text(judge.get(url))
        assert mask in page and "刘晓明" not in page, url
    assert "××坚持每周去社区服务。" in page and "护理" in page
    page = text(judge.get(f"/judge/rounds/{rnd.id}/entries/{titled.id}"))
    assert "刘 晓明的护理之路" not in page and "刘晓明" not in page  # a name inside a title is masked too
    url = f"/judge/rounds/{rnd.id}/entries/{entry.id}"
    done = judge.post(url, data={"csrf_token": csrf_token(judge, url), "action": "submit", "confirmed": "1",
                                 f"c{rnd.criteria[0].id}": "80"}, follow_redirects=True)
    assert done.status_code == 200 and f"“{mask}”的评分已提交。" in text(done) and "刘晓明" not in text(done)

    open_judge = make_user("judge", name="另一位评委")
    shown = _selection_round(clock, contest, [entry], open_judge, blind=False)
    page = text(browser(open_judge).get(f"/judge/rounds/{shown.id}/entries/{entry.id}"))
    assert "刘晓明坚持每周去社区服务。" in page and mask not in page


def test_a_nomination_sent_without_a_title_reaches_a_blind_round_nameless(app, browser, make_user, make_contest,
                                                                        make_school, clock) -> None:
    """Sent through the nomination form with no title: the stored title names neither the
    student nor the school, and the blind round's pages show no name."""
    from tests.media.conftest import add_contact, entries, nominee_entry, send, submit_url

    contest = make_contest(kind="selection", stage="submission", title="最美职校生测试", short_title="最美职校生")
    school = make_school(name="济南旅游学校")
    contact = make_user("school_contact", name="赵敏")
    add_contact(contact, school)
    response = send(browser(contact), submit_url(contest), nominee_entry(contest, school=str(school.id)))
    assert response.status_code == 302, text(response)[:500]
    (entry,) = entries()
    assert entry.title == "最美职校生候选人"
    entry.status = "approved"
    db.session.commit()
    judge_user = make_user("judge", name="评委")
    rnd = _selection_round(clock, contest, [entry], judge_user, blind=True)
    page = text(browser(judge_user).get(f"/judge/rounds/{rnd.id}/entries/{entry.id}"))
    assert "最美职校生候选人" in page and "她坚持每周去社区服务。" in page
    assert "李小燕" not in page and "济南旅游学校" not in page
