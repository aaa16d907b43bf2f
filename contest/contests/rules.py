"""The schema of a contest's rules: which keys exist, their types, defaults and bounds.

Rules are stored per contest as JSON (Contest.rules) and edited by organisers; this
module is the one place that says what a valid rule set looks like.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import InvalidInput
from ..i18n import N_, _


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


RULES: tuple[RuleSpec, ...] = (
    RuleSpec("entries_per_person", int, 3, N_("每人最多投稿数"), ("media",), 1, 50),
    RuleSpec("min_image_width", int, 1920, N_("图片最小宽度（像素）"), ("media",), 100, 10000),
    RuleSpec("min_image_height", int, 1080, N_("图片最小高度（像素）"), ("media",), 100, 10000),
    RuleSpec("photos_max", int, 9, N_("每件作品最多照片数"), ("media", "selection"), 1, 20),
    RuleSpec("video_max_seconds", int, 180, N_("视频最长时长（秒）"), minimum=10, maximum=1800),
    RuleSpec("video_max_mb", int, 300, N_("视频最大体积（MB）"), minimum=1, maximum=2000),
    RuleSpec("school_quota_small", int, 3, N_("在校生 2000 人以下的学校限报数"), ("innovation", "selection"), 0, 50),
    RuleSpec("school_quota_medium", int, 4, N_("在校生 2000–5000 人的学校限报数"), ("innovation", "selection"), 0, 50),
    RuleSpec("school_quota_large", int, 5, N_("在校生 5000 人以上的学校限报数"), ("innovation", "selection"), 0, 50),
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


def rules_for_kind(kind: str) -> list[RuleSpec]:
    return [spec for spec in RULES if kind in spec.kinds]


def defaults_for_kind(kind: str) -> dict[str, Any]:
    return {spec.key: spec.default for spec in rules_for_kind(kind)}


def effective_rules(kind: str, stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults of the kind overlaid with what the contest stores."""
    rules = defaults_for_kind(kind)
    rules.update({k: v for k, v in (stored or {}).items() if k in rules})
    return rules


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
        raise InvalidInput(_("规则“%(label)s”应为是或否。", label=spec.label))
    if spec.type is int:
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise InvalidInput(_("规则“%(label)s”应为整数。", label=spec.label)) from None
        if (spec.minimum is not None and value < spec.minimum) or (spec.maximum is not None and value > spec.maximum):
            raise InvalidInput(_("规则“%(label)s”应在 %(lo)s 到 %(hi)s 之间。", label=spec.label, lo=spec.minimum, hi=spec.maximum))
        return value
    value = str(raw).strip()
    if spec.choices and value not in spec.choices:
        raise InvalidInput(_("规则“%(label)s”只能是：%(choices)s", label=spec.label, choices="、".join(spec.choices)))
    return value
