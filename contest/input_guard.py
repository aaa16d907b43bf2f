"""Input no view should ever see, refused once for the whole app.

- Ids in URLs: every `<int:…>` is bounded to the database's integer range (the models'
  ids are `Integer`, 32-bit on PostgreSQL). A larger number can name no row, and sent to
  the database it fails the query ("integer out of range" on PostgreSQL, OverflowError on
  SQLite beyond 2^63): such a URL matches no route and is a 404.
- Control characters: the C0 controls (NUL and the like) in the path, the query string,
  form fields, uploaded file names and JSON strings are refused with 400 before any view
  uses them. PostgreSQL cannot store NUL in text at all, and nobody types one on a phone:
  they come from tools probing the site. Refusing rather than stripping them means a
  receipt code, phone number or password is always checked as it was sent, never as
  something it silently became. Tab, line feed and carriage return stay allowed: text
  areas send them (browsers send CRLF line breaks).
- JSON bodies: nesting deeper than MAX_JSON_DEPTH (this API's bodies are flat objects) is
  refused before the parser recurses into it, and so are strings that are not valid
  Unicode (a lone surrogate cannot be encoded for the database). A body larger than
  MAX_JSON_BODY is refused unparsed (413), which keeps those checks cheap.
"""

from __future__ import annotations

import json
import re
from typing import Any

from flask import Flask, request
from flask.json.provider import DefaultJSONProvider
from flask.wrappers import Request
from werkzeug.routing import IntegerConverter

from .errors import InvalidInput, PayloadTooLarge
from .i18n import _

# The models' primary and foreign keys are sqlalchemy.Integer: 32-bit signed on PostgreSQL.
MAX_ID = 2**31 - 1
MAX_JSON_DEPTH = 32
# No JSON body this app reads comes near this (the API takes 16 KB at most).
MAX_JSON_BODY = 64 * 1024

# C0 controls but tab (09), line feed (0a) and carriage return (0d).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# The same characters written as JSON escapes, preceded by an even number of backslashes
# (so the escape is real, not the text "\u0000" after an escaped backslash).
_ESCAPED_CONTROL = re.compile(r"(?<!\\)(?:\\\\)*\\u00(?:0[0-8bBcCeEfF]|1[0-9a-fA-F])")
# A string, or the unterminated rest of the text: possessive, and matching wherever it
# starts, so that stripping strings stays linear on any input.
_JSON_STRING = re.compile(r'"(?:[^"\\]|\\.)*+(?:"|\\?\Z)', re.DOTALL)
_NOT_A_BRACKET = re.compile(r"[^\[\]{}]+")


class IdConverter(IntegerConverter):
    """`<int:…>` for ids: 0 … MAX_ID unless the rule says otherwise; beyond it no route
    matches (404)."""

    def __init__(self, map: Any, fixed_digits: int = 0, min: int | None = None, max: int | None = MAX_ID,
                 signed: bool = False) -> None:
        super().__init__(map, fixed_digits=fixed_digits, min=min, max=max, signed=signed)


def control_message() -> str:
    return _("提交的内容里有无法识别的隐藏字符，请删除后重新输入。")


def has_control_character(value: str) -> bool:
    return _CONTROL.search(value) is not None


class GuardedRequest(Request):
    """Form fields and file names are checked when they are parsed, wherever that happens
    first (the CSRF check, a view), so no code can read one that was not checked; a JSON
    body larger than MAX_JSON_BODY is refused before it is parsed."""

    def _load_form_data(self) -> None:
        if "form" in self.__dict__:
            return
        super()._load_form_data()
        fields = [*self.form.items(multi=True), *((name, f.filename or "") for name, f in self.files.items(multi=True))]
        if any(has_control_character(name) or has_control_character(value) for name, value in fields):
            # Nothing unchecked stays readable, even for code that would swallow the error.
            self.__dict__["form"] = self.parameter_storage_class()
            self.__dict__["files"] = self.parameter_storage_class()
            raise InvalidInput(control_message(), code="invalid")

    def get_json(self, force: bool = False, silent: bool = False, cache: bool = True) -> Any:
        if (force or self.is_json) and len(self.get_data(cache=True)) > MAX_JSON_BODY:
            raise PayloadTooLarge(_("上传的内容太大了。"))
        return super().get_json(force=force, silent=silent, cache=cache)


class GuardedJSONProvider(DefaultJSONProvider):
    """Flask's JSON, refusing hostile request bodies (see the module's docstring) with 400.

    The refusal is an InvalidInput, not a ValueError, so it is not silenced by
    `get_json(silent=True)`: such a body is never what a client meant to send.
    """

    ensure_ascii = False

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        text = s.decode(json.detect_encoding(s), "surrogatepass") if isinstance(s, bytes | bytearray) else s
        if _nested_deeper_than(text, MAX_JSON_DEPTH):
            raise InvalidInput(_("请求内容的嵌套层数过多。"), code="bad_json")
        try:
            value = json.loads(text, **kwargs)
        except RecursionError:  # unbalanced brackets the depth check could not pair up
            raise InvalidInput(_("请求内容的嵌套层数过多。"), code="bad_json") from None
        if _ESCAPED_CONTROL.search(text):
            raise InvalidInput(control_message(), code="bad_json")
        try:
            json.dumps(value, ensure_ascii=False).encode("utf-8")
        except UnicodeEncodeError:
            raise InvalidInput(_("请求内容含有无效的字符。"), code="bad_json") from None
        return value


def _nested_deeper_than(text: str, limit: int) -> bool:
    """Whether the brackets of a JSON text nest deeper than `limit`, found without
    recursion and in C-speed passes (a body may be large)."""
    if text.count("[") + text.count("{") <= limit:
        return False
    brackets = _NOT_A_BRACKET.sub("", _JSON_STRING.sub("", text))
    for _level in range(limit):
        inner_removed = brackets.replace("[]", "").replace("{}", "")
        if inner_removed == brackets:
            # Nothing pairs up: unbalanced text, which the parser refuses as invalid JSON.
            return False
        brackets = inner_removed
    return bool(brackets)


def refuse_control_characters() -> None:
    """Before any view: refuse a path or query string carrying a control character."""
    if has_control_character(request.path) or any(
            has_control_character(name) or has_control_character(value) for name, value in request.args.items(multi=True)):
        raise InvalidInput(control_message(), code="invalid_parameter")


def init_input_guard(app: Flask) -> None:
    """Install the id converter, the guarded request and JSON, and the path/query check.
    Called before any blueprint is registered: rules take their converters when added."""
    app.url_map.converters["int"] = IdConverter
    app.request_class = GuardedRequest
    app.json = GuardedJSONProvider(app)
    app.before_request(refuse_control_characters)
