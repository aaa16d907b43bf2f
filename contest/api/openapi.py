"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Every response body has a schema under components/schemas; the tests validate the real
responses of every endpoint against them, so this document cannot drift from the code.
Objects are closed (additionalProperties: false): a field added to a payload without
being declared here fails the tests.
"""

from __future__ import annotations

import copy
from typing import Any

from ..contests.models import CATEGORY_KINDS, DISTRICTS, KINDS, STAGES, TEAM_ROLES
from ..contests.service import GALLERY_SORTS

API_VERSION = "1.0.0"


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _obj(properties: dict[str, Any], *, optional: tuple[str, ...] = ()) -> dict[str, Any]:
    return {
        "type": "object", "properties": properties,
        "required": [name for name in properties if name not in optional], "additionalProperties": False,
    }


def _nullable(schema: dict[str, Any]) -> dict[str, Any]:
    return {"oneOf": [schema, {"type": "null"}]}


STRING = {"type": "string"}
NULLABLE_STRING = {"type": ["string", "null"]}
DATETIME = {"type": "string", "format": "date-time"}
NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}
URL = {"type": "string", "format": "uri"}
NULLABLE_URL = {"type": ["string", "null"], "format": "uri"}
ID = {"type": "integer", "minimum": 1}
COUNT = {"type": "integer", "minimum": 0}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}

ENTRY_SUMMARY = {
    "id": ID, "contest": {"type": "string", "description": "the contest's slug"}, "title": STRING,
    "category": _nullable(_ref("Category")), "school": _nullable(_ref("School")), "cover_url": NULLABLE_URL,
    "published_at": NULLABLE_DATETIME, "url": {**URL, "description": "the entry's public page"},
}

SCHEMAS: dict[str, Any] = {
    "Error": {
        **_obj({"error": _obj({
            "code": {"type": "string", "description": "stable, machine-readable; see the error codes of each operation"},
            "message": {"type": "string", "description": "a sentence for the user, in Chinese by default"},
        })}),
        "description": "The one error shape of the API.",
    },
    "TokenRequest": _obj({"phone": {"type": "string", "examples": ["13700000001"]}, "password": {"type": "string"}}),
    "Token": _obj({
        "token": {"type": "string", "description": "send as `Authorization: Bearer <token>`; shown once"},
        "expires_at": DATETIME,
    }),
    "Stage": _obj({
        "current": {"type": "string", "enum": [*STAGES, "upcoming", "between", "closed"]},
        "active": {"type": "array", "items": {"type": "string", "enum": list(STAGES)}},
        "next_stage": {"type": ["string", "null"], "enum": [*STAGES, None]},
        "next_at": NULLABLE_DATETIME,
    }),
    "Window": _obj({"starts_at": DATETIME, "ends_at": DATETIME}),
    "Category": _obj({"id": ID, "kind": {"type": "string", "enum": list(CATEGORY_KINDS)}, "name": STRING}),
    "School": _obj({"id": ID, "name": STRING, "district": STRING}),
    "Contest": _obj({
        "id": ID, "slug": STRING, "kind": {"type": "string", "enum": list(KINDS)}, "title": STRING, "short_title": STRING,
        "theme": STRING, "summary": STRING, "organiser": STRING, "stage": _ref("Stage"),
        "windows": _obj({name: _nullable(_ref("Window")) for name in STAGES}),
        "categories": {"type": "array", "items": _ref("Category")},
        "entries_count": {**COUNT, "description": "approved entries"},
        "url": URL,
    }),
    "ContestList": _obj({"items": {"type": "array", "items": _ref("Contest")}}),
    "EntrySummary": _obj(ENTRY_SUMMARY),
    "EntryPage": _obj({
        "items": {"type": "array", "items": _ref("EntrySummary"), "maxItems": 50},
        "page": {"type": "integer", "minimum": 1},
        "per_page": {"type": "integer", "minimum": 1, "maximum": 50},
        "pages": {"type": "integer", "minimum": 1},
        "total": COUNT,
    }),
    "Media": _obj({
        "kind": {"type": "string", "enum": ["image", "video"]}, "url": URL, "thumb_url": NULLABLE_URL,
        "poster_url": NULLABLE_URL, "width": COUNT, "height": COUNT, "caption": STRING, "alt_text": STRING,
        "duration_seconds": {"type": ["number", "null"]},
    }),
    "Nominee": _obj({"name": STRING, "major": NULLABLE_STRING, "grade": NULLABLE_STRING, "story": NULLABLE_STRING}),
    "TeamMember": _obj({"name": STRING, "role": {"type": "string", "enum": list(TEAM_ROLES)}, "major": STRING}),
    "Entry": _obj({
        **ENTRY_SUMMARY,
        "group": _nullable(_ref("Category")), "description": STRING, "nominee": _nullable(_ref("Nominee")),
        "team": {"type": "array", "items": _ref("TeamMember")},
        "media": {"type": "array", "items": _ref("Media")},
        "voting_open": {"type": "boolean", "description": "the contest is in its voting window now"},
        "view_token": {**NULLABLE_STRING, "description": (
            "while voting is open: send it back with the vote (VoteRequest.view_token); how long the entry "
            "was shown before the vote is one of the anti-fraud signals")},
    }),
    "Captcha": _obj({
        "id": {"type": "string", "description": "send back as captcha_id with the answer"},
        "expires_at": DATETIME, "image_url": URL, "audio_url": {**URL, "description": "the same code read aloud (accessibility)"},
    }),
    "VoteRequest": {
        **_obj({"captcha_id": STRING, "captcha_answer": STRING, "view_token": {
            **STRING, "description": "Entry.view_token, as received when the entry was shown"}},
            optional=("captcha_id", "captcha_answer", "view_token")),
        "additionalProperties": True,
        "description": "An empty object (or no body) when no captcha is asked for.",
    },
    "VoteAccepted": _obj({
        "vote_id": ID,
        "receipt": {"type": "string", "pattern": "^[A-Z2-9]{12}$", "description": "check it at /receipts/{code}"},
        "votes_left_today": COUNT,
    }),
    "LeaderboardRow": _obj({
        "rank": {"type": "integer", "minimum": 1}, "entry_id": ID, "title": STRING, "category": _nullable(_ref("Category")),
        "cover_url": NULLABLE_URL, "votes": {"type": ["integer", "null"], "minimum": 0, "description": "null while counts are hidden"},
    }),
    "Leaderboard": _obj({
        "contest": STRING, "category_id": {"type": ["integer", "null"]},
        "counts_hidden": {"type": "boolean", "description": "the rules hide live counts now (e.g. the last hours before close)"},
        "items": {"type": "array", "items": _ref("LeaderboardRow")},
    }),
    "Pong": _obj({"ok": {"type": "boolean", "const": True}}),
    "ProofStep": _obj({"side": {"type": "string", "enum": ["left", "right"]}, "hash": SHA256}),
    "Block": _obj({"height": {"type": "integer", "minimum": 1}, "hash": SHA256, "prev_hash": SHA256, "merkle_root": SHA256,
                   "sealed_at": DATETIME}),
    "LedgerEvent": {
        **_obj({
            "kind": {"type": "string", "enum": ["cast", "void", "release"]}, "at": DATETIME, "digest": SHA256,
            "block": _nullable(_ref("Block")),
            "proof": {"type": "array", "items": _ref("ProofStep")},
        }),
        "description": "Folding `digest` with each proof step (sha256 of left‖right, as bytes) gives block.merkle_root. "
                       "block is null until the event is sealed (a few seconds).",
    },
    "Receipt": _obj({
        "receipt": STRING, "status": {"type": "string", "enum": ["counted", "held", "voided"]},
        "entry": _obj({"id": ID, "title": STRING}), "contest": _obj({"slug": STRING, "title": STRING}),
        "cast_at": DATETIME, "events": {"type": "array", "items": _ref("LedgerEvent"), "minItems": 1},
    }),
}


def _error(description: str, codes: tuple[str, ...]) -> dict[str, Any]:
    return {
        "description": f"{description} (error.code: {', '.join(codes)})",
        "content": {"application/json": {"schema": _ref("Error")}},
    }


def _ok(description: str, schema: str, *, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}
    if headers:
        response["headers"] = headers
    return response


RATE_LIMIT_HEADERS = {
    "Retry-After": {"schema": {"type": "integer"}, "description": "seconds to wait"},
    "X-RateLimit-Limit": {"schema": {"type": "integer"}},
    "X-RateLimit-Remaining": {"schema": {"type": "integer"}},
    "X-RateLimit-Reset": {"schema": {"type": "number"}, "description": "Unix time the window resets"},
}
RATE_LIMITED = {**_error("Too many requests", ("rate_limited",)), "headers": RATE_LIMIT_HEADERS}
TOO_LARGE = _error("The body is larger than 16 KB", ("too_large",))
UNAUTHORIZED = _error("Missing, invalid or expired bearer token", ("invalid_token",))
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {"type": "string"}}
ENTRY_ID = {"name": "entry_id", "in": "path", "required": True, "schema": {"type": "integer", "minimum": 1}}
BEARER = [{"bearer": []}]


def _json_body(schema: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(schema)}}}


PATHS: dict[str, Any] = {
    "/auth/token": {"post": {
        "operationId": "issueToken", "summary": "Exchange a phone number and password for a bearer token",
        "requestBody": _json_body("TokenRequest"),
        "responses": {
            "201": _ok("A new token, valid for 30 days", "Token"),
            "400": _error("Malformed body", ("bad_json", "invalid")),
            "401": _error("Wrong phone number or password", ("bad_credentials",)),
            "403": _error("The account is disabled", ("account_disabled",)),
            "413": TOO_LARGE,
            "429": RATE_LIMITED,
        },
    }},
    "/contests": {"get": {
        "operationId": "listContests", "summary": "Published contests in display order",
        "responses": {"200": _ok("The contests", "ContestList")},
    }},
    "/contests/{slug}/entries": {"get": {
        "operationId": "listEntries", "summary": "Approved entries of a contest, searched and paginated",
        "parameters": [
            SLUG,
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 1},
             "description": "past the last page: the last page"},
            {"name": "per_page", "in": "query", "schema": {"type": "integer", "minimum": 1, "default": 12},
             "description": "more than 50 is served as 50 (the body says what was used)"},
            {"name": "q", "in": "query", "schema": {"type": "string", "maxLength": 50},
             "description": "words in the title, the school or the nominee's name"},
            {"name": "category", "in": "query", "schema": {"type": "integer"}, "description": "a category or group id"},
            {"name": "school", "in": "query", "schema": {"type": "integer"}},
            {"name": "district", "in": "query", "schema": {"type": "string", "enum": list(DISTRICTS)}},
            {"name": "sort", "in": "query", "schema": {"type": "string", "enum": list(GALLERY_SORTS), "default": "newest"}},
        ],
        "responses": {
            "200": _ok("One page of entries", "EntryPage"),
            "400": _error("A bad parameter", ("invalid_parameter", "query_too_long")),
            "404": _error("No such contest", ("not_found",)),
        },
    }},
    "/entries/{entry_id}": {"get": {
        "operationId": "getEntry", "summary": "One approved entry with its public media",
        "parameters": [ENTRY_ID],
        "responses": {"200": _ok("The entry", "Entry"), "404": _error("No such public entry", ("entry_not_found", "not_found"))},
    }},
    "/captchas": {"post": {
        "operationId": "createCaptcha", "summary": "A new captcha for a vote (image and audio)",
        "responses": {"201": _ok("The captcha; its answer stays on the server and works once", "Captcha"), "429": RATE_LIMITED},
    }},
    "/entries/{entry_id}/votes": {"post": {
        "operationId": "castVote", "summary": "Vote for an entry",
        "description": "With an Idempotency-Key, a retry of the same request returns the first answer "
                       "(same status and body, header Idempotent-Replayed: true) without voting again.",
        "security": BEARER,
        "parameters": [
            ENTRY_ID,
            {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,80}$"}},
            {"name": "X-Device-Id", "in": "header", "schema": {"type": "string", "maxLength": 64},
             "description": "a stable id of the installation, for fraud checks"},
        ],
        "requestBody": _json_body("VoteRequest", required=False),
        "responses": {
            "201": _ok("The vote is stored", "VoteAccepted", headers={
                "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                                        "description": "present when this is the stored answer to an earlier request"},
            }),
            "400": _error("Malformed body or header", ("bad_json", "invalid", "bad_idempotency_key")),
            "401": UNAUTHORIZED,
            "403": _error("Voting is closed, the voter is not eligible, the entry cannot be voted for, or a captcha is "
                          "needed or was wrong", ("voting_closed", "not_verified", "account_too_new", "entry_not_votable",
                                                  "captcha_required", "captcha_invalid")),
            "404": _error("No such entry", ("entry_not_found",)),
            "409": _error("Already voted for this entry today", ("already_voted", "duplicate_request")),
            "413": TOO_LARGE,
            "422": _error("The Idempotency-Key was used for another request", ("idempotency_mismatch",)),
            "429": {**_error("Today's votes are used up, or too many requests",
                             ("daily_quota", "rate_limited")), "headers": RATE_LIMIT_HEADERS},
        },
    }},
    "/contests/{slug}/leaderboard": {"get": {
        "operationId": "getLeaderboard", "summary": "Entries by valid votes",
        "parameters": [
            SLUG,
            {"name": "category", "in": "query", "schema": {"type": "integer"}},
            {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 50, "default": 20}},
        ],
        "responses": {
            "200": _ok("The leaderboard", "Leaderboard"),
            "400": _error("A bad parameter", ("invalid_parameter",)),
            "404": _error("No such contest, or it has no public vote", ("not_found", "no_public_vote")),
        },
    }},
    "/receipts/{code}": {"get": {
        "operationId": "getReceipt", "summary": "Whether a vote is counted, and the proof it is in the sealed ledger",
        "parameters": [{"name": "code", "in": "path", "required": True, "schema": {"type": "string"}}],
        "responses": {"200": _ok("The receipt's vote (never the voter)", "Receipt"),
                      "404": _error("No such receipt", ("receipt_not_found",))},
    }},
    "/ping": {"get": {
        "operationId": "ping", "summary": "A constant answer: the API is serving (touches no database)",
        "responses": {"200": _ok("Always the same body", "Pong")},
    }},
    "/openapi.json": {"get": {
        "operationId": "getOpenApi", "summary": "This document",
        "responses": {"200": {"description": "The OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}}},
    }},
}


def document() -> dict[str, Any]:
    """The OpenAPI document (a fresh dict, safe to change)."""
    return copy.deepcopy({
        "openapi": "3.1.0",
        "jsonSchemaDialect": "https://json-schema.org/draft/2020-12/schema",
        "info": {
            "title": "济南职教活动周 评选平台 API", "version": API_VERSION,
            "description": "Contests, entries, votes and vote receipts for apps and mini-programs. "
                           "Errors always have the shape {\"error\": {\"code\", \"message\"}}; messages are in Chinese.",
        },
        "servers": [{"url": "/api/v1"}],
        "paths": PATHS,
        "components": {
            "schemas": SCHEMAS,
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer",
                                           "description": "a token from POST /auth/token"}},
        },
    })
