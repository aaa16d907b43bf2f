"""Who may enter the back office: one before-request check every admin blueprint shares."""

from __future__ import annotations

from flask import Response, abort
from flask_login import current_user

from ..extensions import login_manager


def organisers_only() -> Response | None:
    """Signed-out visitors go to the login page; signed-in accounts without the organiser
    or admin role get 403. The services check again for what each action needs."""
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not current_user.has_role("organiser", "admin"):
        abort(403)
    return None
