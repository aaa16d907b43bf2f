"""The public side of results: the results page before and after publication, minors'
vote counts, objections (filed, answered, refused), the transparency page and the result
box on entry pages.

The world: a 最美职校生 selection contest in its voting stage with three nominees (an
adult, a 16-year-old and a 19-year-old), votes cast through the voting service (one held
and then voided by an organiser, with its reason, into the ledger), a finalised expert
round, and publication requested by one organiser and confirmed by another once the
clock has moved past the voting window.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from contest.accounts.models import User
from contest.antifraud.service import Verdict
from contest.clock import FixedClock
from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.judging import service as judging
from contest.results import formulas
from contest.results import service as results
from contest.results.models import Objection, ObjectionEvidence, Publication
from contest.voting import review
from contest.voting import service as voting
from contest.voting.models import Vote
from contest.voting.service import CastVote
from tests.conftest import login, submit
from tests.site.isolation import committed

ADULT, MINOR, YOUNG_ADULT = "焊花里的青春", "护理之星", "数控追梦人"
VOID_REASON = "同一网段集中刷票"


@dataclass
class World:
    contest: Contest
    entries: dict[str, Entry]
    organisers: tuple[User, User]
    clock: FixedClock
    make_user: Callable[..., User]
    votes: list[CastVote] = field(default_factory=list)

    @property
    def slug(self) -> str:
        return self.contest.slug

    def entry(self, title: str) -> Entry:
        return self.entries[title]

    def vote(self, title: str, voter: User | None = None, *, held: bool = False) -> CastVote:
        verdict = Verdict(action="hold", score=80, reasons=("subnet_velocity",)) if held else Verdict()
        result = voting.record_vote(db.session, voter=voter or self.make_user(), entry_id=self.entry(title).id,
                                  now=self.clock.now(), verdict=verdict)
        db.session.commit()
        self.votes.append(result.vote)
        return result.vote

    def void(self, votes: list[CastVote], reason: str = VOID_REASON) -> None:
        review.void_votes(db.session, actor=self.organisers[0], contest_id=self.contest.id,
                          vote_ids=[v.id for v in votes], reason=reason, now=self.clock.now())
        db.session.commit()

    def publish(self, *, reason: str = "", advance: bool = True) -> Publication:
        """Request (organiser A) and confirm (organiser B), after the voting window."""
        if advance and self.contest.voting_ends_at and self.clock.now() < self.contest.voting_ends_at:
            self.clock.set(self.contest.voting_ends_at)
            self.clock.advance(hours=1)
        first, second = self.organisers
        publication = results.request_publication(db.session, actor=first, contest=self.contest, now=self.clock.now(),
                                                  amendment_reason=reason)
        results.confirm_publication(db.session, actor=second, publication=publication, now=self.clock.now())
        db.session.commit()
        return publication


def finalise_round(contest: Contest, organiser: User, judge: User, scores: dict[Entry, float], now: Any, *,
                   key: str = "expert", name: str = "专家评审") -> None:
    """A one-judge round with a single 0–100 criterion, scored and finalised."""
    rnd = judging.create_round(db.session, actor=organiser, contest=contest, now=now,
                               criteria=[judging.CriterionFields("综合表现", 100, 100)],
                               fields=judging.RoundFields(key=key, name=name, judges_per_entry=1, aggregation="mean"))
    judging.add_entries(db.session, actor=organiser, rnd=rnd, entry_ids=[e.id for e in scores], now=now)
    judging.add_judge(db.session, actor=organiser, rnd=rnd, user=judge, now=now)
    judging.set_state(db.session, actor=organiser, rnd=rnd, state="open", now=now)
    judging.sign_declaration(db.session, judge=judge, rnd=rnd, accepted=True, now=now)
    criterion = rnd.criteria[0]
    for entry, score in scores.items():
        judging.save_score(db.session, judge=judge, rnd=rnd, entry_id=entry.id, raw_values={str(criterion.id): score},
                           submit=True, now=now)
    judging.set_state(db.session, actor=organiser, rnd=rnd, state="closed", now=now)
    judging.set_state(db.session, actor=organiser, rnd=rnd, state="finalised", now=now)
    db.session.commit()


def build_selection_world(make_contest: Callable[..., Contest], make_entry: Callable[..., Entry],
                          make_school: Callable[..., Any], make_user: Callable[..., User], clock: FixedClock,
                          *, slug: str | None = None) -> World:
    """Valid votes: 焊花里的青春 6, 护理之星 (16 years old) 7, 数控追梦人 (19) 2, and one
    held vote for 数控追梦人; two voided for 焊花里的青春 and one for 护理之星.
    Expert scores 90 / 60 / 80. The rules keep the minor's count private, so the vote
    score's scale is the public counts' top (6): vote scores 100 / 100 (7 capped at the
    scale) / 33.33 and totals (30 % votes, 70 % experts) 93.00 / 72.00 / 66.00."""
    contest = make_contest(kind="selection", stage="voting", categories=(), slug=slug, title="最美职校生网络评选")
    school = make_school("济南第一职业中等专业学校")
    births = {ADULT: date(2001, 4, 2), MINOR: date(2007, 1, 9), YOUNG_ADULT: date(2004, 1, 1)}
    entries = {}
    for title, born in births.items():
        entry = make_entry(contest, title=title, school=school, nominee=f"{title}的选手")
        assert entry.nominee is not None
        entry.nominee.birth_date = born
        entries[title] = entry
    db.session.commit()
    organisers = (make_user("organiser", name="组织者甲"), make_user("organiser", name="组织者乙"))
    world = World(contest, entries, organisers, clock, make_user)
    for title, n in ((ADULT, 8), (MINOR, 8), (YOUNG_ADULT, 2)):
        for _ in range(n):
            world.vote(title)
    world.vote(YOUNG_ADULT, held=True)
    adult_votes = [v for v in world.votes if v.entry_id == entries[ADULT].id]
    minor_votes = [v for v in world.votes if v.entry_id == entries[MINOR].id]
    world.void(adult_votes[:2])
    world.void(minor_votes[:1], reason="同一设备多个账号投票")
    finalise_round(contest, organisers[0], make_user("judge", name="评委"),
                   {entries[ADULT]: 90, entries[MINOR]: 60, entries[YOUNG_ADULT]: 80}, clock.now())
    return world


@pytest.fixture
def world(make_contest, make_entry, make_school, make_user, clock) -> World:  # type: ignore[no-untyped-def]
    return build_selection_world(make_contest, make_entry, make_school, make_user, clock)


def html_of(client: FlaskClient, url: str, status: int = 200) -> str:
    response = client.get(url)
    assert response.status_code == status, response.get_data(as_text=True)[:800]
    return response.get_data(as_text=True)


def row_html(html: str, title: str) -> str:
    """The ranking table row of one entry."""
    match = re.search(r"<tr[^>]*>(?:(?!</tr>).)*?>" + re.escape(title) + r"</a>.*?</tr>", html, re.S)
    assert match, f"no ranking row for {title}"
    return match.group(0)


def cell(row: str, label: str) -> str:
    match = re.search(r'data-label="' + re.escape(label) + r'">(.*?)</t[dh]>', row, re.S)
    assert match, f"no {label} in {row}"
    return re.sub(r"<[^>]+>", "", match.group(1)).strip()


def objections_stored() -> int:
    return committed(select(func.count()).select_from(Objection)) or 0


def evidence_stored() -> int:
    return committed(select(func.count()).select_from(ObjectionEvidence)) or 0


def stored_files(app: Flask) -> list[Path]:
    root = Path(app.extensions["settings"].media_root)
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def png_bytes() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (320, 200), (200, 60, 40)).save(out, "PNG")
    return out.getvalue()


PDF = b"%PDF-1.4\n1 0 obj<</Type/Catalog>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"


# --- before publication ------------------------------------------------------------------------

def test_before_publication_the_page_says_not_yet_and_shows_the_formula(client: FlaskClient, world: World) -> None:
    html = html_of(client, f"/c/{world.slug}/results")
    assert "结果尚未公布" in html
    formula, fingerprint = results.formula_of(db.session, world.contest)
    assert formulas.display_fingerprint(fingerprint) in html and f'title="{fingerprint}"' in html
    assert "总分 = 投票分 × 30% + 专家分 × 70%" in html
    assert "最美职校生 10 名" in html  # the award counts, in words
    assert "完整排名" not in html and ADULT not in html


def test_a_publication_waiting_for_the_second_organiser_is_not_public(client: FlaskClient, world: World) -> None:
    world.clock.set(world.contest.voting_ends_at)  # type: ignore[arg-type]
    world.clock.advance(hours=1)
    results.request_publication(db.session, actor=world.organisers[0], contest=world.contest, now=world.clock.now())
    db.session.commit()
    html = html_of(client, f"/c/{world.slug}/results")
    assert "结果尚未公布" in html and ADULT not in html
    assert 'class="card result-box"' not in html_of(client, f"/c/{world.slug}/entries/{world.entry(ADULT).id}")


# --- after publication -----------------------------------------------------------------------------

def test_after_publication_the_page_shows_state_awards_ranking_fingerprint_and_ledger_head(
    client: FlaskClient, world: World,
) -> None:
    publication = world.publish()
    html = html_of(client, f"/c/{world.slug}/results")
    assert "结果尚未公布" not in html
    # 公示 runs five days from the confirmation (voting ended 05-18 10:00, confirmed an hour later).
    assert '公示中，截至 <span class="nowrap">2023-05-23\u00a011:00</span>' in html
    assert f'href="/c/{world.slug}/results/objections/new"' in html
    # Awards: all three are within the 10 places of 最美职校生, best first.
    awards = html[html.index('id="awards-title"'):html.index('id="ranking-title"')]
    assert "最美职校生" in awards and awards.index(ADULT) < awards.index(MINOR) < awards.index(YOUNG_ADULT)
    # Ranking: 焊花里的青春, 6 valid votes, the top public count → 100 × 30% + 90 × 70% = 93.00.
    ranking = html[html.index('id="ranking-title"'):html.index('id="objections"')]
    assert "<caption>全部作品排名</caption>" in ranking
    assert '<th scope="col" class="num">专家评审<span class="weight">（70%）</span></th>' in ranking
    adult = row_html(ranking, ADULT)
    assert cell(adult, "名次") == "1" and cell(adult, "有效票数") == "6"
    assert cell(adult, "投票分") == "100.00" and cell(adult, "专家评审") == "90.00"
    assert cell(adult, "总分") == "93.00" and cell(adult, "奖项") == "最美职校生"
    young = row_html(ranking, YOUNG_ADULT)
    assert cell(young, "名次") == "3" and cell(young, "有效票数") == "2" and cell(young, "总分") == "66.00"
    # The minor's total, rank and award are public; the count and both scores are not
    # (total − 70 % of a public expert score would give the vote score, and so the count).
    minor = row_html(ranking, MINOR)
    assert cell(minor, "总分") == "72.00" and cell(minor, "名次") == "2"
    assert cell(minor, "有效票数") == cell(minor, "投票分") == cell(minor, "专家评审") == "不公开"
    assert ranking.index(ADULT) < ranking.index(MINOR) < ranking.index(YOUNG_ADULT)
    # The formula with its fingerprint, short and full.
    short = formulas.display_fingerprint(publication.fingerprint)
    assert f'<code class="nowrap" title="{publication.fingerprint}">{short}</code>' in html
    assert "投票分 = 有效票数 ÷ 本组最高有效票数 × 100" in html
    # The sealed ledger head the votes were counted up to, and how to check a vote.
    head = publication.ledger_head
    assert head["hash"] in html and f"#{head['height']}" in html
    assert 'href="/receipts"' in html and "flask " not in html
    assert "每一票都记入一本只能追加、不能改写的公开账本" in html
    ledger = html[html.index('id="ledger-title"'):]
    assert ledger.index("<details") < ledger.index(head["hash"]) < ledger.index("</details>")
    # The daily chart, with its numbers as a table too: the published counts shown (6 + 2),
    # never the minor's 7, which a day's total less the visible counts would give away.
    assert '<svg class="day-chart"' in html and 'role="img"' in html
    assert "<th scope=\"row\">5月16日</th><td>8</td>" in html
    assert f'href="/c/{world.slug}/transparency"' in html


def test_a_formula_override_is_shown_with_its_reason(client: FlaskClient, world: World) -> None:
    formula, _fp = results.formula_of(db.session, world.contest)
    changed = {**formula, "awards": [{"name": "最美职校生", "count": 1}, {"name": "提名奖", "count": 2}]}
    results.set_formula(db.session, actor=world.organisers[0], contest=world.contest, formula=changed,
                        now=world.clock.now(), override=True, reason="参评人数少于预期，调整奖项名额")
    db.session.commit()
    world.publish()
    html = html_of(client, f"/c/{world.slug}/results")
    assert "锁定后的特别变更" in html and "参评人数少于预期，调整奖项名额" in html
    assert '<li class="override">' in html
    ranking = html[html.index('id="ranking-title"'):html.index('id="objections"')]
    assert cell(row_html(ranking, ADULT), "奖项") == "最美职校生"
    assert cell(row_html(ranking, YOUNG_ADULT), "奖项") == "提名奖"


@pytest.mark.parametrize("rule_on", [True, False])
def test_minors_vote_counts_follow_the_rule(client: FlaskClient, world: World, rule_on: bool) -> None:
    world.contest.rules = {**(world.contest.rules or {}), "hide_minor_vote_counts": rule_on}
    db.session.commit()
    world.publish()
    html = html_of(client, f"/c/{world.slug}/results")
    minor = row_html(html, MINOR)
    # 护理之星 is 16 on the day of publication: 7 valid votes, hidden when the rule says so.
    assert cell(minor, "有效票数") == ("不公开" if rule_on else "7")
    # Kept private, the count moves no other entry's figures and its scores are not shown;
    # public, it is the scale's top (7) and its arithmetic is shown.
    assert cell(minor, "投票分") == ("不公开" if rule_on else "100.00")
    assert cell(row_html(html, ADULT), "投票分") == ("100.00" if rule_on else "85.71")
    assert cell(row_html(html, YOUNG_ADULT), "有效票数") == "2"  # 19: an adult
    assert ("未满 18 周岁选手的票数不公开" in html) is rule_on
    entry_page = html_of(client, f"/c/{world.slug}/entries/{world.entry(MINOR).id}")
    box = entry_page[entry_page.index('class="card result-box"'):]
    assert ("<dt>有效票数</dt><dd>不公开</dd>" in box) is rule_on
    assert ("<dt>有效票数</dt><dd>7</dd>" in box) is not rule_on


def test_an_amendment_shows_its_version_reason_and_the_earlier_version(client: FlaskClient, world: World) -> None:
    first = world.publish()
    world.void([v for v in world.votes if v.entry_id == world.entry(YOUNG_ADULT).id and v.status == "valid"][:1])
    second = world.publish(reason="经核查作废 1 张刷票，更正票数")
    html = html_of(client, f"/c/{world.slug}/results")
    assert "第 2 版（更正）" in html and "更正理由：</strong>经核查作废 1 张刷票，更正票数" in html
    versions = html[html.index('id="versions-title"'):]
    assert "第 1 版" in versions and "已被更正" in versions
    assert f'href="/c/{world.slug}/results?version=1"' in versions
    assert cell(row_html(html, YOUNG_ADULT), "有效票数") == "1"
    old = html_of(client, f"/c/{world.slug}/results?version={first.version}")
    assert "您正在查看第 1 版结果，它已被更正。" in old
    assert cell(row_html(old, YOUNG_ADULT), "有效票数") == "2"
    assert second.version == 2
    html_of(client, f"/c/{world.slug}/results?version=9", status=404)


def test_the_results_page_runs_a_bounded_number_of_queries(app: Flask, client: FlaskClient, world: World,
                                                           make_user: Callable[..., User], count_queries: Any) -> None:
    world.publish()
    citizen = make_user()

    def objection(title: str) -> None:
        results.file_objection(db.session, user=citizen, contest=world.contest, entry_id=world.entry(title).id,
                               subject="votes", body=f"关于{title}的票数，请主办方核实。", storage=app.extensions["storage"],
                               now=world.clock.now())
        db.session.commit()

    html_of(client, f"/c/{world.slug}/results")  # the chart of a publication is counted once a process
    objection(ADULT)
    with count_queries() as few:
        html_of(client, f"/c/{world.slug}/results")
    objection(MINOR)
    objection(YOUNG_ADULT)
    with count_queries() as many:
        html = html_of(client, f"/c/{world.slug}/results")
    assert html.count('class="card objection') == 3
    assert len(many) == len(few), (len(few), len(many))


# --- objections ---------------------------------------------------------------------------------------

def test_an_objection_during_publicity_is_listed_then_answered_without_who_filed_it(
    app: Flask, client: FlaskClient, world: World, make_user: Callable[..., User],
) -> None:
    world.publish()
    filer = make_user(name="王举报", phone="13700009999")
    login(client, filer)
    form_url = f"/c/{world.slug}/results/objections/new"
    page = html_of(client, form_url + f"?entry={world.entry(MINOR).id}")
    assert f'<option value="{world.entry(MINOR).id}" selected>' in page
    response = submit(client, form_url, {"entry_id": str(world.entry(MINOR).id), "subject": "votes",
                                         "body": "该选手的票数在投票最后一天异常集中，请核实。"})
    assert response.status_code == 302
    assert response.headers["Location"] == f"/c/{world.slug}/results#objections"
    assert objections_stored() == 1
    stored = db.session.scalar(select(Objection))
    assert stored is not None and stored.filed_by_id == filer.id and stored.subject == "votes"
    assert "异议已提交" in html_of(client, f"/c/{world.slug}/results")

    public = app.test_client()
    html = html_of(public, f"/c/{world.slug}/results")
    section = html[html.index('id="objections"'):html.index('id="formula-title"')]
    assert "该选手的票数在投票最后一天异常集中，请核实。" in section
    assert "投票情况" in section and f"针对：{MINOR}" in section and "待答复" in section
    for secret in ("王举报", "13700009999", "137****9999"):
        assert secret not in html

    results.answer_objection(db.session, actor=world.organisers[1], objection=stored,
                             answer="经核查，相关投票来自不同网络和设备，属正常投票。", outcome="rejected",
                             now=world.clock.now())
    db.session.commit()
    html = html_of(public, f"/c/{world.slug}/results")
    section = html[html.index('id="objections"'):html.index('id="formula-title"')]
    assert "经核查，相关投票来自不同网络和设备，属正常投票。" in section and "异议不成立" in section
    assert "待答复" not in section
    for secret in ("王举报", "13700009999", "137****9999"):
        assert secret not in html


def test_an_objection_with_evidence_stores_the_files(app: Flask, client: FlaskClient, world: World,
                                                      make_user: Callable[..., User]) -> None:
    world.publish()
    login(client, make_user())
    form_url = f"/c/{world.slug}/results/objections/new"
    response = submit(client, form_url, {
        "entry_id": "", "subject": "score", "body": "专家评分与公布的评分标准不一致，请复核。",
        "files": [(io.BytesIO(png_bytes()), "截图.png"), (io.BytesIO(PDF), "说明.pdf")],
    }, content_type="multipart/form-data")
    assert response.status_code == 302, response.get_data(as_text=True)[:500]
    assert objections_stored() == 1 and evidence_stored() == 2
    html = html_of(client, f"/c/{world.slug}/results")
    assert "针对：整体结果" in html and "评审评分" in html


def test_an_objection_after_publicity_is_refused_with_the_date_and_nothing_is_stored(
    client: FlaskClient, world: World, make_user: Callable[..., User],
) -> None:
    world.publish()
    login(client, make_user())
    form_url = f"/c/{world.slug}/results/objections/new"
    token_page = f"/c/{world.slug}/results"
    world.clock.advance(days=6)
    message = "公示期已于 2023-05-23 11:00 结束，不能再提出异议。"
    page = client.get(form_url)
    assert page.status_code == 409 and message in page.get_data(as_text=True)
    assert "<textarea" not in page.get_data(as_text=True)
    response = submit(client, token_page, {"entry_id": "", "subject": "votes", "body": "公示期过后才看到结果，有异议。"},
                      action=form_url)
    assert response.status_code == 409
    assert message in response.get_data(as_text=True)
    assert objections_stored() == 0
    html = html_of(client, token_page)
    assert "公示期已结束" in html and f'href="{form_url}"' not in html


def test_no_objection_before_anything_is_published(client: FlaskClient, world: World,
                                                   make_user: Callable[..., User]) -> None:
    login(client, make_user())
    form_url = f"/c/{world.slug}/results/objections/new"
    response = submit(client, f"/c/{world.slug}/results", {"subject": "votes", "body": "还没公布就想提异议。。"},
                      action=form_url)
    assert response.status_code == 409
    assert "本活动目前不在公示期，不能提出异议。" in response.get_data(as_text=True)
    assert objections_stored() == 0


def test_an_anonymous_visitor_is_sent_to_login(client: FlaskClient, world: World) -> None:
    world.publish()
    form_url = f"/c/{world.slug}/results/objections/new"
    response = client.get(form_url)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=%2Fc%2F" + world.slug)
    response = submit(client, "/account/login", {"subject": "votes", "body": "没有登录也想提出异议。"}, action=form_url)
    assert response.status_code == 302 and response.headers["Location"].startswith("/account/login?next=")
    assert objections_stored() == 0


def test_a_too_short_objection_is_refused_next_to_the_field(client: FlaskClient, world: World,
                                                            make_user: Callable[..., User]) -> None:
    world.publish()
    login(client, make_user())
    form_url = f"/c/{world.slug}/results/objections/new"
    response = submit(client, form_url, {"entry_id": str(world.entry(ADULT).id), "subject": "entry", "body": "不公平"})
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert '<small id="body-error" class="field-error">请写明异议的事实和理由（至少 10 个字）。</small>' in html
    assert 'aria-invalid="true">不公平</textarea>' in html  # what was typed is kept
    assert f'<option value="{world.entry(ADULT).id}" selected>' in html
    assert objections_stored() == 0


@pytest.mark.parametrize("data, name", [
    (b"PK\x03\x04" + b"\x00" * 200, "证据.zip"),
    (b"just some text, not an image", "说明.txt"),
])
def test_evidence_that_is_neither_an_image_nor_a_pdf_is_refused_and_nothing_is_stored(
    app: Flask, client: FlaskClient, world: World, make_user: Callable[..., User], data: bytes, name: str,
) -> None:
    world.publish()
    login(client, make_user())
    form_url = f"/c/{world.slug}/results/objections/new"
    before = stored_files(app)
    # A good file first: the service stores it before it meets the bad one.
    response = submit(client, form_url, {
        "entry_id": "", "subject": "entry", "body": "该作品不符合参赛资格，附证明材料。",
        "files": [(io.BytesIO(png_bytes()), "截图.png"), (io.BytesIO(data), name)],
    }, content_type="multipart/form-data")
    assert response.status_code == 415
    html = response.get_data(as_text=True)
    assert '<small id="files-error" class="field-error">证明文件只接受 JPEG、PNG、WebP 图片或 PDF。</small>' in html
    assert objections_stored() == 0 and evidence_stored() == 0
    assert stored_files(app) == before


def test_a_broken_pdf_is_refused_with_422(client: FlaskClient, world: World, make_user: Callable[..., User]) -> None:
    world.publish()
    login(client, make_user())
    response = submit(client, f"/c/{world.slug}/results/objections/new", {
        "entry_id": "", "subject": "entry", "body": "附上的文件说明了问题所在。",
        "files": [(io.BytesIO(b"%PDF-1.4\n1 0 obj<<>>"), "说明.pdf")],
    }, content_type="multipart/form-data")
    assert response.status_code == 422
    assert "文件不完整" in response.get_data(as_text=True)
    assert objections_stored() == 0


# --- transparency ---------------------------------------------------------------------------------------

def test_transparency_counts_voided_votes_per_entry_and_reason(client: FlaskClient, world: World) -> None:
    # the votes as cast; their status now is the database's
    world.void([v for v in world.votes if v.entry_id == world.entry(ADULT).id and db.session.get(Vote, v.id).status == "valid"][:1],
               reason="异常时段集中投票")
    html = html_of(client, f"/c/{world.slug}/transparency")
    assert "投票透明度报告" in html
    by_entry = html[html.index("<caption>按作品和原因统计</caption>"):html.index('id="held-title"')]
    rows = re.findall(r"<tr[^>]*>\s*<th scope=\"row\"><a [^>]*>(.*?)</a></th>\s*<td>(.*?)</td>\s*<td class=\"num\">(.*?)</td>",
                      by_entry)
    cleaned = {(t, r, re.sub(r"<[^>]+>", "", n)) for t, r, n in rows}
    assert cleaned == {(ADULT, VOID_REASON, "2"), (ADULT, "异常时段集中投票", "1"),
                       (MINOR, "同一设备多个账号投票", "不公开")}  # 16: the rule hides a minor's counts
    by_reason = html[html.index("<caption>按原因汇总</caption>"):html.index("<caption>按作品和原因统计</caption>")]
    assert f'<th scope="row">{VOID_REASON}</th><td class="num">2</td>' in by_reason
    # used on the minor's entry only: its total would be the minor's count
    assert "同一设备多个账号投票" not in by_reason
    # The held vote waits for review; the totals leave the minor's entry out, and the page
    # says how many entries' figures are withheld.
    held = html[html.index('id="held-title"'):]
    assert YOUNG_ADULT in held
    assert "<dt>待核实</dt><dd>1</dd>" in html and "<dt>已作废</dt><dd>3</dd>" in html
    assert "也不计入本页的各项合计" in html and "下表中有 1 件作品的票数因此显示为“不公开”" in html
    assert "作废的票不会被删除" in html and "flask " not in html
    assert "每一票都记入一本只能追加、不能改写的公开账本" in html


def test_transparency_is_linked_from_the_contest_page_and_not_offered_without_a_public_vote(
    client: FlaskClient, world: World, make_contest: Callable[..., Contest],
) -> None:
    html = html_of(client, f"/c/{world.slug}")
    assert f'href="/c/{world.slug}/transparency"' in html and f'href="/c/{world.slug}/results"' in html
    innovation = make_contest(kind="innovation", stage="judging", categories=())
    html_of(client, f"/c/{innovation.slug}/transparency", status=404)


# --- entry pages ---------------------------------------------------------------------------------------

def test_the_entry_page_shows_the_breakdown_only_once_published(client: FlaskClient, world: World) -> None:
    url = f"/c/{world.slug}/entries/{world.entry(ADULT).id}"
    assert 'class="card result-box"' not in html_of(client, url)
    world.publish()
    html = html_of(client, url)
    box = html[html.index('class="card result-box"'):]
    box = box[:box.index("</section>")]
    assert '<span class="award-name">最美职校生</span>' in box and "第 1 名" in box
    assert "<dt>有效票数</dt><dd>6</dd>" in box
    assert "<dt>投票分（占 30%）</dt><dd>100.00</dd>" in box
    assert "<dt>专家评审（占 70%）</dt><dd>90.00</dd>" in box
    assert "<dt>总分</dt><dd>93.00</dd>" in box
    assert "公示中，截至" in box and f"/c/{world.slug}/results/objections/new?entry={world.entry(ADULT).id}" in box


# --- a contest with categories ------------------------------------------------------------------------------

def test_media_results_are_listed_per_category(client: FlaskClient, make_contest, make_entry, make_user,  # type: ignore[no-untyped-def]
                                                clock: FixedClock) -> None:
    contest = make_contest(kind="media", stage="voting")
    category = {c.name: c.id for c in contest.categories_of("category")}
    photo = make_entry(contest, title="面点师的清晨", category_id=category["摄影作品"])
    video = make_entry(contest, title="城市夜色中的维修工", category_id=category["短视频"])
    organisers = (make_user("organiser"), make_user("organiser"))
    world = World(contest, {photo.title: photo, video.title: video}, organisers, clock, make_user)
    for _ in range(3):
        world.vote(photo.title)
    finalise_round(contest, organisers[0], make_user("judge"), {photo: 88, video: 91}, clock.now(), key="jury",
                   name="评委评审")
    world.publish()
    html = html_of(client, f"/c/{contest.slug}/results")
    assert "<caption>摄影作品 排名</caption>" in html and "<caption>短视频 排名</caption>" in html
    awards = html[html.index('id="awards-title"'):html.index('id="ranking-title"')]
    assert "评委奖" in awards and "<h4>摄影作品</h4>" in awards and "<h4>短视频</h4>" in awards
    assert "评委评审<span class=\"weight\">（100%）</span>" in html
    assert cell(row_html(html, photo.title), "有效票数") == "3"


def test_a_citizens_contest_names_each_author_not_a_school(  # type: ignore[no-untyped-def]
        client: FlaskClient, make_contest, make_entry, make_user, clock: FixedClock) -> None:
    contest = make_contest(kind="media", stage="voting", categories=())
    named, unnamed = make_entry(contest, title="面点师的清晨"), make_entry(contest, title="老师傅的最后一堂课")
    named.submitted_by_id = make_user(name="泉城光影").id
    unnamed.submitted_by_id = make_user().id  # no display name
    db.session.commit()
    organisers = (make_user("organiser"), make_user("organiser"))
    world = World(contest, {named.title: named, unnamed.title: unnamed}, organisers, clock, make_user)
    world.vote(named.title)
    finalise_round(contest, organisers[0], make_user("judge"), {named: 91, unnamed: 70}, clock.now(), key="jury",
                   name="评委评审")
    world.publish()
    html = html_of(client, f"/c/{contest.slug}/results")
    ranking = html[html.index('id="ranking-title"'):html.index('id="objections"')]
    assert '<th scope="col">作者</th>' in ranking and ">学校<" not in ranking and "参与学校" not in html
    assert cell(row_html(ranking, named.title), "作者") == "泉城光影"
    assert cell(row_html(ranking, unnamed.title), "作者") == "未署名"
    awards = html[html.index('id="awards-title"'):html.index('id="ranking-title"')]
    assert f"{named.title}</a><span class=\"muted small\"> · 泉城光影</span>" in awards


def test_a_school_contest_names_the_school(client: FlaskClient, world: World) -> None:
    world.publish()
    html = html_of(client, f"/c/{world.slug}/results")
    ranking = html[html.index('id="ranking-title"'):html.index('id="objections"')]
    assert '<th scope="col">学校</th>' in ranking and ">作者<" not in ranking
    assert cell(row_html(ranking, ADULT), "学校") == "济南第一职业中等专业学校"


def test_final_results_after_publicity(client: FlaskClient, world: World) -> None:
    publication = world.publish()
    world.clock.advance(days=6)
    results.finalise_publication(db.session, actor=world.organisers[0], publication=publication, now=world.clock.now())
    db.session.commit()
    html = html_of(client, f"/c/{world.slug}/results")
    assert '<span class="badge result-final">最终结果</span>' in html
    assert "本结果已于 2023-05-24" in html and "公示中" not in html
    assert f'href="/c/{world.slug}/results/objections/new"' not in html
    entry_page = html_of(client, f"/c/{world.slug}/entries/{world.entry(ADULT).id}")
    assert '<span class="badge result-final">最终结果</span>' in entry_page


def test_innovation_results_have_no_vote_columns(client: FlaskClient, make_contest, make_entry, make_school,  # type: ignore[no-untyped-def]
                                                 make_user, clock: FixedClock) -> None:
    contest = make_contest(kind="innovation", stage="judging", categories=())
    school = make_school()
    projects = [make_entry(contest, title=f"创新项目{i}", school=school) for i in range(4)]
    organisers = (make_user("organiser"), make_user("organiser"))
    finalise_round(contest, organisers[0], make_user("judge"), dict(zip(projects, (95, 88, 76, 64), strict=True)),
                   clock.now(), key="final", name="决赛路演")
    world = World(contest, {p.title: p for p in projects}, organisers, clock, make_user)
    world.clock.set(contest.judging_starts_at)  # type: ignore[arg-type]
    world.publish(advance=False)
    html = html_of(client, f"/c/{contest.slug}/results")
    ranking = html[html.index('id="ranking-title"'):html.index('id="objections"')]
    assert "有效票数" not in ranking and "投票分" not in ranking
    assert "决赛路演<span class=\"weight\">（100%）</span>" in ranking
    assert cell(row_html(ranking, "创新项目0"), "奖项") == "一等奖"
    assert "day-chart" not in html and "/transparency" not in html
