"""The back office's rule editor lists every rule of the contest's kind from the rule table,
with its label and bounds, and refuses a value out of bounds (or a range upside down)
with a Chinese message, storing nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from contest.accounts.actors import SYSTEM
from contest.accounts.models import AuditEvent
from contest.contests import service as contests
from contest.contests.models import Contest
from contest.contests.rules import RULE_HINTS, RULES, label_of
from contest.errors import InvalidInput
from contest.extensions import db
from tests.site.isolation import committed

from .form_fields import error_message, form_fields


@pytest.mark.parametrize("kind", ["selection", "media", "innovation"])
def test_the_editor_shows_every_rule_of_the_kind_with_its_default_and_bounds(client, organiser, kind):
    html = client.get(f"/admin/contests/new?kind={kind}").get_data(as_text=True)
    fields = form_fields(html, "slug")
    for spec in RULES:
        name = f"rule-{kind}-{spec.key}"
        if kind not in spec.kinds:
            assert name not in fields, spec.key
            continue
        assert label_of(spec) in html, spec.key
        if spec.type is int:
            assert fields[name] == str(spec.default_for(kind)), spec.key
            assert f'min="{spec.minimum}"' in html and f'max="{spec.maximum}"' in html
            assert f'<small id="{name}-hint" class="hint">{RULE_HINTS[spec.key]} 可填 {spec.minimum}–{spec.maximum}</small>' in html


def test_new_rules_have_todays_limits_as_defaults(client, organiser):
    html = client.get("/admin/contests/new?kind=selection").get_data(as_text=True)
    selection = {k.removeprefix("rule-selection-"): v for k, v in form_fields(html, "slug").items()}
    assert (selection["photos_min"], selection["photos_max"]) == ("1", "6")
    assert (selection["nominee_age_min"], selection["nominee_age_max"]) == ("12", "40")
    assert (selection["school_small_below"], selection["school_large_above"]) == ("2000", "5000")
    media = form_fields(html, "slug")
    assert media["rule-media-photos_max"] == "9"
    innovation = form_fields(html, "slug")
    assert [innovation[f"rule-innovation-team_{k}"] for k in ("students_min", "students_max", "advisors_min", "advisors_max")] == \
        ["3", "5", "1", "2"]


def _audits() -> int:
    return committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "contest.update"))


def _edit(client, contest: Contest, **changes: str):  # type: ignore[no-untyped-def]
    fields = form_fields(client.get(f"/admin/contests/{contest.id}").get_data(as_text=True), "slug")
    fields.update(changes)
    return client.post(f"/admin/contests/{contest.id}", data=fields)


def test_an_out_of_bound_rule_is_refused_and_nothing_is_stored(client, organiser, make_contest):
    contest = make_contest(kind="innovation", categories=())
    response = _edit(client, contest, title="不该保存", **{"rule-innovation-team_students_max": "99"})
    assert response.status_code == 400
    assert error_message(response.get_data(as_text=True)) == "规则“每支团队最多学生数”应在 1 到 15 之间。"
    assert committed(select(Contest.rules).where(Contest.id == contest.id)) == {}
    assert committed(select(Contest.title).where(Contest.id == contest.id)) != "不该保存"
    assert _audits() == 0


def test_a_range_upside_down_is_refused_and_nothing_is_stored(client, organiser, make_contest):
    contest = make_contest(kind="selection")
    response = _edit(client, contest, **{"rule-selection-nominee_age_min": "30", "rule-selection-nominee_age_max": "20"})
    assert response.status_code == 400
    assert error_message(response.get_data(as_text=True)) == "规则“被推荐学生最小年龄（周岁）”不能大于“被推荐学生最大年龄（周岁）”。"
    response = _edit(client, contest, **{"rule-selection-school_small_below": "6000"})
    assert response.status_code == 400
    assert error_message(response.get_data(as_text=True)) == (
        "规则“学校规模分界：在校生少于此数为小规模学校（人）”不能大于“学校规模分界：在校生多于此数为大规模学校（人）”。")
    assert committed(select(Contest.rules).where(Contest.id == contest.id)) == {}
    assert _audits() == 0


def test_a_saved_rule_takes_effect_and_quota_labels_name_the_breakpoints(client, organiser, make_contest):
    contest = make_contest(kind="selection")
    response = _edit(client, contest, **{"rule-selection-photos_max": "4", "rule-selection-school_small_below": "1000",
                                        "rule-selection-school_large_above": "3000"})
    assert response.status_code == 302
    db.session.expire_all()
    rules = contests.rules_of(contest)
    assert (rules.photos_max, rules.school_quota(999), rules.school_quota(1000), rules.school_quota(3001)) == (4, 3, 4, 5)
    html = client.get(f"/admin/contests/{contest.id}").get_data(as_text=True)
    assert "在校生 1000 人以下的学校限报数" in html and "在校生 1000–3000 人的学校限报数" in html
    assert "在校生 3000 人以上的学校限报数" in html
    [event] = db.session.scalars(select(AuditEvent).where(AuditEvent.action == "contest.update")).all()
    assert event.after == {"rules.photos_max": 4, "rules.school_small_below": 1000, "rules.school_large_above": 3000}


def test_set_rules_refuses_the_same_and_stores_nothing(app, make_contest, clock):
    contest = make_contest(kind="innovation", categories=())
    with pytest.raises(InvalidInput) as refused:
        contests.set_rules(db.session, actor=SYSTEM, contest=contest, values={"team_students_min": 6}, now=clock.now())
    assert refused.value.message == "规则“每支团队最少学生数”不能大于“每支团队最多学生数”。"
    with pytest.raises(InvalidInput) as refused:
        contests.set_rules(db.session, actor=SYSTEM, contest=contest, values={"team_advisors_max": 0}, now=clock.now())
    assert refused.value.message == "规则“每支团队最多指导教师数”应在 1 到 10 之间。"
    db.session.rollback()
    assert committed(select(Contest.rules).where(Contest.id == contest.id)) == {}
