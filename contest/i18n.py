"""Message translation for services.

Services raise errors with messages a citizen reads. They are translated with the
active locale when there is a request, and stay in Chinese (the source language)
in the CLI, tests and benchmarks where there is none.
"""

from __future__ import annotations

from flask_babel import gettext, lazy_gettext, ngettext

_ = gettext

__all__ = ["_", "gettext", "lazy_gettext", "ngettext"]
