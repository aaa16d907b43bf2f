"""The schema of a contest's rules: which keys exist, their types, defaults and bounds.

Rules are stored per contest as JSON (Contest.rules) and edited by organisers; this
module is the one place that says what a valid rule set looks like.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from typing import Any

from ..errors import InvalidInput
from ..i18n import N_, _, code_labels


@dataclass(frozen=True)
class RuleSpec:
    key: str
    type: type
    default: Any
    label: str
    kinds: tuple[str, ...] = ("selection", "media", "innovation")
    minimum: int | None = None
    maximum: int | None = None
    choices: tuple[str, ...] = ()
    # (kind, default) where a kind's default differs from `default`
    kind_defaults: tuple[tuple[str, Any], ...] = ()

    def default_for(self, kind: str) -> Any:
        """The rule's default in a contest of this kind."""
        return dict(self.kind_defaults).get(kind, self.default)


SCHOOL_KINDS = ("innovation", "selection")
# A label may name other rules' values (%(key)s): `label_of` fills them in, so a school
# quota's label says which enrolment band it is for as the breakpoints are set now.
RULES: tuple[RuleSpec, ...] = (
    RuleSpec("entries_per_person", int, 3, N_("每人最多投稿数"), ("media",), 1, 50),
    RuleSpec("min_image_width", int, 1920, N_("图片最小宽度（像素）"), ("media",), 100, 10000),
    RuleSpec("min_image_height", int, 1080, N_("图片最小高度（像素）"), ("media",), 100, 10000),
    RuleSpec("photos_min", int, 1, N_("每件作品最少照片数"), ("media", "selection"), 1, 20),
    # A nomination took at most 6 photos before this was a rule of 最美职校生 too.
    RuleSpec("photos_max", int, 9, N_("每件作品最多照片数"), ("media", "selection"), 1, 20,
             kind_defaults=(("selection", 6),)),
    RuleSpec("video_max_seconds", int, 180, N_("视频最长时长（秒）"), minimum=10, maximum=1800),
    RuleSpec("video_max_mb", int, 300, N_("视频最大体积（MB）"), minimum=1, maximum=2000),
    RuleSpec("school_small_below", int, 2000, N_("学校规模分界：在校生少于此数为小规模学校（人）"), SCHOOL_KINDS, 1, 100000),
    RuleSpec("school_large_above", int, 5000, N_("学校规模分界：在校生多于此数为大规模学校（人）"), SCHOOL_KINDS, 1, 100000),
    RuleSpec("school_quota_small", int, 3, N_("在校生 %(school_small_below)s 人以下的学校限报数"), SCHOOL_KINDS, 0, 50),
    RuleSpec("school_quota_medium", int, 4, N_("在校生 %(school_small_below)s–%(school_large_above)s 人的学校限报数"),
             SCHOOL_KINDS, 0, 50),
    RuleSpec("school_quota_large", int, 5, N_("在校生 %(school_large_above)s 人以上的学校限报数"), SCHOOL_KINDS, 0, 50),
    RuleSpec("team_students_min", int, 3, N_("每支团队最少学生数"), ("innovation",), 1, 15),
    RuleSpec("team_students_max", int, 5, N_("每支团队最多学生数"), ("innovation",), 1, 15),
    RuleSpec("team_advisors_min", int, 1, N_("每支团队最少指导教师数"), ("innovation",), 0, 10),
    RuleSpec("team_advisors_max", int, 2, N_("每支团队最多指导教师数"), ("innovation",), 1, 10),
    RuleSpec("nominee_age_min", int, 12, N_("被推荐学生最小年龄（周岁）"), ("selection",), 6, 80),
    RuleSpec("nominee_age_max", int, 40, N_("被推荐学生最大年龄（周岁）"), ("selection",), 6, 80),
    RuleSpec("votes_per_day", int, 5, N_("每人每天可投票数"), ("selection", "media"), 0, 100),
    RuleSpec("votes_per_entry_per_day", int, 1, N_("每人每天对同一作品可投票数"), ("selection", "media"), 0, 10),
    RuleSpec("verified_only", bool, True, N_("仅限手机验证用户投票"), ("selection", "media")),
    RuleSpec("min_account_age_hours", int, 0, N_("注册满多少小时后可投票"), ("selection", "media"), 0, 24 * 30),
    RuleSpec("captcha_mode", str, "risk", N_("验证码模式"), ("selection", "media"), choices=("always", "risk", "never")),
    RuleSpec("counts_public", bool, True, N_("公开实时票数"), ("selection", "media")),
    RuleSpec("hide_counts_hours_before_close", int, 24, N_("截止前多少小时隐藏票数"), ("selection", "media"), 0, 24 * 14),
    RuleSpec("hide_minor_vote_counts", bool, True, N_("结果中不公开未成年人的票数"), ("selection",)),
)
RULES_BY_KEY = {spec.key: spec for spec in RULES}
# The words of a choice rule's values, registered under the rule's key, and the help a
# rule needs beyond its label.
CAPTCHA_MODE_LABELS = code_labels("captcha_mode", {
    "always": N_("每次投票都要验证码"),
    "risk": N_("发现异常时才要验证码（推荐）"),
    "never": N_("不要验证码"),
})
# One line per choice, shown under the choice list, so an organiser need not know what a
# risk score is to pick one.
RULE_CHOICE_HINTS: dict[str, dict[str, str]] = {
    "captcha_mode": {
        "always": N_("每次投票都要填验证码：最稳妥，但投票人最麻烦。"),
        "risk": N_("系统判断有风险时才要：正常投票不受打扰，可疑的票先填验证码。"),
        "never": N_("从不要求填验证码。"),
    },
}
# Help for every rule, in plain words: what it changes for the people taking part.
RULE_HINTS: dict[str, str] = {
    "entries_per_person": N_("同一个人在本活动中最多能交几件作品。"),
    "min_image_width": N_("照片的宽度不能小于这个数，太小的照片在大屏和印刷时看不清。"),
    "min_image_height": N_("照片的高度不能小于这个数。"),
    "photos_min": N_("每件作品至少要上传几张照片。"),
    "photos_max": N_("每件作品最多能上传几张照片。"),
    "video_max_seconds": N_("视频最长能有多少秒，更长的视频不收。"),
    "video_max_mb": N_("视频文件最大多少 MB，更大的文件不收。"),
    "school_small_below": N_("在校生人数少于这个数的学校算小规模学校，按小规模学校的名额报名。"),
    "school_large_above": N_("在校生人数多于这个数的学校算大规模学校，按大规模学校的名额报名。"),
    "school_quota_small": N_("小规模学校最多能报几个（学生或团队）。"),
    "school_quota_medium": N_("中等规模学校最多能报几个（学生或团队）。"),
    "school_quota_large": N_("大规模学校最多能报几个（学生或团队）。"),
    "team_students_min": N_("一支团队至少要有几名学生，人数不够不能报名。"),
    "team_students_max": N_("一支团队最多能有几名学生；报名表按这个数给出学生填写行。"),
    "team_advisors_min": N_("一支团队至少要有几名指导教师；填 0 表示可以没有指导教师。"),
    "team_advisors_max": N_("一支团队最多能有几名指导教师；报名表按这个数给出教师填写行。"),
    "nominee_age_min": N_("被推荐的学生至少要满几周岁。"),
    "nominee_age_max": N_("被推荐的学生最多不能超过几周岁。"),
    "votes_per_day": N_("每个人每天一共能投几票，按北京时间每天零点重新计算。"),
    "votes_per_entry_per_day": N_("每个人每天给同一件作品最多能投几票。"),
    "verified_only": N_("勾选后，只有用手机号验证过的人才能投票。"),
    "min_account_age_hours": N_("新注册的账号要等满这么多小时才能投票，可以防止临时注册大量账号刷票；填 0 表示注册后马上能投。"),
    "captcha_mode": N_("投票时什么时候要填图形验证码。无论怎么选，风险很高的票都会先暂缓计入，等工作人员核实。"),
    "counts_public": N_("勾选后，网站上显示每件作品的票数；不勾选，只显示名次。"),
    "hide_counts_hours_before_close": N_("投票截止前这么多小时起不再显示票数，免得最后时刻跟风投票；填 0 表示一直显示。"),
    "hide_minor_vote_counts": N_("勾选后，未满 18 周岁学生的票数不在网站上公开。"),
}
# Rules that bound a range together: the first may not exceed the second.
RULE_RANGES: tuple[tuple[str, str], ...] = (
    ("photos_min", "photos_max"),
    ("school_small_below", "school_large_above"),
    ("team_students_min", "team_students_max"),
    ("team_advisors_min", "team_advisors_max"),
    ("nominee_age_min", "nominee_age_max"),
)


@dataclass(frozen=True)
class Rules:
    """A contest's effective rules, typed: its kind's defaults overlaid with what it stores.

    Built only by `rules_of` / `Rules.build`; call sites read attributes and never repeat a
    default. A rule that does not apply to the contest's kind is off: 0 for a number,
    False for a switch, the default for a choice (`applies(key)` says whether it applies).
    """

    kind: str
    entries_per_person: int
    min_image_width: int
    min_image_height: int
    photos_min: int
    photos_max: int
    video_max_seconds: int
    video_max_mb: int
    school_small_below: int
    school_large_above: int
    school_quota_small: int
    school_quota_medium: int
    school_quota_large: int
    team_students_min: int
    team_students_max: int
    team_advisors_min: int
    team_advisors_max: int
    nominee_age_min: int
    nominee_age_max: int
    votes_per_day: int
    votes_per_entry_per_day: int
    verified_only: bool
    min_account_age_hours: int
    captcha_mode: str
    counts_public: bool
    hide_counts_hours_before_close: int
    hide_minor_vote_counts: bool

    @classmethod
    def build(cls, kind: str, stored: Mapping[str, Any] | None) -> Rules:
        values = {spec.key: spec.default_for(kind) if kind in spec.kinds else _OFF.get(spec.type, spec.default) for spec in RULES}
        for key, raw in (stored or {}).items():
            spec = RULES_BY_KEY.get(key)
            if spec is not None and kind in spec.kinds:
                values[key] = _stored_value(spec, raw, kind)
        return cls(kind=kind, **values)

    def applies(self, key: str) -> bool:
        spec = RULES_BY_KEY.get(key)
        return spec is not None and self.kind in spec.kinds

    def as_dict(self) -> dict[str, Any]:
        """The rules that apply to the contest's kind, key → value, in schema order."""
        return {spec.key: getattr(self, spec.key) for spec in rules_for_kind(self.kind)}

    def with_values(self, **values: Any) -> Rules:
        return replace(self, **values)

    @property
    def has_public_vote(self) -> bool:
        """Whether the kind has a public vote at all (innovation contests have none)."""
        return self.applies("votes_per_day")

    @property
    def hides_minor_votes(self) -> bool:
        return self.hide_minor_vote_counts

    def school_quota(self, enrolment: int) -> int:
        """Entries a school may have, by its enrolment: below `school_small_below` small,
        above `school_large_above` large, medium in between (both breakpoints included)."""
        if enrolment < self.school_small_below:
            return self.school_quota_small
        if enrolment <= self.school_large_above:
            return self.school_quota_medium
        return self.school_quota_large

    def span(self, low: str, high: str) -> str:
        """Two rules bounding a count, as the rules are written ("1–6", or "6" when they agree)."""
        return span(getattr(self, low), getattr(self, high))


_OFF: dict[type, Any] = {int: 0, bool: False}


def _stored_value(spec: RuleSpec, raw: Any, kind: str) -> Any:
    """A stored value of the spec's type; a value stored before a bound changed is kept
    as stored (the editor refuses new out-of-bound values), a value of the wrong shape
    falls back to the default."""
    try:
        if spec.type is bool:
            return parse_rule(spec.key, raw)
        if spec.type is int:
            return int(raw)
        return str(raw)
    except (InvalidInput, TypeError, ValueError):
        return spec.default_for(kind)


def rules_for_kind(kind: str) -> list[RuleSpec]:
    return [spec for spec in RULES if kind in spec.kinds]


def span(low: int, high: int) -> str:
    """A count between two bounds as rules are written: "3–5", or "3" when they agree."""
    return str(low) if low == high else f"{low}–{high}"


def label_of(spec: RuleSpec, values: Mapping[str, Any] | None = None) -> str:
    """The rule's label in the reader's language, with the other rules it names filled in
    from `values` (a contest's rules, or what an editor shows) or else their defaults."""
    named = {other.key: other.default for other in RULES}
    named.update(values or {})
    return _(spec.label, **named)


def range_errors(kind: str, stored: Mapping[str, Any] | None) -> dict[str, str]:
    """Every range (RULE_RANGES) whose lower end would exceed its upper end with these stored
    values, as lower rule's key → message; empty when the rule set is sound."""
    rules = Rules.build(kind, stored)
    values = rules.as_dict()
    return {
        low: _("规则“%(low)s”不能大于“%(high)s”。", low=label_of(RULES_BY_KEY[low], values),
               high=label_of(RULES_BY_KEY[high], values))
        for low, high in RULE_RANGES
        if rules.applies(low) and rules.applies(high) and getattr(rules, low) > getattr(rules, high)
    }


def check_rule_set(kind: str, stored: Mapping[str, Any] | None) -> Rules:
    """The rules a contest of this kind would have with these stored values, or InvalidInput
    when the lower end of a range (RULE_RANGES) would exceed its upper end."""
    for low, message in range_errors(kind, stored).items():
        raise InvalidInput(message, field=low)
    return Rules.build(kind, stored)


assert {f.name for f in fields(Rules)} - {"kind"} == set(RULES_BY_KEY), "Rules and RULES must name the same rules"
assert set(RULE_HINTS) == set(RULES_BY_KEY), "every rule needs its help text"


def parse_rule(key: str, raw: Any) -> Any:
    """One rule value converted to its type and checked against its bounds, or InvalidInput."""
    spec = RULES_BY_KEY.get(key)
    if spec is None:
        raise InvalidInput(_("未知规则：%(key)s", key=key))
    if spec.type is bool:
        if isinstance(raw, bool):
            return raw
        text = str(raw).strip().lower()
        if text in ("1", "true", "yes", "on", "是"):
            return True
        if text in ("0", "false", "no", "off", "否", ""):
            return False
        raise InvalidInput(_("规则“%(label)s”应为是或否。", label=label_of(spec)), field=key)
    if spec.type is int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise InvalidInput(_("规则“%(label)s”应为整数。", label=label_of(spec)), field=key) from None
        if (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
            raise InvalidInput(_("规则“%(label)s”应在 %(lo)s 到 %(hi)s 之间。", label=label_of(spec), lo=spec.minimum, hi=spec.maximum),
                               field=key)
        return value
    text = str(raw).strip()
    if spec.choices and text not in spec.choices:
        raise InvalidInput(_("规则“%(label)s”只能是：%(choices)s", label=label_of(spec), choices="、".join(spec.choices)),
                           field=key)
    return text
