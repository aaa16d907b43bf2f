"""An organiser returns a nomination asking for another photo; the school's contact, on a
phone, sees the reason on 我的作品, replaces the photo on the edit page and sends the entry
again; the organiser finds it back in 待审核, marked as resubmitted after the return with
what changed, and approves it."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from playwright.sync_api import Page, expect
from sqlalchemy import select

from contest.contests.models import Entry, SchoolContact
from contest.extensions import db
from contest.media import submissions
from contest.media.models import MediaItem

from .browser import DESKTOP, PHONE, BrowserLog, log_in, sample_photo, screenshot

pytestmark = pytest.mark.e2e
REASON = "请更换照片"


def _photo(path: Path, colour: tuple[int, int, int], variant: int) -> Path:
    sample_photo(colour, (1200, 900), variant).save(path, "JPEG", quality=90)
    return path


def _photo_keys(entry_id: int) -> list[str]:
    db.session.rollback()  # what the server committed
    return list(db.session.scalars(select(MediaItem.original_key).where(MediaItem.entry_id == entry_id)))


def test_a_returned_nomination_gets_a_new_photo_and_is_approved(
    app: Flask, live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog, make_contest, make_user,
    make_school, clock, tmp_path: Path,
) -> None:
    contest = make_contest(kind="selection", stage="submission", slug="zuimei-return", title="最美职校生（测试）",
                           categories=("中职学生",))
    school = make_school("济南旅游学校")
    contact = make_user("school_contact", name="赵老师")
    db.session.add(SchoolContact(user_id=contact.id, school_id=school.id))
    db.session.commit()
    organiser = make_user("organiser", name="组织者")
    first = _photo(tmp_path / "first.jpg", (120, 120, 130), 1)
    entry = submissions.nominate_student(
        db.session, app.extensions["storage"], actor=contact, contest=contest,
        data=submissions.NomineeInput(school_id=school.id, category_id=contest.categories_of("category")[0].id,
                                      name="李小燕", gender="female", birth_date=clock.now().date().replace(year=2004),
                                      major="护理", grade="二年级", story="她坚持每周去社区服务。", title="守护者"),
        photos=[submissions.IncomingFile("first.jpg", str(first), first.stat().st_size)], video=None, now=clock.now(),
        decoder=app.extensions["image_decoder"])
    db.session.commit()
    entry_id, created = entry.id, entry.created_at
    old_keys = _photo_keys(entry_id)

    # The organiser sends it back with a reason.
    desk = new_page(**DESKTOP)
    log_in(desk, live_server, organiser.phone)
    desk.goto(f"{live_server}/admin/moderation/")
    desk.get_by_label("选择“守护者”").check()
    desk.get_by_label("原因").fill(REASON)
    desk.get_by_role("button", name="退回修改").click()
    expect(desk.get_by_role("status")).to_be_visible()

    # The contact, on a phone, sees the reason and corrects the entry.
    phone = new_page(**PHONE)
    log_in(phone, live_server, contact.phone)
    phone.goto(f"{live_server}/me/entries")
    row = phone.locator(".entry-row").filter(has_text="守护者")
    expect(row.get_by_text("退回修改")).to_be_visible()
    expect(row.get_by_text(REASON)).to_be_visible()
    row.get_by_role("link", name=re.compile("修改")).click()
    phone.wait_for_url(re.compile(rf"/me/entries/{entry_id}/edit"))
    expect(phone.locator(".returned-reason")).to_contain_text(REASON)
    expect(phone.get_by_label("学生姓名")).to_have_value("李小燕")
    new = _photo(tmp_path / "new.jpg", (40, 110, 170), 4)
    phone.locator("input[type=file][name=photos]").set_input_files(str(new))
    screenshot(phone, "returned-entry-edit-phone.png")
    phone.get_by_role("button", name="保存并重新提交").click()
    phone.wait_for_url(re.compile(r"/me/entries$"), timeout=60_000)
    expect(phone.get_by_text("已重新提交，等待主办方审核。")).to_be_visible()
    expect(phone.locator(".entry-row").filter(has_text="守护者").get_by_text("待审核")).to_be_visible()

    new_keys = _photo_keys(entry_id)
    assert len(new_keys) == 1 and not set(new_keys) & set(old_keys)
    stored = db.session.get(Entry, entry_id)
    assert stored is not None and (stored.status, stored.created_at) == ("submitted", created)

    # Back on the desk: waiting again, marked as resubmitted, and approved.
    desk.goto(f"{live_server}/admin/moderation/")
    waiting = desk.locator(".mod-row").filter(has_text="守护者")
    expect(waiting.get_by_text("退回修改后重新提交")).to_be_visible()
    expect(waiting.get_by_text("修改了：照片")).to_be_visible()
    waiting.locator("input[name=entry_ids]").check()
    screenshot(desk, "returned-entry-moderation.png")
    desk.get_by_role("button", name="通过", exact=True).click()
    expect(desk.get_by_role("status").filter(has_text="已通过 1 件作品")).to_be_visible()
    db.session.rollback()
    approved = db.session.get(Entry, entry_id)
    assert approved is not None and approved.status == "approved"

    assert browser_log.errors == [], browser_log.errors
    assert browser_log.foreign_requests() == []
