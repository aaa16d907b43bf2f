"""The base of every form: what a person typed is cleaned before any validator sees it."""

from __future__ import annotations

from typing import Any

from flask_wtf import FlaskForm
from wtforms import Form
from wtforms.fields import HiddenField, PasswordField, StringField, TextAreaField

from .text import clean_line, clean_text


def _with_cleaning(unbound_field: Any, options: dict[str, Any]) -> None:
    field_class = unbound_field.field_class
    if not issubclass(field_class, StringField) or issubclass(field_class, (PasswordField, HiddenField)):
        return
    clean = clean_text if issubclass(field_class, TextAreaField) else clean_line

    def cleaned(value: str | None) -> str | None:
        return clean(value) if isinstance(value, str) else value

    options["filters"] = (cleaned, *options.get("filters", unbound_field.kwargs.get("filters", ())))


class CleanMeta:
    def bind_field(self, form: Any, unbound_field: Any, options: dict[str, Any]) -> Any:
        _with_cleaning(unbound_field, options)
        return unbound_field.bind(form=form, **options)


class BaseForm(FlaskForm):
    """A Flask-WTF form (CSRF) whose text fields drop invisible and reordering characters
    (contest/text.py) before validation, so "required" refuses a title that shows nothing."""

    class Meta(CleanMeta, FlaskForm.Meta):
        pass


class BaseSubForm(Form):
    """The same for the rows of a FieldList (team members), which carry no CSRF token."""

    class Meta(CleanMeta, Form.Meta):
        pass
