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

__all__ = ["N_", "_", "gettext", "lazy_gettext", "ngettext"]
