"""Moderation: organisers read the queue of submitted entries with their media and
duplicate flags, and approve, reject or send entries back for changes.

Decisions:
- Only an entry that is currently "submitted" can be decided. A second organiser
  deciding the same entry a moment later gets a Conflict, never a silent overwrite:
  the status change is a compare-and-set UPDATE (WHERE status = 'submitted').
- "return" (send back for changes) puts the entry back to "draft" with the reason;
  the entrant corrects it (text, files, profile, members) and
  `submissions.resubmit_*` sends the same entry again, keeping its place in the queue;
  the queue notes that it came back after a return, and what changed.
- A rejected entry keeps its quota slot until the entrant withdraws it. Freeing the
  slot on rejection would let a person resubmit without limit (spam) and makes a
  rejection cheaper than the quota it guards; withdrawing is the entrant's way out.
- Approving does not resolve the entry's duplicate flags: a flag is a separate
  question ("is this someone else's photo?") and is resolved explicitly.
- The entrant is told through accounts.notify: a notice on the site and an SMS. The
  text is Chinese whatever the organiser's interface language: it is stored and sent
  to a mainland phone, and the entrant's language is not known here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import joinedload, selectinload
from sqlalchemy.orm.interfaces import LoaderOption

from ..accounts import audit
from ..accounts.models import AuditEvent, User
from ..accounts.service import SmsSender, notify
from ..contests import service as contests
from ..contests.models import ENTRY_STATUSES, Contest, Entry
from ..db import SessionLike, rowcount
from ..errors import Conflict, InvalidInput, NotFound
from ..i18n import N_, _, code_labels, label_of
from .models import DuplicateFlag, MediaItem, WithdrawalRequest
from .submissions import RESUBMIT_ACTION

DECISIONS = ("approve", "reject", "return")
REASON_MAX = 500
BULK_MAX = 200
PER_PAGE = 30
# The queue's tabs, in the order a moderator works through them.
QUEUE_STATUSES = ("submitted", "draft", "approved", "rejected", "withdrawn", "all")
# Where the entrant sees their entries, statuses and the moderators' reasons.
MY_ENTRIES_PATH = "/me/entries"

STATUS_LABELS = {
    "draft": N_("待修改"), "submitted": N_("待审核"), "approved": N_("已通过"), "rejected": N_("未通过"),
    "withdrawn": N_("已撤回"), "all": N_("全部"),
}
code_labels("entry_status", STATUS_LABELS)
_AFTER = {"approve": "approved", "reject": "rejected", "return": "draft"}
# The audit actions (and their targets) moderation writes, as the audit page and its export show them.
AUDIT_ACTIONS = code_labels("audit_action", {
    "entry.approve": N_("作品审核通过"), "entry.reject": N_("作品审核不通过"), "entry.return": N_("作品退回修改"),
    "duplicate_flag.resolve": N_("处理疑似重复提示"),
})
code_labels("audit_target", {"entry": N_("作品"), "duplicate_flag": N_("疑似重复提示")})


def status_label(status: str) -> str:
    """An entry status in the reader's language."""
    return _(STATUS_LABELS.get(status, status))


# --- reading --------------------------------------------------------------------------

@dataclass(frozen=True)
class FlagView:
    """A duplicate flag seen from one entry: its image and the other entry's look-alike."""

    flag: DuplicateFlag
    mine: MediaItem | None
    other: MediaItem | None
    other_entry_id: int
    other_title: str
    other_status: str

    @property
    def resolved(self) -> bool:
        return self.flag.resolved_at is not None

    @property
    def other_withdrawn(self) -> bool:
        return self.other_status == "withdrawn"


@dataclass(frozen=True)
class FlagGroup:
    """The flags between one entry and one other entry: one per pair of look-alike images,
    so two entries of several similar photos make several."""

    other_entry_id: int
    other_title: str
    other_status: str
    flags: list[FlagView]

    @property
    def other_withdrawn(self) -> bool:
        return self.other_status == "withdrawn"

    @property
    def closest(self) -> FlagView:
        return min(self.flags, key=lambda f: f.flag.distance)


@dataclass(frozen=True)
class Resubmission:
    """An entry waiting again after it was returned for changes: when, and what changed."""

    at: datetime
    reason: str  # what the organiser asked for
    changes: tuple[str, ...]

    @property
    def change_words(self) -> str:
        return "、".join(label_of("entry_change", c) for c in self.changes)


@dataclass
class ReviewItem:
    """An entry with everything a moderator looks at."""

    entry: Entry
    media: list[MediaItem] = field(default_factory=list)
    flags: list[FlagView] = field(default_factory=list)
    resubmission: Resubmission | None = None

    @property
    def open_flags(self) -> list[FlagView]:
        """Flags still to look at: a flag against a withdrawn entry needs no decision (the
        other entry is gone from the contest), so it is shown once, not counted as open."""
        return [f for f in self.flags if not f.resolved and not f.other_withdrawn]

    @property
    def flag_groups(self) -> list[FlagGroup]:
        """The flags by the other entry they point at, in the order they were raised."""
        groups: dict[int, list[FlagView]] = {}
        for f in self.flags:
            groups.setdefault(f.other_entry_id, []).append(f)
        return [FlagGroup(other, views[0].other_title, views[0].other_status, views) for other, views in groups.items()]


@dataclass(frozen=True)
class QueueQuery:
    contest_id: int | None = None
    status: str = "submitted"
    page: int = 1


def parse_queue_query(args: Mapping[str, str]) -> QueueQuery:
    """Queue filters from a query string; unknown values fall back to the defaults."""
    raw_contest = (args.get("contest") or "").strip()
    status = (args.get("status") or "submitted").strip()
    raw_page = (args.get("page") or "1").strip()
    return QueueQuery(
        contest_id=int(raw_contest) if raw_contest.isdigit() and len(raw_contest) < 10 else None,
        status=status if status in QUEUE_STATUSES else "submitted",
        page=max(1, int(raw_page)) if raw_page.isdigit() and len(raw_page) < 7 else 1,
    )


def _entry_options() -> list[LoaderOption]:
    # Roles and contest categories load lazily elsewhere (selectin); the queue needs neither.
    return [
        joinedload(Entry.contest).lazyload(Contest.categories), joinedload(Entry.school), joinedload(Entry.category),
        joinedload(Entry.group), joinedload(Entry.nominee), joinedload(Entry.submitted_by).lazyload(User.roles),
    ]


def _scoped(session: SessionLike, query: Any, actor: User, contest_id: int | None) -> Any:
    """Entries of the contest asked for (checked), else of every contest the actor moderates."""
    if contest_id is not None:
        contests.require_in(session, actor, contests.get_contest_by_id(session, contest_id), "moderate")
        return query.where(Entry.contest_id == contest_id)
    contests.require_somewhere(actor, "moderate")
    ids = contests.scoped_contest_ids(actor, "moderate")
    return query if ids is None else query.where(Entry.contest_id.in_(ids))


def _contest_of_entry(session: SessionLike, entry_id: int) -> int:
    contest_id = session.scalar(select(Entry.contest_id).where(Entry.id == entry_id))
    if contest_id is None:
        raise NotFound(_("没有找到这件作品。"))
    return contest_id


def contest_of_target(session: SessionLike, *, entry_id: int | None = None, flag_id: int | None = None,
                      request_id: int | None = None) -> Contest:
    """The contest an entry, a duplicate flag or a withdrawal request belongs to (NotFound
    when there is none): the back office checks the person's role in it first."""
    if flag_id is not None:
        flag = session.get(DuplicateFlag, flag_id)
        if flag is None:
            raise NotFound(_("没有找到这条疑似重复提示。"))
        entry_id = flag.entry_id
    if request_id is not None:
        request = session.get(WithdrawalRequest, request_id)
        if request is None:
            raise NotFound(_("没有找到这份撤回申请。"))
        entry_id = request.entry_id
    entry = session.get(Entry, entry_id) if entry_id is not None else None
    if entry is None:
        raise NotFound(_("没有找到这件作品。"))
    return entry.contest


def moderation_queue(
    session: SessionLike, *, actor: User, contest_id: int | None = None, status: str = "submitted", page: int = 1,
    per_page: int = PER_PAGE,
) -> tuple[list[ReviewItem], int]:
    """Entries awaiting (or past) moderation with their media and open duplicate flags, in 5 queries at most."""
    if status not in QUEUE_STATUSES:
        raise InvalidInput(_("未知的作品状态。"), code="unknown_status")
    query = _scoped(session, select(Entry), actor, contest_id)
    if status != "all":
        query = query.where(Entry.status == status)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    # What waits longest comes first; decided entries show the latest decision first.
    order = ((Entry.submitted_at.asc(), Entry.id.asc()) if status == "submitted"
             else (Entry.updated_at.desc(), Entry.id.desc()))
    entries = list(session.scalars(
        query.options(*_entry_options()).order_by(*order).limit(per_page).offset((max(page, 1) - 1) * per_page)
    ).unique())
    return _with_media_and_flags(session, entries, open_only=True), total


def queue_counts(session: SessionLike, *, actor: User, contest_id: int | None = None) -> dict[str, int]:
    """Entries per status (and "all"), in one query, for the queue's tabs."""
    query = _scoped(session, select(Entry.status, func.count()).group_by(Entry.status), actor, contest_id)
    counts = {s: 0 for s in ENTRY_STATUSES}
    counts.update({s: n for s, n in session.execute(query)})
    counts["all"] = sum(counts.values())
    return counts


def entry_for_review(session: SessionLike, *, actor: User, entry_id: int) -> ReviewItem:
    """One entry with its media, profile or team, and every duplicate flag (open and resolved)."""
    contests.require_somewhere(actor, "moderate")
    entry = session.scalar(
        select(Entry).where(Entry.id == entry_id).options(*_entry_options(), selectinload(Entry.team_members))
    )
    if entry is None:
        raise NotFound(_("没有找到这件作品。"))
    contests.require_in(session, actor, entry.contest, "moderate")
    return _with_media_and_flags(session, [entry], open_only=False)[0]


def _with_media_and_flags(session: SessionLike, entries: list[Entry], *, open_only: bool) -> list[ReviewItem]:
    """Media and flags of these entries in three queries, whatever their number."""
    if not entries:
        return []
    ids = [e.id for e in entries]
    items = {e.id: ReviewItem(e) for e in entries}
    media = list(session.scalars(
        select(MediaItem).where(MediaItem.entry_id.in_(ids))
        .order_by(MediaItem.entry_id, MediaItem.position, MediaItem.id)
    ))
    for item in media:
        items[item.entry_id].media.append(item)
    _note_resubmissions(session, [e for e in entries if e.status == "submitted"], items)
    # A flag is stored on the later entry; the earlier one sees it too.
    flag_query = select(DuplicateFlag).where(or_(DuplicateFlag.entry_id.in_(ids), DuplicateFlag.other_entry_id.in_(ids)))
    if open_only:
        flag_query = flag_query.where(DuplicateFlag.resolved_at.is_(None))
    flags = list(session.scalars(flag_query.order_by(DuplicateFlag.id)))
    if not flags:
        return list(items.values())
    known = {m.id: m for m in media}
    wanted = {i for f in flags for i in (f.media_item_id, f.other_media_item_id)} - known.keys()
    titles: dict[int, tuple[str, str]] = {e.id: (e.title, e.status) for e in entries}
    if wanted:
        for item, title, entry_status in session.execute(
            select(MediaItem, Entry.title, Entry.status).join(Entry, Entry.id == MediaItem.entry_id)
            .where(MediaItem.id.in_(wanted))
        ):
            known[item.id] = item
            titles[item.entry_id] = (title, entry_status)
    for flag in flags:
        for entry_id, mine, other_entry_id, other in (
            (flag.entry_id, flag.media_item_id, flag.other_entry_id, flag.other_media_item_id),
            (flag.other_entry_id, flag.other_media_item_id, flag.entry_id, flag.media_item_id),
        ):
            if entry_id in items:
                title, other_status = titles.get(other_entry_id, ("", ""))
                items[entry_id].flags.append(FlagView(flag, known.get(mine), known.get(other), other_entry_id,
                                                      title, other_status))
    return list(items.values())


def _note_resubmissions(session: SessionLike, waiting: list[Entry], items: dict[int, ReviewItem]) -> None:
    """Mark the waiting entries that came back after a return, in one query: the latest
    resubmission in the audit trail of an entry that is waiting is the one it waits with."""
    if not waiting:
        return
    events = session.execute(
        select(AuditEvent.target_id, AuditEvent.created_at, AuditEvent.before, AuditEvent.after)
        .where(AuditEvent.target_type == "entry", AuditEvent.action == RESUBMIT_ACTION,
               AuditEvent.target_id.in_([str(e.id) for e in waiting]))
        .order_by(AuditEvent.id)
    )
    for target_id, at, before, after in events:
        changes = (after or {}).get("changes") or []
        items[int(target_id)].resubmission = Resubmission(
            at=at, reason=str((before or {}).get("moderation_reason") or ""),
            changes=tuple(str(c) for c in changes if isinstance(c, str)))


# --- deciding -------------------------------------------------------------------------

def _reason(decision: str, reason: str | None) -> str:
    text = (reason or "").replace("\r\n", "\n").strip()
    if decision == "approve":
        return ""
    if not text:
        raise InvalidInput(_("请填写原因，作者会看到它。"), code="reason_required", field="reason")
    if len(text) > REASON_MAX:
        raise InvalidInput(_("原因不能超过 %(n)s 个字。", n=REASON_MAX), code="reason_too_long", field="reason")
    return text


def _message(decision: str, title: str, reason: str) -> str:
    if decision == "approve":
        return f"您的作品“{title}”已通过审核，现已公开展示。"
    if decision == "reject":
        return f"您的作品“{title}”未通过审核。原因：{reason}"
    return f"您的作品“{title}”需要修改后重新提交。原因：{reason}"


def decide(
    session: SessionLike, sender: SmsSender, *, actor: User, entry_ids: list[int], decision: str, reason: str,
    now: datetime, ip: str = "",
) -> list[Entry]:
    """Approve, reject or send back one or more submitted entries; audit-logged, entrants notified."""
    contests.require_somewhere(actor, "moderate")
    if decision not in DECISIONS:
        raise InvalidInput(_("请选择审核结果：通过、不通过或退回修改。"), code="unknown_decision", field="decision")
    ids = list(dict.fromkeys(entry_ids))
    if not ids:
        raise InvalidInput(_("请至少选择一件作品。"), code="nothing_selected")
    if len(ids) > BULK_MAX:
        raise InvalidInput(_("一次最多处理 %(n)s 件作品。", n=BULK_MAX), code="too_many_selected")
    text = _reason(decision, reason)
    found = {e.id: e for e in session.scalars(
        select(Entry).where(Entry.id.in_(ids)).options(joinedload(Entry.submitted_by)).with_for_update(of=Entry)
    ).unique()}
    for entry_id in ids:
        entry = found.get(entry_id)
        if entry is None:
            raise NotFound(_("没有找到作品 #%(id)s。", id=entry_id))
        contests.require_in(session, actor, entry.contest, "moderate")
        if entry.status != "submitted":
            raise Conflict(_("作品“%(title)s”（#%(id)s）当前状态为“%(status)s”，只能审核待审核的作品。",
                             title=entry.title, id=entry.id, status=status_label(entry.status)), code="not_submitted")
    entries = [found[i] for i in ids]
    before = {e.id: (e.status, e.moderation_reason) for e in entries}
    after = _AFTER[decision]
    values: dict[str, object] = {"status": after, "moderation_reason": text, "updated_at": now}
    if decision == "approve":
        values["published_at"] = now
    # Compare-and-set: whoever decided an entry first wins, even where the row lock above
    # is not available (SQLite reads outside the write transaction).
    changed = rowcount(session.execute(
        update(Entry).where(Entry.id.in_(ids), Entry.status == "submitted").values(**values)
    ))
    if changed != len(ids):
        raise Conflict(_("有作品刚刚被其他人审核过，请刷新页面后重试。"), code="decided_meanwhile")
    for entry in entries:
        old_status, old_reason = before[entry.id]
        contests.note_contest(session, entry.contest)
        audit.record(session, actor=actor, action=f"entry.{decision}", target_type="entry", target_id=entry.id, now=now,
                     before={"status": old_status, "moderation_reason": old_reason},
                     after={"status": after, "moderation_reason": text}, summary=entry.title, ip=ip)
        if entry.submitted_by is not None:
            notify(session, sender, user=entry.submitted_by, body=_message(decision, entry.title, text), now=now,
                   link=MY_ENTRIES_PATH)
    session.flush()
    return entries


def resolve_duplicate_flag(session: SessionLike, *, actor: User, flag_id: int, now: datetime, ip: str = "") -> DuplicateFlag:
    """Mark a duplicate flag as looked at and settled; audit-logged."""
    contests.require_somewhere(actor, "moderate")
    flag = session.get(DuplicateFlag, flag_id, with_for_update=True)
    if flag is None:
        raise NotFound(_("没有找到这条疑似重复提示。"))
    contests.require_in(session, actor, contests.get_contest_by_id(session, _contest_of_entry(session, flag.entry_id)),
                        "moderate")
    if flag.resolved_at is not None:
        raise Conflict(_("这条疑似重复提示已处理过了。"), code="flag_resolved")
    changed = rowcount(session.execute(
        update(DuplicateFlag).where(DuplicateFlag.id == flag_id, DuplicateFlag.resolved_at.is_(None))
        .values(resolved_at=now)
    ))
    if changed != 1:
        raise Conflict(_("这条疑似重复提示已处理过了。"), code="flag_resolved")
    audit.record(session, actor=actor, action="duplicate_flag.resolve", target_type="duplicate_flag", target_id=flag.id,
                 now=now, before={"resolved_at": None},
                 after={"resolved_at": now, "entry_id": flag.entry_id, "other_entry_id": flag.other_entry_id},
                 summary=f"#{flag.entry_id} ≈ #{flag.other_entry_id}", ip=ip)
    session.flush()
    return flag
