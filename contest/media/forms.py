"""Entry forms: each an allow-list of fields, turned into the submissions service's inputs.

The forms only parse (text, numbers, dates, files); every rule (required fields, lengths,
team size, consent, quotas, file types) is the service's, so a refusal reads the same
whichever way the entry came in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from flask_wtf.file import FileField, MultipleFileField
from wtforms import (  # type: ignore[attr-defined]  # types-WTForms predates SelectChoice (WTForms 3.3)
    BooleanField,
    DateField,
    FieldList,
    FormField,
    RadioField,
    SelectChoice,
    SelectField,
    StringField,
    TextAreaField,
)

from ..contests import service as contests
from ..contests.models import Category, Contest, Entry, School
from ..forms import BaseForm, BaseSubForm
from ..i18n import _
from ..i18n import lazy_gettext as _l
from .submissions import MediaEntryInput, MemberInput, NomineeInput, TeamInput

IMAGE_TYPES = "image/jpeg,image/png,image/webp"
VIDEO_TYPES = "video/mp4,video/quicktime,video/webm"


def optional_int(value: Any) -> int | None:
    """A select's value as an id, or None when nothing (or nonsense) was chosen."""
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


def _choices(items: Iterable[Category | School], prompt: str) -> list[SelectChoice]:
    return [SelectChoice("", prompt), *(SelectChoice(str(item.id), item.name) for item in items)]


def _id_select(label: str) -> SelectField:
    # The service checks that the id belongs to this contest (or to the actor's schools)
    # and says so in words; WTForms' own "not a valid choice" would say less.
    return SelectField(label, coerce=optional_int, validate_choice=False)


class BirthDateField(DateField):
    """A date input whose parse error is a sentence a school contact understands."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        if not valuelist or not str(valuelist[0]).strip():
            self.data = None
            return
        try:
            self.data = datetime.strptime(str(valuelist[0]).strip(), "%Y-%m-%d").date()
        except ValueError:
            self.data = None
            raise ValueError(_l("请按“年-月-日”填写出生日期，例如 2006-09-01。")) from None


class MediaEntryForm(BaseForm):
    """全民美拍: a photo entry (as many photos as the rules allow) or a video entry (one video and a cover)."""

    kind = RadioField(_l("作品形式"), choices=[SelectChoice("photo", _l("照片")), SelectChoice("video", _l("短视频"))], default="photo",
                      validate_choice=False)
    category = _id_select(_l("作品类别"))
    title = StringField(_l("作品名称"))
    description = TextAreaField(_l("作品介绍（选填）"))
    photos = MultipleFileField(_l("照片"), render_kw={"accept": IMAGE_TYPES})
    video = FileField(_l("视频"), render_kw={"accept": VIDEO_TYPES})
    cover = FileField(_l("封面图片（选填）"), render_kw={"accept": IMAGE_TYPES})

    def __init__(self, *args: Any, contest: Contest, schools: list[School] | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.category.choices = _choices(contest.categories_of("category"), str(_l("请选择作品类别")))

    def to_input(self) -> MediaEntryInput:
        return MediaEntryInput(title=self.title.data or "", description=self.description.data or "",
                               category_id=self.category.data, kind=self.kind.data or "")


class NomineeForm(BaseForm):
    """最美职校生: a school contact's nomination."""

    school = _id_select(_l("推荐学校"))
    category = _id_select(_l("组别"))
    name = StringField(_l("学生姓名"))
    gender = RadioField(_l("性别"), choices=[SelectChoice("female", _l("女")), SelectChoice("male", _l("男"))], validate_choice=False)
    birth_date = BirthDateField(_l("出生日期"))
    major = StringField(_l("专业"))
    grade = StringField(_l("年级"))
    title = StringField(_l("推荐标题（选填）"))
    story = TextAreaField(_l("事迹介绍"))
    consent = FileField(_l("监护人签字的同意书（照片或 PDF）"), render_kw={"accept": f"{IMAGE_TYPES},application/pdf,.pdf"})
    name_form = RadioField(_l("姓名公开方式"), choices=[SelectChoice("full", _l("公开全名")),
                                                   SelectChoice("surname", _l("只公开姓氏（如“李同学”）"))],
                           default="full", validate_choice=False)
    show_photo = BooleanField(_l("公开照片"), default=True)
    show_major = BooleanField(_l("公开专业和年级"), default=True)
    show_story = BooleanField(_l("公开事迹介绍"), default=True)
    photos = MultipleFileField(_l("照片"), render_kw={"accept": IMAGE_TYPES})
    video = FileField(_l("短视频（选填）"), render_kw={"accept": VIDEO_TYPES})

    def __init__(self, *args: Any, contest: Contest, schools: list[School], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.school.choices = _school_choices(schools)
        self.category.choices = _choices(contest.categories_of("category"), str(_l("请选择组别")))
        self.photos.label.text = _("照片（%(n)s 张）", n=contests.rules_of(contest).span("photos_min", "photos_max"))
        if len(schools) == 1 and self.school.data is None:
            self.school.data = schools[0].id

    def to_input(self) -> NomineeInput:
        return NomineeInput(
            school_id=self.school.data, category_id=self.category.data, name=self.name.data or "",
            gender=self.gender.data or "", birth_date=self.birth_date.data, major=self.major.data or "",
            grade=self.grade.data or "", story=self.story.data or "", title=self.title.data or "",
            name_form=self.name_form.data or "", show_photo=bool(self.show_photo.data),
            show_major=bool(self.show_major.data), show_story=bool(self.show_story.data),
        )


def _school_choices(schools: list[School]) -> list[SelectChoice]:
    if len(schools) == 1:
        return [SelectChoice(str(schools[0].id), schools[0].name)]
    return _choices(schools, str(_l("请选择学校")))


class StudentRow(BaseSubForm):
    name = StringField(_l("姓名"))
    student_no = StringField(_l("学号"))
    major = StringField(_l("专业"))


class AdvisorRow(BaseSubForm):
    name = StringField(_l("姓名"))


class TeamForm(BaseForm):
    """黄炎培: a school contact registers a team with its plan, pitch video and cover.

    It has as many student and advisor rows as the contest's rules allow members
    (team_students_max, team_advisors_max); the service checks the counts."""

    school = _id_select(_l("参赛学校"))
    track = _id_select(_l("赛道"))
    group = _id_select(_l("组别"))
    project = StringField(_l("项目名称"))
    summary = TextAreaField(_l("项目简介"))
    # Rows per contest: set before the posted data is read (see `process`).
    students = FieldList(FormField(StudentRow))
    leader = RadioField(_l("团队负责人"), default="0", validate_choice=False)
    advisors = FieldList(FormField(AdvisorRow))
    plan = FileField(_l("商业计划书（PDF）"), render_kw={"accept": "application/pdf,.pdf"})
    pitch = FileField(_l("路演视频"), render_kw={"accept": VIDEO_TYPES})
    cover = FileField(_l("封面图片"), render_kw={"accept": IMAGE_TYPES})

    def __init__(self, *args: Any, contest: Contest, schools: list[School], **kwargs: Any) -> None:
        rules = contests.rules_of(contest)
        self.member_rows = (rules.team_students_max, rules.team_advisors_max)
        super().__init__(*args, **kwargs)
        self.leader.choices = [SelectChoice(str(i), str(i + 1)) for i in range(rules.team_students_max)]
        self.school.choices = _school_choices(schools)
        self.track.choices = _choices(contest.categories_of("track"), str(_l("请选择赛道")))
        self.group.choices = _choices(contest.categories_of("group"), str(_l("请选择组别")))
        if len(schools) == 1 and self.school.data is None:
            self.school.data = schools[0].id

    def process(self, *args: Any, **kwargs: Any) -> None:
        # The bound lists take their row counts from the rules before reading the posted
        # rows: a FieldList reads no more rows than its max_entries.
        students, advisors = self.member_rows
        self.students.min_entries = self.students.max_entries = students
        self.advisors.min_entries = self.advisors.max_entries = advisors
        super().process(*args, **kwargs)

    def to_input(self) -> TeamInput:
        # Only filled rows are students; the leader is named by its row, so its index is
        # counted among the filled rows (an empty row above it must not shift it).
        filled = [i for i, row in enumerate(self.students) if (row.form.name.data or "").strip()]
        leader_row = optional_int(self.leader.data)
        return TeamInput(
            school_id=self.school.data, track_id=self.track.data, group_id=self.group.data,
            project=self.project.data or "", summary=self.summary.data or "",
            students=[_member(self.students[i].form, i) for i in filled],
            leader_index=filled.index(leader_row) if leader_row in filled else -1,
            advisors=[MemberInput(name=row.form.name.data or "", row=i) for i, row in enumerate(self.advisors)
                      if (row.form.name.data or "").strip()],
        )


def _member(row: StudentRow, index: int) -> MemberInput:
    return MemberInput(name=row.name.data or "", student_no=row.student_no.data or "", major=row.major.data or "",
                       row=index)


class EntryTextForm(BaseForm):
    """An entry's title and description, editable until the window closes or it is approved."""

    title = StringField(_l("作品名称"))
    description = TextAreaField(_l("作品介绍"))


def returned_form_data(entry: Entry) -> dict[str, Any]:
    """A returned entry as its kind's submission form holds it, to be corrected: the
    form's fields filled from the entry (files are chosen again or kept)."""
    kind = entry.contest.kind
    if kind == "selection":
        nominee = entry.nominee
        shown = (nominee.public_fields if nominee else {}) or {}
        return {"school": entry.school_id, "category": entry.category_id, "title": entry.title,
                **({"name": nominee.name, "gender": nominee.gender, "birth_date": nominee.birth_date,
                    "major": nominee.major, "grade": nominee.grade, "story": nominee.story} if nominee else {}),
                "name_form": shown.get("name") or "full",
                "show_photo": bool(shown.get("photo")), "show_major": bool(shown.get("major")),
                "show_story": bool(shown.get("story"))}
    if kind == "innovation":
        students = [m for m in entry.team_members if m.role != "advisor"]
        leader = next((i for i, m in enumerate(students) if m.role == "leader"), 0)
        return {"school": entry.school_id, "track": entry.category_id, "group": entry.group_id,
                "project": entry.title, "summary": entry.description, "leader": str(leader),
                "students": [{"name": m.name, "student_no": m.student_no or "", "major": m.major} for m in students],
                "advisors": [{"name": m.name} for m in entry.team_members if m.role == "advisor"]}
    return {"title": entry.title, "description": entry.description, "category": entry.category_id}


def _fields(form: Any) -> Iterable[Any]:
    for f in form:
        yield f
        if isinstance(f, FieldList):
            for entry in f:
                yield from _fields(entry.form)


def place_error(form: BaseForm, field: str | None, message: str) -> bool:
    """Show a service's refusal at the field it names (a form field's name, e.g. "group"
    or "students-2-student_no"); False when the form has no such field."""
    if not field:
        return False
    target = next((f for f in _fields(form) if f.name == field), None)
    if target is None:
        return False
    target.errors = [*(e for e in target.errors if isinstance(e, str)), message]
    return True


def first_error(form: BaseForm) -> str:
    """The first field error, for the notice above the form."""
    for errors in form.errors.values():
        for error in errors:
            # FieldList/FormField nest their errors in lists and dicts.
            if isinstance(error, str):
                return error
    return str(_l("请检查填写的内容。"))

