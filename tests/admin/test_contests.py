"""Organisers create and edit contests: windows in Beijing time, rules as data, audit rows."""

from __future__ import annotations

from datetime import date, datetime

import pytest
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent
from contest.clock import LOCAL_TZ
from contest.contests.models import Contest
from contest.extensions import db
from tests.site.isolation import committed

from .form_fields import error_message, field_errors, form_fields

WINDOWS = {
    "submission_starts_at": "2023-05-01T09:00", "submission_ends_at": "2023-05-10T18:00",
    "review_starts_at": "2023-05-10T18:00", "review_ends_at": "2023-05-13T18:00",
    "voting_starts_at": "2023-05-14T00:00", "voting_ends_at": "2023-05-20T22:00",
    "judging_starts_at": "2023-05-21T09:00", "judging_ends_at": "2023-05-25T18:00",
    "publicity_starts_at": "2023-05-26T09:00", "publicity_ends_at": "2023-06-01T18:00",
}


def new_form(client, kind: str = "media", **changes: str) -> dict:  # type: ignore[no-untyped-def]
    """The new-contest form as a browser sends it, filled in."""
    page = client.get(f"/admin/contests/new?kind={kind}")
    assert page.status_code == 200
    fields = form_fields(page.get_data(as_text=True), "slug")
    fields.update(slug="meipai", kind=kind, title="技能：让生活更美好 全民美拍", theme="技能：让生活更美好",
                  summary="用镜头记录身边的技能之美", rules_text="一、作品要求\r\n\r\n二、投票规则", **WINDOWS)
    fields.update(changes)
    return fields


def edit_form(client, contest_id: int, **changes: str) -> dict:  # type: ignore[no-untyped-def]
    """The edit form as the page shows it, with some fields changed."""
    page = client.get(f"/admin/contests/{contest_id}")
    assert page.status_code == 200
    fields = form_fields(page.get_data(as_text=True), "slug")
    fields.update(changes)
    return fields


def contests_stored() -> int:
    return committed(select(func.count()).select_from(Contest))


def audit_events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def test_new_contest_form_shows_the_kinds_rules_with_defaults(client, organiser):
    html = client.get("/admin/contests/new?kind=innovation").get_data(as_text=True)
    fields = form_fields(html, "slug")
    assert fields["kind"] == "innovation"
    assert fields["rule-innovation-school_quota_small"] == "3"
    assert "rule-innovation-votes_per_day" not in fields  # innovation contests have no public vote
    assert "在校生 2000 人以下的学校限报数" in html
    media = form_fields(client.get("/admin/contests/new?kind=media").get_data(as_text=True), "slug")
    assert media["rule-media-votes_per_day"] == "5" and media["rule-media-verified_only"] == "1"
    assert media["rule-media-captcha_mode"] == "risk"
    assert media["is_published"] == "y"


def test_create_contest(client, organiser, clock):
    response = client.post("/admin/contests/new", data=new_form(client, **{"rule-media-votes_per_day": "8"}))
    assert response.status_code == 302
    contest = db.session.scalar(select(Contest).where(Contest.slug == "meipai"))
    assert contest is not None
    assert response.headers["Location"] == f"/admin/contests/{contest.id}"
    assert contest.title == "技能：让生活更美好 全民美拍"
    assert contest.kind == "media" and contest.is_published
    # the datetime-local values are Beijing time
    assert contest.voting_starts_at == datetime(2023, 5, 14, 0, 0, tzinfo=LOCAL_TZ)
    assert contest.voting_starts_at.astimezone(LOCAL_TZ).hour == 0
    assert contest.publicity_ends_at == datetime(2023, 6, 1, 18, 0, tzinfo=LOCAL_TZ)
    assert contest.rules["votes_per_day"] == 8
    assert contest.rules["verified_only"] is True
    assert contest.rules["captcha_mode"] == "risk"
    assert contest.rules_text == "一、作品要求\n\n二、投票规则"
    [event] = audit_events("contest.create")
    assert event.actor_id == organiser.id
    assert event.target_type == "contest" and event.target_id == str(contest.id)
    assert event.created_at == clock.now()
    assert event.after["slug"] == "meipai" and event.after["title"] == contest.title
    # the page after the redirect confirms it, and the public page splits the rules into paragraphs
    assert "活动已创建。" in client.get(response.headers["Location"]).get_data(as_text=True)
    public = client.get("/c/meipai").get_data(as_text=True)
    assert "<p>一、作品要求</p><p>二、投票规则</p>" in public
    assert "stage-voting" in public  # 2023-05-16 10:00 is inside the voting window


def test_unticked_boolean_rule_is_stored_as_no(client, organiser):
    fields = new_form(client)
    del fields["rule-media-verified_only"]
    del fields["is_published"]
    assert client.post("/admin/contests/new", data=fields).status_code == 302
    contest = db.session.scalar(select(Contest).where(Contest.slug == "meipai"))
    assert contest.rules["verified_only"] is False
    assert contest.is_published is False
    assert client.get("/c/meipai").status_code == 404


def test_edit_contest_audits_only_the_changed_keys(client, organiser, clock):
    assert client.post("/admin/contests/new", data=new_form(client)).status_code == 302
    contest = db.session.scalar(select(Contest).where(Contest.slug == "meipai"))
    fields = edit_form(client, contest.id)
    # the edit page shows the windows in Beijing time, as they were entered
    assert {k: fields[k] for k in WINDOWS} == WINDOWS
    fields.update(title="全民美拍（延期）", voting_ends_at="2023-05-21T22:00", **{"rule-media-votes_per_day": "7"})
    response = client.post(f"/admin/contests/{contest.id}", data=fields)
    assert response.status_code == 302
    assert response.headers["Location"] == f"/admin/contests/{contest.id}"
    db.session.expire_all()
    assert contest.title == "全民美拍（延期）"
    assert contest.voting_ends_at == datetime(2023, 5, 21, 22, 0, tzinfo=LOCAL_TZ)
    assert contest.voting_starts_at == datetime(2023, 5, 14, 0, 0, tzinfo=LOCAL_TZ)
    assert contest.rules["votes_per_day"] == 7
    [event] = audit_events("contest.update")
    assert event.actor_id == organiser.id
    assert event.target_id == str(contest.id)
    assert set(event.before) == set(event.after) == {"title", "voting_ends_at", "rules.votes_per_day"}
    assert event.before["title"] == "技能：让生活更美好 全民美拍" and event.after["title"] == "全民美拍（延期）"
    assert event.before["rules.votes_per_day"] == 5 and event.after["rules.votes_per_day"] == 7
    assert event.before["voting_ends_at"].startswith("2023-05-20T22:00")
    assert event.after["voting_ends_at"].startswith("2023-05-21T22:00")
    assert "已保存。" in client.get(f"/admin/contests/{contest.id}").get_data(as_text=True)


def test_saving_without_changes_writes_no_audit_row(client, organiser):
    assert client.post("/admin/contests/new", data=new_form(client)).status_code == 302
    contest = db.session.scalar(select(Contest).where(Contest.slug == "meipai"))
    assert client.post(f"/admin/contests/{contest.id}", data=edit_form(client, contest.id)).status_code == 302
    assert audit_events("contest.update") == []


def test_edit_a_contest_made_elsewhere_keeps_its_windows(client, organiser, make_contest):
    contest = make_contest(stage="voting")
    before = {s: contest.window(s) for s in ("submission", "voting", "publicity")}
    assert client.post(f"/admin/contests/{contest.id}", data=edit_form(client, contest.id, title="新名称")).status_code == 302
    db.session.expire_all()
    assert {s: contest.window(s) for s in before} == before
    [event] = audit_events("contest.update")
    assert event.after == {"title": "新名称"}


def test_a_window_left_out_of_the_post_is_not_shifted(client, organiser, make_contest):
    contest = make_contest(stage="voting")
    starts = contest.voting_starts_at
    fields = edit_form(client, contest.id, title="缺字段")
    del fields["voting_starts_at"]
    assert client.post(f"/admin/contests/{contest.id}", data=fields).status_code == 302
    db.session.expire_all()
    assert contest.voting_starts_at == starts


def test_end_before_start_is_refused(client, organiser):
    response = client.post("/admin/contests/new", data=new_form(client, voting_ends_at="2023-05-13T00:00"))
    assert response.status_code == 400
    assert error_message(response.get_data(as_text=True)) == "“公众投票”阶段的结束时间必须晚于开始时间。"
    assert contests_stored() == 0
    assert audit_events("contest.create") == []


def test_end_before_start_on_edit_changes_nothing(client, organiser, make_contest):
    contest = make_contest(stage="voting")
    title, window = contest.title, contest.window("judging")
    fields = edit_form(client, contest.id, title="不该保存", judging_ends_at="2023-05-01T00:00")
    response = client.post(f"/admin/contests/{contest.id}", data=fields)
    assert response.status_code == 400
    assert error_message(response.get_data(as_text=True)) == "“专家评审”阶段的结束时间必须晚于开始时间。"
    assert 'value="不该保存"' in response.get_data(as_text=True)  # what was typed is kept
    assert committed(select(Contest.title).where(Contest.id == contest.id)) == title
    db.session.expire_all()
    assert contest.window("judging") == window
    assert audit_events("contest.update") == []


def test_half_a_window_is_refused(client, organiser):
    response = client.post("/admin/contests/new", data=new_form(client, review_ends_at=""))
    assert response.status_code == 400
    assert error_message(response.get_data(as_text=True)) == "“资格审核”阶段需要同时填写开始和结束时间。"
    assert contests_stored() == 0


def test_stage_before_the_previous_one_is_refused(client, organiser):
    response = client.post("/admin/contests/new", data=new_form(client, review_starts_at="2023-04-01T00:00",
                                                                 review_ends_at="2023-04-02T00:00"))
    assert response.status_code == 400
    assert error_message(response.get_data(as_text=True)) == "“资格审核”阶段不能早于前一阶段开始。"
    assert contests_stored() == 0


def test_malformed_datetime_is_refused(client, organiser):
    response = client.post("/admin/contests/new", data=new_form(client, voting_starts_at="2023-13-45T99:00"))
    assert response.status_code == 400
    # at its field, not taken for a missing start (the service sees no value there)
    assert field_errors(response.get_data(as_text=True)) == {"voting_starts_at": "不是有效的日期与时间值。"}
    assert contests_stored() == 0


def test_award_date_is_set_shown_and_cleared(client, organiser, make_contest):
    contest = make_contest(stage="voting")
    page = client.get(f"/admin/contests/{contest.id}").get_data(as_text=True)
    assert "颁奖日期" in page and "颁奖/证书落款日期；不填则用结果发布日期" in page and 'type="date"' in page
    assert client.post(f"/admin/contests/{contest.id}",
                       data=edit_form(client, contest.id, awarded_on="2023-05-26")).status_code == 302
    assert committed(select(Contest.awarded_on).where(Contest.id == contest.id)) == date(2023, 5, 26)
    assert form_fields(client.get(f"/admin/contests/{contest.id}").get_data(as_text=True), "slug")["awarded_on"] == "2023-05-26"
    [event] = audit_events("contest.update")
    assert event.after == {"awarded_on": "2023-05-26"}
    assert client.post(f"/admin/contests/{contest.id}", data=edit_form(client, contest.id, awarded_on="")).status_code == 302
    assert committed(select(Contest.awarded_on).where(Contest.id == contest.id)) is None


@pytest.mark.parametrize(("value", "message"), [
    ("2023-13-45", "请按“年-月-日”填写日期，如 2024-05-20。"),
    ("5月26日", "请按“年-月-日”填写日期，如 2024-05-20。"),
    ("0202-05-26", "颁奖日期应在 2000 年到 2100 年之间。"),
])
def test_a_bad_award_date_is_refused_in_chinese_and_nothing_is_stored(client, organiser, make_contest, value, message):
    contest = make_contest(stage="voting")
    title = contest.title
    response = client.post(f"/admin/contests/{contest.id}", data=edit_form(client, contest.id, title="不该保存", awarded_on=value))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert message in html
    assert committed(select(Contest.title).where(Contest.id == contest.id)) == title
    assert committed(select(Contest.awarded_on).where(Contest.id == contest.id)) is None
    assert audit_events("contest.update") == []
    assert client.post("/admin/contests/new", data=new_form(client, awarded_on=value)).status_code == 400
    assert contests_stored() == 1


def test_duplicate_slug_is_409(client, organiser, make_contest):
    make_contest(slug="meipai", title="先来的活动")
    response = client.post("/admin/contests/new", data=new_form(client, title="后来的活动"))
    assert response.status_code == 409
    assert error_message(response.get_data(as_text=True)) == "网址标识“meipai”已被使用。"
    assert contests_stored() == 1
    assert committed(select(Contest.title).where(Contest.slug == "meipai")) == "先来的活动"


def test_renaming_to_a_taken_slug_is_409(client, organiser, make_contest):
    make_contest(slug="taken-slug")
    contest = make_contest(slug="mine-slug")
    response = client.post(f"/admin/contests/{contest.id}", data=edit_form(client, contest.id, slug="taken-slug"))
    assert response.status_code == 409
    assert error_message(response.get_data(as_text=True)) == "网址标识“taken-slug”已被使用。"
    assert committed(select(Contest.slug).where(Contest.id == contest.id)) == "mine-slug"


def test_invalid_slug_is_400(client, organiser):
    for slug in ("Meipai", "mei pai", "ab", "-meipai", "meipai-", "美拍", "a" * 61, "meipai_2023", "../x"):
        response = client.post("/admin/contests/new", data=new_form(client, slug=slug))
        assert response.status_code == 400, slug
        message = error_message(response.get_data(as_text=True))
        assert message == "网址标识只能用小写字母、数字和连字符，3–60 位。", slug
    assert contests_stored() == 0


def test_invalid_slug_message(client, organiser):
    response = client.post("/admin/contests/new", data=new_form(client, slug="Mei Pai"))
    assert response.status_code == 400
    assert error_message(response.get_data(as_text=True)) == "网址标识只能用小写字母、数字和连字符，3–60 位。"


def test_missing_title_is_400(client, organiser):
    response = client.post("/admin/contests/new", data=new_form(client, title="  "))
    assert response.status_code == 400
    assert "请填写活动名称。" in response.get_data(as_text=True)
    assert contests_stored() == 0


def test_unknown_kind_is_400(client, organiser):
    response = client.post("/admin/contests/new", data=new_form(client, kind="lottery"))
    assert response.status_code == 400
    assert contests_stored() == 0


def test_out_of_range_rule_is_refused(client, organiser):
    response = client.post("/admin/contests/new", data=new_form(client, **{"rule-media-votes_per_day": "1000"}))
    assert response.status_code == 400
    html = response.get_data(as_text=True)
    assert error_message(html) == "规则“每人每天可投票数”应在 0 到 100 之间。"
    assert 'name="rule-media-votes_per_day" type="number" inputmode="numeric" value="1000"' in html  # shown again
    assert contests_stored() == 0
    assert audit_events("contest.create") == []


def test_every_kind_of_bad_rule_value_is_refused(client, organiser):
    cases = [
        ("rule-media-votes_per_day", "-1", "规则“每人每天可投票数”应在 0 到 100 之间。"),
        ("rule-media-votes_per_day", "five", "规则“每人每天可投票数”应为整数。"),
        ("rule-media-votes_per_day", "", "规则“每人每天可投票数”应为整数。"),
        ("rule-media-min_image_width", "50", "规则“图片最小宽度（像素）”应在 100 到 10000 之间。"),
        ("rule-media-captcha_mode", "sometimes", "规则“验证码模式”只能是：always、risk、never"),
        ("rule-media-verified_only", "maybe", "规则“仅限手机验证用户投票”应为是或否。"),
    ]
    for rule, value, message in cases:
        response = client.post("/admin/contests/new", data=new_form(client, **{rule: value}))
        assert response.status_code == 400, (rule, value)
        assert error_message(response.get_data(as_text=True)) == message, (rule, value)
    assert contests_stored() == 0
    assert audit_events("contest.create") == []


def test_out_of_range_rule_on_edit_changes_nothing(client, organiser, make_contest):
    contest = make_contest()
    response = client.post(f"/admin/contests/{contest.id}",
                           data=edit_form(client, contest.id, title="不该保存", **{"rule-media-votes_per_day": "1000"}))
    assert response.status_code == 400
    assert error_message(response.get_data(as_text=True)) == "规则“每人每天可投票数”应在 0 到 100 之间。"
    db.session.expire_all()
    assert contest.title != "不该保存"
    assert "votes_per_day" not in contest.rules
    assert audit_events("contest.update") == []


def test_rules_of_other_kinds_are_ignored(client, organiser):
    fields = new_form(client, **{"rule-innovation-school_quota_small": "9", "rule-media-unknown": "1"})
    assert client.post("/admin/contests/new", data=fields).status_code == 302
    contest = db.session.scalar(select(Contest).where(Contest.slug == "meipai"))
    assert "school_quota_small" not in contest.rules and "unknown" not in contest.rules


def test_unknown_contest_is_404(client, organiser):
    assert client.get("/admin/contests/99999").status_code == 404
    assert client.get("/admin/contests/99999/categories").status_code == 404


def test_dashboard_lists_every_contest_with_its_stage(client, organiser, make_contest, make_entry):
    shown = make_contest(stage="judging", title="评审中")
    hidden = make_contest(title="未公开活动")
    hidden.is_published = False
    db.session.commit()
    make_entry(shown)
    html = client.get("/admin/").get_data(as_text=True)
    assert "评审中" in html and "未公开活动" in html
    assert '<span class="badge">未公开</span>' in html
    assert '<span class="badge stage-judging">专家评审</span>' in html
    assert f'href="/admin/contests/{shown.id}"' in html
