"""Organising units in use: a unit's admin gives roles and starts the district's own
全民美拍 from its template; the home page lists the city's contests first and the 区县's
with a filter; contest pages name their units; operators bootstrap units from the command
line; the migration hands existing contests and organisers to the notice's bodies."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from flask_migrate import upgrade
from sqlalchemy import select, text

from contest import create_app
from contest.accounts import units
from contest.accounts.models import OrganisingUnit, UnitMembership, User
from contest.contests import service as contests
from contest.contests.models import Contest
from contest.extensions import db
from tests.conftest import _settings, csrf_token, scratch_database, submit

from .conftest import sign_in
from .form_fields import form_fields

BEFORE = "0a1b2c3d4e5f"  # the revision before organising units
SCHEMA = "unit_migration_check"


def _text(client: FlaskClient, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.get_data(as_text=True)))


def test_a_unit_admin_gives_roles_by_phone_and_takes_them_back(client: FlaskClient, make_user: Callable[..., User],
                                                             make_unit: Callable[..., OrganisingUnit]) -> None:
    unit = make_unit("历下区教育和体育局")
    admin = make_user(unit=unit, unit_role="admin", name="历下管理员")
    colleague = make_user("citizen", name="审核老师")
    sign_in(client, admin)
    page = f"/admin/units/{unit.id}"
    assert "历下区教育和体育局" in _text(client, "/admin/units")

    refused = submit(client, page, {"phone": "13912345678", "role": "reviewer"}, action=f"{page}/members")
    assert refused.status_code == 404 and "没有用这个手机号注册的账号" in refused.get_data(as_text=True)
    bad = submit(client, page, {"phone": "12345", "role": "reviewer"}, action=f"{page}/members")
    assert bad.status_code == 400 and "请输入正确的 11 位手机号" in bad.get_data(as_text=True)
    assert db.session.scalar(select(UnitMembership).where(UnitMembership.user_id == colleague.id)) is None

    done = submit(client, page, {"phone": colleague.phone, "role": "reviewer"}, action=f"{page}/members")
    assert done.status_code == 302
    db.session.expire_all()
    [membership] = db.session.scalars(select(UnitMembership).where(UnitMembership.user_id == colleague.id)).all()
    assert (membership.unit_id, membership.role, membership.contest_id) == (unit.id, "reviewer", None)
    assert colleague.has_role("organiser")  # staff: the header offers the back office
    assert "审核老师" in _text(client, page) and "审核员" in _text(client, page)
    # The unit's own audit log, as a download: the grant is there, nobody else's actions are.
    audit = client.get(f"{page}/audit.csv").get_data().decode("utf-8-sig")
    assert "授予单位角色" in audit and colleague.masked_phone in audit
    other = make_unit("章丘区教育和体育局", district="章丘区")
    assert client.get(f"/admin/units/{other.id}/audit.csv").status_code == 403

    # Their own admin role cannot be dropped by themselves (someone must run the unit).
    [own] = [m for m in admin.memberships if m.role == "admin"]
    kept = submit(client, page, {}, action=f"{page}/members/{own.id}/remove")
    assert kept.status_code == 403
    membership_id = membership.id
    gone = submit(client, page, {}, action=f"{page}/members/{membership_id}/remove")
    assert gone.status_code == 302
    db.session.expire_all()
    assert db.session.scalar(select(UnitMembership).where(UnitMembership.id == membership_id)) is None


def test_only_operators_create_units(client: FlaskClient, make_user: Callable[..., User],
                                     make_unit: Callable[..., OrganisingUnit]) -> None:
    sign_in(client, make_user(unit=make_unit("历下区教育和体育局"), unit_role="admin"))
    token = csrf_token(client, "/admin/units")
    assert client.post("/admin/units", data={"csrf_token": token, "name": "新单位", "level": "city"}).status_code == 403
    sign_in(client, make_user("admin"))
    missing = submit(client, "/admin/units", {"name": "槐荫区教育和体育局", "level": "district", "district": ""})
    assert missing.status_code == 400 and "区县单位须选择所在区县" in missing.get_data(as_text=True)
    made = submit(client, "/admin/units", {"name": "槐荫区教育和体育局", "level": "district", "district": "槐荫区"})
    assert made.status_code == 302
    unit = db.session.scalar(select(OrganisingUnit).where(OrganisingUnit.name == "槐荫区教育和体育局"))
    assert unit is not None and (unit.level, unit.district) == ("district", "槐荫区")


def test_a_district_starts_its_own_meipai_from_the_template(client: FlaskClient, make_user: Callable[..., User],
                                                           make_unit: Callable[..., OrganisingUnit]) -> None:
    unit = make_unit("章丘区教育和体育局", district="章丘区")
    sign_in(client, make_user(unit=unit, unit_role="admin"))
    url = f"/admin/contests/new?kind=media&unit={unit.id}"
    form = client.get(url).get_data(as_text=True)
    assert "章丘区“技能：让生活更美好”全民美拍活动" in form
    assert re.search(rf'<option selected value="{unit.id}">|<option value="{unit.id}" selected', form)
    fields = form_fields(form, "slug")
    assert fields["unit_id"] == str(unit.id) and fields["voting_starts_at"]
    created = submit(client, url, {k: v for k, v in fields.items() if k != "csrf_token"}, action="/admin/contests/new")
    assert created.status_code == 302, created.get_data(as_text=True)[:2000]
    contest = db.session.scalar(select(Contest).where(Contest.unit_id == unit.id))
    assert contest is not None and contest.kind == "media" and contest.voting_starts_at is not None
    assert contest.title == "章丘区“技能：让生活更美好”全民美拍活动"


def test_the_home_page_lists_the_city_first_and_filters_by_district(client: FlaskClient,
                                                                    make_contest: Callable[..., Contest],
                                                                    make_unit: Callable[..., OrganisingUnit]) -> None:
    city = make_contest(title="济南市“最美职校生”网络评选活动")
    lixia = make_unit("历下区教育和体育局", district="历下区")
    zhangqiu = make_unit("章丘区教育和体育局", district="章丘区")
    make_contest(title="历下区全民美拍", unit_id=lixia.id)
    make_contest(title="章丘区全民美拍", unit_id=zhangqiu.id)
    home = _text(client, "/")
    main = home[home.index("全市活动"):]
    assert main.index(city.title) < main.index("区县活动") < main.index("历下区全民美拍")
    assert "章丘区全民美拍" in main
    only = _text(client, "/?district=章丘区")
    main = only[only.index("全市活动"):]
    assert city.title in main and "章丘区全民美拍" in main and "历下区全民美拍" not in main
    # An unknown 区县 (or nonsense) shows them all, not an error.
    for odd in ("不存在区", "<script>", "历下区" * 20):
        assert "历下区全民美拍" in _text(client, f"/?district={odd}")


def test_the_contest_page_names_its_units(client: FlaskClient, make_contest: Callable[..., Contest],
                                          make_unit: Callable[..., OrganisingUnit]) -> None:
    society = make_unit("济南市中华职业教育社", level="city")
    bureau = make_unit("济南市教育局", level="city")
    contest = make_contest(slug="zuimei-units", unit_id=society.id, co_unit_ids=(bureau.id,))
    page = _text(client, f"/c/{contest.slug}")
    assert "主办单位：济南市中华职业教育社" in page and "协办单位：济南市教育局" in page
    [api] = [c for c in client.get("/api/v1/contests").get_json()["items"] if c["slug"] == "zuimei-units"]
    assert api["organisers"] == ["济南市中华职业教育社", "济南市教育局"] and api["organiser"] == "济南市中华职业教育社、济南市教育局"


def test_operators_bootstrap_units_from_the_command_line(app: Flask, runner: Any, make_user: Callable[..., User]) -> None:
    person = make_user("citizen")
    made = runner.invoke(args=["units", "create", "平阴县教育和体育局", "--district", "平阴县"])
    assert made.exit_code == 0, made.output
    granted = runner.invoke(args=["units", "grant", "平阴县教育和体育局", person.phone, "admin"])
    assert granted.exit_code == 0, granted.output
    listed = runner.invoke(args=["units", "list"])
    assert "平阴县教育和体育局" in listed.output and f"{person.phone}\tadmin" in listed.output
    unit = db.session.scalar(select(OrganisingUnit).where(OrganisingUnit.name == "平阴县教育和体育局"))
    db.session.expire_all()
    assert unit is not None and units.can(db.session.get(User, person.id), "members", unit_id=unit.id)
    unknown = runner.invoke(args=["units", "grant", "平阴县教育和体育局", "13700000000", "admin"])
    assert unknown.exit_code != 0 and "没有用这个手机号注册的账号" in unknown.output


@pytest.fixture
def scratch_url(tmp_path: Path) -> Iterator[str]:
    yield from scratch_database(tmp_path, SCHEMA)


def test_the_migration_hands_contests_and_organisers_to_the_notices_bodies(app: Flask, scratch_url: str, tmp_path: Path,
                                                                          clock: Any) -> None:
    scratch = create_app(_settings(scratch_url, tmp_path / "scratch", clock))
    with scratch.app_context():
        try:
            upgrade(revision=BEFORE)
            now = clock.now()
            with db.engine.begin() as conn:
                for slug, kind in (("meipai", "media"), ("zuimei", "selection"), ("huangyanpei", "innovation")):
                    conn.execute(text(
                        "INSERT INTO contest (slug, kind, title, short_title, theme, summary, rules_text, organiser, rules, "
                        "position, is_published, is_demo, created_at, updated_at) VALUES (:slug, :kind, :slug, '', '', '', '', "
                        "'济南市教育局', '{}', 0, true, false, :now, :now)"), {"slug": slug, "kind": kind, "now": now})
                conn.execute(text("INSERT INTO category (contest_id, kind, name, description, position) "
                                  "SELECT id, 'category', '摄影作品', '', 0 FROM contest"))
                conn.execute(text("INSERT INTO user_account (phone, password_hash, display_name, is_active_account, created_at, "
                                  "session_token) VALUES ('13800000002', 'x', '组织者', true, :now, 't')"), {"now": now})
                conn.execute(text("INSERT INTO user_role (user_id, role, granted_at) SELECT id, 'organiser', :now "
                                  "FROM user_account"), {"now": now})
            upgrade()
            db.session.remove()
            owners = {c.slug: (c.unit.name if c.unit else None, [u.name for u in c.co_units])
                      for c in db.session.scalars(select(Contest))}
            assert owners == {"meipai": ("济南市教育局", ["济南市中华职业教育社"]),
                              "zuimei": ("济南市中华职业教育社", ["济南市教育局"]),
                              "huangyanpei": ("济南市中华职业教育社", ["济南市教育局"])}
            # Rebuilding the contest table (SQLite) took none of its rows' children with it.
            assert {c.name for contest in db.session.scalars(select(Contest)) for c in contest.categories} == {"摄影作品"}
            organiser = db.session.scalars(select(User)).one()
            for contest in db.session.scalars(select(Contest)):
                assert units.can(organiser, "results", unit_id=contest.unit_id, contest_id=contest.id)
            assert {c.slug for c in contests.back_office_contests(db.session, actor=organiser)} == set(owners)
        finally:
            db.session.remove()
            db.engine.dispose()
