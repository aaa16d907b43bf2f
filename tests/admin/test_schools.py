"""Schools: created and edited by organisers, audit-logged, validated."""

from __future__ import annotations

from sqlalchemy import func, select

from contest.accounts.models import AuditEvent
from contest.contests.models import School
from contest.extensions import db
from tests.conftest import submit
from tests.site.isolation import committed

from .form_fields import error_message

GOOD = {"name": "济南商贸职业学校", "district": "市中区", "level": "中职", "enrolment": "2400"}


def schools_stored() -> int:
    return committed(select(func.count()).select_from(School))


def events(action: str) -> list[AuditEvent]:
    db.session.expire_all()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action, AuditEvent.actor_id.is_not(None))))


def test_create_school(client, organiser):
    response = submit(client, "/admin/schools/new", GOOD)
    assert response.status_code == 302
    assert response.headers["Location"] == "/admin/schools"
    school = db.session.scalar(select(School).where(School.name == "济南商贸职业学校"))
    assert (school.district, school.level, school.enrolment) == ("市中区", "中职", 2400)
    [event] = events("school.create")
    assert event.actor_id == organiser.id and event.target_id == str(school.id)
    assert event.after == {"name": "济南商贸职业学校", "district": "市中区", "level": "中职", "enrolment": 2400}
    html = client.get("/admin/schools").get_data(as_text=True)
    assert "已保存。" in html and "济南商贸职业学校" in html


def test_a_school_with_no_students_yet_can_be_saved(client, organiser):
    response = submit(client, "/admin/schools/new", dict(GOOD, enrolment="0"))
    assert response.status_code == 302
    assert db.session.scalar(select(School.enrolment).where(School.name == GOOD["name"])) == 0


def test_edit_school_audits_the_change(client, organiser, make_school):
    school = make_school("济南旅游学校", district="历下区", enrolment=1500)
    url = f"/admin/schools/{school.id}"
    page = client.get(url).get_data(as_text=True)
    assert 'value="济南旅游学校"' in page and 'value="1500"' in page
    response = submit(client, url, {"name": "济南旅游学校", "district": "历城区", "level": "中职", "enrolment": "1800"})
    assert response.status_code == 302
    db.session.expire_all()
    assert (school.district, school.enrolment) == ("历城区", 1800)
    [event] = events("school.update")
    assert event.actor_id == organiser.id
    assert event.before == {"district": "历下区", "enrolment": 1500}
    assert event.after == {"district": "历城区", "enrolment": 1800}


def test_saving_an_unchanged_school_writes_no_audit_row(client, organiser, make_school):
    school = make_school("济南旅游学校", district="历下区", enrolment=1500)
    data = {"name": "济南旅游学校", "district": "历下区", "level": "中职", "enrolment": "1500"}
    assert submit(client, f"/admin/schools/{school.id}", data).status_code == 302
    assert events("school.update") == []


def test_bad_district_is_400(client, organiser):
    for district in ("朝阳区", "", "历下"):
        response = submit(client, "/admin/schools/new", dict(GOOD, district=district))
        assert response.status_code == 400, district
        assert error_message(response.get_data(as_text=True)) == "请检查填写的内容。"
    assert schools_stored() == 0


def test_negative_or_huge_enrolment_is_400(client, organiser):
    for enrolment in ("-1", "200001", "很多", ""):
        response = submit(client, "/admin/schools/new", dict(GOOD, enrolment=enrolment))
        assert response.status_code == 400, enrolment
        assert error_message(response.get_data(as_text=True)) == "请检查填写的内容。"
    response = submit(client, "/admin/schools/new", dict(GOOD, enrolment="-5"))
    assert '<small class="field-error">在校生人数应在 0 到 200000 之间。</small>' in response.get_data(as_text=True)
    assert schools_stored() == 0
    assert events("school.create") == []


def test_bad_edit_changes_nothing(client, organiser, make_school):
    school = make_school("济南旅游学校", district="历下区", enrolment=1500)
    response = submit(client, f"/admin/schools/{school.id}", {"name": "改了名", "district": "火星区", "level": "中职", "enrolment": "10"})
    assert response.status_code == 400
    assert committed(select(School.name).where(School.id == school.id)) == "济南旅游学校"
    assert events("school.update") == []


def test_missing_name_is_400(client, organiser):
    response = submit(client, "/admin/schools/new", dict(GOOD, name=""))
    assert response.status_code == 400
    assert "请填写学校名称。" in response.get_data(as_text=True)
    assert schools_stored() == 0


def test_duplicate_name_is_409(client, organiser, make_school):
    make_school("济南商贸职业学校")
    response = submit(client, "/admin/schools/new", GOOD)
    assert response.status_code == 409
    assert error_message(response.get_data(as_text=True)) == "已有同名学校“济南商贸职业学校”。"
    assert schools_stored() == 1


def test_renaming_to_a_taken_name_is_409(client, organiser, make_school):
    make_school("甲校")
    school = make_school("乙校")
    response = submit(client, f"/admin/schools/{school.id}", dict(GOOD, name="甲校"))
    assert response.status_code == 409
    assert error_message(response.get_data(as_text=True)) == "已有同名学校“甲校”。"
    assert committed(select(School.name).where(School.id == school.id)) == "乙校"


def test_unknown_school_is_404(client, organiser):
    response = client.get("/admin/schools/99999")
    assert response.status_code == 404
    assert "没有找到这所学校。" in response.get_data(as_text=True)


def test_schools_list_by_district(client, organiser, make_school):
    make_school("乙校", district="章丘区")
    make_school("甲校", district="历下区")
    html = client.get("/admin/schools").get_data(as_text=True)
    assert html.index("甲校") < html.index("乙校")
