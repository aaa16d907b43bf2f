"""A publication's public bundle: the inputs and the outputs of its results as one JSON
document, so anyone can recompute the results without trusting the platform
(verifier/verify.py --bundle; the format is docs/LEDGER.md §10).

What it holds, all from the frozen publication except the judges' marks:
- the formula exactly as fingerprinted (formulas.canonical_json) and its fingerprint;
- the sealed ledger head the votes were counted up to;
- the counted votes of each entry as of that head (the publication's rows);
- each judging round the formula reads, with its rubric and method and every submitted
  mark per criterion, judges under aliases (评委 A, 评委 B…, per round, in the order of
  their account ids): never a judge's name, id or comment;
- the published rows: ranks, scores, awards;
- where its events are: every sealed ledger event the tally counted, voters by their
  pseudonyms, one JSON line each with its leaf index (``event_lines``, a download of its
  own: a million votes are a million lines), so the counts re-derive event by event and
  each event can be found among the ledger's leaves.

Minors (contests.minors_hidden on the day of publication): where the rules keep their
counts private, their votes, vote score, round scores and marks are left out — any of
them with the published total would give the count away — their total is given to two
decimals as the page shows it, and the bundle lists them under ``withheld``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from typing import Any

from ..contests import service as contests
from ..contests.models import Contest
from ..db import SessionLike
from ..errors import NotFound
from ..i18n import _
from ..judging import service as judging
from ..voting import ledger
from . import formulas
from . import service as results
from .models import Publication

BUNDLE_FORMAT = 2


def judge_alias(index: int) -> str:
    """评委 A … 评委 Z, then 评委 AA, AB…: the index-th judge of a round (from 0)."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(ord("A") + rest) + letters
    return f"评委 {letters}"


def public_publication(session: SessionLike, contest: Contest, version: int | None) -> Publication:
    """The publication the public may read: the current one, or an earlier version."""
    current = results.current_publication(session, contest)
    if current is None:
        raise NotFound(_("结果尚未公布。"), code="not_published")
    if version is None or version == current.version:
        return current
    found = next((p for p in results.publications(session, contest)
                  if p.version == version and p.state in results.PUBLIC_STATES), None)
    if found is None:
        raise NotFound(_("没有这一版结果。"), code="version_not_found")
    return found


def _round_of(session: SessionLike, contest: Contest, key: str, withheld: set[int]) -> dict[str, Any] | None:
    rnd = next((r for r in judging.rounds_of(session, contest) if r.key == key), None)
    if rnd is None:
        return None
    criteria = {c.id: f"c{i}" for i, c in enumerate(rnd.criteria, 1)}
    marks = judging.submitted_scores(session, rnd)
    aliases = {judge: judge_alias(i) for i, judge in enumerate(sorted({m.judge_id for m in marks}))}
    return {
        "key": rnd.key, "name": rnd.name, "aggregation": rnd.aggregation, "normalise": rnd.normalise,
        "min_scores": rnd.min_scores,
        "criteria": [{"key": criteria[c.id], "name": c.name, "maximum": c.maximum, "weight": c.weight} for c in rnd.criteria],
        "marks": [{"entry_id": m.entry_id, "judge": aliases[m.judge_id],
                   "values": {criteria[cid]: value for cid, value in m.values.items()}}
                  for m in marks if m.entry_id not in withheld],
        "withheld_marks": sum(1 for m in marks if m.entry_id in withheld),
    }


def _row(row: dict[str, Any], withheld: bool) -> dict[str, Any]:
    out = {key: row.get(key) for key in ("entry_id", "title", "school", "category", "group", "rank", "awards")}
    if withheld:
        final = row.get("final_score")
        out["final_score"] = None if final is None else float(formulas.format_score(final))
        return out
    out.update({key: row.get(key) for key in ("valid_votes", "vote_score", "round_scores", "final_score")})
    return out


def _canonical(kind: str, formula: dict[str, Any]) -> str | None:
    try:
        return formulas.canonical_json(kind, formula)
    except ValueError:  # a formula stored under an older format: the verifier says it cannot read it
        return None


def _withheld(session: SessionLike, contest: Contest, publication: Publication) -> set[int]:
    entry_ids = [int(r["entry_id"]) for r in publication.rows]
    return set(contests.minors_hidden(session, contest, entry_ids, results.published_on(publication)))


def _upto(publication: Publication) -> int:
    return int((publication.ledger_head or {}).get("events") or 0)


def event_lines(session: SessionLike, contest: Contest, publication: Publication) -> Iterator[str]:
    """The publication's events (docs/LEDGER.md §10.1), one JSON line each, in sealing
    order: the leaf index, the digest, the format and, from format 3 on, every field the
    digest covers (the voter by their pseudonym); older formats, whose digests cover an
    account id, give the entry, the status and the receipt's SHA-256 instead. Withheld
    entries' events are left out."""
    for leaf, row in ledger.published_events(session, contest_id=contest.id, upto=_upto(publication),
                                             leave_out=_withheld(session, contest, publication)):
        line: dict[str, Any] = {"leaf": leaf, "digest": row.digest, "format": row.format, "fields": None}
        if row.format >= 3:
            line["fields"] = ledger.replayed_fields(row)
        else:
            line.update(entry=row.entry_id, vote_status=row.vote_status,
                        receipt_sha256=hashlib.sha256(row.receipt.encode("ascii")).hexdigest())
        yield json.dumps(line, sort_keys=True, separators=(",", ":"), ensure_ascii=True) + "\n"


def bundle_of(session: SessionLike, contest: Contest, publication: Publication) -> dict[str, Any]:
    """The publication's bundle as JSON-able data (docs/LEDGER.md §10)."""
    withheld = _withheld(session, contest, publication)
    rounds = [found for item in publication.rounds
              if (found := _round_of(session, contest, item["key"], withheld)) is not None]
    return {
        "bundle_format": BUNDLE_FORMAT,
        "contest": {"id": contest.id, "slug": contest.slug, "title": contest.title, "kind": contest.kind},
        "publication": {"version": publication.version, "state": publication.state,
                        "computed_at": publication.computed_at.isoformat(),
                        "confirmed_at": publication.confirmed_at.isoformat() if publication.confirmed_at else None},
        "formula": {"fingerprint": publication.fingerprint, "canonical": _canonical(contest.kind, publication.formula)},
        "ledger_head": dict(publication.ledger_head or {}),
        "votes": [{"entry_id": int(r["entry_id"]), "valid_votes": int(r.get("valid_votes") or 0)}
                  for r in publication.rows if int(r["entry_id"]) not in withheld],
        "rounds": rounds,
        "rows": [_row(r, int(r["entry_id"]) in withheld) for r in publication.rows],
        "withheld": sorted(withheld),
        "events": {
            "href": f"/c/{contest.slug}/results/events.jsonl?version={publication.version}",
            "count": ledger.published_event_count(session, contest_id=contest.id, upto=_upto(publication),
                                                  leave_out=withheld),
        },
    }


def public_bundle(session: SessionLike, contest: Contest, version: int | None) -> dict[str, Any]:
    """The bundle of the current publication (or of an earlier public version)."""
    return bundle_of(session, contest, public_publication(session, contest, version))
