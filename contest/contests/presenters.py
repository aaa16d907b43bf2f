"""The public rules of a contest, written from its data: the rule set (contests.rules),
the award scheme (the results formula, handed in already in words) and the stage
windows. The contest page shows them as numbered lists; the organisers' free text
(`Contest.rules_text`) follows them and only says what the data cannot.

Only rules that apply to the contest's kind are written, each sentence from the values
the code enforces, so the published rules cannot contradict what the platform does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from ..clock import to_local
from ..i18n import _
from .models import STAGES, Contest
from .rules import Rules
from .service import stage_label

DATE_FORMAT = "%Y-%m-%d %H:%M"


@dataclass(frozen=True)
class StageWindow:
    """One line of the schedule: a stage and its window (the page writes the times as
    <time> elements; str() gives the line as text)."""

    stage: str  # its label, in the reader's language
    starts_at: datetime
    ends_at: datetime

    def __str__(self) -> str:
        return _("%(stage)s：%(start)s 至 %(end)s", stage=self.stage, start=to_local(self.starts_at).strftime(DATE_FORMAT),
                 end=to_local(self.ends_at).strftime(DATE_FORMAT))


@dataclass(frozen=True)
class RuleSection:
    """One heading of the public rules and its numbered items (text in the reader's language)."""

    key: str  # "entries", "voting", "awards" or "schedule"
    title: str
    items: tuple[str | StageWindow, ...]


def public_rules(contest: Contest, rules: Rules, awards: Sequence[str]) -> list[RuleSection]:
    """The contest's rules as the public reads them: who may take part and what to submit,
    the public vote (kinds that have one), the awards (`awards`: the formula's rules in
    words, from results) and the stage dates. Sections with nothing to say are left out."""
    sections = [
        RuleSection("entries", _("参赛与作品"), tuple(_entry_rules(contest.kind, rules))),
        RuleSection("voting", _("公众投票"), tuple(_voting_rules(contest, rules))),
        RuleSection("awards", _("评奖办法"), tuple(awards)),
        RuleSection("schedule", _("活动日程（北京时间）"), tuple(_schedule(contest))),
    ]
    return [section for section in sections if section.items]


def _entry_rules(kind: str, rules: Rules) -> list[str]:
    video = {"s": rules.video_max_seconds, "mb": rules.video_max_mb}
    if kind == "media":
        return [
            _("全体市民均可参加，投稿前须完成手机验证。"),
            _("每人最多投稿 %(n)s 件。", n=rules.entries_per_person),
            _("照片作品每件 %(n)s 张，每张分辨率不低于 %(w)s×%(h)s 像素。", n=rules.span("photos_min", "photos_max"),
              w=rules.min_image_width, h=rules.min_image_height),
            _("视频作品每件一段，最长 %(s)s 秒，不超过 %(mb)s MB。", **video),
        ]
    if kind == "selection":
        return [
            _("由学校联络人代表本校推荐学生。"),
            _("被推荐学生应为 %(ages)s 周岁；未满 18 周岁的，须取得监护人同意。",
              ages=rules.span("nominee_age_min", "nominee_age_max")),
            _("各校推荐名额按在校生人数确定：在校生少于 %(small_below)s 人的学校 %(small)s 名，"
              "%(small_below)s–%(large_above)s 人的学校 %(medium)s 名，多于 %(large_above)s 人的学校 %(large)s 名。",
              **_quota_bands(rules)),
            _("每名学生提交照片 %(n)s 张，可附一段短视频（最长 %(s)s 秒，不超过 %(mb)s MB）。",
              n=rules.span("photos_min", "photos_max"), **video),
        ]
    return [
        _("由学校联络人代表本校报名，以团队参赛；每名学生只能参加一支团队。"),
        _("每支团队由 %(students)s 名学生和 %(advisors)s 名指导教师组成。",
          students=rules.span("team_students_min", "team_students_max"),
          advisors=rules.span("team_advisors_min", "team_advisors_max")),
        _("各校限报项目数按在校生人数确定：在校生少于 %(small_below)s 人的学校 %(small)s 项，"
          "%(small_below)s–%(large_above)s 人的学校 %(medium)s 项，多于 %(large_above)s 人的学校 %(large)s 项。",
          **_quota_bands(rules)),
        _("提交商业计划书（PDF）、路演视频（最长 %(s)s 秒，不超过 %(mb)s MB）和封面图片。", **video),
    ]


def _quota_bands(rules: Rules) -> dict[str, int]:
    # The bands of Rules.school_quota: below the first breakpoint, from it up to and
    # including the second, above the second.
    return {"small_below": rules.school_small_below, "large_above": rules.school_large_above,
            "small": rules.school_quota_small, "medium": rules.school_quota_medium, "large": rules.school_quota_large}


def _voting_rules(contest: Contest, rules: Rules) -> list[str]:
    start, _end = contest.window("voting")
    if not rules.has_public_vote or start is None:
        return []
    items = [_("仅限完成手机验证的注册用户投票。") if rules.verified_only else _("注册用户均可投票。")]
    if rules.min_account_age_hours:
        items.append(_("账号注册满 %(h)s 小时后才能投票。", h=rules.min_account_age_hours))
    items.append(_("每人每天最多投 %(day)s 票，对同一作品每天最多投 %(entry)s 票（按北京时间计日）。",
                   day=rules.votes_per_day, entry=rules.votes_per_entry_per_day))
    if rules.captcha_mode == "always":
        items.append(_("每次投票都须完成图形验证码。"))
    elif rules.captcha_mode == "risk":
        items.append(_("系统发现异常时，会要求完成图形验证码。"))
    if not rules.counts_public:
        items.append(_("不公开票数，排行榜只显示名次。"))
    elif rules.hide_counts_hours_before_close:
        items.append(_("投票期间公开实时票数；截止前 %(h)s 小时起隐藏票数，只显示名次，投票结束后重新公开。",
                       h=rules.hide_counts_hours_before_close))
    else:
        items.append(_("投票期间公开实时票数。"))
    if rules.hide_minor_vote_counts:
        items.append(_("未满 18 周岁选手的票数不公开：他们的作品不上排行榜；投票分只以票数公开的作品为标尺"
                       "（比较最高票或票数名次），未成年选手的票数按同一标尺折算、最高 100 分；公布结果时，"
                       "这些选手只公布总分、名次和奖项，不公布票数、投票分和专家分，各项合计和逐日票数也不含他们的票。"))
    return items


def _schedule(contest: Contest) -> list[str | StageWindow]:
    items: list[str | StageWindow] = []
    for stage in STAGES:
        start, end = contest.window(stage)
        if start is not None and end is not None:
            items.append(StageWindow(stage_label(stage), start, end))
    return items or [_("日程待公布")]
