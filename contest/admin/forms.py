"""Back-office forms, and the parsing of the result formula's editor."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from wtforms import (  # type: ignore[attr-defined]  # types-WTForms predates SelectChoice (WTForms 3.3)
    BooleanField,
    DateField,
    DateTimeLocalField,
    DecimalField,
    FieldList,
    FormField,
    IntegerField,
    SelectChoice,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import DataRequired, InputRequired, Length, NumberRange, Optional, Regexp
from wtforms.widgets import CheckboxInput, ListWidget

from ..accounts.models import OrganisingUnit
from ..contests.models import DISTRICTS, KINDS, STAGES
from ..contests.rules import RULE_CHOICE_HINTS, RULE_HINTS, RULES_BY_KEY, Rules, RuleSpec, label_of, rules_for_kind
from ..contests.service import KIND_LABELS, STAGE_LABELS
from ..errors import InvalidInput
from ..forms import BaseForm, BaseSubForm
from ..i18n import _, label_set
from ..i18n import lazy_gettext as _l
from ..results.formulas import TIERS_MAX, default_formula


class LocalDateField(DateField):
    """A date (YYYY-MM-DD, as a browser's date input sends it) whose parse error speaks Chinese."""

    def process_formdata(self, valuelist: list[Any]) -> None:
        try:
            super().process_formdata(valuelist)
        except ValueError as exc:
            raise ValueError(_("请按“年-月-日”填写日期，如 2024-05-20。")) from exc


def set_unit_choices(form: ContestForm, creatable: list[OrganisingUnit], every: list[OrganisingUnit]) -> None:
    """The units a contest may belong to (those the person may create contests in, and the
    contest's own) and every unit as a possible co-organiser."""
    form.unit_id.choices = [SelectChoice(u.id, u.name) for u in creatable]
    form.co_unit_ids.choices = [SelectChoice(u.id, u.name) for u in every]
    if form.unit_id.data is None and len(creatable) == 1:
        form.unit_id.data = creatable[0].id


class ContestForm(BaseForm):
    slug = StringField(_l("网址标识"), validators=[DataRequired(_l("请填写网址标识。")), Length(max=60)])
    kind = SelectField(_l("活动类型"), choices=[SelectChoice(k, KIND_LABELS[k]) for k in KINDS])
    title = StringField(_l("活动名称"), validators=[DataRequired(_l("请填写活动名称。")), Length(max=120)])
    short_title = StringField(_l("简称"), validators=[Length(max=40)])
    theme = StringField(_l("主题"), validators=[Length(max=120)])
    summary = TextAreaField(_l("简介"), validators=[Length(max=500)])
    unit_id = SelectField(_l("主办单位"), coerce=int, validate_choice=False)
    co_unit_ids = SelectMultipleField(_l("协办单位"), coerce=int, validate_choice=False,
                                      widget=ListWidget(prefix_label=False), option_widget=CheckboxInput())
    rules_text = TextAreaField(_l("活动规则（纯文本，空行分段）"), validators=[Length(max=20000)])
    is_published = BooleanField(_l("在网站上公开"), default=True)
    position = IntegerField(_l("排序"), default=0, validators=[Optional(), NumberRange(min=0, max=1000)])
    awarded_on = LocalDateField(_l("颁奖日期"), validators=[Optional()])


# One pair of datetime-local fields per stage window, in Asia/Shanghai time.
for _stage in STAGES:
    setattr(ContestForm, f"{_stage}_starts_at", DateTimeLocalField(
        _l("%(stage)s开始", stage=STAGE_LABELS[_stage]), format="%Y-%m-%dT%H:%M", validators=[Optional()]))
    setattr(ContestForm, f"{_stage}_ends_at", DateTimeLocalField(
        _l("%(stage)s结束", stage=STAGE_LABELS[_stage]), format="%Y-%m-%dT%H:%M", validators=[Optional()]))


# --- the contest form's rules, one fieldset per kind -----------------------------------
# Every kind's rules are on the page, each under its kind's heading (a script shows only
# the chosen kind's); a field is named rule-<kind>-<key>, so the kinds never share a name
# and saving reads only the chosen kind's.


def rule_field(kind: str, key: str) -> str:
    """The name and id of a rule's field in the contest form."""
    return f"rule-{kind}-{key}"


def rule_marker(kind: str) -> str:
    """A hidden field each kind's fieldset carries: without it, an absent checkbox is not "no"."""
    return f"rules-{kind}"


@dataclass(frozen=True)
class RuleChoice:
    value: str
    label: str
    hint: str


@dataclass(frozen=True)
class RuleField:
    spec: RuleSpec
    name: str
    label: str
    hint: str
    value: Any
    choices: list[RuleChoice]
    error: str

    @property
    def is_bool(self) -> bool:
        return self.spec.type is bool


@dataclass(frozen=True)
class KindRules:
    kind: str
    label: str
    fields: list[RuleField]


def rules_from_post(kind: str, data: Mapping[str, str]) -> dict[str, str | bool]:
    """The chosen kind's rules as posted (raw; the service parses them), nothing of the
    other kinds' fieldsets. An unticked checkbox sends nothing: absent means "no", when
    the kind's fieldset was on the page at all."""
    if kind not in KINDS or rule_marker(kind) not in data:
        return {}
    rules: dict[str, str | bool] = {}
    for spec in rules_for_kind(kind):
        name = rule_field(kind, spec.key)
        if name in data:
            rules[spec.key] = data[name]
        elif spec.type is bool:
            rules[spec.key] = False
    return rules


def kind_rules(stored: Mapping[str, Any] | None, data: Mapping[str, str] | None, errors: Mapping[str, str]) -> list[KindRules]:
    """Each kind's rule fields: the contest's stored rules over the kind's defaults, what was
    posted over those when the page comes back refused, and each field's error."""
    sections = []
    for kind in KINDS:
        values = Rules.build(kind, stored).as_dict()
        shown: dict[str, Any] = dict(values)
        if data is not None and rule_marker(kind) in data:
            for spec in rules_for_kind(kind):
                shown[spec.key] = data.get(rule_field(kind, spec.key), False if spec.type is bool else "")
        fields = []
        for spec in rules_for_kind(kind):
            name = rule_field(kind, spec.key)
            words = label_set(spec.key) if spec.choices else {}
            choices = [RuleChoice(c, _(words.get(c, c)), _(RULE_CHOICE_HINTS.get(spec.key, {}).get(c, ""))) for c in spec.choices]
            # Labels that name other rules (a quota's enrolment band) name their saved values.
            fields.append(RuleField(spec=spec, name=name, label=label_of(spec, values), hint=_(RULE_HINTS[spec.key]),
                                    value=shown[spec.key], choices=choices, error=errors.get(name, "")))
        sections.append(KindRules(kind=kind, label=_(KIND_LABELS[kind]), fields=fields))
    return sections


def contest_field_errors(form: ContestForm, kind: str, service_errors: Mapping[str, str]) -> dict[str, str]:
    """One message per field id, in the page's order; a rule's error goes to the chosen
    kind's field. The service's words win, but for a value that did not parse at all (a date
    typed wrong): the service saw it as missing, the form knows it was mistyped."""
    found: dict[str, str] = {}
    for name, message in service_errors.items():
        if name.startswith("rules."):
            name = rule_field(kind, name.removeprefix("rules."))
        found[name] = message
    for name, messages in form.errors.items():
        if isinstance(name, str) and messages:
            if form[name].process_errors:
                found[name] = str(messages[0])
            else:
                found.setdefault(name, str(messages[0]))
    order = [f.id for f in form if f.id != "csrf_token"]
    order += [rule_field(kind, spec.key) for spec in rules_for_kind(kind)] if kind in KINDS else []
    return {name: found[name] for name in sorted(found, key=lambda n: order.index(n) if n in order else len(order))}


def contest_field_labels(form: ContestForm, kind: str) -> dict[str, str]:
    """The words naming each field of the contest form, for the list of errors at the top."""
    labels = {f.id: str(f.label.text) for f in form if f.id != "csrf_token"}
    if kind in KINDS:
        labels.update({rule_field(kind, key): label_of(RULES_BY_KEY[key]) for key in (s.key for s in rules_for_kind(kind))})
    return labels


class CategoryForm(BaseForm):
    kind = SelectField(_l("类型"), choices=[SelectChoice("category", _l("类别")), SelectChoice("track", _l("赛道")), SelectChoice("group", _l("组别"))])
    name = StringField(_l("名称"), validators=[DataRequired(_l("请填写名称。")), Length(max=60)])
    description = StringField(_l("说明"), validators=[Length(max=300)])


class SchoolForm(BaseForm):
    name = StringField(_l("学校名称"), validators=[DataRequired(_l("请填写学校名称。")), Length(max=80)])
    district = SelectField(_l("所在区县"), choices=[SelectChoice(d, d) for d in DISTRICTS])
    level = SelectField(_l("学校类型"), choices=[SelectChoice("中职", "中职"), SelectChoice("高职", "高职"), SelectChoice("技工", "技工院校")])
    # InputRequired, not DataRequired: 0 is a valid enrolment (a new school) but falsy.
    enrolment = IntegerField(_l("在校生人数"), validators=[InputRequired(_l("请填写在校生人数。")), NumberRange(min=0, max=200000, message=_l("在校生人数应在 0 到 200000 之间。"))])


class EmptyForm(BaseForm):
    """A form with only the CSRF token, for buttons that post."""


# --- judging rounds -----------------------------------------------------------------

# Labels of the round's choices, in the order the form offers them.
ROUND_KIND_LABELS = {"review": _l("网络评审"), "live": _l("现场路演")}
AGGREGATION_LABELS = {"mean": _l("平均"), "trimmed": _l("去掉最高最低后平均（≥5 位评委时）"), "median": _l("中位数")}
RUBRIC_ROWS_MAX = 20


class CriterionForm(BaseSubForm):
    """One rubric row. A row left wholly empty is ignored, which is how a row is removed
    without script; the rubric's rules (names, maxima, weights summing to 100) are the
    service's, so the message is the same whichever page sends it."""

    class Meta:
        csrf = False

    name = StringField(_l("名称"), validators=[Length(max=40)])
    description = StringField(_l("说明"), validators=[Length(max=300)])
    maximum = DecimalField(_l("满分"), places=None, validators=[Optional(), NumberRange(min=0, max=1000)])
    weight = DecimalField(_l("权重（%）"), places=None, validators=[Optional(), NumberRange(min=0, max=100)])

    def is_blank(self) -> bool:
        return not (self.name.data or "").strip() and self.maximum.data is None and self.weight.data is None \
            and not (self.description.data or "").strip()


class RoundForm(BaseForm):
    key = StringField(_l("轮次标识"), validators=[DataRequired(_l("请填写轮次标识。")), Length(max=40),
                                                  Regexp(r"^[A-Za-z0-9_-]+$", message=_l("轮次标识只能用字母、数字、- 和 _。"))])
    name = StringField(_l("轮次名称"), validators=[DataRequired(_l("请填写轮次名称。")), Length(max=60)])
    kind = SelectField(_l("评审方式"), choices=[SelectChoice(k, v) for k, v in ROUND_KIND_LABELS.items()])
    judges_per_entry = IntegerField(_l("每件作品的评委人数"), default=3, validators=[
        InputRequired(_l("请填写每件作品的评委人数。")), NumberRange(min=1, max=50, message=_l("每件作品的评委人数应在 1 到 50 之间。"))])
    blind = BooleanField(_l("匿名评审（评委看不到学校和作者）"), default=True)
    aggregation = SelectField(_l("汇总方法"), default="trimmed",
                              choices=[SelectChoice(k, v) for k, v in AGGREGATION_LABELS.items()])
    normalise = BooleanField(_l("按评委标准化（z 分数）后再汇总"), default=False)
    min_scores = IntegerField(_l("标准化所需的最少评分数"), default=5, validators=[
        InputRequired(_l("请填写最少评分数。")), NumberRange(min=1, max=1000, message=_l("校准所需最少评分数应在 1 到 1000 之间。"))])
    spread_threshold = DecimalField(_l("分差阈值（总分，0–100）"), places=None, default=Decimal(20), validators=[
        InputRequired(_l("请填写分差阈值。")), NumberRange(min=0, max=100, message=_l("分差阈值应在 0 到 100 之间。"))])
    score_step = DecimalField(_l("评分步长"), places=None, default=Decimal("0.5"), validators=[
        InputRequired(_l("请填写评分步长。")), NumberRange(min=0.01, max=100, message=_l("评分步长必须大于 0。"))])
    position = IntegerField(_l("排序"), default=0, validators=[Optional(), NumberRange(min=0, max=100)])
    instructions = TextAreaField(_l("给评委的说明"), validators=[Length(max=5000)])
    criteria = FieldList(FormField(CriterionForm), min_entries=1, max_entries=RUBRIC_ROWS_MAX)


# --- result formulas ------------------------------------------------------------------


def _tier_from(form: Mapping[str, str], prefix: str) -> dict[str, str] | None:
    name = form.get(f"{prefix}_name", "").strip()[:60]
    value = form.get(f"{prefix}_value", "").strip()[:20]
    mode = "percent" if form.get(f"{prefix}_mode") == "percent" else "count"
    if not name and not value:
        return None
    return {"name": name, mode: value}


def formula_from_fields(kind: str, form: Mapping[str, str]) -> dict[str, Any]:
    """The formula as the editor's structured fields (f_<key>, f_<key>_<i>_name …) give
    it; formulas.check_formula (called by the service) reads the numbers and says what
    is wrong."""
    formula: dict[str, Any] = {}
    for key, default in default_formula(kind).items():
        name = f"f_{key}"
        if isinstance(default, bool):
            formula[key] = form.get(name) == "1"
        elif isinstance(default, dict):
            formula[key] = _tier_from(form, name) or {}
        elif isinstance(default, list):
            formula[key] = [t for i in range(TIERS_MAX) if (t := _tier_from(form, f"{name}_{i}")) is not None]
        else:
            formula[key] = form.get(name, "").strip()[:60]
    return formula


def formula_from_json(text: str) -> dict[str, Any]:
    """The formula as typed in the JSON editor; InvalidInput names the line of a syntax error."""
    try:
        parsed = json.loads(text)
    except ValueError as exc:
        line = getattr(exc, "lineno", None)
        where = _("第 %(n)s 行", n=line) if line else ""
        raise InvalidInput(_("JSON 格式有误%(where)s，请检查引号、逗号和括号。", where=f"（{where}）" if where else ""),
                           field="formula_json") from None
    if not isinstance(parsed, dict):
        raise InvalidInput(_("计分公式应为一个 JSON 对象（以 { 开头）。"), field="formula_json")
    return parsed
