"""The JSON bodies the API sends, built from domain objects. openapi.py declares their
shapes, and the tests hold the two together."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .. import web
from ..clock import to_local
from ..contests.models import STAGES, Category, Contest, Entry, School
from ..contests.service import StageInfo, entered_by_schools
from ..media.models import MediaItem
from ..media.service import public_cover_key
from ..voting import ledger, live
from ..voting.models import LedgerBlock
from .service import PUBLIC_MEDIA_ROLES, ReceiptProof


def when(value: datetime | None) -> str | None:
    """An instant in ISO 8601, Beijing time (what the contest's rules are written in)."""
    return to_local(value).isoformat() if value else None


def media_url(key: str) -> str | None:
    return web.external_url("media.serve", key=key) if key else None


def category(value: Category | None) -> dict[str, Any] | None:
    return {"id": value.id, "kind": value.kind, "name": value.name} if value else None


def school(value: School | None) -> dict[str, Any] | None:
    return {"id": value.id, "name": value.name, "district": value.district} if value else None


def stage(info: StageInfo) -> dict[str, Any]:
    return {"current": info.current, "active": list(info.active), "next_stage": info.next_stage, "next_at": when(info.next_at)}


def contest(value: Contest, info: StageInfo, entries_count: int) -> dict[str, Any]:
    windows = {}
    for name in STAGES:
        start, end = value.window(name)
        windows[name] = {"starts_at": when(start), "ends_at": when(end)} if start and end else None
    return {
        "id": value.id, "slug": value.slug, "kind": value.kind, "title": value.title, "short_title": value.short_title,
        "theme": value.theme, "summary": value.summary,
        "organiser": "、".join(value.organisers), "organisers": value.organisers,
        "district": value.unit.district if value.unit is not None else "", "stage": stage(info),
        "windows": windows, "categories": [category(c) for c in value.categories], "entries_count": entries_count,
        "url": web.external_url("contests.contest_page", slug=value.slug),
    }


def entry_summary(value: Entry, contest_value: Contest) -> dict[str, Any]:
    """Who the entry is credited to is what its pages show, and nothing more: where schools
    enter, the school and the nominee's name; where citizens enter, the author's display
    name (never the account's phone number or any other detail of it)."""
    by_school = entered_by_schools(contest_value)
    author = value.submitted_by.display_name if not by_school and value.submitted_by is not None else ""
    return {
        "id": value.id, "contest": contest_value.slug, "title": value.title, "category": category(value.category),
        "school": school(value.school), "author": author or None,
        "nominee_name": value.nominee.shown_name if by_school and value.nominee is not None else None,
        "cover_url": media_url(public_cover_key(value)), "published_at": when(value.published_at),
        "url": web.external_url("contests.entry_page", slug=contest_value.slug, entry_id=value.id),
    }


def _media_key(item: MediaItem) -> str:
    """What a viewer is served, as on the entry's page: a video's playback rendition once
    it is ready, nothing while it is being made, else (stored before renditions, or the
    rendition failed) its clean original."""
    if item.kind != "video":
        return item.display_key or item.original_key
    if item.playback_state == "ready" and item.playback_key:
        return item.playback_key
    return "" if item.playback_state == "pending" else item.original_key


def media_item(item: MediaItem) -> dict[str, Any]:
    return {
        "kind": item.kind, "url": media_url(_media_key(item)), "thumb_url": media_url(item.thumb_key),
        "poster_url": media_url(item.poster_key), "width": item.width, "height": item.height, "caption": item.caption,
        "alt_text": item.alt_text, "duration_seconds": item.duration_seconds,
        "playback_state": (item.playback_state or None) if item.kind == "video" else None,
    }


def entry_detail(value: Entry, contest_value: Contest, media: list[MediaItem], voting_open: bool,
                 view_token: str | None = None) -> dict[str, Any]:
    nominee = None
    if value.nominee is not None:
        shown = value.nominee.public_fields or {}
        # only what the guardian agreed to show, as on the entry's page
        nominee = {
            "name": value.nominee.shown_name,
            "major": value.nominee.major if shown.get("major") else None,
            "grade": value.nominee.grade if shown.get("major") and value.nominee.grade else None,
            "story": value.nominee.story if shown.get("story") else None,
        }
    return {
        **entry_summary(value, contest_value),
        "group": category(value.group), "description": value.description, "nominee": nominee,
        "team": [{"name": m.name, "role": m.role, "major": m.major} for m in value.team_members],
        "media": [media_item(m) for m in media if m.role in PUBLIC_MEDIA_ROLES and m.kind in ("image", "video")],
        "voting_open": voting_open,
        "view_token": view_token if voting_open else None,
    }


def page(items: list[dict[str, Any]], *, page_number: int, per_page: int, pages: int, total: int) -> dict[str, Any]:
    return {"items": items, "page": page_number, "per_page": per_page, "pages": pages, "total": total}


def receipt(proof: ReceiptProof) -> dict[str, Any]:
    return {
        "receipt": proof.receipt, "status": proof.status,
        "entry": {"id": proof.entry.id, "title": proof.entry.title},
        "contest": {"id": proof.contest.id, "slug": proof.contest.slug, "title": proof.contest.title},
        "cast_at": when(proof.cast_at),
        "events": [_proven_event(i, fields) for i, fields in zip(proof.events, proof.fields, strict=True)],
    }


def block(value: LedgerBlock) -> dict[str, Any]:
    """A sealed block with every field its hash covers; `hashed` is exactly the object
    hashed (docs/LEDGER.md), `sealed_at` the same instant in Beijing time for people."""
    return {
        "height": value.id, "version": value.version, "hash": value.hash, "prev_hash": value.prev_hash,
        "merkle_root": value.merkle_root, "tree_size": value.tree_size, "first_event_id": value.first_event_id,
        "last_event_id": value.last_event_id, "event_count": value.event_count, "sealed_at": when(value.sealed_at),
        "hashed": ledger.hashed_fields(value),
    }


def _proven_event(inclusion: ledger.Inclusion, fields: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "kind": inclusion.event.kind, "at": when(inclusion.event.at), "digest": inclusion.event.digest,
        "format": inclusion.event.format, "fields": fields,
        "block": block(inclusion.block) if inclusion.block else None,
        "proof": inclusion.proof, "leaf_index": inclusion.leaf_index, "tree_size": inclusion.tree_size,
        "audit_path": list(inclusion.path),
    }


def leaves(found: ledger.BlockLeaves) -> dict[str, Any]:
    return {"height": found.block.id, "first_leaf": found.first_leaf, "leaves": found.digests}


def consistency(found: ledger.Consistency) -> dict[str, Any]:
    return {"first": block(found.first), "second": block(found.second), "proof": list(found.path)}


def leaderboard(contest_value: Contest, category_id: int | None, board: live.Board) -> dict[str, Any]:
    """The board's rows, ranked as on the web page; while the rules hide live counts the
    ranking stays and the numbers go. Where minors' counts are private their entries are
    on no board (`private_left_out`)."""
    items = [{
        "rank": row.rank, "entry_id": row.entry_id, "title": board.entry(row).title,
        "category": category(board.entry(row).category), "cover_url": media_url(public_cover_key(board.entry(row))),
        "votes": row.votes if board.counts_visible else None,
    } for row in board.rows]
    return {"contest": contest_value.slug, "category_id": category_id, "counts_hidden": not board.counts_visible,
            "private_left_out": board.private_left_out, "items": items}
