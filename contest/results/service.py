"""Results: the formula as published data, counting valid votes from the sealed ledger,
combining them with finalised rounds, publication by two organisers with a 公示 period,
objections (异议) and their answers.

Rules this module keeps:
- The formula is fixed once the first vote is cast or the first score submitted (only a
  score, for a contest without a public vote). A later change needs an explicit override with a reason; every change is in
  FormulaChange and the audit log, and the public page shows overrides.
- Votes are counted by replaying the ledger up to its sealed head: cast (valid or held),
  void, release. The vote table is only used to cross-check; a disagreement is shown to
  organisers as a warning and blocks publication.
- Only finalised rounds count; a preview says which rounds are missing.
- Publishing takes two organisers: one requests, a different one confirms. A publication
  freezes formula, fingerprint, ledger head and every breakdown; an amendment is a new
  version with a reason, and old versions stay visible.
- Objections are filed by signed-in, phone-verified citizens only during 公示; the public
  sees text, answer and outcome without who filed them.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import defer, selectinload

from ..accounts import audit
from ..accounts.actors import Actor, actor_id
from ..accounts.models import User
from ..clock import to_local
from ..contests import service as contests
from ..contests.models import Contest, Entry
from ..db import SessionLike
from ..errors import Conflict, Forbidden, InvalidInput, NotFound, PayloadTooLarge, TooMany, UnsupportedMediaType
from ..i18n import N_, _, code_labels
from ..judging import service as judging
from ..judging.models import Round, Score
from ..media.service import Document, ImageDecoder, Storage, check_document
from ..voting import figures, ledger, live
from ..voting.figures import Figures
from ..voting.figures import figures as vote_figures
from ..voting.models import Vote
from . import formulas
from .models import FormulaChange, Objection, ObjectionEvidence, Publication, ResultFormula

PUBLICITY_DAYS = 5
OBJECTION_MAX = 2000
OBJECTION_MIN = 10
OBJECTIONS_PER_DAY = 5
EVIDENCE_FILES = 5
EVIDENCE_BYTES = 10 * 1024 * 1024


# --- the formula -------------------------------------------------------------------


def formula_of(session: SessionLike, contest: Contest) -> tuple[dict[str, Any], str]:
    """The contest's formula (stored, or the kind's default) and its fingerprint."""
    stored = session.get(ResultFormula, contest.id)
    if stored is not None:
        return stored.formula, stored.fingerprint
    formula = formulas.default_formula(contest.kind)
    return formula, formulas.fingerprint(contest.kind, formula)


def locks_at(contest: Contest) -> datetime | None:
    """The earliest the formula can become fixed: voting opens (judging, without a public vote)."""
    return contest.voting_starts_at or contest.judging_starts_at


@dataclass(frozen=True)
class FormulaLock:
    """Whether a contest's formula is still freely editable, and why not.

    It locks at the first thing the formula will be applied to: the first vote cast (kinds
    with a public vote) or the first score a judge submits, whichever comes first. Not at a
    window's start: a contest set up with its voting already open would otherwise be locked
    before its organisers could set the formula, while no vote yet depends on it."""

    opens_at: datetime | None  # locks_at(contest): voting opens, or judging without a public vote
    public_vote: bool  # the kind has a public vote, so a vote locks it as well as a score
    locked_at: datetime | None  # the first vote or submitted score, None while editable
    locked_by: str  # "vote" or "score" (what came first), "" while editable

    @property
    def locked(self) -> bool:
        return self.locked_at is not None


def formula_lock(session: SessionLike, contest: Contest, now: datetime) -> FormulaLock:
    """Whether the contest's formula is locked at `now` (FormulaLock says when and by what)."""
    public_vote = contests.rules_of(contest).has_public_vote
    first_vote = session.scalar(select(func.min(Vote.created_at)).where(Vote.contest_id == contest.id, Vote.created_at <= now)) \
        if public_vote else None
    # A reopened score was submitted once: it still counts as the judging having begun.
    scored = func.coalesce(Score.submitted_at, Score.reopened_at)
    first_score = session.scalar(select(func.min(scored)).join(Round, Round.id == Score.round_id)
                                 .where(Round.contest_id == contest.id, scored <= now))
    firsts = sorted((at, by) for at, by in ((first_vote, "vote"), (first_score, "score")) if at is not None)
    locked_at, locked_by = firsts[0] if firsts else (None, "")
    return FormulaLock(opens_at=locks_at(contest), public_vote=public_vote, locked_at=locked_at, locked_by=locked_by)


def set_formula(
    session: SessionLike, *, actor: Actor, contest: Contest, formula: dict[str, Any], now: datetime,
    reason: str = "", override: bool = False, ip: str = "",
) -> ResultFormula:
    """Store a formula. Once locked (formula_lock) it takes override=True and a reason."""
    contests.require_in(session, actor, contest, "results")
    try:
        clean = formulas.check_formula(contest.kind, formula)
    except ValueError as exc:
        raise InvalidInput(str(exc), code="invalid_formula") from None
    fingerprint = formulas.fingerprint(contest.kind, clean)
    stored = session.get(ResultFormula, contest.id)
    current, before = formula_of(session, contest)
    if fingerprint == before:
        # Saving what is already in force (the default included) changes nothing.
        if stored is None:
            stored = ResultFormula(contest_id=contest.id, formula=current, fingerprint=before, updated_at=now)
            session.add(stored)
        return stored
    lock = formula_lock(session, contest, now)
    is_override = lock.locked
    reason = (reason or "").strip()
    if is_override and not override:
        if lock.locked_by == "vote":
            message = _("已经有人投票，计分公式已锁定；如确需修改，请以“特别变更”提交并说明理由，变更将公开显示。")
        else:
            message = _("已经有评委提交评分，计分公式已锁定；如确需修改，请以“特别变更”提交并说明理由，变更将公开显示。")
        raise Conflict(message, code="formula_locked")
    if is_override and len(reason) < 5:
        raise InvalidInput(_("特别变更必须说明理由（至少 5 个字）。"), field="reason")
    if stored is None:
        stored = ResultFormula(contest_id=contest.id, formula=clean, fingerprint=fingerprint, updated_at=now)
        session.add(stored)
    stored.formula, stored.fingerprint, stored.updated_at = clean, fingerprint, now
    stored.updated_by_id = actor_id(actor)
    session.add(FormulaChange(contest_id=contest.id, fingerprint_before=before, fingerprint_after=fingerprint,
                              formula=clean, is_override=is_override, reason=reason[:500],
                              actor_id=actor_id(actor), created_at=now))
    audit.record(session, actor=actor, action="results.formula_override" if is_override else "results.formula",
                 target_type="contest", target_id=contest.id, now=now, before={"fingerprint": before},
                 after={"fingerprint": fingerprint, "reason": reason} if is_override else {"fingerprint": fingerprint},
                 summary=contest.short_title or contest.title, ip=ip)
    session.flush()
    return stored


def formula_history(session: SessionLike, contest: Contest) -> list[FormulaChange]:
    return list(session.scalars(select(FormulaChange).where(FormulaChange.contest_id == contest.id)
                                .order_by(FormulaChange.id)))


# --- counting votes from the ledger -------------------------------------------------


def ledger_tally(session: SessionLike, contest: Contest) -> Figures:
    """Counted, held and voided votes per entry as the contest's sealed ledger events leave
    them (voting.figures, sealed view). Events not sealed yet are counted out and reported."""
    return vote_figures(session, contest.id, sealed=True)


# --- computing ---------------------------------------------------------------------


def referenced_rounds(contest: Contest, formula: dict[str, Any]) -> list[str]:
    """The judging rounds the contest's formula reads, by key."""
    return formulas.kind_of(contest.kind).rounds(formula)


@dataclass
class Computation:
    contest: Contest
    formula: dict[str, Any]
    fingerprint: str
    tally: Figures
    rounds: list[Round]
    results: list[Any]  # formulas.EntryResult, best first
    entries: dict[int, Entry]
    warnings: list[str] = field(default_factory=list)

    @property
    def blocking(self) -> bool:
        return bool(self.warnings)

    def explanation(self) -> list[formulas.Line]:
        """The formula and every entry's arithmetic, with category, group and round names."""
        names = {c.id: c.name for c in self.contest.categories}
        return formulas.explanation(self.contest.kind, self.formula, self.results, names=names,
                                    rounds={r.key: r.name for r in self.rounds})

    def explain(self) -> list[str]:
        """explanation() as plain text, in the reader's language."""
        return formulas.plain_text(self.explanation(), _)


def round_names(session: SessionLike, contest: Contest) -> dict[str, str]:
    return {r.key: r.name for r in judging.rounds_of(session, contest)}


def award_rules(session: SessionLike, contest: Contest) -> list[str]:
    """The contest's award scheme from its formula, in the reader's language, for the
    public rules (rounds by name)."""
    formula, _fingerprint = formula_of(session, contest)
    try:
        lines = formulas.award_rules(contest.kind, formula, rounds=round_names(session, contest))
    except ValueError:  # a formula stored under an older format: the 公示 page still shows its fingerprint
        return []
    return [formulas.render(line, _) for line in lines]


def compute(session: SessionLike, contest: Contest) -> Computation:
    """Results as they would be published now, with what stands in the way."""
    formula, fingerprint = formula_of(session, contest)
    tally = ledger_tally(session, contest)
    warnings: list[str] = []
    rounds_by_key = {r.key: r for r in judging.rounds_of(session, contest)}
    scores: dict[str, dict[int, judging.FinalScore]] = {}
    used_rounds = []
    for key in referenced_rounds(contest, formula):
        rnd = rounds_by_key.get(key)
        if rnd is None:
            warnings.append(_("公式引用的评审轮次“%(key)s”不存在。", key=key))
            continue
        used_rounds.append(rnd)
        if rnd.state != "finalised":
            warnings.append(_("评审轮次“%(name)s”尚未定稿。", name=rnd.name))
            continue
        scores[key] = judging.final_scores(session, rnd)
    if tally.unsealed:
        warnings.append(_("还有 %(n)d 条投票记录未封存进区块，请稍候再发布。", n=tally.unsealed))
    if tally.mismatched:
        warnings.append(_("账本与投票表不一致（%(n)d 票），请先运行 flask votes verify 检查。", n=len(tally.mismatched)))
    entries = {e.id: e for e in session.scalars(
        select(Entry).where(Entry.contest_id == contest.id, Entry.status == "approved").order_by(Entry.id))}
    # Minors as of the sealed head (no later than publication, and age only grows: an
    # entry private then is private when published).
    private = contests.minors_hidden(session, contest, list(entries), tally.as_of or contest.created_at)
    inputs = []
    for entry in entries.values():
        round_scores: dict[str, float | None] = {}
        tie: tuple[float, ...] = ()
        for key in referenced_rounds(contest, formula):
            final = scores.get(key, {}).get(entry.id)
            round_scores[key] = final.score if final else None
            if final:
                tie = tie + final.tie_break
        inputs.append(formulas.EntryInput(
            entry_id=entry.id, title=entry.title, category_id=entry.category_id, group_id=entry.group_id,
            valid_votes=tally.counted(entry.id), round_scores=round_scores, tie_break=tie,
            count_public=entry.id not in private,
        ))
    results = formulas.compute(contest.kind, formula, inputs)
    return Computation(contest, formula, fingerprint, tally, used_rounds, results, entries, warnings)


def breakdown_rows(comp: Computation) -> list[dict[str, Any]]:
    """Each entry's breakdown as frozen, public data."""
    rows = []
    for r in comp.results:
        entry = comp.entries.get(r.entry_id)
        rows.append({
            "entry_id": r.entry_id, "title": entry.title if entry else "",
            "school": entry.school.name if entry and entry.school else "",
            "category": entry.category.name if entry and entry.category else "",
            "group": entry.group.name if entry and entry.group else "",
            "valid_votes": r.valid_votes, "held_votes": comp.tally.of(r.entry_id).held,
            "voided_votes": comp.tally.of(r.entry_id).voided,
            "vote_score": _num(r.vote_score), "round_scores": {k: _num(v) for k, v in r.round_scores.items()},
            "weights": dict(r.weights), "final_score": _num(r.final_score), "rank": r.rank,
            "award": r.award, "awards": list(getattr(r, "awards", ()) or ([r.award] if r.award else [])),
        })
    return rows


def _num(value: Any) -> float | None:
    return None if value is None else round(float(value), 4)


# --- publication -------------------------------------------------------------------


# the publications the public may read: the current one and the versions it replaced
PUBLIC_STATES = ("publicity", "final", "superseded")


def publications(session: SessionLike, contest: Contest, *, rows: bool = True) -> list[Publication]:
    """Every version of the contest's results, latest first (with `rows=False`, each one's
    rows are read only if asked for: a breakdown per entry, tens of thousands of them)."""
    query = select(Publication).where(Publication.contest_id == contest.id)
    if not rows:
        query = query.options(defer(Publication.rows))
    return list(session.scalars(query.order_by(Publication.version.desc())))


def current_publication(session: SessionLike, contest: Contest, *, rows: bool = True) -> Publication | None:
    """The results the public sees: the latest in 公示 or final (with `rows=False`, its
    rows — a breakdown per entry — are read only if asked for)."""
    query = select(Publication).where(
        Publication.contest_id == contest.id, Publication.state.in_(("publicity", "final")))
    if not rows:
        query = query.options(defer(Publication.rows))
    return session.scalar(query.order_by(Publication.version.desc()).limit(1))


def get_publication(session: SessionLike, publication_id: int) -> Publication:
    found = session.get(Publication, publication_id)
    if found is None:
        raise NotFound(_("没有这次发布。"))
    return found


def request_publication(
    session: SessionLike, *, actor: Actor, contest: Contest, now: datetime, publicity_days: int = PUBLICITY_DAYS,
    amendment_reason: str = "", ip: str = "",
) -> Publication:
    """The first organiser's step: freeze the results as computed now (after sealing the
    ledger's pending events) and wait for a second organiser's confirmation."""
    contests.require_in(session, actor, contest, "results")
    if not 1 <= publicity_days <= 30:
        raise InvalidInput(_("公示期应为 1 到 30 天。"), field="publicity_days")
    if contest.voting_ends_at is not None and now < contest.voting_ends_at:
        raise Conflict(_("投票尚未结束，不能发布结果。"), code="voting_open")
    if session.scalar(select(Publication.id).where(Publication.contest_id == contest.id, Publication.state == "pending")):
        raise Conflict(_("已有一份结果在等待确认。"), code="pending_exists")
    previous = current_publication(session, contest)
    reason = (amendment_reason or "").strip()
    if previous is not None and len(reason) < 5:
        raise InvalidInput(_("结果已公布，更正须说明理由（至少 5 个字），理由将公开显示。"), field="reason")
    ledger.seal_pending(session, now=now + ledger.SEAL_GRACE)
    comp = compute(session, contest)
    if comp.blocking:
        raise Conflict("；".join(comp.warnings), code="not_ready")
    version = (session.scalar(select(func.max(Publication.version)).where(Publication.contest_id == contest.id)) or 0) + 1
    publication = Publication(
        contest_id=contest.id, version=version, state="pending", formula=comp.formula, fingerprint=comp.fingerprint,
        ledger_head=comp.tally.head_info(), rows=breakdown_rows(comp),
        rounds=[{"key": r.key, "name": r.name, "finalised_at": r.finalised_at.isoformat() if r.finalised_at else None}
                for r in comp.rounds],
        computed_at=now, amendment_reason=reason[:500], publicity_days=publicity_days,
        requested_by_id=actor_id(actor), requested_at=now,
    )
    session.add(publication)
    session.flush()
    audit.record(session, actor=actor, action="results.request", target_type="publication", target_id=publication.id,
                 now=now, after={"version": version, "fingerprint": comp.fingerprint, "reason": reason},
                 summary=contest.short_title or contest.title, ip=ip)
    return publication


def confirm_publication(session: SessionLike, *, actor: User, publication: Publication, now: datetime, ip: str = "") -> Publication:
    """The second organiser's confirmation: the results go public and 公示 starts. Always
    a person: the system cannot be the second organiser."""
    if not isinstance(actor, User):
        raise Forbidden(_("您没有权限进行此操作。"))  # the second organiser is a person, never the system
    # Both people must be organisers of the contest's own unit (operators count as such).
    contests.require_in(session, actor, publication.contest, "results")
    if publication.state != "pending":
        raise Conflict(_("这份结果不在等待确认状态。"))
    if publication.requested_by_id == actor.id:
        raise Forbidden(_("发布结果需要另一位组织者确认，不能由提交人本人确认。"), code="second_organiser_required")
    for older in session.scalars(select(Publication).where(
        Publication.contest_id == publication.contest_id, Publication.state.in_(("publicity", "final")))):
        older.state = "superseded"
    publication.state = "publicity"
    publication.confirmed_by_id, publication.confirmed_at = actor.id, now
    publication.publicity_ends_at = now + timedelta(days=publication.publicity_days)
    session.flush()
    keep_daily_chart(session, publication)
    audit.record(session, actor=actor, action="results.publish", target_type="publication", target_id=publication.id,
                 now=now, after={"version": publication.version, "publicity_ends_at": publication.publicity_ends_at},
                 summary=publication.contest.short_title or publication.contest.title, ip=ip)
    return publication


def keep_daily_chart(session: SessionLike, publication: Publication) -> None:
    """Store the results page's chart of counted votes per day with a confirmed
    publication, counted once from the ledger: at a million votes that is seconds of work
    no visitor should wait for (published_votes_by_day reads it)."""
    if not live.has_public_vote(publication.contest):
        return
    entry_ids = [int(row["entry_id"]) for row in publication.rows]
    hidden = contests.minors_hidden(session, publication.contest, entry_ids, published_on(publication))
    days = _published_days_counted(session, publication.contest, publication, set(hidden))
    publication.daily = {"leave_out": sorted(hidden), "days": [list(day) for day in days]}


def cancel_publication(session: SessionLike, *, actor: Actor, publication: Publication, now: datetime, ip: str = "") -> None:
    contests.require_in(session, actor, publication.contest, "results")
    if publication.state != "pending":
        raise Conflict(_("只能撤回等待确认的结果。"))
    publication.state = "cancelled"
    audit.record(session, actor=actor, action="results.cancel", target_type="publication", target_id=publication.id,
                 now=now, summary=f"v{publication.version}", ip=ip)
    session.flush()


def finalise_publication(session: SessionLike, *, actor: Actor, publication: Publication, now: datetime, ip: str = "") -> Publication:
    """After 公示, with every objection answered, the results become final."""
    contests.require_in(session, actor, publication.contest, "results")
    if publication.state != "publicity":
        raise Conflict(_("只有公示中的结果可以确认为最终结果。"))
    if publication.publicity_ends_at and now < publication.publicity_ends_at:
        raise Conflict(_("公示期尚未结束。"), code="publicity_running")
    open_count = session.scalar(select(func.count()).select_from(Objection).where(
        Objection.publication_id == publication.id, Objection.answered_at.is_(None))) or 0
    if open_count:
        raise Conflict(_("还有 %(n)d 条异议未答复。", n=open_count), code="objections_open")
    publication.state = "final"
    publication.finalised_at = now
    publication.finalised_by_id = actor_id(actor)
    audit.record(session, actor=actor, action="results.finalise", target_type="publication", target_id=publication.id,
                 now=now, summary=f"v{publication.version}", ip=ip)
    session.flush()
    return publication


def in_publicity(publication: Publication | None, now: datetime) -> bool:
    return bool(publication and publication.state == "publicity" and publication.publicity_ends_at
                and now < publication.publicity_ends_at)


def row_of(publication: Publication, entry_id: int) -> dict[str, Any] | None:
    return next((row for row in publication.rows if row.get("entry_id") == entry_id), None)


# --- objections --------------------------------------------------------------------


@dataclass(frozen=True)
class Upload:
    filename: str
    data: bytes


@dataclass(frozen=True)
class _CheckedFile:
    document: Document
    size: int
    name: str


def _check_evidence(upload: Upload, decoder: ImageDecoder | None) -> _CheckedFile:
    """An image (re-encoded, metadata stripped) or a PDF, recognised by its content."""
    if len(upload.data) > EVIDENCE_BYTES:
        raise PayloadTooLarge(_("每个证明文件不能超过 10 MB。"), code="file_too_large")
    document = check_document(upload.data, max_bytes=EVIDENCE_BYTES, decoder=decoder)
    if document is None:
        raise UnsupportedMediaType(_("证明文件只接受 JPEG、PNG、WebP 图片或 PDF。"), code="unsupported_evidence")
    return _CheckedFile(document, len(upload.data), upload.filename[-200:])


def objection_refusal(publication: Publication | None, now: datetime) -> str | None:
    """Why no objection can be filed now, or None while 公示 runs."""
    if in_publicity(publication, now):
        return None
    if publication is not None and publication.state == "publicity" and publication.publicity_ends_at:
        return _("公示期已于 %(end)s 结束，不能再提出异议。", end=_local_text(publication.publicity_ends_at))
    return _("本活动目前不在公示期，不能提出异议。")


SUBJECT_LABELS = {"entry": N_("作品或参赛资格"), "votes": N_("投票情况"), "score": N_("评审评分")}
OUTCOME_LABELS = {"upheld": N_("异议成立"), "partly": N_("部分成立"), "rejected": N_("异议不成立")}
PUBLICATION_STATE_LABELS = {"pending": N_("待确认"), "publicity": N_("公示中"), "final": N_("最终结果"),
                            "cancelled": N_("已撤回"), "superseded": N_("已被更正版本取代")}
code_labels("publication_state", PUBLICATION_STATE_LABELS)
code_labels("objection_subject", SUBJECT_LABELS)  # held by the audit rows of objections
code_labels("objection_outcome", OUTCOME_LABELS)
# The audit actions (and their targets) this module writes, as the audit page and its export show them.
AUDIT_ACTIONS = code_labels("audit_action", {
    "results.formula": N_("修改结果公式"),
    "results.formula_override": N_("特别变更结果公式"),
    "results.request": N_("提交结果待确认"),
    "results.publish": N_("确认公布结果"),
    "results.cancel": N_("撤回待确认的结果"),
    "results.finalise": N_("确认最终结果"),
    "results.objection": N_("提出异议"),
    "results.objection_answer": N_("答复异议"),
})
code_labels("audit_target", {"publication": N_("结果版本"), "objection": N_("异议")})


def file_objection(
    session: SessionLike, *, user: User, contest: Contest, entry_id: int | None, subject: str, body: str,
    uploads: Sequence[Upload] = (), storage: Storage, now: datetime, ip: str = "", decoder: ImageDecoder | None = None,
) -> Objection:
    """A citizen's objection during 公示; refused with a clear message outside it."""
    if not isinstance(user, User) or not user.is_authenticated:
        raise Forbidden(_("请先登录再提出异议。"), code="login_required")
    if user.phone_verified_at is None:
        raise Forbidden(_("请先验证手机号再提出异议。"), code="unverified")
    publication = current_publication(session, contest)
    refusal = objection_refusal(publication, now)
    if refusal or publication is None:
        over = publication is not None and publication.state == "publicity"
        raise Conflict(refusal or "", code="publicity_over" if over else "not_in_publicity")
    if subject not in SUBJECT_LABELS:
        raise InvalidInput(_("请选择异议类型。"), field="subject")
    if entry_id is not None and row_of(publication, entry_id) is None:
        raise InvalidInput(_("请选择本次公示中的作品。"), field="entry_id")
    body = (body or "").strip()
    if len(body) < OBJECTION_MIN:
        raise InvalidInput(_("请写明异议的事实和理由（至少 %(n)d 个字）。", n=OBJECTION_MIN), field="body")
    if len(body) > OBJECTION_MAX:
        raise InvalidInput(_("异议内容不能超过 %(n)d 字。", n=OBJECTION_MAX), field="body")
    if len(uploads) > EVIDENCE_FILES:
        raise InvalidInput(_("最多上传 %(n)d 个证明文件。", n=EVIDENCE_FILES), field="files")
    today = session.scalar(select(func.count()).select_from(Objection).where(
        Objection.filed_by_id == user.id, Objection.contest_id == contest.id,
        Objection.filed_at >= now - timedelta(days=1))) or 0
    if today >= OBJECTIONS_PER_DAY:
        raise TooMany(_("24 小时内最多提出 %(n)d 条异议。", n=OBJECTIONS_PER_DAY), code="objection_quota")
    # Every file is checked before any is stored: a refusal leaves nothing behind.
    checked = [_check_evidence(upload, decoder) for upload in uploads if upload.data]
    evidence = [ObjectionEvidence(storage_key=storage.put(f.document.data, f.document.extension),
                                  content_type=f.document.content_type, size=f.size, original_name=f.name)
                for f in checked]
    objection = Objection(contest_id=contest.id, publication_id=publication.id, entry_id=entry_id, subject=subject,
                          body=body, filed_by_id=user.id, filed_at=now, evidence=evidence)
    session.add(objection)
    session.flush()
    audit.record(session, actor=user, action="results.objection", target_type="objection", target_id=objection.id,
                 now=now, after={"entry": entry_id, "subject": subject, "files": len(evidence)},
                 summary=contest.short_title or contest.title, ip=ip)
    return objection


def _local_text(value: datetime) -> str:
    return to_local(value).strftime("%Y-%m-%d %H:%M")


def answer_objection(
    session: SessionLike, *, actor: Actor, objection: Objection, answer: str, outcome: str, now: datetime, ip: str = "",
) -> Objection:
    """An organiser's public answer. An upheld objection that changes results is
    followed by an amendment (a new publication version with its reason)."""
    contests.require_somewhere(actor, "results")  # nobody without the right learns whether it exists
    contests.require_in(session, actor, contests.get_contest_by_id(session, objection.contest_id), "results")
    answer = (answer or "").strip()
    if len(answer) < 5:
        raise InvalidInput(_("请写明答复内容（至少 5 个字）。"), field="answer")
    if outcome not in OUTCOME_LABELS:
        raise InvalidInput(_("请选择处理结论。"), field="outcome")
    if objection.answered_at is not None:
        raise Conflict(_("这条异议已经答复过了。"))
    objection.answer, objection.outcome = answer[:OBJECTION_MAX], outcome
    objection.answered_by_id, objection.answered_at = actor_id(actor), now
    session.flush()
    audit.record(session, actor=actor, action="results.objection_answer", target_type="objection",
                 target_id=objection.id, now=now, after={"outcome": outcome}, summary=answer[:100], ip=ip)
    return objection


def get_objection(session: SessionLike, objection_id: int) -> Objection:
    found = session.get(Objection, objection_id)
    if found is None:
        raise NotFound(_("没有这条异议。"))
    return found


def objections(session: SessionLike, contest: Contest, *, answered: bool | None = None) -> list[Objection]:
    query = select(Objection).where(Objection.contest_id == contest.id).options(
        selectinload(Objection.entry), selectinload(Objection.evidence))
    if answered is not None:
        query = query.where(Objection.answered_at.is_not(None) if answered else Objection.answered_at.is_(None))
    return list(session.scalars(query.order_by(Objection.filed_at.desc(), Objection.id.desc())))


# --- transparency and charts -----------------------------------------------------------


def competing_query(contest: Contest) -> Select[Any]:
    """The ids of the entries in the running (approved): the only ones public totals and
    charts sum, as the boards and results list only them."""
    return select(Entry.id).where(Entry.contest_id == contest.id, Entry.status == "approved")


# published_votes_by_day's answers, by what decides them: a publication's frozen head,
# entries and the entries left out never change, and counting them replays the contest's
# sealed events (seconds at a million votes), so each process counts them once.
_DAYS_KEPT = 32
_published_days: dict[tuple[Any, ...], list[tuple[str, int]]] = {}


def published_votes_by_day(session: SessionLike, contest: Contest, publication: Publication,
                           leave_out: set[int]) -> list[tuple[str, int]]:
    """Counted votes per Asia/Shanghai day of the publication's entries, as the ledger stood
    at the head the publication froze, less the entries left out (minors' whose counts
    the rules withhold): the days sum to the published counts shown beside them."""
    stored = publication.daily
    if stored is not None and set(stored.get("leave_out") or ()) == set(leave_out):
        return [(day, int(n)) for day, n in stored.get("days") or ()]
    head = publication.ledger_head or {}
    key = (contest.id, publication.id, publication.version, head.get("hash"), head.get("events"),
           frozenset(leave_out))
    if head.get("hash") and key in _published_days:
        return list(_published_days[key])
    found = _published_days_counted(session, contest, publication, leave_out)
    if head.get("hash"):
        while len(_published_days) >= _DAYS_KEPT:
            _published_days.pop(next(iter(_published_days)), None)
        _published_days[key] = found
    return found


def _published_days_counted(session: SessionLike, contest: Contest, publication: Publication,
                            leave_out: set[int]) -> list[tuple[str, int]]:
    upto = int((publication.ledger_head or {}).get("events") or 0)
    entry_ids = {int(row["entry_id"]) for row in publication.rows}
    counted = dict(figures.counted_by_day(session, contest.id, upto=upto, only=entry_ids, leave_out=leave_out))
    if not counted:
        return []
    # Every day from the first vote to the last, a day without votes as 0: a gap in the
    # chart must read as a quiet day, not vanish.
    first, last = min(counted), max(counted)
    return [(day.isoformat(), counted.get(day, 0))
            for day in (first + timedelta(days=i) for i in range((last - first).days + 1))]


# --- the transparency report ----------------------------------------------------------------------

def published_on(publication: Publication) -> datetime:
    """The day results count from: when the second organiser confirmed them."""
    return publication.confirmed_at or publication.computed_at


@dataclass(frozen=True)
class VoidedRow:
    entry_id: int
    title: str
    reason: str
    votes: int | None  # None: not public (a minor's)


@dataclass(frozen=True)
class HeldRow:
    entry_id: int
    title: str
    votes: int | None


# Rows of the transparency page's tables per page: at a million votes tens of thousands
# of entries have voided votes.
TRANSPARENCY_ROWS = 100


@dataclass(frozen=True)
class TablePage:
    """Which page of a table is shown: `page` of `pages`, `total` rows in all."""

    page: int = 1
    pages: int = 1
    total: int = 0


@dataclass
class Transparency:
    voided: list[VoidedRow]  # the page of them shown
    by_reason: list[tuple[str, int]]
    held: list[HeldRow]  # the page of them shown
    total_valid: int | None  # None while live counts are hidden and nothing is published
    total_held: int
    total_voided: int
    minors_hidden: bool
    publication: Publication | None
    withheld_entries: int = 0  # entries with votes whose counts the rules keep private (minors')
    as_of: datetime | None = None  # the moment the figures describe: the vote table now, not the sealed ledger
    voided_page: TablePage = field(default_factory=TablePage)
    held_page: TablePage = field(default_factory=TablePage)
    # every publication the public may read, newest first, each with the ledger head it counted up to
    published: list[Publication] = field(default_factory=list)


def transparency_report(session: SessionLike, contest: Contest, now: datetime, *, voided_page: int = 1,
                        held_page: int = 1, per_page: int = TRANSPARENCY_ROWS) -> Transparency:
    """Voided votes per entry and reason, held votes and totals of the entries in the
    running, as the vote table has them now (voting.figures: the fraud desk's figures,
    less what the rules withhold); the rows of the two tables `per_page` at a time (pages
    `voided_page` and `held_page`), the totals over all of them.

    Where the rules hide minors' vote counts, their entries' rows say so instead of a
    number and their figures are left out of every total and of the per-reason summary:
    a total that included them, less the counts shown beside it, would give a minor's
    count away. The page says how many entries' figures are withheld and why, so it never
    reads as "no voided votes" when a withheld entry has some."""
    per_page = max(1, per_page)
    publication = current_publication(session, contest, rows=False)
    competing = competing_query(contest)
    hidden: set[int] = set()
    if contests.hides_minor_votes(contest):
        with_votes = figures.entries_with_votes(session, contest.id, among=competing)
        hidden = contests.minors_hidden(session, contest, with_votes, published_on(publication) if publication else now)
    # the totals and the pages shown, summed and sorted by the database (a contest may have
    # tens of thousands of entries with votes); withheld entries rank as if they had none
    voided, voided_at, voided_total = figures.ranked_page(session, contest.id, "voided", among=competing, by_reason=True,
                                                          sink=hidden, wanted=voided_page, per_page=per_page)
    held, held_at, held_total = figures.ranked_page(session, contest.id, "held", among=competing, sink=hidden,
                                                    wanted=held_page, per_page=per_page)
    # titles of the rows shown only (two columns), not the entries with their schools, categories and nominees
    shown_ids = {row.entry_id for row in voided} | {row.entry_id for row in held}
    titles: dict[int, str] = {entry_id: title for entry_id, title in session.execute(
        select(Entry.id, Entry.title).where(Entry.id.in_(shown_ids or {0})))}
    shown = figures.summed(session, contest.id, among=competing, leave_out=hidden)
    withheld = 0
    if hidden:
        withheld = len(set(figures.entries_with_votes(session, contest.id, among=competing, statuses=("held", "voided")))
                       & hidden)
    unexplained = _("未说明")
    by_reason: dict[str, int] = {}
    for reason, n in shown.voided_by_reason.items():
        by_reason[reason or unexplained] = by_reason.get(reason or unexplained, 0) + n
    visible = publication is not None or live.counts_visible(contest, now)
    return Transparency(
        voided=[VoidedRow(r.entry_id, titles.get(r.entry_id, ""), r.reason or unexplained,
                          None if r.entry_id in hidden else r.votes) for r in voided],
        by_reason=sorted(by_reason.items(), key=lambda item: (-item[1], item[0])),
        held=[HeldRow(r.entry_id, titles.get(r.entry_id, ""), None if r.entry_id in hidden else r.votes) for r in held],
        total_valid=shown.counted if visible else None, total_held=shown.held, total_voided=shown.voided,
        minors_hidden=bool(hidden), publication=publication, as_of=now, withheld_entries=withheld,
        voided_page=TablePage(voided_at, max(1, -(-voided_total // per_page)), voided_total),
        held_page=TablePage(held_at, max(1, -(-held_total // per_page)), held_total),
        published=[p for p in publications(session, contest, rows=False) if p.state in PUBLIC_STATES],
    )
