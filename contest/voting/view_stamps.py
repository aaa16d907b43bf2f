"""Signed notes of when an entry was shown to a voter, for the 'time on page' signal.

A page (or the API's entry answer) carries a stamp signed with the site's key; the vote
sends it back, and anti-fraud learns how long the voter looked before voting. A stamp
that is missing, forged, stale, from the future or for another entry counts as unknown.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from itsdangerous import BadSignature, URLSafeSerializer

from .. import web
from .records import ViewStamp

VIEW_TOKEN_MAX_AGE = timedelta(hours=6)
VIEW_TOKEN_MAX_LENGTH = 200


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(web.settings().secret_key, salt="contest.vote-view")


def view_token(contest_id: int, entry_id: int, now: datetime) -> str:
    """A signed note of when this page was shown (entry 0: a gallery page)."""
    return _serializer().dumps([contest_id, entry_id, int(now.timestamp())])


def read_stamp(token: str, now: datetime) -> ViewStamp | None:
    """The page a vote's `token` says was shown, and when; None when missing, forged,
    stale or from the future. Whether it is the voted entry's page is for the vote to
    check (ViewStamp.seen_for: entry 0 is a gallery page, good for any entry of its contest)."""
    if not token or len(token) > VIEW_TOKEN_MAX_LENGTH:
        return None
    try:
        token_contest, token_entry, stamp = _serializer().loads(token)
        seen = datetime.fromtimestamp(int(stamp), UTC)
        contest_id, entry_id = int(token_contest), int(token_entry)
    except (BadSignature, ValueError, TypeError, OverflowError):
        return None
    if not now - VIEW_TOKEN_MAX_AGE <= seen <= now:
        return None
    return ViewStamp(contest_id, entry_id, seen)
