"""Titles and names show as they read: no reordering (bidirectional overrides), no
invisible characters, and a value made only of them counts as empty."""

from __future__ import annotations

import pytest

from contest.text import clean_line, clean_text
from tests.media.conftest import assert_nothing_stored, entries, jpeg, page, photo_entry, send, submit_url, upload


@pytest.mark.parametrize(("typed", "shown"), [
    ("作品\u202egpj.exe", "作品gpj.exe"),              # right-to-left override: would show "作品exe.jpg"
    ("\u2066张三\u2069", "张三"),                          # isolates
    ("张\u200b三", "张三"),                                # zero-width space: a look-alike of another name
    ("\ufeff灶台前的火候\u00ad", "灶台前的火候"),            # byte-order mark, soft hyphen
    ("\u3164", ""), ("\u200b\u200c\u200d\u2060", ""),       # blank-looking filler; nothing but invisibles
    ("  泉城\t\t 光影 ", "泉城 光影"),                       # runs of spaces made one
    ("👩\u200d🔧 女技师", "👩\u200d🔧 女技师"),                # the joiner inside an emoji stays
    ("a\u200db", "ab"),                                    # … and goes elsewhere
    ("Cafe\u0301", "Café"),                                # one spelling (NFC) for one look
    ("一\u2028二", "一 二"), ("x\x00y\x07", "xy"),
    ("张\u034f三", "张三"), ("作品\ufe00\u180b\u17b4", "作品"),   # grapheme joiner, variation selectors, invisibles
    ("\U000e0100\U000e0041\u2800", ""),                   # supplementary variation selector, tag, braille blank
])
def test_a_line_shows_as_it_reads(typed: str, shown: str) -> None:
    assert clean_line(typed) == shown


def test_a_text_keeps_its_lines_and_indentation() -> None:
    typed = "\u3000\u3000第一段\u202e。  \r\n\r\n\u3000\u3000第二段\u200b\n\n"
    assert clean_text(typed) == "\u3000\u3000第一段。\n\n\u3000\u3000第二段"


def test_a_disguised_title_is_stored_as_it_shows(client, citizen, media_contest) -> None:
    photos = [upload(jpeg(mark=3), "one.jpg", "image/jpeg")]
    response = send(client, submit_url(media_contest), photo_entry(media_contest, "泉水\u202egpj.exe", photos=photos))
    assert response.status_code == 302, page(response)[:1000]
    [entry] = entries()
    assert entry.title == "泉水gpj.exe"


def test_an_invisible_title_is_refused_as_empty(app, client, citizen, media_contest) -> None:
    photos = [upload(jpeg(mark=4), "one.jpg", "image/jpeg")]
    response = send(client, submit_url(media_contest), photo_entry(media_contest, "\u200b\u3164\u200b", photos=photos))
    assert response.status_code == 400
    assert "请填写作品名称。" in page(response)
    assert_nothing_stored(app)


def test_every_form_cleans_its_text_fields() -> None:
    """Every form of the site is a BaseForm (or a row of one), so no text field escapes."""
    import importlib
    import pkgutil

    from flask_wtf import FlaskForm
    from wtforms import Form

    import contest
    from contest.forms import BaseForm, BaseSubForm

    for module in pkgutil.walk_packages(contest.__path__, "contest."):
        importlib.import_module(module.name)

    def subclasses(cls: type) -> set[type]:
        found = set(cls.__subclasses__())
        return found.union(*(subclasses(c) for c in found)) if found else found

    forms = {c for c in subclasses(Form) if c.__module__.startswith("contest.")} - {BaseForm, BaseSubForm}
    assert forms, "no forms found"
    strays = sorted(f"{c.__module__}.{c.__name__}" for c in forms if not issubclass(c, (BaseForm, BaseSubForm)))
    assert strays == []
    assert not [c for c in subclasses(FlaskForm) if c.__module__.startswith("contest.") and not issubclass(c, BaseForm)]
