"""A minor's nomination with an uploaded consent form: the school's contact, on a phone, sees
the school's places left, downloads the consent form the platform fills in for the student,
uploads the signed form (a photo of it) with the nomination; the organiser opens the signed
form on the moderation desk and approves; later the guardian withdraws consent, the
contact records it, and the public entry page no longer shows the student."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
from flask import Flask
from PIL import Image, ImageDraw
from playwright.sync_api import Page, expect
from sqlalchemy import select

from contest.accounts.models import AuditEvent
from contest.contests.models import Entry, SchoolContact
from contest.extensions import db
from contest.media.models import MediaItem
from contest.typesetting import cjk_font, resolve_font
from tests.media.pdf_text import pdf_text

from .browser import DESKTOP, PHONE, BrowserLog, log_in, sample_photo, screenshot

pytestmark = pytest.mark.e2e
NAME, TITLE = "王雨桐", "把微笑带进病房"


def _signed_form_photo(path: Path) -> Path:
    """A phone photo of the printed form with a guardian's signature on it."""
    image = Image.new("RGB", (1200, 1600), (246, 244, 238))
    draw = ImageDraw.Draw(image)
    font = cjk_font(resolve_font(), 48)
    draw.text((200, 120), "监护人同意书", fill=(30, 30, 30), font=font)
    draw.text((120, 320), f"学生姓名：{NAME}", fill=(30, 30, 30), font=cjk_font(resolve_font(), 36))
    draw.text((120, 1200), "监护人签名：", fill=(30, 30, 30), font=cjk_font(resolve_font(), 36))
    draw.line([(380, 1240), (520, 1190), (600, 1250), (720, 1180)], fill=(20, 40, 140), width=6)
    image.save(path, "JPEG", quality=88)
    return path


def test_a_minors_nomination_with_an_uploaded_consent_form(
    app: Flask, live_server: str, new_page: Callable[..., Page], browser_log: BrowserLog, make_contest, make_user,
    make_school, clock, tmp_path: Path,
) -> None:
    contest = make_contest(kind="selection", stage="submission", slug="zuimei-consent", title="最美职校生（同意书测试）",
                           categories=("中职学生",))
    school = make_school("济南旅游学校", enrolment=800)
    contact = make_user("school_contact", name="赵老师")
    db.session.add(SchoolContact(user_id=contact.id, school_id=school.id))
    db.session.commit()
    organiser = make_user("organiser", name="组织者")
    today = clock.now().date()
    born = today.replace(year=today.year - 16, day=1)

    # The contact, on a phone: the school's places first, then the form.
    phone = new_page(**PHONE)
    log_in(phone, live_server, contact.phone)
    phone.goto(f"{live_server}/c/{contest.slug}/submit")
    quota = phone.locator(".quota-status")
    expect(quota).to_contain_text("已用 0 个")
    expect(quota).to_contain_text("还剩 3 个")
    phone.get_by_label("组别").select_option(label="中职学生")
    phone.get_by_label("学生姓名", exact=True).fill(NAME)
    phone.get_by_label("女", exact=True).check()
    phone.get_by_label("出生日期", exact=True).fill(born.isoformat())
    phone.get_by_label("专业", exact=True).fill("护理")
    phone.get_by_label("年级", exact=True).fill("二年级")
    phone.get_by_label("推荐标题（选填）").fill(TITLE)
    phone.get_by_label("事迹介绍", exact=True).fill("在社区卫生服务中心志愿服务两百余小时。")
    phone.get_by_label("公开专业和年级").uncheck()

    # The consent form, filled in for this student with the choices made above.
    with phone.expect_download() as download:
        phone.get_by_role("link", name="下载监护人同意书（PDF）").click()
    path = download.value.path()
    text = pdf_text(Path(path).read_bytes())
    assert f"学生姓名：{NAME}" in text and school.name in text and contest.title in text
    assert "专业和年级：不公开" in text and "监护人签名：" in text

    photo = tmp_path / "photo.jpg"
    sample_photo((40, 110, 170), (1200, 900), 2).save(photo, "JPEG", quality=90)
    phone.locator("input[type=file][name=photos]").set_input_files(str(photo))
    phone.locator("input[type=file][name=consent]").set_input_files(str(_signed_form_photo(tmp_path / "signed.jpg")))
    screenshot(phone, "consent-nomination-phone.png")
    phone.get_by_role("button", name="提交推荐").click()
    phone.wait_for_url(re.compile(r"/me/entries$"), timeout=30_000)
    row = phone.locator(".entry-row").filter(has_text=TITLE)
    expect(row.get_by_role("link", name="查看已上传的同意书")).to_be_visible()
    db.session.rollback()
    entry = db.session.scalar(select(Entry).where(Entry.title == TITLE))
    assert entry is not None and entry.nominee is not None and entry.nominee.guardian_consent
    signed = db.session.scalar(select(MediaItem).where(MediaItem.entry_id == entry.id, MediaItem.role == "consent"))
    assert signed is not None and signed.kind == "image"
    entry_id = entry.id

    # The organiser sees the signed form itself, and approves.
    desk = new_page(**DESKTOP)
    log_in(desk, live_server, organiser.phone)
    desk.goto(f"{live_server}/admin/moderation/{entry_id}")
    review = desk.locator(".consent-review")
    expect(review.get_by_role("img", name="监护人签字的同意书")).to_be_visible()
    assert desk.evaluate("() => document.querySelector('.consent-review img').naturalWidth") > 0
    screenshot(desk, "consent-moderation.png")
    desk.goto(f"{live_server}/admin/moderation/")
    desk.get_by_label(f"选择“{TITLE}”").check()
    desk.get_by_role("button", name="通过", exact=True).click()
    expect(desk.get_by_role("status").filter(has_text="已通过 1 件作品")).to_be_visible()

    # The public sees the student.
    visitor = new_page(**PHONE)
    visitor.goto(f"{live_server}/c/{contest.slug}/entries/{entry_id}")
    expect(visitor.locator("main")).to_contain_text(NAME)

    # The guardian withdraws consent; the contact records it.
    phone.goto(f"{live_server}/me/entries")
    row = phone.locator(".entry-row").filter(has_text=TITLE)
    row.get_by_text("监护人撤回同意", exact=True).click()
    screenshot(phone, "consent-withdraw-phone.png")
    row.get_by_role("button", name="确认监护人撤回同意").click()
    expect(phone.get_by_text("已记录监护人撤回同意")).to_be_visible()
    expect(phone.locator(".entry-row").filter(has_text=TITLE).get_by_text("已撤回")).to_be_visible()

    # A visitor arriving now gets nothing (the shared copy was renewed by the withdrawal;
    # a browser that showed the page keeps its copy for the page's max-age, ten seconds).
    visitor = new_page(**PHONE)
    response = visitor.goto(f"{live_server}/c/{contest.slug}/entries/{entry_id}")
    assert response is not None and response.status == 404
    expect(visitor.locator("main")).not_to_contain_text(NAME)
    visitor.goto(f"{live_server}/c/{contest.slug}/entries")
    expect(visitor.locator("main")).not_to_contain_text(NAME)
    db.session.rollback()
    assert db.session.scalar(select(AuditEvent).where(AuditEvent.action == "entry.consent_withdrawn",
                                                      AuditEvent.target_id == str(entry_id))) is not None

    # The one error expected: the entry page's 404 once consent was withdrawn.
    unexpected = [e for e in browser_log.errors if not e.endswith(f"/c/{contest.slug}/entries/{entry_id})")]
    assert unexpected == [], browser_log.errors
    assert browser_log.foreign_requests() == []
