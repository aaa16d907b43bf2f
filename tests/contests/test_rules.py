"""The typed rules of a contest: one object built from the rule table, no defaults at call sites."""

from __future__ import annotations

import dataclasses
import pathlib
import re

import pytest

from contest.contests.rules import RULES, RULES_BY_KEY, Rules, check_rule_set, label_of, parse_rule, rules_for_kind, span
from contest.errors import InvalidInput

ROOT = pathlib.Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("kind", ["selection", "media", "innovation"])
def test_defaults_come_from_the_rule_table(kind):
    rules = Rules.build(kind, None)
    for spec in RULES:
        if kind in spec.kinds:
            assert getattr(rules, spec.key) == spec.default_for(kind), spec.key
            assert rules.applies(spec.key)
        else:
            assert not rules.applies(spec.key)
    assert list(rules.as_dict()) == [spec.key for spec in rules_for_kind(kind)]


def test_stored_values_overlay_the_defaults_of_the_kind_only():
    rules = Rules.build("media", {"votes_per_day": 8, "school_quota_small": 9, "unknown": 1, "counts_public": False})
    assert rules.votes_per_day == 8 and rules.counts_public is False
    # a school quota does not apply to 全民美拍: stored or not, it is off
    assert rules.school_quota_small == 0 and not rules.applies("school_quota_small")
    assert "unknown" not in rules.as_dict()


def test_rules_that_do_not_apply_are_off():
    innovation = Rules.build("innovation", {"verified_only": True, "hide_minor_vote_counts": True})
    assert not innovation.has_public_vote
    assert innovation.verified_only is False and innovation.hides_minor_votes is False
    assert innovation.votes_per_day == 0
    assert Rules.build("selection", None).has_public_vote and Rules.build("selection", None).hides_minor_votes
    assert not Rules.build("media", None).hides_minor_votes


def test_rules_are_frozen():
    rules = Rules.build("media", None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        rules.votes_per_day = 1  # type: ignore[misc]


@pytest.mark.parametrize("enrolment, field", [(0, "school_quota_small"), (1999, "school_quota_small"),
                                              (2000, "school_quota_medium"), (5000, "school_quota_medium"),
                                              (5001, "school_quota_large")])
def test_school_quota_by_enrolment(enrolment, field):
    rules = Rules.build("selection", {"school_quota_small": 1, "school_quota_medium": 2, "school_quota_large": 3})
    assert rules.school_quota(enrolment) == getattr(rules, field)


def test_no_rule_is_read_with_a_default_outside_the_rules_module():
    offenders = []
    for path in (ROOT / "contest").rglob("*.py"):
        if path.name == "rules.py" and path.parent.name == "contests":
            continue
        for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if re.search(r"\brules\.get\(|rules_of\([^)]*\)\s*\[", line):
                offenders.append(f"{path.relative_to(ROOT)}:{n}: {line.strip()}")
    assert offenders == []


def test_a_kind_may_have_its_own_default():
    # a nomination took at most 6 photos before this was a rule; 全民美拍 keeps its 9
    assert Rules.build("selection", None).photos_max == 6
    assert Rules.build("media", None).photos_max == 9
    assert Rules.build("selection", {"photos_max": "nonsense"}).photos_max == 6


def test_limits_that_were_written_in_the_code_are_rules_with_todays_values():
    innovation = Rules.build("innovation", None)
    assert (innovation.team_students_min, innovation.team_students_max) == (3, 5)
    assert (innovation.team_advisors_min, innovation.team_advisors_max) == (1, 2)
    selection = Rules.build("selection", None)
    assert (selection.nominee_age_min, selection.nominee_age_max) == (12, 40)
    assert (selection.school_small_below, selection.school_large_above) == (2000, 5000)
    assert selection.photos_min == Rules.build("media", None).photos_min == 1


@pytest.mark.parametrize("enrolment, field", [(999, "school_quota_small"), (1000, "school_quota_medium"),
                                              (3000, "school_quota_medium"), (3001, "school_quota_large")])
def test_school_quota_bands_follow_the_breakpoints(enrolment, field):
    rules = Rules.build("innovation", {"school_small_below": 1000, "school_large_above": 3000,
                                       "school_quota_small": 1, "school_quota_medium": 2, "school_quota_large": 3})
    assert rules.school_quota(enrolment) == getattr(rules, field)


def test_ranges_are_checked_together():
    assert check_rule_set("selection", {"nominee_age_min": 18, "nominee_age_max": 18}).nominee_age_max == 18
    with pytest.raises(InvalidInput) as refused:
        check_rule_set("selection", {"photos_min": 7})  # above the default 6 of 最美职校生
    assert refused.value.message == "规则“每件作品最少照片数”不能大于“每件作品最多照片数”。"
    assert refused.value.field == "photos_min"
    # a range of another kind is not this kind's business
    check_rule_set("media", {"team_students_min": 9})


def test_labels_name_the_breakpoints_as_set():
    spec = RULES_BY_KEY["school_quota_medium"]
    assert label_of(spec) == "在校生 2000–5000 人的学校限报数"
    assert label_of(spec, {"school_small_below": 1500, "school_large_above": 4000}) == "在校生 1500–4000 人的学校限报数"
    with pytest.raises(InvalidInput) as refused:
        parse_rule("school_quota_large", 99)
    assert refused.value.message == "规则“在校生 5000 人以上的学校限报数”应在 0 到 50 之间。"


def test_span_writes_a_range_as_the_rules_do():
    assert span(1, 6) == "1–6" and span(4, 4) == "4"
    assert Rules.build("innovation", None).span("team_advisors_min", "team_advisors_max") == "1–2"
