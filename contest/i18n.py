"""Message translation for services.

Services raise errors with messages a citizen reads. They are translated with the
active locale when there is a request, and stay in Chinese (the source language)
in the CLI, tests and benchmarks where there is none.
"""

from __future__ import annotations

from typing import Any

from flask import has_app_context
from flask_babel import gettext, lazy_gettext, ngettext


def _(message: str, **variables: Any) -> str:
    """Translate for the current request; outside an app (CLI scripts, benchmarks) keep the Chinese source."""
    if has_app_context():
        return gettext(message, **variables)
    return message % variables if variables else message


def N_(message: str) -> str:
    """Marks a message for extraction where it is defined; it is translated where shown."""
    return message


# Codes stored in the database (a round's state, an audit action, an anti-fraud reason …)
# are never shown as they are: each set of codes has its words, declared with N_() by
# the module that defines the codes, and registered here under the set's name so that
# one helper (`label_of`, the templates' `label` filter) shows any of them. A set may be
# declared in parts, by each module that writes some of its codes (the audit actions).
_LABEL_SETS: dict[str, dict[str, str]] = {}


def code_labels(name: str, labels: dict[str, str]) -> dict[str, str]:
    """Register the words of a set of codes (code → N_-marked Chinese) under `name`; returns `labels`."""
    _LABEL_SETS.setdefault(name, {}).update(labels)
    return labels


def label_set(name: str) -> dict[str, str]:
    """Every code of a registered set with its words (untranslated); KeyError for an unknown set."""
    return _LABEL_SETS[name]


def label_of(name: str, code: str | None) -> str:
    """The words for a code, in the reader's language; a code without words is shown as it is."""
    if code is None:
        return ""
    message = _LABEL_SETS[name].get(code)
    return _(message) if message is not None else code


__all__ = ["N_", "_", "code_labels", "gettext", "label_of", "label_set", "lazy_gettext", "ngettext"]
