"""Guardian consent of a minor's nomination (最美职校生): who may download the printable
form, open the signed one, and withdraw consent (media.consent_form makes and stores the
forms; media.submissions requires the signed form for a nominee under 18).

The signed form is opened only by the organisers and the contacts of the school that sent
the nomination. `NomineeProfile.guardian_consent` is true while a signed form is on file.

Withdrawing consent is the guardian's right at any time, exercised through the school's
contact. A parent who withdraws consent expects the child to disappear from the site, not
a card with the name blanked and the school still beside it: so the nomination itself is
withdrawn at once, whatever the stage (no organiser approval, unlike an ordinary
withdrawal once voting has started). Every public surface (gallery, entry page,
leaderboard, share card, API) shows approved entries only, so none of them shows the
student's name, photo or story any more. The display choices are cleared as well, and
the signed form stays on file for the organisers as the record of what had been agreed.
"""

from __future__ import annotations

from datetime import datetime

from ..accounts import audit, units
from ..accounts.models import User
from ..contests.models import Contest, Entry
from ..db import SessionLike
from ..errors import Conflict, NotFound
from ..i18n import N_, _, code_labels
from .consent_form import Choices, signed_form_of, template_pdf
from .models import MediaItem
from .submissions import get_own_entry, schools_of, take_out

WITHDRAWN_ACTION = "entry.consent_withdrawn"
code_labels("audit_action", {WITHDRAWN_ACTION: N_("监护人撤回同意，推荐已撤下")})


def template_for_nomination(session: SessionLike, *, actor: User, contest: Contest, school_id: int | None,
                            nominee: str, choices: Choices) -> bytes:
    """The printable form for a nomination being filled in (the name may still be blank):
    the school must be one the actor acts for."""
    if contest.kind != "selection":
        raise NotFound(_("本活动不接受此类投稿。"))
    school = next((s for s in schools_of(session, actor) if s.id == school_id), None)
    if school is None:
        raise NotFound(_("只有学校联络人可以为本校的推荐下载同意书。"))
    return template_pdf(contest_title=contest.title, school=school.name, nominee=" ".join(nominee.split())[:40],
                        choices=choices)


def template_for_entry(session: SessionLike, *, actor: User, entry_id: int) -> bytes:
    """The printable form for a nomination already sent, filled from its profile."""
    entry = get_own_entry(session, actor, entry_id)
    nominee = entry.nominee
    if nominee is None or entry.school is None:
        raise NotFound(_("没有找到这件作品。"))
    return template_pdf(contest_title=entry.contest.title, school=entry.school.name, nominee=nominee.name,
                        choices=Choices.of(nominee.public_fields or {}))


def consent_document(session: SessionLike, *, actor: User, entry_id: int) -> MediaItem:
    """The signed form of a nomination, for those who moderate its contest (by their role in
    the contest's unit) and the school that sent it; NotFound for anyone else."""
    entry = session.get(Entry, entry_id)
    if entry is None or not units.can(actor, "moderate", unit_id=entry.contest.unit_id, contest_id=entry.contest_id):
        get_own_entry(session, actor, entry_id)
    item = signed_form_of(session, entry_id)
    if item is None:
        raise NotFound(_("这件推荐没有上传监护人同意书。"))
    return item


def withdraw_consent(session: SessionLike, *, actor: User, entry_id: int, now: datetime, ip: str = "") -> Entry:
    """The school's contact records that the guardian withdrew consent: the nomination is
    withdrawn at once and nothing of the student stays public (see above); audit-logged."""
    entry = get_own_entry(session, actor, entry_id)
    nominee = entry.nominee
    if nominee is None or not nominee.guardian_consent:
        raise Conflict(_("这件推荐没有有效的监护人同意书，无需撤回同意。"), code="no_consent")
    before = {"status": entry.status, "public_fields": dict(nominee.public_fields or {})}
    nominee.guardian_consent = False
    nominee.public_fields = {"photo": False, "major": False, "story": False, "school": False, "name": "surname"}
    if entry.status != "withdrawn":
        take_out(session, entry, now)
    audit.record(session, actor=actor, action=WITHDRAWN_ACTION, target_type="entry", target_id=entry.id, now=now,
                 before=before, after={"status": entry.status, "public_fields": nominee.public_fields},
                 summary=entry.title, ip=ip)
    session.flush()
    return entry
