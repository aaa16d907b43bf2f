"""A minor's nomination carries the guardian's signed consent form: printed by the platform,
uploaded back as a photo or PDF, opened only by the organisers and the school, reviewed in
moderation, replaceable when the entry is returned, and withdrawable, which takes the
nomination off every public page."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from contest.accounts.models import AuditEvent, User
from contest.contests.models import Contest, Entry, NomineeProfile
from contest.extensions import db
from contest.i18n import label_of
from contest.media import moderation
from contest.media.consent_form import Choices, template_pdf
from contest.media.models import MediaItem
from tests.conftest import csrf_token
from tests.media.conftest import (
    MINIMAL_PDF,
    add_contact,
    assert_nothing_stored,
    entries,
    jpeg,
    nominee_entry,
    page,
    send,
    sign_in,
    stored_files,
    submit_url,
    upload,
)
from tests.media.pdf_text import pdf_text

MINOR, ADULT = "2006-09-01", "2000-03-01"  # on START (2023-05-16): 16 and 23


def signed_form() -> Any:
    return upload(jpeg(900, 1200, "white", mark=6), "签字同意书.jpg", "image/jpeg")


@pytest.fixture
def organiser(make_user: Callable[..., User]) -> User:
    return make_user("organiser", name="组织者小王")


def nominate_minor(client: FlaskClient, contest: Contest, **extra: Any) -> Entry:
    response = send(client, submit_url(contest), nominee_entry(contest, MINOR, consent=signed_form(), **extra))
    assert response.status_code == 302, page(response)[:2000]
    return entries()[-1]


def consent_item(entry: Entry) -> MediaItem:
    db.session.rollback()
    item = db.session.scalar(select(MediaItem).where(MediaItem.entry_id == entry.id, MediaItem.role == "consent"))
    assert item is not None
    return item


# --- the printable form -------------------------------------------------------------------

def test_the_printed_form_names_the_student_school_contest_and_choices(app: Flask) -> None:
    with app.test_request_context():
        data = template_pdf(contest_title="2026 最美职校生", school="济南旅游学校", nominee="李小燕",
                            choices=Choices(name_form="surname", show_photo=False))
    text = pdf_text(data)
    for words in ("监护人同意书", "2026 最美职校生", "学生姓名：李小燕", "就读学校：济南旅游学校", "姓名显示为：李同学",
                  "照片和视频：不公开", "事迹介绍：公开", "监护人签名：", "与学生的关系："):
        assert words in text, words


def test_the_school_downloads_the_form_for_its_nomination(client, contact, school, selection_contest) -> None:
    response = client.get(f"/c/{selection_contest.slug}/consent-form.pdf?school={school.id}&name=王芳&name_form=full"
                          "&photo=1&major=0&story=1")
    assert response.status_code == 200 and response.mimetype == "application/pdf"
    assert "private" in response.headers["Cache-Control"]
    text = pdf_text(response.get_data())
    assert "学生姓名：王芳" in text and school.name in text and selection_contest.title in text
    assert "专业和年级：不公开" in text
    # The submission page links it.
    assert f"/c/{selection_contest.slug}/consent-form.pdf?school={school.id}" in page(client.get(submit_url(selection_contest)))


def test_only_the_schools_contacts_download_the_form(app, client, contact, make_school, selection_contest) -> None:
    other = make_school("济南商贸学校")
    assert client.get(f"/c/{selection_contest.slug}/consent-form.pdf?school={other.id}").status_code == 404


# --- the signed form, at submission ----------------------------------------------------------

def test_a_minor_needs_the_signed_form_at_the_field(app, client, contact, selection_contest) -> None:
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, MINOR))
    assert response.status_code == 400
    html = page(response)
    field = html[html.index('class="consent-form"'):]
    assert "学生未满 18 周岁，请上传监护人签字的同意书（照片或 PDF）。" in field[:field.index("</fieldset>")]
    assert_nothing_stored(app)


def test_a_signed_form_that_is_neither_photo_nor_pdf_is_refused(app, client, contact, selection_contest) -> None:
    response = send(client, submit_url(selection_contest), nominee_entry(
        selection_contest, MINOR, consent=upload(b"PK\x03\x04 a zip renamed", "同意书.pdf")))
    assert response.status_code == 415
    assert "监护人同意书请上传照片（JPG、PNG 或 WebP）或 PDF 文件。" in page(response)
    assert_nothing_stored(app)


def test_the_signed_form_is_stored_privately_with_the_choices(app, client, contact, selection_contest) -> None:
    entry = nominate_minor(client, selection_contest, name_form="surname", show_photo="")
    item = consent_item(entry)
    assert (item.kind, item.content_type) == ("image", "image/jpeg") and item.original_key.endswith(".cjpg")
    profile = db.session.get(NomineeProfile, entry.id)
    assert profile is not None and profile.guardian_consent
    assert profile.public_fields["name"] == "surname" and profile.public_fields["photo"] is False
    assert profile.shown_name == "李同学"
    # Never through the public file route, and never among what judges or the public see.
    assert client.get(f"/media/{item.original_key}").status_code == 404
    assert item.original_key in {p.name for p in stored_files(app)}


def test_a_signed_pdf_is_accepted(app, client, contact, selection_contest) -> None:
    response = send(client, submit_url(selection_contest), nominee_entry(
        selection_contest, MINOR, consent=upload(MINIMAL_PDF, "scan.pdf", "application/pdf")))
    assert response.status_code == 302, page(response)[:2000]
    item = consent_item(entries()[-1])
    assert (item.kind, item.content_type, item.original_key[-5:]) == ("pdf", "application/pdf", ".cpdf")


def test_an_adults_nomination_keeps_no_consent_form(app, client, contact, selection_contest) -> None:
    response = send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT, consent=signed_form()))
    assert response.status_code == 302
    [entry] = entries()
    assert db.session.scalar(select(MediaItem).where(MediaItem.role == "consent")) is None
    assert db.session.get(NomineeProfile, entry.id).guardian_consent is False  # type: ignore[union-attr]


def test_the_signed_form_opens_for_the_school_and_organisers_only(app, client, contact, school, organiser, make_user,
                                                                 make_school, make_unit, selection_contest) -> None:
    entry = nominate_minor(client, selection_contest)
    url = f"/entries/{entry.id}/signed-consent"
    mine = client.get(url)
    assert mine.status_code == 200 and mine.mimetype == "image/jpeg"
    assert "no-store" in mine.headers["Cache-Control"]
    # By role in the contest's unit: its organisers and reviewers, not its viewers nor anyone
    # of another unit (a 区县's organiser), whatever their global roles.
    own_unit = selection_contest.unit
    people = ((organiser, 200), (make_user("citizen", unit=own_unit, unit_role="reviewer"), 200),
              (make_user("citizen", unit=own_unit, unit_role="viewer"), 404),
              (make_user("organiser", unit=make_unit("历下区教育和体育局"), unit_role="admin"), 404),
              (make_user("citizen"), 404), (make_user("judge"), 404))
    for user, status in people:
        other = app.test_client()
        sign_in(other, user)
        assert other.get(url).status_code == status, user.roles
    stranger_contact = make_user("school_contact")
    add_contact(stranger_contact, make_school("别的学校"))
    other = app.test_client()
    sign_in(other, stranger_contact)
    assert other.get(url).status_code == 404


def test_the_moderator_sees_the_signed_form_not_a_tick(app, client, contact, organiser, selection_contest) -> None:
    entry = nominate_minor(client, selection_contest)
    desk = app.test_client()
    sign_in(desk, organiser)
    html = page(desk.get(f"/admin/moderation/{entry.id}"))
    section = html[html.index('class="card consent-review"'):]
    section = section[:section.index("</div>")]
    assert f'src="/entries/{entry.id}/signed-consent"' in section and "签字同意书.jpg" in section
    assert "已确认" not in section
    # Not among the entry's public files on the desk, which link the public route.
    assert consent_item(entry).original_key not in html


# --- returned for a new form ---------------------------------------------------------------

def test_a_returned_nomination_gets_a_new_signed_form(app, client, contact, organiser, selection_contest) -> None:
    entry = nominate_minor(client, selection_contest)
    old = consent_item(entry).original_key
    moderation.decide(db.session, app.extensions["sms_sender"], actor=organiser, entry_ids=[entry.id], decision="return",
                      reason="同意书没有监护人签字，请重新上传", now=app.extensions["clock"].now())
    db.session.commit()
    edit = page(client.get(f"/me/entries/{entry.id}/edit"))
    assert 'name="consent"' in edit and f"/me/entries/{entry.id}/consent-form.pdf" in edit
    data = nominee_entry(selection_contest, MINOR, consent=upload(MINIMAL_PDF, "重签.pdf", "application/pdf"))
    data.pop("photos")
    response = send(client, f"/me/entries/{entry.id}/edit", data)
    assert response.status_code == 302, page(response)[:2000]
    item = consent_item(entry)
    assert item.original_key != old and item.kind == "pdf" and item.caption == "重签.pdf"
    assert db.session.scalars(select(MediaItem).where(MediaItem.role == "consent")).all() == [item]
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "entry.resubmit"))
    assert event is not None and "consent" in (event.after or {})["changes"]


def test_the_form_for_a_sent_nomination_is_filled_from_it(client, contact, selection_contest) -> None:
    entry = nominate_minor(client, selection_contest, name_form="surname")
    text = pdf_text(client.get(f"/me/entries/{entry.id}/consent-form.pdf").get_data())
    assert "学生姓名：李小燕" in text and "姓名显示为：李同学" in text


# --- withdrawn -----------------------------------------------------------------------------

def approve(app: Flask, organiser: User, entry: Entry) -> None:
    moderation.decide(db.session, app.extensions["sms_sender"], actor=organiser, entry_ids=[entry.id],
                      decision="approve", reason="", now=app.extensions["clock"].now())
    db.session.commit()


def test_withdrawn_consent_takes_the_minor_off_public_pages(app, client, contact, organiser, selection_contest) -> None:
    entry = nominate_minor(client, selection_contest)
    approve(app, organiser, entry)
    public = app.test_client()
    assert "李小燕" in page(public.get(f"/c/{selection_contest.slug}/entries/{entry.id}"))
    assert "李小燕" in page(public.get(f"/c/{selection_contest.slug}/entries"))
    mine = page(client.get("/me/entries"))
    assert "监护人撤回同意" in mine
    url = f"/me/entries/{entry.id}/withdraw-consent"
    response = client.post(url, data={"csrf_token": csrf_token(client, "/me/entries")})
    assert response.status_code == 302
    db.session.rollback()
    stored = db.session.get(Entry, entry.id)
    assert stored is not None and stored.status == "withdrawn"
    assert stored.nominee is not None and not stored.nominee.guardian_consent
    assert public.get(f"/c/{selection_contest.slug}/entries/{entry.id}").status_code == 404
    assert "李小燕" not in page(public.get(f"/c/{selection_contest.slug}/entries"))
    assert "李小燕" not in page(public.get(f"/api/v1/contests/{selection_contest.slug}/entries"))
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == "entry.consent_withdrawn"))
    assert event is not None and event.actor_id == contact.id and event.target_id == str(entry.id)
    with app.test_request_context():
        assert label_of("audit_action", "entry.consent_withdrawn") == "监护人撤回同意，推荐已撤下"
    # The signed form stays on file for the organisers; a second withdrawal is refused.
    assert consent_item(entry) is not None
    again = client.post(url, data={"csrf_token": csrf_token(client, "/me/entries")})
    assert again.status_code == 409


def test_only_the_school_withdraws_consent(app, client, contact, make_user, selection_contest) -> None:
    entry = nominate_minor(client, selection_contest)
    stranger = app.test_client()
    sign_in(stranger, make_user("school_contact"))
    response = stranger.post(f"/me/entries/{entry.id}/withdraw-consent",
                             data={"csrf_token": csrf_token(stranger, "/me/entries")})
    assert response.status_code == 404
    assert entries()[-1].status == "submitted"


def test_an_adults_nomination_has_no_consent_to_withdraw(app, client, contact, selection_contest) -> None:
    send(client, submit_url(selection_contest), nominee_entry(selection_contest, ADULT))
    [entry] = entries()
    response = client.post(f"/me/entries/{entry.id}/withdraw-consent",
                           data={"csrf_token": csrf_token(client, "/me/entries")})
    assert response.status_code == 409
    assert "这件推荐没有有效的监护人同意书，无需撤回同意。" in page(response)
    assert entries()[0].status == "submitted"


def test_a_name_shown_as_surname_only_is_neither_shown_nor_searchable(app, client, contact, organiser,
                                                                      selection_contest) -> None:
    entry = nominate_minor(client, selection_contest, name_form="surname", title="守护微笑")
    approve(app, organiser, entry)
    public = app.test_client()
    html = page(public.get(f"/c/{selection_contest.slug}/entries/{entry.id}"))
    assert "李同学" in html and "李小燕" not in html
    gallery = f"/c/{selection_contest.slug}/entries?q="
    assert "守护微笑" in page(public.get(gallery + "守护"))
    assert "守护微笑" not in page(public.get(gallery + "李小燕"))
    api = public.get(f"/api/v1/contests/{selection_contest.slug}/entries").get_json()
    assert "李小燕" not in str(api) and "李同学" in str(api)
