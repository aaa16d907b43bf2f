"""What the season's people do in the browser, one function per step: organisers in the
back office (desktop), school contacts and citizens entering, citizens voting, judges
scoring (phones). Each step waits for what its person would see to know it worked."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from flask import Flask
from playwright.sync_api import Dialog, Page, expect

from contest.clock import LOCAL_TZ, FixedClock
from contest.contests.rules import rules_for_kind

from ..browser import SCREENSHOTS, captcha_answer, screenful, screenshot

# --- screenshots ---------------------------------------------------------------------------


@dataclass
class Shots:
    """The season's screenshots, numbered in the order taken: season-<contest>-<nn>-<step>.png.
    A new season first clears its contest's screenshots of an earlier run, so a step that
    moved does not leave its old picture behind."""

    contest: str
    taken: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        for old in SCREENSHOTS.glob(f"season-{self.contest}-*.png"):
            old.unlink()

    def take(self, page: Page, step: str, url: str = "") -> str:
        """The page as it is (or, with `url`, that page opened first), full length."""
        if url:
            page.goto(url)
        name = f"season-{self.contest}-{len(self.taken) + 1:02d}-{step}.png"
        screenshot(page, name)
        self.taken.append(name)
        return name

    def take_screen(self, page: Page, step: str) -> str:
        """One screenful, as a projector shows it (the big screen has no page to scroll)."""
        name = f"season-{self.contest}-{len(self.taken) + 1:02d}-{step}.png"
        screenful(page, name)
        self.taken.append(name)
        return name


def local_input(moment: datetime) -> str:
    """A moment as a datetime-local input takes it (Beijing time)."""
    return moment.astimezone(LOCAL_TZ).strftime("%Y-%m-%dT%H:%M")


def flash(page: Page, text: str) -> None:
    expect(page.get_by_text(text).first).to_be_visible()


# --- the organisers' back office -------------------------------------------------------------


@dataclass(frozen=True)
class ContestForm:
    slug: str
    kind: str
    title: str
    short_title: str
    summary: str
    organiser: str  # the organising unit (主办), chosen in the form
    rules_text: str
    windows: dict[str, tuple[datetime, datetime]]
    rules: dict[str, str | bool]
    awarded_on: date
    theme: str = "技能：让生活更美好"
    co_organisers: tuple[str, ...] = ("济南市教育局",)  # 协办, ticked in the form


STAGE_NAMES = {"submission": "作品征集", "review": "资格审核", "voting": "公众投票", "judging": "专家评审", "publicity": "结果公示"}


KIND_NAMES = {"selection": "网络评选", "media": "全民美拍", "innovation": "创新创业大赛"}


def create_contest(page: Page, base: str, form: ContestForm, shots: Shots) -> tuple[int, dict[str, tuple[Any, Any]]]:
    """新建活动 from the dashboard: the type, the texts and the stage windows, saved; then,
    on the contest's page, its rules, saved. Returns the contest's id and the rules the new
    contest did not start with at their defaults (rule → (shown, default)), before the
    organiser set them."""
    page.goto(f"{base}/admin/")
    page.get_by_role("link", name="新建活动").click()
    page.get_by_label("活动类型").select_option(label=KIND_NAMES[form.kind])
    for label, text in (("网址标识", form.slug), ("活动名称", form.title), ("简称", form.short_title), ("主题", form.theme),
                        ("简介", form.summary), ("活动规则（纯文本，空行分段）", form.rules_text),
                        ("颁奖日期", form.awarded_on.isoformat())):
        page.get_by_label(label, exact=True).fill(text)
    page.get_by_label("主办单位", exact=True).select_option(label=form.organiser)
    for co_organiser in form.co_organisers:
        page.get_by_label(co_organiser, exact=True).check()
    for stage, (start, end) in form.windows.items():
        page.get_by_label(f"{STAGE_NAMES[stage]}开始", exact=True).fill(local_input(start))
        page.get_by_label(f"{STAGE_NAMES[stage]}结束", exact=True).fill(local_input(end))
    page.get_by_role("button", name="保存").click()
    flash(page, "活动已创建。")
    found = re.search(r"/admin/contests/(\d+)$", page.url)
    assert found, page.url
    prefix = f"rule-{form.kind}-"  # the chosen kind's fieldset (each kind's rules have fields of their own)
    shown = page.evaluate("""(prefix) => Object.fromEntries([...document.querySelectorAll(`[id^="${prefix}"]`)].map(e =>
        [e.id.slice(prefix.length), e.type === 'checkbox' ? e.checked : e.value]))""", prefix)
    surprises = {spec.key: (shown.get(spec.key), _as_shown(spec.default_for(form.kind))) for spec in rules_for_kind(form.kind)
                 if shown.get(spec.key) != _as_shown(spec.default_for(form.kind))}
    for key, value in form.rules.items():
        rule = page.locator(f"#{prefix}{key}")
        if isinstance(value, bool):
            rule.set_checked(value)
        elif rule.evaluate("e => e.tagName") == "SELECT":
            rule.select_option(value)
        else:
            rule.fill(value)
    shots.take(page, "contest-form")
    page.get_by_role("button", name="保存").click()
    flash(page, "已保存。")
    return int(found.group(1)), surprises


def _as_shown(value: Any) -> Any:
    return value if isinstance(value, bool) else str(value)


def add_categories(page: Page, base: str, contest_id: int, categories: list[tuple[str, str]]) -> None:
    """分类、赛道与组别: (类别 | 赛道 | 组别, name) one after another."""
    page.goto(f"{base}/admin/contests/{contest_id}/categories")
    for kind, name in categories:
        add = page.locator("form.card").filter(has=page.get_by_role("button", name="添加"))  # each listed one has its own edit form
        add.get_by_label("类型").select_option(label=kind)
        add.get_by_label("名称").fill(name)
        add.get_by_role("button", name="添加").click()
        flash(page, "已添加。")
    expect(page.locator("ul.list > li")).to_have_count(len(categories))


def set_formula(page: Page, base: str, slug: str, formula: dict[str, Any]) -> None:
    """计分公式, through its JSON editor."""
    page.goto(f"{base}/admin/results/{slug}/formula")
    page.locator("details.rs-json summary").click()
    page.get_by_label("公式 JSON").fill(json.dumps(formula, ensure_ascii=False, indent=2))
    page.get_by_role("button", name="保存 JSON 公式").click()
    flash(page, "计分公式已保存")


def moderate(page: Page, base: str, contest_id: int, shots: Shots, *, approve: list[str], reject: dict[str, str]) -> None:
    """作品审核: approve some entries together, then reject others with a reason."""
    page.goto(f"{base}/admin/moderation/?contest={contest_id}")
    for title in approve:
        page.get_by_label(f"选择“{title}”").check()
    shots.take(page, "moderation")
    page.get_by_role("button", name="通过", exact=True).click()
    flash(page, f"已通过 {len(approve)} 件作品。")
    for title, reason in reject.items():
        page.get_by_label(f"选择“{title}”").check()
        page.get_by_label("原因").fill(reason)
        page.get_by_role("button", name="不通过").click()
        flash(page, "已将 1 件作品标记为不通过。")


def void_by_rule(page: Page, base: str, entry_id: int, *, ip_range: str, reason: str, expected: int, shots: Shots,
                 start: str = "", end: str = "") -> None:
    """刷票审查 of one entry: a rule (an address range, perhaps a time window, this entry
    only), previewed, then confirmed."""
    page.goto(f"{base}/admin/fraud/entries/{entry_id}")
    form = page.locator("form.rule-form")
    form.get_by_label("只限本作品").check()
    form.get_by_label("IP 段").fill(ip_range)
    if start:
        form.get_by_label("开始时间").fill(start)
    if end:
        form.get_by_label("结束时间").fill(end)
    form.get_by_label("原因").fill(reason)
    shots.take(page, "fraud-desk-entry")
    form.get_by_role("button", name="预览作废").click()
    expect(page.locator(".confirm-count")).to_have_text(f"将作废 {expected} 票")
    shots.take(page, "fraud-desk-confirm")
    page.get_by_role("button", name=f"确认作废 {expected} 票").click()
    flash(page, f"已作废 {expected} 票。")


def act_on_picked(page: Page, base: str, entry_id: int, vote_ids: list[int], *, release: bool, reason: str) -> None:
    """刷票审查 of one entry: tick held votes, release or void them, confirm."""
    page.goto(f"{base}/admin/fraud/entries/{entry_id}")
    form = page.locator("form.held-form")
    for vote_id in vote_ids:
        form.locator(f"#vote-{vote_id}").check()
    form.get_by_label("原因").fill(reason)
    form.get_by_role("button", name="放行所选" if release else "作废所选").click()
    verb = "放行" if release else "作废"
    expect(page.locator(".confirm-count")).to_have_text(f"将{verb} {len(vote_ids)} 票")
    page.get_by_role("button", name=f"确认{verb} {len(vote_ids)} 票").click()
    flash(page, f"已放行 {len(vote_ids)} 票，现已计入票数。" if release else f"已作废 {len(vote_ids)} 票。")


@dataclass(frozen=True)
class RoundForm:
    key: str
    name: str
    kind: str  # 网络评审 | 现场路演
    judges_per_entry: int
    criteria: list[tuple[str, int, int]]  # name, maximum, weight
    blind: bool = True
    aggregation: str = "平均"
    instructions: str = ""


def create_round(page: Page, base: str, slug: str, form: RoundForm) -> int:
    """新建评审轮次 with its rubric; returns the round's id."""
    page.goto(f"{base}/admin/judging/contests/{slug}/rounds/new")
    page.get_by_label("轮次标识").fill(form.key)
    page.get_by_label("轮次名称").fill(form.name)
    page.get_by_label("评审方式").select_option(label=form.kind)
    page.get_by_label("每件作品的评委人数").fill(str(form.judges_per_entry))
    page.get_by_label("匿名评审（评委看不到学校和作者）").set_checked(form.blind)
    page.get_by_label("汇总方法").select_option(label=form.aggregation)
    for n, (name, maximum, weight) in enumerate(form.criteria, start=1):
        page.get_by_label(f"第 {n} 项 名称").fill(name)
        page.get_by_label(f"第 {n} 项 满分").fill(str(maximum))
        page.get_by_label(f"第 {n} 项 权重").fill(str(weight))
    if form.instructions:
        page.get_by_label("给评委的说明").fill(form.instructions)
    page.get_by_role("button", name="保存").click()
    flash(page, "评审轮次已创建。")
    found = re.search(r"/admin/judging/rounds/(\d+)", page.url)
    assert found, page.url
    return int(found.group(1))


def add_all_entries(page: Page, base: str, round_id: int, count: int) -> None:
    page.goto(f"{base}/admin/judging/rounds/{round_id}")
    page.get_by_role("button", name=f"加入全部（{count} 件）").click()
    flash(page, f"已加入 {count} 件作品。")


def add_judges(page: Page, base: str, round_id: int, phones: list[str]) -> None:
    page.goto(f"{base}/admin/judging/rounds/{round_id}")
    for phone in phones:
        page.locator("#judge-phone").fill(phone)
        page.get_by_role("button", name="加入评委组").click()
        flash(page, "加入评委组。")


def set_round_state(page: Page, base: str, round_id: int, button: str, done: str) -> None:
    """开启评审 / 截止评审 / 定稿 on the round's page."""
    page.goto(f"{base}/admin/judging/rounds/{round_id}")
    page.get_by_role("button", name=button, exact=True).click()
    flash(page, done)


def advance_top(page: Page, base: str, source_id: int, target_id: int, top_n: int) -> None:
    """从已定稿的轮次晋级: the best `top_n` of the source round into the target round."""
    page.goto(f"{base}/admin/judging/rounds/{target_id}")
    page.locator("details.jd-details summary", has_text="从已定稿的轮次晋级").click()
    form = page.locator("form.jd-advance-form")
    form.get_by_label("来源轮次").select_option(str(source_id))
    form.get_by_label("按名次：前").check()
    form.get_by_label("名额").fill(str(top_n))
    form.get_by_role("button", name="预览晋级名单").click()
    page.get_by_role("button", name=f"确认晋级 {top_n} 件作品").click()
    flash(page, f"已将 {top_n} 件作品晋级到")


def bring_on_stage(page: Page, base: str, round_id: int, title: str) -> None:
    """现场控制 of the live final: 请上台 for a project."""
    page.goto(f"{base}/admin/judging/rounds/{round_id}/live")
    page.get_by_role("button", name=re.compile(rf"^请上台\s*：{re.escape(title)}$")).click()
    flash(page, f"“{title}”已上台。")


def request_publication(page: Page, base: str, slug: str, shots: Shots) -> None:
    page.goto(f"{base}/admin/results/{slug}/")
    expect(page.get_by_text("没有阻止发布的问题。")).to_be_visible()
    shots.take(page, "results-preview")
    page.get_by_role("button", name="提交发布").click()
    flash(page, "第 1 版结果已提交，等待另一位组织者确认后公布。")
    expect(page.get_by_text("这一版由您提交，需要另一位组织者登录后确认发布，您本人不能确认。")).to_be_visible()


def confirm_publication(page: Page, base: str, slug: str) -> None:
    page.goto(f"{base}/admin/results/{slug}/")
    page.get_by_role("button", name="确认发布").click()
    flash(page, "第 1 版结果已公布，公示期开始。")


def answer_objection(page: Page, base: str, slug: str, answer: str, outcome: str) -> None:
    page.goto(f"{base}/admin/results/{slug}/objections")
    form = page.locator("form.rs-answer-form").first
    form.get_by_label("答复（公开显示）").fill(answer)
    form.get_by_label(outcome).check()
    form.get_by_role("button", name="提交答复").click()
    flash(page, "已答复，答复内容将在结果页公开。")


def finalise_publication(page: Page, base: str, slug: str) -> None:
    page.goto(f"{base}/admin/results/{slug}/")
    page.get_by_role("button", name="确认为最终结果").click()
    flash(page, "第 1 版结果已确认为最终结果。")


def certificate(page: Page, base: str, slug: str, entry_id: int) -> bytes:
    """获奖证书: the PDF linked from the winner's row."""
    page.goto(f"{base}/admin/results/{slug}/certificates")
    link = page.get_by_role("link", name="打开 PDF").and_(page.locator(f"a[href$='/certificates/{entry_id}.pdf']"))
    href = link.get_attribute("href")
    assert href
    response = page.request.get(base + href)
    assert response.status == 200 and response.headers["content-type"] == "application/pdf", response.status
    return response.body()


# --- entrants ----------------------------------------------------------------------------


def nominate(page: Page, base: str, slug: str, *, name: str, gender: str, born: date, major: str, grade: str,
             title: str, story: str, photo: Path, consent: Path | None, category: str = "", shots: Shots | None = None) -> None:
    """A school contact's 推荐选手 form, sent."""
    page.goto(f"{base}/c/{slug}/submit")
    expect(page.get_by_role("heading", name="推荐选手")).to_be_visible()
    if category:
        page.get_by_label("组别").select_option(label=category)
    page.get_by_label("学生姓名", exact=True).fill(name)
    page.get_by_label(gender, exact=True).check()
    page.get_by_label("出生日期", exact=True).fill(born.isoformat())
    page.get_by_label("专业", exact=True).fill(major)
    page.get_by_label("年级", exact=True).fill(grade)
    page.get_by_label("推荐标题（选填）", exact=True).fill(title)
    page.get_by_label("事迹介绍", exact=True).fill(story)
    if consent is not None:  # the guardian's signed form, photographed
        page.locator("input[type=file][name=consent]").set_input_files(str(consent))
    page.locator("input[type=file][name=photos]").set_input_files(str(photo))
    if shots is not None:
        shots.take(page, "nomination-form")
    page.get_by_role("button", name="提交推荐").click()
    page.wait_for_url(re.compile(r"/me/entries$"), timeout=30_000)
    flash(page, "推荐已提交，审核通过后将公开展示。")


def upload_media(page: Page, base: str, slug: str, *, title: str, description: str, category: str,
                 photo: Path | None = None, video: Path | None = None, shots: Shots | None = None) -> None:
    """A citizen's 我要投稿 form: a photo entry or a short video entry, sent."""
    page.goto(f"{base}/c/{slug}/submit")
    expect(page.get_by_role("heading", name="我要投稿")).to_be_visible()
    page.get_by_role("radio", name="短视频" if video else "照片", exact=True).check()
    page.get_by_label("作品类别").select_option(label=category)
    page.get_by_label("作品名称").fill(title)
    page.get_by_label("作品介绍（选填）").fill(description)
    if photo is not None:
        page.locator("input[type=file][name=photos]").set_input_files(str(photo))
    if video is not None:
        page.locator("input[type=file][name=video]").set_input_files(str(video))
    if shots is not None:
        shots.take(page, "upload-form")
    page.get_by_role("button", name="提交作品").click()
    page.wait_for_url(re.compile(r"/me/entries$"), timeout=60_000)
    flash(page, "作品已提交，审核通过后将在作品展示中公开。")


@dataclass(frozen=True)
class Team:
    project: str
    summary: str
    track: str
    group: str
    students: list[tuple[str, str, str]]  # name, student number, major
    advisors: list[str]


def register_team(page: Page, base: str, slug: str, team: Team, *, plan: Path, pitch: Path, cover: Path,
                  shots: Shots | None = None) -> None:
    """A school contact's 报名团队 form, sent."""
    page.goto(f"{base}/c/{slug}/submit")
    expect(page.get_by_role("heading", name="报名团队")).to_be_visible()
    page.get_by_label("项目名称").fill(team.project)
    page.get_by_label("赛道").select_option(label=team.track)
    page.get_by_label("组别").select_option(label=team.group)
    page.get_by_label("项目简介").fill(team.summary)
    for i, (name, number, major) in enumerate(team.students):
        member = page.locator("fieldset.member").nth(i)
        member.get_by_label("姓名", exact=True).fill(name)
        member.get_by_label("学号", exact=True).fill(number)
        member.get_by_label("专业", exact=True).fill(major)
    page.locator("fieldset.member").first.get_by_label("设为团队负责人").check()
    for i, name in enumerate(team.advisors, start=1):
        page.get_by_label(re.compile(f"^指导教师 {i} 姓名")).fill(name)
    page.locator("input[type=file][name=plan]").set_input_files(str(plan))
    page.locator("input[type=file][name=pitch]").set_input_files(str(pitch))
    page.locator("input[type=file][name=cover]").set_input_files(str(cover))
    if shots is not None:
        shots.take(page, "team-form")
    page.get_by_role("button", name="提交报名").click()
    page.wait_for_url(re.compile(r"/me/entries$"), timeout=60_000)
    flash(page, "团队报名已提交，请留意审核结果。")


def request_withdrawal(page: Page, base: str, title: str, reason: str, shot: str = "") -> None:
    """我的作品 while the public votes: ask the organisers to withdraw one entry, with a reason."""
    page.goto(f"{base}/me/entries")
    row = page.locator("li.entry-row").filter(has=page.get_by_role("heading", name=title, exact=True))
    expect(row.get_by_role("button", name=f"确认撤回“{title}”")).to_have_count(0)  # no direct withdrawal now
    row.locator("details.withdraw summary").click()
    row.get_by_label("撤回理由").fill(reason)
    if shot:
        screenshot(page, shot)
    row.get_by_role("button", name="提交撤回申请").click()
    flash(page, "撤回申请已提交，主办方处理后会通知您；在此之前作品照常参加评比。")
    expect(page.locator("li.entry-row").filter(has=page.get_by_role("heading", name=title, exact=True))
           .locator(".withdrawal-pending")).to_be_visible()


def approve_withdrawal(page: Page, base: str, title: str, asked: str, reason: str, shot: str = "") -> None:
    """The moderation desk: the request is listed with its reason; approve it with one."""
    page.goto(f"{base}/admin/moderation/")
    page.get_by_role("link", name=re.compile(r"份撤回申请等待处理")).click()
    card = page.locator("li.withdrawal-request").filter(has=page.get_by_role("link", name=title, exact=True))
    expect(card).to_contain_text(asked)
    card.get_by_label("处理理由（申请人会看到）").fill(reason)
    if shot:
        screenshot(page, shot)
    card.get_by_role("button", name="批准撤回").click()
    flash(page, "已批准撤回，作品不再参加评比。")


# --- voters ------------------------------------------------------------------------------

RECEIPT_RE = re.compile(r"投票凭证：([A-Z0-9]{12})")


def vote_on_entry_page(page: Page, base: str, slug: str, entry_id: int, clock: FixedClock, app: Flask | None = None,
                       shots: Shots | None = None) -> str:
    """Open the entry and vote from its vote box. With `app`, the voter votes at once, which
    the anti-fraud finds too fast: the page asks for the captcha, which is typed (as read
    from the server); otherwise the voter looks at the entry for a while first. Returns
    the receipt code."""
    page.goto(f"{base}/c/{slug}/entries/{entry_id}")
    box = page.locator("#vote")
    if app is None:
        clock.advance(seconds=15)
    box.get_by_role("button", name="投一票").click()
    if app is not None:
        expect(page.locator("[data-captcha-image]")).to_be_visible()
        expect(box.locator(".notice-error")).to_have_text("请先完成图形验证码。")
        if shots is not None:
            shots.take(page, "vote-captcha")
        captcha_id = page.input_value("[data-captcha-id]")
        page.fill("#captcha_answer", captcha_answer(app, captcha_id))
        box.get_by_role("button", name="投一票").click()
        status = page.locator(".notice-success, [role=status]").filter(has_text="投票成功")
    else:
        status = box.locator("[data-vote-status]")
    expect(status.first).to_contain_text("投票成功！投票凭证：")
    found = RECEIPT_RE.search(status.first.inner_text())
    assert found
    return found.group(1)


def vote_on_gallery_card(page: Page, base: str, slug: str, title: str, clock: FixedClock) -> str:
    """Vote from the entry's card in the gallery; returns the receipt code."""
    page.goto(f"{base}/c/{slug}/entries")
    card = page.locator(".entry-card").filter(has_text=title)
    clock.advance(seconds=15)
    card.get_by_role("button", name=re.compile("^投票")).click()
    status = card.locator("[data-vote-status]")
    expect(status).to_contain_text("投票成功！投票凭证：")
    found = RECEIPT_RE.search(status.inner_text())
    assert found
    expect(card.get_by_role("button")).to_contain_text("今日已投")
    return found.group(1)


def file_objection(page: Page, base: str, slug: str, entry_id: int, subject: str, body: str) -> None:
    """提出异议 during 公示, from the results page."""
    page.goto(f"{base}/c/{slug}/results")
    page.locator(".result-state").get_by_role("link", name="提出异议").click()
    expect(page.get_by_role("heading", name="对评选结果提出异议")).to_be_visible()
    page.get_by_label("针对的作品").select_option(str(entry_id))
    page.get_by_label(subject).check()
    page.get_by_label("异议内容").fill(body)
    page.get_by_role("button", name="提交异议").click()
    flash(page, "异议已提交")


# --- judges ------------------------------------------------------------------------------


def sign_declaration(page: Page, base: str, round_name: str) -> None:
    page.goto(f"{base}/judge/")
    page.get_by_role("listitem").filter(has=page.get_by_role("heading", name=round_name)) \
        .get_by_role("link", name="签署回避声明").click()
    expect(page.get_by_role("heading", name="关于回避的承诺")).to_be_visible()
    page.get_by_label("我已阅读以上承诺").check()
    page.get_by_role("button", name="签署声明").click()
    flash(page, "回避声明已签署。")


def _accept(dialog: Dialog) -> None:
    dialog.accept()


def score(page: Page, marks: dict[str, float], comment: str = "") -> str:
    """On an entry's scoring page: type the marks, submit, confirm; returns its title."""
    title = page.locator("h1").first.inner_text().strip()
    for criterion, mark in marks.items():
        page.get_by_role("group", name=criterion).get_by_label("得分").fill(f"{mark:g}")
    if comment:
        page.get_by_label("评语（选填）").fill(comment)
    page.once("dialog", _accept)
    page.get_by_role("button", name="提交评分").click()
    flash(page, "的评分已提交。")
    return title


def score_queue(page: Page, base: str, round_id: int, marks_of: Callable[[str], dict[str, float]],
                shots: Shots | None = None) -> list[str]:
    """A review round from its queue: 评下一件, then each submission leads to the next
    entry until the round is done; marks by entry title. Returns the titles scored."""
    page.goto(f"{base}/judge/rounds/{round_id}")
    page.get_by_role("link", name="评下一件").click()
    scored: list[str] = []
    while True:
        title = page.locator("h1").first.inner_text().strip()
        if shots is not None and not scored:
            shots.take(page, "judge-entry")
        scored.append(score(page, marks_of(title)))
        if "/entries/" not in page.url:
            break
    flash(page, "您已完成本轮全部评分，谢谢！")
    return scored
