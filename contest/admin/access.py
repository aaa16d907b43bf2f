"""Who may enter the back office, and where: one before-request check every admin
blueprint shares.

Signed-out visitors go to the login page; accounts with no role in any organising unit
(and not the platform's operators) get 403. A page or action about one contest (its id or
slug, or one of its entries, rounds, flags or withdrawal requests in the URL) needs the
person's capability in that contest's unit (accounts.units): reading a page needs the
blueprint's reading capability, changing anything its acting one. The services check
again for what each action needs; lists show only the contests the person may see.
"""

from __future__ import annotations

from flask import Response, abort, request
from flask_login import current_user

from ..accounts import units
from ..contests import service as contests
from ..contests.models import Contest
from ..extensions import db, login_manager
from ..judging import service as judging
from ..media import moderation

# By blueprint: (capability to read its pages, capability to act).
CAPABILITY = {
    "admin": ("view", "configure"),
    "moderation": ("moderate", "moderate"),
    "fraud": ("fraud", "fraud"),
    "judging_admin": ("view", "judging"),
    "results_admin": ("view", "results"),
}
# Actions that only read, open to every role of the unit (viewers make exports too).
READING_ACTIONS = {"results_admin.prepare"}
# Platform-wide records (schools and their contacts, accounts' global roles): city staff only.
CITY_WIDE = {"admin.users", "admin.user_roles", "admin.users_bulk_roles", "admin.schools", "admin.school_edit",
             "admin.school_import_page", "admin.school_import_confirm", "admin.school_import_template"}


def contest_in_url() -> Contest | None:
    """The contest the requested page or action is about, from the URL's arguments."""
    args = request.view_args or {}
    session = db.session
    if "contest_id" in args:
        return contests.get_contest_by_id(session, args["contest_id"])
    if "slug" in args:
        return contests.get_contest(session, args["slug"], include_unpublished=True)
    if "round_id" in args:
        return judging.get_round(session, args["round_id"]).contest
    for key in ("entry_id", "flag_id", "request_id"):
        if key in args:
            return moderation.contest_of_target(session, **{key: args[key]})
    return None


def capability_for(endpoint: str, method: str) -> str:
    reading, acting = CAPABILITY.get(endpoint.partition(".")[0], ("view", "configure"))
    return reading if method in ("GET", "HEAD") or endpoint in READING_ACTIONS else acting


def organisers_only() -> Response | None:
    if not current_user.is_authenticated:
        return login_manager.unauthorized()
    if not units.may_enter_back_office(current_user):
        abort(403)
    if request.endpoint in CITY_WIDE and not units.is_city_staff(current_user):
        abort(403)
    unit_id = (request.view_args or {}).get("unit_id")
    if unit_id is not None:  # a unit's own page: its members see it, its admins change it
        capability = "view" if request.method in ("GET", "HEAD") else "members"
        if not units.can(current_user, capability, unit_id=units.get_unit(db.session, unit_id).id):
            abort(403)
    capability = capability_for(request.endpoint or "", request.method)
    contest = contest_in_url()
    if contest is not None:
        if not units.can(current_user, capability, unit_id=contest.unit_id, contest_id=contest.id):
            abort(403)
    elif unit_id is None and not units.has_anywhere(current_user, capability):
        abort(403)  # a page or action across contests: the capability somewhere (the lists show where)
    return None
