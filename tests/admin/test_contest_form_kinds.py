"""The contest form follows the contest's kind: every kind's rules are on the page, each
under its kind's heading, and saving reads only the chosen kind's; every rule has help
in plain words; every mistake is shown at once beside its field, with a list at the top;
the team bounds an organiser sets are the ones a school's team registration meets."""

from __future__ import annotations

import re
from typing import Any

import pytest
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent
from contest.contests.models import KINDS, Contest, School
from contest.contests.rules import RULE_CHOICE_HINTS, RULE_HINTS, RULES, rules_for_kind
from contest.extensions import db
from tests.conftest import sign_in_id
from tests.media.conftest import (  # noqa: F401  (clips, innovation_contest, school: fixtures of the team registration)
    add_contact,
    clips,
    innovation_contest,
    school,
    send,
    submit_url,
    team_entry,
    upload,
)
from tests.site.isolation import committed

from .form_fields import field_errors, form_fields
from .test_contests import edit_form, new_form


def _fieldset(html: str, kind: str) -> str:
    start = html.index(f'data-rules-kind="{kind}"')
    return html[start:html.index("</fieldset>", start)]


def test_every_kinds_rules_are_on_the_page_under_its_heading(client, organiser):
    html = client.get("/admin/contests/new?kind=innovation").get_data(as_text=True)
    fields = form_fields(html, "slug")
    for kind, heading in (("selection", "规则：网络评选"), ("media", "规则：全民美拍"), ("innovation", "规则：创新创业大赛")):
        section = _fieldset(html, kind)
        assert f"<legend>{heading}</legend>" in section
        assert fields[f"rules-{kind}"] == "1"
        for spec in RULES:
            assert (f'name="rule-{kind}-{spec.key}"' in section) is (kind in spec.kinds), (kind, spec.key)
    # each kind's own numbers: team sizes are 黄炎培's, vote quotas the public-vote kinds'
    assert fields["rule-innovation-team_students_max"] == "5" and fields["rule-selection-photos_max"] == "6"
    assert fields["rule-media-photos_max"] == "9" and fields["rule-media-votes_per_day"] == "5"
    assert '<script src="/static/js/contest-form.js?v=' in html
    assert "<script>" not in html  # no inline script (CSP script-src 'self')


def test_saving_reads_only_the_chosen_kinds_rules(client, organiser):
    # The page was drawn for 全民美拍; the kind is switched to 网络评选 before saving, and
    # both kinds' fieldsets are sent (as they are without script).
    fields = new_form(client, kind="media", **{"rule-media-photos_max": "3", "rule-selection-photos_max": "4",
                                               "rule-selection-votes_per_day": "9", "rule-innovation-team_students_max": "4"})
    fields["kind"] = "selection"
    del fields["rule-selection-verified_only"]  # unticked in the chosen kind: "no"
    assert client.post("/admin/contests/new", data=fields).status_code == 302
    contest = db.session.scalar(select(Contest).where(Contest.slug == "meipai"))
    assert contest.kind == "selection"
    assert contest.rules["photos_max"] == 4 and contest.rules["votes_per_day"] == 9
    assert contest.rules["verified_only"] is False
    assert "team_students_max" not in contest.rules
    assert set(contest.rules) == {spec.key for spec in rules_for_kind("selection")}


def test_a_bad_rule_of_a_kind_not_chosen_is_not_read(client, organiser):
    fields = new_form(client, kind="media", **{"rule-innovation-team_students_max": "99"})
    assert client.post("/admin/contests/new", data=fields).status_code == 302


def test_a_post_without_the_kinds_fieldset_keeps_the_defaults(client, organiser):
    fields = {k: v for k, v in new_form(client, kind="media").items() if not k.startswith("rule")}
    assert client.post("/admin/contests/new", data=fields).status_code == 302
    contest = db.session.scalar(select(Contest).where(Contest.slug == "meipai"))
    assert contest.rules == {}  # no checkbox taken for "no": the kind's defaults apply


def test_every_rule_and_every_choice_has_plain_help(client, organiser):
    assert set(RULE_HINTS) == {spec.key for spec in RULES}
    html = client.get("/admin/contests/new?kind=media").get_data(as_text=True)
    for kind in KINDS:
        section = _fieldset(html, kind)
        for spec in rules_for_kind(kind):
            name = f"rule-{kind}-{spec.key}"
            assert re.search(rf'id="{name}"[^>]*aria-describedby="{name}-hint', section), name
            assert f'<small id="{name}-hint" class="hint">{RULE_HINTS[spec.key]}' in section, name
    captcha = _fieldset(html, "media")
    for value, label in (("always", "每次投票都要验证码"), ("risk", "发现异常时才要验证码（推荐）"), ("never", "不要验证码")):
        assert f'<option value="{value}"' in captcha and f">{label}</option>" in captcha
        assert f"<li><strong>{label}</strong>：{RULE_CHOICE_HINTS['captcha_mode'][value]}</li>" in captcha
    assert "系统判断有风险时才要" in captcha and "从不要求" in captcha
    assert 'aria-describedby="rule-media-captcha_mode-hint rule-media-captcha_mode-choices"' in captcha


def test_two_bad_fields_are_both_shown_at_their_fields_and_nothing_is_stored(client, organiser):
    fields = new_form(client, kind="media", title=" ", **{"rule-media-votes_per_day": "1000",
                                                          "rule-media-photos_min": "8", "rule-media-photos_max": "2"})
    response = client.post("/admin/contests/new", data=fields)
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert field_errors(html) == {
        "title": "请填写活动名称。",
        "rule-media-photos_min": "规则“每件作品最少照片数”不能大于“每件作品最多照片数”。",
        "rule-media-votes_per_day": "规则“每人每天可投票数”应在 0 到 100 之间。",
    }
    # each control points at its message, the summary at the top links to each field
    assert re.search(r'id="title"[^>]*aria-describedby="title-hint title-error"', html) or \
        re.search(r'aria-describedby="title-hint title-error"[^>]*id="title"', html)
    assert 'aria-describedby="rule-media-votes_per_day-hint rule-media-votes_per_day-error" aria-invalid="true"' in html
    summary = html[html.index('id="error-summary"'):html.index("</div>", html.index('id="error-summary"'))]
    assert "有 3 处需要修改" in summary
    assert [m for m in re.findall(r'<a href="#([^"]+)">', summary)] == ["title", "rule-media-photos_min", "rule-media-votes_per_day"]
    assert '<a href="#title">活动名称：请填写活动名称。</a>' in summary
    assert 'name="rule-media-votes_per_day" type="number" inputmode="numeric" value="1000"' in html  # kept as typed
    assert committed(select(func.count()).select_from(Contest)) == 0
    assert committed(select(func.count()).select_from(AuditEvent).where(AuditEvent.action == "contest.create")) == 0


def test_a_bad_date_and_a_bad_rule_are_shown_together(client, organiser, make_contest):
    contest = make_contest(kind="innovation", categories=())
    fields = edit_form(client, contest.id, voting_starts_at="2023-13-45T99:00", **{"rule-innovation-team_advisors_max": "0"})
    response = client.post(f"/admin/contests/{contest.id}", data=fields)
    assert response.status_code == 400
    assert field_errors(response.get_data(as_text=True)) == {
        "voting_starts_at": "不是有效的日期与时间值。",
        "rule-innovation-team_advisors_max": "规则“每支团队最多指导教师数”应在 1 到 10 之间。",
    }
    assert committed(select(Contest.rules).where(Contest.id == contest.id)) == {}


def test_a_taken_slug_is_shown_at_the_slug(client, organiser, make_contest):
    make_contest(slug="meipai")
    response = client.post("/admin/contests/new", data=new_form(client))
    assert response.status_code == 409
    assert field_errors(response.get_data(as_text=True)) == {"slug": "网址标识“meipai”已被使用。"}


def _as_contact(client: Any, user: Any) -> None:
    with client.session_transaction() as session:
        session["_user_id"] = sign_in_id(user)
        session["_fresh"] = True


@pytest.mark.usefixtures("school")
def test_team_bounds_set_in_the_form_are_what_a_team_registration_meets(
        client, organiser, make_user, innovation_contest, clips, app):  # noqa: F811
    fields = edit_form(client, innovation_contest.id, **{
        "rule-innovation-team_students_min": "4", "rule-innovation-team_students_max": "4",
        "rule-innovation-team_advisors_min": "1", "rule-innovation-team_advisors_max": "1"})
    assert client.post(f"/admin/contests/{innovation_contest.id}", data=fields).status_code == 302
    user = make_user("school_contact", name="赵敏")
    add_contact(user, db.session.scalar(select(School)))
    _as_contact(client, user)
    html = client.get(submit_url(innovation_contest)).get_data(as_text=True)
    assert 'name="students-3-name"' in html and 'name="students-4-name"' not in html  # four rows
    assert 'name="advisors-0-name"' in html and 'name="advisors-1-name"' not in html  # one row
    pitch = upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")
    refused = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 3, pitch=pitch))
    assert refused.status_code == 400 and "团队需要 4 名学生。" in refused.get_data(as_text=True)
    pitch = upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")
    refused = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 4, pitch=pitch, **{"advisors-0-name": ""}))
    assert refused.status_code == 400 and "团队需要 1 名指导教师。" in refused.get_data(as_text=True)
    pitch = upload(clips.read("two_seconds"), "pitch.mp4", "video/mp4")
    done = send(client, submit_url(innovation_contest), team_entry(innovation_contest, 4, pitch=pitch))
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]
