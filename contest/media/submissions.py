"""Entries with their media: nominations (最美职校生), photo and video entries (全民美拍),
team registrations (黄炎培); editing, withdrawing, and the entrant's own list.

Every cheap refusal (the window, the account, the quotas, the team's students) comes
before any file is decoded or stored: a refused request costs a few queries, not seconds
of image decoding. Files are then validated and cleaned before anything is written to
the database; the rows are written in the caller's transaction. Files are never deleted
here when the operation fails: storage is content-addressed and another request may be
about to commit a row pointing at the same file. The orphan sweep (media.orphans)
removes what no row refers to once it has been left alone for a grace period.

Who may change an entry afterwards: the account that submitted it, and for the entries a
school submits (nominations, teams) the school's contacts, while they hold the
school_contact role (`schools_of` decides that, and nothing else does). A citizen's
全民美拍 entry that names a school is still only the citizen's.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, column, exists, func, or_, select, table, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import selectinload

from ..accounts import audit
from ..accounts.models import User
from ..contests import service as contests
from ..contests.models import NAME_FORMS, Category, Contest, Entry, NomineeProfile, School, SchoolContact, TeamMember
from ..db import SessionLike, rowcount
from ..errors import Conflict, DomainError, Forbidden, InvalidInput, NotFound
from ..i18n import N_, _, code_labels
from .consent_form import attach_signed_form, check_signed_form, signed_form_of
from .images import ImageDecoder, ProcessedImage, hamming, process_image, store_renditions
from .models import DuplicateFlag, MediaItem, QuotaSlot
from .pdf import check_pdf
from .playback import Queue, start_playback
from .storage import Storage
from .video import ProcessedVideo, process_video

TITLE_MAX = 80
DESCRIPTION_MAX = 2000
STORY_MAX = 1500
NEAR_DUPLICATE_BITS = 6  # of 64: re-encodes and resizes stay within this, other photos do not
PDF_MAX_BYTES = 20 * 1024 * 1024
EDITABLE = ("draft", "submitted", "rejected")
# Contests whose entries schools submit (nomination, team registration): only there do a
# school's contacts act on the school's entries.
SCHOOL_KINDS = ("selection", "innovation")


@dataclass(frozen=True)
class IncomingFile:
    """An uploaded file spooled to disk by the view; services never see the request."""

    name: str
    path: str
    size: int

    def read(self) -> bytes:
        return Path(self.path).read_bytes()


# --- checks shared by the three flows ------------------------------------------------

def _require_open(contest: Contest, now: datetime) -> None:
    if not contests.stage_of(contest, now).is_active("submission"):
        raise Forbidden(_("本活动当前不在作品征集期，不能提交或修改作品。"), code="submission_closed")


def _text(value: str | None, label: str, limit: int, *, required: bool = True) -> str:
    text = (value or "").replace("\r\n", "\n").strip()
    if required and not text:
        raise InvalidInput(_("请填写%(label)s。", label=label), field=label)
    if len(text) > limit:
        raise InvalidInput(_("%(label)s不能超过 %(n)s 个字。", label=label, n=limit), field=label)
    return text


def _category(contest: Contest, category_id: int | None, kind: str, label: str, *, required: bool) -> Category | None:
    if category_id is None:
        if required:
            raise InvalidInput(_("请选择%(label)s。", label=label), field=kind)
        return None
    category = next((c for c in contest.categories if c.id == category_id and c.kind == kind), None)
    if category is None:
        raise InvalidInput(_("请选择%(label)s。", label=label), field=kind)
    return category


def schools_of(session: SessionLike, user: User) -> list[School]:
    """The schools this account acts for: none unless it holds the school_contact role.

    The one place that decides whether an account acts for a school. A link to a school
    grants nothing by itself: one left behind when the role was taken away (or restored
    from a backup) must not keep a former contact acting on the school's nominations."""
    if not user.has_role("school_contact"):
        return []
    return list(session.scalars(
        select(School).join(SchoolContact, SchoolContact.school_id == School.id)
        .where(SchoolContact.user_id == user.id).order_by(School.name)
    ))


def _school_of_contact(session: SessionLike, actor: User, school_id: int | None) -> School:
    if not actor.has_role("school_contact"):
        raise Forbidden(_("只有学校联络人可以推荐选手或报名团队。"), code="not_school_contact")
    school = next((s for s in schools_of(session, actor) if s.id == school_id), None)
    if school is None:
        raise Forbidden(_("您只能代表自己所在的学校报名。"), code="not_your_school")
    return school


def school_quota(contest: Contest, school: School) -> int:
    """Entries a school may have in a contest, by its enrolment (a rule of the contest)."""
    return contests.rules_of(contest).school_quota(school.enrolment)


@dataclass(frozen=True)
class QuotaStatus:
    """A school's quota in a contest: how many entries it may have, has, and has left."""

    school: School
    limit: int
    used: int

    @property
    def left(self) -> int:
        return max(self.limit - self.used, 0)


def quota_status(session: SessionLike, contest: Contest, schools: list[School]) -> list[QuotaStatus]:
    """Each of these schools' quota in the contest (one query), for the submission page to
    show before the form; the slots counted are the ones `_take_slot` takes."""
    if not schools or contest.kind not in SCHOOL_KINDS:
        return []
    used = dict(session.execute(
        select(QuotaSlot.owner_id, func.count()).where(
            QuotaSlot.contest_id == contest.id, QuotaSlot.scope == "school",
            QuotaSlot.owner_id.in_([s.id for s in schools])).group_by(QuotaSlot.owner_id)).all())
    return [QuotaStatus(s, school_quota(contest, s), used.get(s.id, 0)) for s in schools]


def _quota_full(scope: str, limit: int) -> Conflict:
    if scope == "person":
        return Conflict(_("每人在本活动最多投稿 %(n)s 件，您已达到上限。", n=limit), code="person_quota")
    return Conflict(_("贵校在本活动的名额（%(n)s 个）已用完。", n=limit), code="school_quota")


def _check_quota(session: SessionLike, *, contest: Contest, scope: str, owner_id: int, limit: int) -> None:
    """Refuse at once when every slot is taken, before any file is looked at. Requests
    racing for the last slot all pass here; `_take_slot` decides between them."""
    taken = session.scalar(select(func.count()).select_from(QuotaSlot).where(
        QuotaSlot.contest_id == contest.id, QuotaSlot.scope == scope, QuotaSlot.owner_id == owner_id)) or 0
    if taken >= limit:
        raise _quota_full(scope, limit)


def _take_slot(session: SessionLike, *, contest: Contest, scope: str, owner_id: int, limit: int, entry: Entry) -> None:
    """Take one of `limit` numbered slots; the unique constraint decides races."""
    taken = set(session.scalars(select(QuotaSlot.slot).where(
        QuotaSlot.contest_id == contest.id, QuotaSlot.scope == scope, QuotaSlot.owner_id == owner_id)))
    for slot in range(1, limit + 1):
        if slot in taken:
            continue
        try:
            with session.begin_nested():
                session.add(QuotaSlot(contest_id=contest.id, scope=scope, owner_id=owner_id, slot=slot, entry_id=entry.id))
                session.flush()
            return
        except IntegrityError:
            continue  # another request took this slot a moment ago: try the next
    raise _quota_full(scope, limit)


def _release_slots(session: SessionLike, entry: Entry) -> None:
    for slot in session.scalars(select(QuotaSlot).where(QuotaSlot.entry_id == entry.id)):
        session.delete(slot)


# --- media ----------------------------------------------------------------------------

def _images(files: list[IncomingFile], contest: Contest, *, at_least: int, at_most: int, label: str,
            decoder: ImageDecoder | None, check_resolution: bool = True) -> list[ProcessedImage]:
    if len(files) < at_least:
        raise InvalidInput(_("请上传至少 %(n)s 张%(label)s。", n=at_least, label=label), code="too_few_images")
    if len(files) > at_most:
        raise InvalidInput(_("%(label)s最多 %(n)s 张。", label=label, n=at_most), code="too_many_images")
    rules = contests.rules_of(contest)
    min_w = rules.min_image_width if check_resolution else 0
    min_h = rules.min_image_height if check_resolution else 0
    # By path: a file waiting for a decode slot is not held in memory meanwhile.
    return [process_image(f.path, min_width=min_w, min_height=min_h, decoder=decoder) for f in files]


def _video(file: IncomingFile, contest: Contest) -> ProcessedVideo:
    rules = contests.rules_of(contest)
    # The transcoded copy and the poster frame go beside the upload, in the request's
    # private folder, and go with it.
    return process_video(file.path, max_seconds=rules.video_max_seconds,
                         max_bytes=rules.video_max_mb * 1024 * 1024, workdir=str(Path(file.path).parent))


def _signed(value: int) -> int:
    """A 64-bit hash as the signed integer a BIGINT column holds."""
    return value - (1 << 64) if value >= (1 << 63) else value


def _unsigned(value: int) -> int:
    return value + (1 << 64) if value < 0 else value


def _attach_images(session: SessionLike, storage: Storage, entry: Entry, images: list[ProcessedImage],
                   *, now: datetime, role: str = "photo", start: int = 0) -> list[MediaItem]:
    items = []
    for offset, image in enumerate(images):
        item = MediaItem(
            entry_id=entry.id, kind="image", role=role, content_type="image/jpeg" if image.original_ext == "jpg" else "image/png",
            original_key=storage.put(image.original, image.original_ext),
            display_key=storage.put(image.display, "jpg"), thumb_key=storage.put(image.thumb, "jpg"),
            width=image.width, height=image.height, byte_size=len(image.original), position=start + offset,
            alt_text=entry.title, dhash=_signed(image.dhash), created_at=now,
        )
        item.set_rendition_keys(store_renditions(storage, image.renditions))
        session.add(item)
        items.append(item)
    session.flush()
    return items


def attach_video(session: SessionLike, storage: Storage, entry: Entry, video: ProcessedVideo,
                 *, now: datetime, role: str, position: int, decoder: ImageDecoder | None,
                 queue: Queue | None = None) -> MediaItem:
    """Store a video accepted by `process_video` with its poster frame (display and
    thumbnail renditions), and set its playback rendition going (`queue` is given the
    item's id after the commit when the job runner must make it); the caller deletes the
    temporary clean file."""
    poster = process_image(video.poster, decoder=decoder)
    item = MediaItem(
        entry_id=entry.id, kind="video", role=role, content_type=video.content_type,
        original_key=storage.put_file(video.path, video.extension),
        poster_key=storage.put(poster.display, "jpg"), thumb_key=storage.put(poster.thumb, "jpg"),
        width=video.width, height=video.height, byte_size=Path(video.path).stat().st_size,
        duration_seconds=video.duration, position=position, alt_text=entry.title, created_at=now,
    )
    session.add(item)
    session.flush()
    start_playback(session, item, video, queue)
    return item


def _flag_duplicates(session: SessionLike, entry: Entry, items: list[MediaItem], now: datetime) -> int:
    """Flag images that look like images of other entries in the same contest."""
    hashed = [i for i in items if i.dhash is not None]
    if not hashed:
        return 0
    others = session.execute(
        select(MediaItem.id, MediaItem.entry_id, MediaItem.dhash)
        .join(Entry, Entry.id == MediaItem.entry_id)
        .where(Entry.contest_id == entry.contest_id, Entry.id != entry.id, MediaItem.dhash.is_not(None),
               Entry.status != "withdrawn")
    ).all()
    flags = 0
    for item in hashed:
        assert item.dhash is not None  # `hashed` keeps only these
        mine = _unsigned(item.dhash)
        for other_id, other_entry_id, other_hash in others:
            assert other_hash is not None  # the query keeps only these
            distance = hamming(mine, _unsigned(other_hash))
            if distance <= NEAR_DUPLICATE_BITS:
                session.add(DuplicateFlag(entry_id=entry.id, media_item_id=item.id, other_entry_id=other_entry_id,
                                          other_media_item_id=other_id, distance=distance, created_at=now))
                flags += 1
    session.flush()
    return flags


def _set_cover(entry: Entry, items: list[MediaItem]) -> None:
    ordered = sorted(items, key=lambda i: (i.role != "cover", i.kind != "image", i.position))
    entry.cover_key = ordered[0].thumb_key if ordered else ""


# --- the three flows ----------------------------------------------------------------

@dataclass
class MediaEntryInput:
    title: str
    description: str
    category_id: int | None
    kind: str  # "photo" | "video"


def submit_media_entry(
    session: SessionLike, storage: Storage, *, actor: User, contest: Contest, data: MediaEntryInput,
    photos: list[IncomingFile], video: IncomingFile | None, cover: IncomingFile | None, now: datetime,
    decoder: ImageDecoder | None = None, queue: Queue | None = None,
) -> Entry:
    """A citizen's 全民美拍 entry: photos (as many as the rules allow), or one video with an optional cover."""
    if contest.kind != "media":
        raise NotFound(_("本活动不接受此类投稿。"))
    _require_open(contest, now)
    if actor.phone_verified_at is None:
        raise Forbidden(_("请先完成手机验证再投稿。"), code="not_verified")
    rules = contests.rules_of(contest)
    per_person = rules.entries_per_person
    _check_quota(session, contest=contest, scope="person", owner_id=actor.id, limit=per_person)
    title = _text(data.title, _("作品名称"), TITLE_MAX)
    description = _text(data.description, _("作品介绍"), DESCRIPTION_MAX, required=False)
    category = _category(contest, data.category_id, "category", _("作品类别"), required=bool(contest.categories_of("category")))
    if data.kind == "photo":
        images = _images(photos, contest, at_least=rules.photos_min, at_most=rules.photos_max, label=_("照片"),
                         decoder=decoder)
        clip, cover_image = None, []
    elif data.kind == "video":
        if video is None:
            raise InvalidInput(_("请上传一段视频。"), code="video_missing")
        clip = _video(video, contest)
        cover_image = _images([cover], contest, at_least=1, at_most=1, label=_("封面"), decoder=decoder,
                              check_resolution=False) if cover else []
        images = []
    else:
        raise InvalidInput(_("请选择作品形式（照片或视频）。"))
    entry = Entry(contest_id=contest.id, category_id=category.id if category else None, submitted_by_id=actor.id,
                  title=title, description=description, status="submitted", created_at=now, updated_at=now, submitted_at=now)
    session.add(entry)
    session.flush()
    _take_slot(session, contest=contest, scope="person", owner_id=actor.id, limit=per_person, entry=entry)
    items = _attach_images(session, storage, entry, images, now=now)
    if clip is not None:
        items.append(attach_video(session, storage, entry, clip, now=now, role="video", position=0, decoder=decoder,
                                  queue=queue))
        items += _attach_images(session, storage, entry, cover_image, now=now, role="cover", start=1)
    _set_cover(entry, items)
    _flag_duplicates(session, entry, items, now)
    return entry


@dataclass
class NomineeInput:
    school_id: int | None
    category_id: int | None
    name: str
    gender: str
    birth_date: date | None
    major: str
    grade: str
    story: str
    title: str = ""
    # what the public page may show: the name in full or as 李同学 (NAME_FORMS), and the rest
    name_form: str = "full"
    show_photo: bool = True
    show_major: bool = True
    show_story: bool = True


def _nomination_title(value: str, contest: Contest) -> str:
    """The title given, or else a neutral one naming neither the student nor the school.

    The title is the one text of a nomination a blind round shows its judges, so it must
    not default to the student's name; the public pages show the name beside the title
    anyway. The default is stored content in the contest's own language, like its title,
    not a message translated for whoever happens to send the form."""
    title = _text(value, _("推荐标题"), TITLE_MAX, required=False)
    return title or f"{contest.short_title or contest.title}候选人"[:TITLE_MAX]


def _nominee_profile(data: NomineeInput, contest: Contest, now: datetime, *, consent_on_file: bool) -> dict[str, Any]:
    """The nominee's checked profile, as NomineeProfile's fields (a nomination and its
    correction after being returned check it alike). A nominee under 18 needs the signed
    guardian consent form (`consent_on_file`: sent with this request or kept from before);
    `guardian_consent` says the form is on file."""
    rules = contests.rules_of(contest)
    name = _text(data.name, _("学生姓名"), 40)
    if data.gender not in ("male", "female"):
        raise InvalidInput(_("请选择性别。"), field="gender")
    if data.birth_date is None:
        raise InvalidInput(_("请填写出生日期。"), field="birth_date")
    age = contests.age_on(data.birth_date, now.date())
    if not rules.nominee_age_min <= age <= rules.nominee_age_max:
        raise InvalidInput(_("被推荐学生的年龄应为 %(ages)s 周岁，请检查出生日期。",
                             ages=rules.span("nominee_age_min", "nominee_age_max")), code="nominee_age", field="birth_date")
    if age < 18 and not consent_on_file:
        raise InvalidInput(_("学生未满 18 周岁，请上传监护人签字的同意书（照片或 PDF）。"), code="guardian_consent",
                           field="consent")
    if data.name_form not in NAME_FORMS:
        raise InvalidInput(_("请选择姓名的公开方式。"), field="name_form")
    story = _text(data.story, _("事迹介绍"), STORY_MAX)
    major = _text(data.major, _("专业"), 60)
    grade = _text(data.grade, _("年级"), 20)
    return {"name": name, "gender": data.gender, "birth_date": data.birth_date, "major": major, "grade": grade,
            "story": story, "guardian_consent": age < 18,
            "public_fields": {"photo": data.show_photo, "major": data.show_major, "story": data.show_story, "school": True,
                              "name": data.name_form}}


def nominate_student(
    session: SessionLike, storage: Storage, *, actor: User, contest: Contest, data: NomineeInput,
    photos: list[IncomingFile], video: IncomingFile | None, now: datetime, decoder: ImageDecoder | None = None,
    queue: Queue | None = None, consent: IncomingFile | None = None,
) -> Entry:
    """A school contact nominates a student for 最美职校生: profile, story, photos (as many as the rules
    allow), optional video, and for a student under 18 the signed guardian consent form."""
    if contest.kind != "selection":
        raise NotFound(_("本活动不接受此类投稿。"))
    _require_open(contest, now)
    school = _school_of_contact(session, actor, data.school_id)
    rules = contests.rules_of(contest)
    quota = rules.school_quota(school.enrolment)
    _check_quota(session, contest=contest, scope="school", owner_id=school.id, limit=quota)
    profile = _nominee_profile(data, contest, now, consent_on_file=consent is not None)
    category = _category(contest, data.category_id, "category", _("组别"), required=bool(contest.categories_of("category")))
    signed = check_signed_form(consent.read(), decoder=decoder) if consent is not None and profile["guardian_consent"] \
        else None
    images = _images(photos, contest, at_least=rules.photos_min, at_most=rules.photos_max, label=_("照片"), decoder=decoder,
                     check_resolution=False)
    clip = _video(video, contest) if video is not None else None
    entry = Entry(contest_id=contest.id, category_id=category.id if category else None, school_id=school.id,
                  submitted_by_id=actor.id, title=_nomination_title(data.title, contest),
                  description="", status="submitted", created_at=now, updated_at=now, submitted_at=now)
    entry.nominee = NomineeProfile(**profile)
    session.add(entry)
    session.flush()
    _take_slot(session, contest=contest, scope="school", owner_id=school.id, limit=quota, entry=entry)
    items = _attach_images(session, storage, entry, images, now=now)
    if clip is not None:
        items.append(attach_video(session, storage, entry, clip, now=now, role="video", position=len(items),
                                  decoder=decoder, queue=queue))
    _set_cover(entry, items)
    _flag_duplicates(session, entry, items, now)
    if signed is not None and consent is not None:
        attach_signed_form(session, storage, entry, signed, name=Path(consent.name).name, now=now)
    return entry


@dataclass
class MemberInput:
    name: str
    student_no: str = ""
    major: str = ""
    row: int = -1  # the row of the form it came from (errors name it), -1: its place in the list


@dataclass
class TeamInput:
    school_id: int | None
    track_id: int | None
    group_id: int | None
    project: str
    summary: str
    students: list[MemberInput]
    leader_index: int
    advisors: list[MemberInput]


STUDENT_NO_RE = re.compile(r"^[A-Za-z0-9-]{4,30}$")
# The school types a group is for, by the start of its name (中职组, 高职组): 技工院校
# enter the 中职 group, as the form's hint says.
GROUP_LEVELS = {"中职": ("中职", "技工"), "高职": ("高职",)}


def _check_group(group: Category | None, school: School) -> None:
    """A 高职 school cannot enter the 中职 group, nor a 中职 (or 技工) school the 高职 group."""
    if group is None:
        return
    for prefix, levels in GROUP_LEVELS.items():
        if group.name.startswith(prefix) and school.level not in levels:
            raise InvalidInput(_("%(school)s是%(level)s学校，不能报名“%(group)s”，请选择与学校类型相符的组别。",
                                 school=school.name, level=school.level, group=group.name), code="group_level", field="group")


def _member_error(message: str, *, person: str, field: str, code: str) -> InvalidInput:
    return InvalidInput(_("%(person)s：%(problem)s", person=person, problem=message), code=code, field=field)


def _student_label(row: int, name: str) -> str:
    name = " ".join((name or "").split())
    return _("第 %(n)s 名学生（%(name)s）", n=row + 1, name=name) if name else _("第 %(n)s 名学生", n=row + 1)


def _team_members(data: TeamInput, contest: Contest, school: School) -> list[TeamMember]:
    rules = contests.rules_of(contest)
    students = [m for m in data.students if (m.name or "").strip()]
    advisors = [m for m in data.advisors if (m.name or "").strip()]
    if not rules.team_students_min <= len(students) <= rules.team_students_max:
        raise InvalidInput(_("团队需要 %(n)s 名学生。", n=rules.span("team_students_min", "team_students_max")), code="team_size",
                           field="students")
    if not rules.team_advisors_min <= len(advisors) <= rules.team_advisors_max:
        raise InvalidInput(_("团队需要 %(n)s 名指导教师。", n=rules.span("team_advisors_min", "team_advisors_max")),
                           code="advisor_count", field="advisors")
    if not 0 <= data.leader_index < len(students):
        raise InvalidInput(_("请指定一名学生为团队负责人。"), code="leader", field="leader")
    rows = [m.row if m.row >= 0 else i for i, m in enumerate(students)]
    numbers = [(m.student_no or "").strip().upper() for m in students]
    seen: dict[str, int] = {}
    for i, m in enumerate(students):
        person, row = _student_label(rows[i], m.name), rows[i]
        if len(" ".join(m.name.split())) > 40:
            raise _member_error(_("姓名不能超过 40 个字。"), person=person, field=f"students-{row}-name", code="member_name")
        if not numbers[i]:
            raise _member_error(_("请填写学号。"), person=person, field=f"students-{row}-student_no", code="student_no")
        if not STUDENT_NO_RE.fullmatch(numbers[i]):
            raise _member_error(_("学号格式不正确（4–30 位字母、数字或短横线）。"), person=person,
                                field=f"students-{row}-student_no", code="student_no")
        if numbers[i] in seen:
            raise _member_error(_("学号 %(no)s 与%(other)s重复。", no=numbers[i],
                                  other=_student_label(rows[seen[numbers[i]]], students[seen[numbers[i]]].name)),
                                person=person, field=f"students-{row}-student_no", code="student_no_repeated")
        seen[numbers[i]] = i
        if len((m.major or "").strip()) > 60:
            raise _member_error(_("专业不能超过 60 个字。"), person=person, field=f"students-{row}-major", code="member_major")
    for i, m in enumerate(advisors):
        row = m.row if m.row >= 0 else i
        if len(" ".join(m.name.split())) > 40:
            raise _member_error(_("姓名不能超过 40 个字。"), person=_("第 %(n)s 位指导教师", n=row + 1),
                                field=f"advisors-{row}-name", code="member_name")
    members = [TeamMember(contest_id=contest.id, role="leader" if i == data.leader_index else "member",
                          name=_text(m.name, _("学生姓名"), 40), student_no=numbers[i], school_id=school.id,
                          major=_text(m.major, _("专业"), 60, required=False), position=i)
               for i, m in enumerate(students)]
    members += [TeamMember(contest_id=contest.id, role="advisor", name=_text(m.name, _("指导教师姓名"), 40), student_no=None,
                           school_id=school.id, position=len(students) + i) for i, m in enumerate(advisors)]
    return members


def _student_taken(member: TeamMember | None = None, field: str | None = None) -> Conflict:
    if member is not None:
        return Conflict(_("学生“%(name)s”（学号 %(no)s）已在本次大赛的其他团队中，每名学生只能参加一个团队。",
                          name=member.name, no=member.student_no), code="student_in_other_team", field=field)
    return Conflict(_("有学生已在本次大赛的其他团队中，每名学生只能参加一个团队。"), code="student_in_other_team")


def _check_students_free(session: SessionLike, contest: Contest, school: School, members: list[TeamMember],
                         *, team: Entry | None = None, students: tuple[MemberInput, ...] = ()) -> None:
    """Refuse at once a team with a student already in another team (not counting `team`,
    the team being corrected), naming the first such student, before its files are looked
    at; the unique constraint still decides between racing registrations."""
    numbers = [m.student_no for m in members if m.student_no]
    query = select(TeamMember.student_no).where(
        TeamMember.contest_id == contest.id, TeamMember.school_id == school.id, TeamMember.student_no.in_(numbers))
    if team is not None:
        query = query.where(TeamMember.entry_id != team.id)
    taken = set(session.scalars(query.limit(len(numbers))))
    if taken:
        member = next(m for m in members if m.student_no in taken)
        rows = {(m.student_no or "").strip().upper(): m.row for m in students if m.row >= 0}
        row = rows.get(member.student_no or "", member.position)
        raise _student_taken(member, field=f"students-{row}-student_no")


def register_team(
    session: SessionLike, storage: Storage, *, actor: User, contest: Contest, data: TeamInput,
    plan: IncomingFile | None, pitch: IncomingFile | None, cover: IncomingFile | None, now: datetime,
    decoder: ImageDecoder | None = None, queue: Queue | None = None,
) -> Entry:
    """A school contact registers a 黄炎培 team: project, track, group, members, plan PDF, pitch video, cover."""
    if contest.kind != "innovation":
        raise NotFound(_("本活动不接受此类投稿。"))
    _require_open(contest, now)
    school = _school_of_contact(session, actor, data.school_id)
    quota = school_quota(contest, school)
    _check_quota(session, contest=contest, scope="school", owner_id=school.id, limit=quota)
    project = _text(data.project, _("项目名称"), TITLE_MAX)
    summary = _text(data.summary, _("项目简介"), DESCRIPTION_MAX)
    track = _category(contest, data.track_id, "track", _("赛道"), required=bool(contest.categories_of("track")))
    group = _category(contest, data.group_id, "group", _("组别"), required=bool(contest.categories_of("group")))
    _check_group(group, school)
    members = _team_members(data, contest, school)
    _check_students_free(session, contest, school, members, students=tuple(data.students))
    if plan is None or pitch is None or cover is None:
        raise InvalidInput(_("请上传商业计划书（PDF）、路演视频和封面图片。"), code="files_missing")
    plan_bytes = plan.read()
    check_pdf(plan_bytes, max_bytes=PDF_MAX_BYTES)
    cover_image = _images([cover], contest, at_least=1, at_most=1, label=_("封面"), decoder=decoder, check_resolution=False)
    clip = _video(pitch, contest)
    entry = Entry(contest_id=contest.id, category_id=track.id if track else None, group_id=group.id if group else None,
                  school_id=school.id, submitted_by_id=actor.id, title=project, description=summary, status="submitted",
                  created_at=now, updated_at=now, submitted_at=now)
    entry.team_members = members
    session.add(entry)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise _student_taken() from None
    _take_slot(session, contest=contest, scope="school", owner_id=school.id, limit=quota, entry=entry)
    items = _attach_images(session, storage, entry, cover_image, now=now, role="cover")
    items.append(attach_video(session, storage, entry, clip, now=now, role="pitch", position=1, decoder=decoder,
                              queue=queue))
    plan_item = MediaItem(entry_id=entry.id, kind="pdf", role="plan", content_type="application/pdf",
                          original_key=storage.put(plan_bytes, "pdf"), byte_size=len(plan_bytes), position=2,
                          caption=Path(plan.name).name[:200], created_at=now)
    session.add(plan_item)
    session.flush()
    _set_cover(entry, items)
    return entry


# --- after submission ------------------------------------------------------------------

def _acts_for_school(session: SessionLike, actor: User, entry: Entry) -> bool:
    """Whether the actor acts for the school that submitted this entry (see `schools_of`)."""
    if entry.school_id is None or entry.contest.kind not in SCHOOL_KINDS:
        return False
    return entry.school_id in {s.id for s in schools_of(session, actor)}


def get_own_entry(session: SessionLike, actor: User, entry_id: int) -> Entry:
    """An entry the actor submitted (or one their school submitted), or NotFound."""
    entry = session.get(Entry, entry_id, options=[selectinload(Entry.team_members)])
    # Someone else's entry is "not found", as a missing one: ids reveal nothing.
    if entry is None or (entry.submitted_by_id != actor.id and not _acts_for_school(session, actor, entry)):
        raise NotFound(_("没有找到这件作品。"))
    return entry


def my_entries(session: SessionLike, actor: User) -> list[Entry]:
    """Entries the actor submitted or that their schools submitted, newest first."""
    school_ids = [s.id for s in schools_of(session, actor)]
    condition = Entry.submitted_by_id == actor.id
    if school_ids:
        condition = or_(condition, and_(Entry.school_id.in_(school_ids), Contest.kind.in_(SCHOOL_KINDS)))
    return list(session.scalars(
        select(Entry).join(Contest, Contest.id == Entry.contest_id).where(condition)
        .options(selectinload(Entry.nominee))  # the list names each nomination's student
        .order_by(Entry.created_at.desc(), Entry.id.desc())
    ))


def update_entry_text(session: SessionLike, *, actor: User, entry_id: int, title: str, description: str, now: datetime) -> Entry:
    """Change one's entry's title and description until the window closes or it is approved."""
    entry = get_own_entry(session, actor, entry_id)
    contest = contests.get_contest_by_id(session, entry.contest_id)
    _require_open(contest, now)
    if entry.status not in EDITABLE:
        raise Forbidden(_("作品已通过审核或已撤回，不能再修改。"), code="not_editable")
    title = _text(title, _("作品名称"), TITLE_MAX)
    description = _text(description, _("作品介绍"), DESCRIPTION_MAX, required=False)
    if is_returned(entry):
        # Sent again as any corrected returned entry: its place in the queue kept, audit-logged.
        _send_again(session, entry, actor=actor, changes=_changed_text(entry, title=title, description=description),
                    now=now, ip="")
    elif entry.status in ("draft", "rejected"):
        entry.status, entry.submitted_at = "submitted", now
    entry.title, entry.description = title, description
    entry.updated_at = now
    session.flush()
    return entry


# --- a returned entry, corrected and sent again ------------------------------------------
#
# An organiser who returns an entry ("请更换照片") asks for a correction, so everything the
# entrant gave can be changed: the text, the category, the nominee's profile, the team's
# members and every file. The entry stays the same row (its id, created_at and
# submitted_at, so its place in the moderation queue, and its audit history); files go
# through the same checks as at submission. A replaced file's item rows are deleted: the
# stored files are then unreferenced and the orphan sweep removes them after its grace
# period (they may be shared by content with another entry, which keeps them). The form
# (photos or a video) of a 全民美拍 entry is not changed: that is a different entry.

RESUBMIT_ACTION = "entry.resubmit"
code_labels("audit_action", {RESUBMIT_ACTION: N_("作品退回修改后重新提交")})
# What a correction changed, as the audit row and the moderation desk name it.
CHANGE_LABELS = code_labels("entry_change", {
    "title": N_("名称"), "description": N_("介绍"), "category": N_("类别"), "group": N_("组别"),
    "nominee": N_("选手信息"), "members": N_("团队成员"), "photo": N_("照片"), "video": N_("视频"),
    "cover": N_("封面"), "plan": N_("商业计划书"), "pitch": N_("路演视频"), "consent": N_("监护人同意书"),
})
# Where each kind of item goes among an entry's media (its position), by role.
_ROLE_ORDER = {"media": ("photo", "video", "cover"), "selection": ("photo", "video"),
               "innovation": ("cover", "pitch", "plan")}


def is_returned(entry: Entry) -> bool:
    """Sent back by a moderator for changes and not yet sent again."""
    return entry.status == "draft" and bool(entry.moderation_reason)


def entry_of(session: SessionLike, entry_id: int) -> Entry | None:
    """An entry by id, whoever's (for limits decided before the request is read)."""
    return session.get(Entry, entry_id)


def entry_media(session: SessionLike, entry: Entry) -> list[MediaItem]:
    """An entry's media items in their order."""
    return list(session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id)
                                .order_by(MediaItem.position, MediaItem.id)))


def _returned_entry(session: SessionLike, actor: User, entry_id: int, kind: str, now: datetime) -> Entry:
    entry = get_own_entry(session, actor, entry_id)
    if entry.contest.kind != kind:
        raise NotFound(_("没有找到这件作品。"))
    _require_open(entry.contest, now)
    if not is_returned(entry):
        raise Conflict(_("只有主办方退回修改的作品才能更换文件和资料；重新提交后需等待审核。"), code="not_returned")
    return entry


def _send_again(session: SessionLike, entry: Entry, *, actor: User, changes: list[str], now: datetime, ip: str) -> None:
    """Put a returned entry back in the queue, once: two corrections sent at the same time
    cannot both pass (compare-and-set on the status); audit-logged with what changed."""
    reason = entry.moderation_reason
    sent = rowcount(session.execute(
        update(Entry).where(Entry.id == entry.id, Entry.status == "draft").values(status="submitted", updated_at=now)
        .execution_options(synchronize_session=False)))
    if sent != 1:
        raise Conflict(_("作品刚刚已重新提交，请刷新页面。"), code="resubmitted_meanwhile")
    entry.status, entry.updated_at = "submitted", now
    audit.record(session, actor=actor, action="entry.resubmit", target_type="entry", target_id=entry.id, now=now,
                 before={"status": "draft", "moderation_reason": reason},
                 after={"status": "submitted", "changes": changes}, summary=entry.title, ip=ip)


def _replace_media(session: SessionLike, entry: Entry, roles: set[str]) -> None:
    """Detach the entry's items in these roles (their duplicate flags go with them)."""
    if roles:
        for item in session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id, MediaItem.role.in_(roles))):
            session.delete(item)
        session.flush()


def _settle_media(session: SessionLike, entry: Entry, added: list[MediaItem], now: datetime) -> None:
    """Order the entry's media by role, name them after its title, pick its cover, and
    flag new images that look like another entry's."""
    order = _ROLE_ORDER[entry.contest.kind]
    items = sorted(entry_media(session, entry), key=lambda i: (order.index(i.role) if i.role in order else len(order),
                                                               i.position, i.id))
    for position, item in enumerate(items):
        item.position, item.alt_text = position, entry.title
    _set_cover(entry, items)
    _flag_duplicates(session, entry, added, now)


def _changed_text(entry: Entry, **values: object) -> list[str]:
    return [name for name, value in values.items() if getattr(entry, f"{name}_id" if name in ("category", "group")
                                                               else name) != value]


def resubmit_media_entry(
    session: SessionLike, storage: Storage, *, actor: User, entry_id: int, data: MediaEntryInput,
    photos: list[IncomingFile], video: IncomingFile | None, cover: IncomingFile | None, now: datetime,
    decoder: ImageDecoder | None = None, queue: Queue | None = None, ip: str = "",
) -> list[str]:
    """Correct a returned 全民美拍 entry and send it again: text, category, and new photos
    (replacing all of them) or a new video or cover; returns what changed."""
    entry = _returned_entry(session, actor, entry_id, "media", now)
    contest = entry.contest
    rules = contests.rules_of(contest)
    title = _text(data.title, _("作品名称"), TITLE_MAX)
    description = _text(data.description, _("作品介绍"), DESCRIPTION_MAX, required=False)
    category = _category(contest, data.category_id, "category", _("作品类别"), required=bool(contest.categories_of("category")))
    is_video = any(i.kind == "video" for i in entry_media(session, entry))
    images = [] if is_video or not photos else _images(photos, contest, at_least=rules.photos_min,
                                                       at_most=rules.photos_max, label=_("照片"), decoder=decoder)
    clip = _video(video, contest) if is_video and video is not None else None
    cover_image = _images([cover], contest, at_least=1, at_most=1, label=_("封面"), decoder=decoder,
                          check_resolution=False) if is_video and cover is not None else []
    changes = _changed_text(entry, title=title, description=description, category=category.id if category else None)
    changes += [role for role, new in (("photo", images), ("video", clip), ("cover", cover_image)) if new]
    _send_again(session, entry, actor=actor, changes=changes, now=now, ip=ip)
    entry.title, entry.description, entry.category_id = title, description, category.id if category else None
    # A new video's frame becomes the cover unless a cover of the author's own is kept or sent.
    _replace_media(session, entry, {r for r in changes if r in ("photo", "video", "cover")})
    added = _attach_images(session, storage, entry, images, now=now)
    if clip is not None:
        added.append(attach_video(session, storage, entry, clip, now=now, role="video", position=0, decoder=decoder,
                                  queue=queue))
    added += _attach_images(session, storage, entry, cover_image, now=now, role="cover", start=1)
    _settle_media(session, entry, added, now)
    session.flush()
    return changes


def resubmit_nomination(
    session: SessionLike, storage: Storage, *, actor: User, entry_id: int, data: NomineeInput,
    photos: list[IncomingFile], video: IncomingFile | None, now: datetime, decoder: ImageDecoder | None = None,
    queue: Queue | None = None, ip: str = "", consent: IncomingFile | None = None,
) -> list[str]:
    """Correct a returned nomination and send it again: the nominee's profile, the title,
    the category, new photos (replacing all of them) or a new video, a new signed consent
    form (replacing the one on file); returns what changed."""
    entry = _returned_entry(session, actor, entry_id, "selection", now)
    contest = entry.contest
    rules = contests.rules_of(contest)
    profile = _nominee_profile(data, contest, now,
                               consent_on_file=consent is not None or signed_form_of(session, entry.id) is not None)
    signed = check_signed_form(consent.read(), decoder=decoder) if consent is not None and profile["guardian_consent"] \
        else None
    category = _category(contest, data.category_id, "category", _("组别"), required=bool(contest.categories_of("category")))
    title = _nomination_title(data.title, contest)
    images = _images(photos, contest, at_least=rules.photos_min, at_most=rules.photos_max, label=_("照片"),
                     decoder=decoder, check_resolution=False) if photos else []
    clip = _video(video, contest) if video is not None else None
    changes = _changed_text(entry, title=title, category=category.id if category else None)
    nominee = entry.nominee
    if nominee is None or any(getattr(nominee, k) != v for k, v in profile.items()):
        changes.append("nominee")
    changes += [role for role, new in (("photo", images), ("video", clip), ("consent", signed)) if new]
    _send_again(session, entry, actor=actor, changes=changes, now=now, ip=ip)
    entry.title, entry.category_id = title, category.id if category else None
    if nominee is None:
        entry.nominee = NomineeProfile(**profile)
    else:
        for key, value in profile.items():
            setattr(nominee, key, value)
    _replace_media(session, entry, {r for r in changes if r in ("photo", "video")})
    added = _attach_images(session, storage, entry, images, now=now)
    if clip is not None:
        added.append(attach_video(session, storage, entry, clip, now=now, role="video", position=len(added),
                                  decoder=decoder, queue=queue))
    if signed is not None and consent is not None:
        attach_signed_form(session, storage, entry, signed, name=Path(consent.name).name, now=now)
    _settle_media(session, entry, added, now)
    session.flush()
    return changes


def _member_rows(members: list[TeamMember]) -> list[tuple[str, str, str | None, str]]:
    # A new row's defaults (major "") are not set before it is flushed.
    return [(m.role, m.name, m.student_no or None, m.major or "") for m in members]


def resubmit_team(
    session: SessionLike, storage: Storage, *, actor: User, entry_id: int, data: TeamInput,
    plan: IncomingFile | None, pitch: IncomingFile | None, cover: IncomingFile | None, now: datetime,
    decoder: ImageDecoder | None = None, queue: Queue | None = None, ip: str = "",
) -> list[str]:
    """Correct a returned team registration and send it again: project, track, group,
    members (one team per student still holds), and a new plan, pitch video or cover;
    returns what changed. The school stays the one that registered the team."""
    entry = _returned_entry(session, actor, entry_id, "innovation", now)
    contest = entry.contest
    school = entry.school
    if school is None:  # the school was deleted: nobody can correct its team
        raise NotFound(_("没有找到这件作品。"))
    project = _text(data.project, _("项目名称"), TITLE_MAX)
    summary = _text(data.summary, _("项目简介"), DESCRIPTION_MAX)
    track = _category(contest, data.track_id, "track", _("赛道"), required=bool(contest.categories_of("track")))
    group = _category(contest, data.group_id, "group", _("组别"), required=bool(contest.categories_of("group")))
    _check_group(group, school)
    members = _team_members(data, contest, school)
    _check_students_free(session, contest, school, members, team=entry, students=tuple(data.students))
    plan_bytes = plan.read() if plan is not None else b""
    if plan is not None:
        check_pdf(plan_bytes, max_bytes=PDF_MAX_BYTES)
    cover_image = _images([cover], contest, at_least=1, at_most=1, label=_("封面"), decoder=decoder,
                          check_resolution=False) if cover is not None else []
    clip = _video(pitch, contest) if pitch is not None else None
    changes = _changed_text(entry, title=project, description=summary, category=track.id if track else None,
                            group=group.id if group else None)
    if _member_rows(members) != _member_rows(entry.team_members):
        changes.append("members")
    changes += [role for role, new in (("cover", cover_image), ("pitch", clip), ("plan", plan_bytes)) if new]
    _send_again(session, entry, actor=actor, changes=changes, now=now, ip=ip)
    entry.title, entry.description = project, summary
    entry.category_id, entry.group_id = track.id if track else None, group.id if group else None
    if "members" in changes:
        # The old rows go first: a student who stays keeps their number, and the unique
        # constraint must not see them twice.
        entry.team_members.clear()
        session.flush()
        entry.team_members.extend(members)
        try:
            with session.begin_nested():
                session.flush()
        except IntegrityError:
            raise _student_taken() from None
    _replace_media(session, entry, {r for r in changes if r in ("cover", "pitch", "plan")})
    added = _attach_images(session, storage, entry, cover_image, now=now, role="cover")
    if clip is not None:
        added.append(attach_video(session, storage, entry, clip, now=now, role="pitch", position=1, decoder=decoder,
                                  queue=queue))
    if plan is not None:
        session.add(MediaItem(entry_id=entry.id, kind="pdf", role="plan", content_type="application/pdf",
                              original_key=storage.put(plan_bytes, "pdf"), byte_size=len(plan_bytes), position=2,
                              caption=Path(plan.name).name[:200], created_at=now))
        session.flush()
    _settle_media(session, entry, added, now)
    session.flush()
    return changes


# Whether an entry is being assessed is known to the voting and judging domains, which sit
# above media and may not be imported from here. Media reads their tables by name instead
# (as contests reads the vote table for its gallery counts): a read-only dependency on the
# schema, not on their code, which tests/media/test_entry_rights.py checks against their
# models. A judging round takes entries whatever the contest's judging window says, so
# the window alone cannot tell whether judges have the entry.
_round = table("judging_round", column("id"), column("state"))
_round_entry = table("judging_round_entry", column("round_id"), column("entry_id"))
_score = table("judging_score", column("entry_id"))
_vote = table("vote", column("entry_id"))


def entries_being_assessed(session: SessionLike, entry_ids: list[int]) -> set[int]:
    """Which of these entries the public or the judges have started on: in a judging round
    past its draft, scored (even in draft), or voted for (whatever became of the votes)."""
    if not entry_ids:
        return set()
    in_round = exists().where(_round_entry.c.entry_id == Entry.id, _round.c.id == _round_entry.c.round_id,
                              _round.c.state != "draft")
    scored = exists().where(_score.c.entry_id == Entry.id)
    voted = exists().where(_vote.c.entry_id == Entry.id)
    return set(session.scalars(select(Entry.id).where(Entry.id.in_(entry_ids), or_(in_round, scored, voted))))


def _started(contest: Contest, stage: str, now: datetime) -> bool:
    start, _end = contest.window(stage)
    return start is not None and start <= now


def withdrawal_refusal(entry: Entry, actor: User, now: datetime, *, being_assessed: bool) -> DomainError | None:
    """Why the actor may not withdraw this entry at once (None: they may).

    The actor has already been found to be its submitter or a contact of its school;
    `being_assessed` is whether `entries_being_assessed` lists the entry.
    - Until voting or judging starts, withdrawing only takes an entry out of moderation:
      the submitter and, for a school's entries, any contact of the school may, at once.
    - Once voting or judging has started (the contest's window, or the entry itself is
      in an open round, scored or voted for), withdrawing throws away the public's votes
      and the judges' work, and after 公示 it changes published results: it becomes a
      request, with a reason, that an organiser approves or declines (media.withdrawals).
    """
    if entry.status == "withdrawn":
        return Conflict(_("作品已撤回。"), code="already_withdrawn")
    contest = entry.contest
    if being_assessed or any(_started(contest, stage, now) for stage in ("voting", "judging", "publicity")) \
            or contests.stage_of(contest, now).current == "closed":
        return Conflict(_("投票或评审已经开始，撤回需要主办方批准：请写明理由，提交撤回申请。"),
                        code="withdrawal_needs_approval")
    return None


def withdraw_entry(session: SessionLike, *, actor: User, entry_id: int, now: datetime) -> Entry:
    """Withdraw one's entry while the contest allows it; its quota slot is freed."""
    entry = get_own_entry(session, actor, entry_id)
    refusal = withdrawal_refusal(entry, actor, now, being_assessed=entry.id in entries_being_assessed(session, [entry.id]))
    if refusal is not None:
        raise refusal
    take_out(session, entry, now)
    return entry


def take_out(session: SessionLike, entry: Entry, now: datetime) -> None:
    """Mark an entry withdrawn (flushed): its quota slot is freed, its team dissolved."""
    entry.status = "withdrawn"
    entry.updated_at = now
    _release_slots(session, entry)
    # A withdrawn team is no longer a team: its students may register again (a school
    # withdraws a team to correct its members). The one-team rule is a unique constraint
    # on the student number, so the numbers go; the names stay on the record.
    for member in entry.team_members:
        member.student_no = None
    session.flush()
