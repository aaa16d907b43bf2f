"""Back-office forms."""

from __future__ import annotations

from flask_wtf import FlaskForm
from wtforms import BooleanField, DateTimeLocalField, IntegerField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional

from ..contests.models import DISTRICTS, KINDS, STAGES
from ..contests.service import KIND_LABELS, STAGE_LABELS
from ..i18n import lazy_gettext as _l


class ContestForm(FlaskForm):
    slug = StringField(_l("网址标识"), validators=[DataRequired(_l("请填写网址标识。")), Length(max=60)])
    kind = SelectField(_l("活动类型"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in KINDS])
    title = StringField(_l("活动名称"), validators=[DataRequired(_l("请填写活动名称。")), Length(max=120)])
    short_title = StringField(_l("简称"), validators=[Length(max=40)])
    theme = StringField(_l("主题"), validators=[Length(max=120)])
    summary = TextAreaField(_l("简介"), validators=[Length(max=500)])
    organiser = StringField(_l("主办单位"), validators=[Length(max=200)])
    rules_text = TextAreaField(_l("活动规则（纯文本，空行分段）"), validators=[Length(max=20000)])
    is_published = BooleanField(_l("在网站上公开"), default=True)
    position = IntegerField(_l("排序"), default=0, validators=[Optional(), NumberRange(min=0, max=1000)])


# One pair of datetime-local fields per stage window, in Asia/Shanghai time.
for _stage in STAGES:
    setattr(ContestForm, f"{_stage}_starts_at", DateTimeLocalField(
        _l("%(stage)s开始", stage=STAGE_LABELS[_stage]), format="%Y-%m-%dT%H:%M", validators=[Optional()]))
    setattr(ContestForm, f"{_stage}_ends_at", DateTimeLocalField(
        _l("%(stage)s结束", stage=STAGE_LABELS[_stage]), format="%Y-%m-%dT%H:%M", validators=[Optional()]))


class CategoryForm(FlaskForm):
    kind = SelectField(_l("类型"), choices=[SelectChoice("category", _l("类别")), SelectChoice("track", _l("赛道")), SelectChoice("group", _l("组别"))])
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称。")), Length(max=60)])
    description = StringField(_l("说明"), validators=[Length(max=300)])


class SchoolForm(FlaskForm):
    name = StringField(_l("学校名称"), validators=[DataRequired(_l("请填写学校名称。")), Length(max=80)])
    district = SelectField(_l("所在区县"), choices=[SelectChoice(d, d) for d in DISTRICTS])
    level = SelectField(_l("学校类型"), choices=[SelectChoice("中职", "中职"), SelectChoice("高职", "高职"), SelectChoice("技工", "技工院校")])
    # InputRequired, not DataRequired: 0 is a valid enrolment (a new school) but falsy.
    enrolment = IntegerField(_l("在校生人数"), validators=[InputRequired(_l("请填写在校生人数。")), NumberRange(min=0, max=200000, message=_l("在校生人数应在 0 到 200000 之间。"))])


class EmptyForm(FlaskForm):
    """A form with only the CSRF token, for buttons that post."""
