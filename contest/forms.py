"""The base of every form: what a person typed is cleaned before any validator sees it;
and `posted()`, the one way to read a posted form that has no form class. `required()`
gives the data of a validated required field as its type without None."""

from __future__ import annotations

import math
from decimal import Decimal
from typing import Any, TypeVar

from flask import request
from flask_wtf import FlaskForm
from werkzeug.datastructures import MultiDict
from wtforms import Form
from wtforms.fields import HiddenField, PasswordField, StringField, TextAreaField

from .text import clean_line, clean_text

_T = TypeVar("_T")


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


class Posted:
    """The fields of a posted form that has no Flask-WTF class of its own (a button
    with a few fields), read one way: text cut to a length, numbers and ids only when
    they are plain digits, ticks. Whether a value is acceptable is the service's to say.
    The CSRF token has already been checked for every POST (CSRFProtect)."""

    def __init__(self, data: MultiDict[str, str]) -> None:
        self.data = data

    def text(self, name: str, limit: int | None = None) -> str:
        """The field as sent ("" when absent), cut to `limit` characters."""
        return self.data.get(name, "")[:limit]

    def line(self, name: str, limit: int | None = None) -> str:
        """The field as one line of text, invisible characters removed (text.clean_line)."""
        return clean_line(self.data.get(name, ""))[:limit]

    def number(self, name: str, digits: int | None = 9) -> int | None:
        """A whole number written in plain digits (at most `digits` of them, so an id
        stays within a database integer), or None."""
        raw = self.data.get(name, "").strip()
        return int(raw) if raw.isdigit() and (digits is None or len(raw) <= digits) else None

    def decimal(self, name: str) -> float | None:
        """A finite decimal number (no exponent tricks beyond Decimal's), or None."""
        raw = self.data.get(name, "").strip()
        if not raw or len(raw) > 12:
            return None
        try:
            value = float(Decimal(raw))
        except ArithmeticError:
            return None
        return value if math.isfinite(value) else None

    def values(self, name: str) -> list[str]:
        """Every value sent under the name (ticked boxes, a multiple select)."""
        return self.data.getlist(name)

    def ids(self, name: str) -> list[int]:
        """The ticked ids under the name; anything that is not a plain number is dropped."""
        return [int(v) for v in self.data.getlist(name) if v.isdigit() and len(v) < 10]

    def is_set(self, name: str, value: str = "1") -> bool:
        """Whether the field was sent with this value (a ticked box, a confirm button)."""
        return self.data.get(name) == value

    def prefixed(self, prefix: str) -> dict[str, str]:
        """The fields whose names start with `prefix`, keyed by the rest of the name."""
        return {key[len(prefix):]: value for key, value in self.data.items() if key.startswith(prefix)}


def posted() -> Posted:
    """The current request's posted fields."""
    return Posted(request.form)


def required(data: _T | None) -> _T:
    """The data of a field whose DataRequired or InputRequired validator has passed: after
    `validate()` it is never None (the form's field types allow None for an unvalidated form)."""
    if data is None:
        raise ValueError("a required field has no data: validate the form first")
    return data
