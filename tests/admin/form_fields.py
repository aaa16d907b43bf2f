"""Reading back-office pages as a browser would: a form's fields, the error shown."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from typing import Any


class _FormReader(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.forms: list[dict[str, list[str]]] = []
        self._form: dict[str, list[str]] | None = None
        self._select: tuple[str, list[tuple[str | None, bool]]] | None = None
        self._option: list[Any] | None = None
        self._textarea: tuple[str, list[str]] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: (v or "") for k, v in attrs}
        if tag == "form":
            self._form = {}
            self.forms.append(self._form)
        if self._form is None or "disabled" in a:
            return
        name = a.get("name")
        if tag == "input" and name:
            kind = a.get("type", "text").lower()
            if kind in ("checkbox", "radio"):
                if "checked" in a:
                    self._form.setdefault(name, []).append(a.get("value", "on"))
            elif kind not in ("submit", "button", "file", "image", "reset"):
                self._form.setdefault(name, []).append(a.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = (name, [])
        elif tag == "select" and name:
            self._select = (name, [])
        elif tag == "option" and self._select is not None:
            self._option = [a.get("value") if "value" in a else None, "selected" in a, ""]

    def handle_data(self, data: str) -> None:
        if self._textarea is not None:
            self._textarea[1].append(data)
        if self._option is not None:
            self._option[2] += data

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self._form = None
        elif tag == "textarea" and self._textarea is not None and self._form is not None:
            # A browser drops the newline right after <textarea> and sends line breaks as CRLF.
            text = "".join(self._textarea[1]).replace("\r\n", "\n")
            text = text[1:] if text.startswith("\n") else text
            self._form.setdefault(self._textarea[0], []).append(text.replace("\n", "\r\n"))
            self._textarea = None
        elif tag == "option" and self._option is not None and self._select is not None:
            value, selected, text = self._option
            self._select[1].append((value if value is not None else text.strip(), selected))
            self._option = None
        elif tag == "select" and self._select is not None and self._form is not None:
            name, options = self._select
            chosen = [v for v, selected in options if selected] or [v for v, _s in options[:1]]
            if chosen:
                self._form.setdefault(name, []).append(chosen[0])
            self._select = None


def form_fields(html: str, containing: str) -> dict[str, Any]:
    """The fields of the first form on the page with a field named `containing`."""
    reader = _FormReader()
    reader.feed(html)
    for form in reader.forms:
        if containing in form:
            return {k: v if len(v) > 1 else v[0] for k, v in form.items()}
    raise AssertionError(f"no form with a field {containing!r}")


ERROR_RE = re.compile(r'<p class="(?:notice notice-error" role="alert|error-message)">(.*?)</p>')
FIELD_ERROR_RE = re.compile(r'<small id="([^"]+)-error" class="field-error">(.*?)</small>')


def error_message(html: str) -> str:
    """The refusal shown on a page: above a form, or on the error page, or else the first
    message shown beside a field."""
    match = ERROR_RE.search(html)
    if match:
        return match.group(1)
    errors = field_errors(html)
    assert errors, "no error shown on the page"
    return next(iter(errors.values()))


def field_errors(html: str) -> dict[str, str]:
    """The messages shown beside fields (each tied to its field by id), field id → message."""
    return {m.group(1): m.group(2) for m in FIELD_ERROR_RE.finditer(html)}
