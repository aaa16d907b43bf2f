"""The OpenAPI 3.1 description of /api/v1, served at /api/v1/openapi.json.

Every response body has a schema under components/schemas; the tests validate the real
responses of every endpoint against them, so this document cannot drift from the code.
Objects are closed (additionalProperties: false): a field added to a payload without
being declared here fails the tests.

The document is also the contract for what clients send: every bound and list of values
declared here is enforced by the views with the same constants (a value outside them is a
400, never silently changed or ignored), and every status an operation can answer is
declared on it. tests/api/test_schemathesis.py holds the API to both with generated requests.
"""

from __future__ import annotations

import copy
from typing import Any

from ..antifraud.captcha import ID_MAX_LENGTH as CAPTCHA_ID_MAX
from ..contests.models import CATEGORY_KINDS, DISTRICTS, KINDS, STAGES, TEAM_ROLES
from ..contests.service import GALLERY_SORTS, SEARCH_MAX
from ..contests.service import PER_PAGE as DEFAULT_PER_PAGE

API_VERSION = "1.3.0"

# The bounds the document declares; the views enforce these same values.
MAX_BODY = 16 * 1024  # the largest body any endpoint takes is a few short strings
MAX_ID = 2**31 - 1  # ids are 32-bit integers in the database
MAX_PAGE = 10_000  # 500,000 entries at 50 a page: more than any contest will have
MAX_PER_PAGE = 50
MAX_LEADERBOARD = 50
DEFAULT_LEADERBOARD = 20
DEVICE_ID_MAX = 64
PHONE_MAX = 32  # a number written with +86, spaces and dashes is well under this
PASSWORD_MIN, PASSWORD_MAX = 8, 128  # what accounts.check_password_strength lets anyone set
CAPTCHA_ANSWER_MAX = 16  # codes are 4 or 5 characters; room for stray spaces, as on the web form
CAPTCHA_PURPOSES = ("vote", "login")  # what an API client can be asked to solve


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
# What a client may send in a string (path, query, JSON): no C0 control character but tab,
# line feed and carriage return (the app refuses them everywhere: contest/input_guard.py).
TEXT = {"type": "string", "pattern": "^[^\\u0000-\\u0008\\u000b\\u000c\\u000e-\\u001f]*$"}
NULLABLE_STRING = {"type": ["string", "null"]}
DATETIME = {"type": "string", "format": "date-time"}
NULLABLE_DATETIME = {"type": ["string", "null"], "format": "date-time"}
URL = {"type": "string", "format": "uri"}
NULLABLE_URL = {"type": ["string", "null"], "format": "uri"}
ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
COUNT = {"type": "integer", "minimum": 0}
SHA256 = {"type": "string", "pattern": "^[0-9a-f]{64}$"}

ENTRY_SUMMARY = {
    "id": ID, "contest": {"type": "string", "description": "the contest's slug"}, "title": STRING,
    "category": _nullable(_ref("Category")), "school": _nullable(_ref("School")),
    "author": {**NULLABLE_STRING, "description": (
        "where citizens enter (kind media): the display name the author goes by, as on the entry's page; "
        "null where schools enter, and for an author without a display name")},
    "nominee_name": {**NULLABLE_STRING, "description": (
        "where schools nominate students (kind selection): the nominee's name, as on the entry's page; "
        "null otherwise (a team's members are in Entry.team)")},
    "cover_url": NULLABLE_URL,
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
    "TokenRequest": _obj({
        "phone": {**TEXT, "minLength": 1, "maxLength": PHONE_MAX, "examples": ["13700000001"],
                  "description": "a mainland mobile number; +86, spaces and dashes are allowed"},
        "password": {**TEXT, "minLength": PASSWORD_MIN, "maxLength": PASSWORD_MAX,
                     "description": "every password is set with 8 to 128 characters (letters and digits)"},
        "captcha_id": {**TEXT, "maxLength": CAPTCHA_ID_MAX,
                       "description": "Captcha.id of a captcha created with purpose \"login\"; needed only after "
                                      "this request was answered 403 captcha_required or captcha_invalid"},
        "captcha_answer": {**TEXT, "maxLength": CAPTCHA_ANSWER_MAX, "description": "the characters in its picture"},
    }, optional=("captcha_id", "captcha_answer")),
    "CaptchaRequest": {
        **_obj({"purpose": {"type": "string", "enum": list(CAPTCHA_PURPOSES), "default": "vote"}},
               optional=("purpose",)),
        "description": "What the captcha is for: \"vote\" (VoteRequest) or \"login\" (TokenRequest). "
                       "An empty object (or no body) is a captcha for a vote.",
    },
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
        "theme": STRING, "summary": STRING,
        "organiser": {**STRING, "description": "the organising units' names, 、-separated (organisers lists them)"},
        "organisers": {"type": "array", "items": STRING, "description": "the organising unit, then co-organisers"},
        "district": {**STRING, "description": "the 区县 of a district unit's contest, else empty"}, "stage": _ref("Stage"),
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
        "kind": {"type": "string", "enum": ["image", "video"]},
        "url": {**NULLABLE_URL, "description": "what viewers get: a video's playback rendition (H.264/AAC MP4, at most "
                "1280×720) when ready, null while it is being made, else its clean original"},
        "thumb_url": NULLABLE_URL,
        "poster_url": NULLABLE_URL, "width": COUNT, "height": COUNT, "caption": STRING, "alt_text": STRING,
        "duration_seconds": {"type": ["number", "null"]},
        "playback_state": {"type": ["string", "null"], "enum": ["pending", "ready", "failed", None],
                           "description": "a video's playback rendition: pending (url is null), ready or failed; "
                                          "null for images and videos stored before renditions"},
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
        **_obj({"captcha_id": TEXT, "captcha_answer": TEXT, "view_token": {
            **TEXT, "description": "Entry.view_token, as received when the entry was shown"}},
            optional=("captcha_id", "captcha_answer", "view_token")),
        "description": "An empty object (or no body) when no captcha is asked for.",
    },
    "VoteAccepted": _obj({
        "vote_id": ID,
        "receipt": {"type": "string", "pattern": "^[A-Z2-9]{12}$", "description": "check it at /receipts/{code}"},
        "votes_left_today": COUNT,
    }),
    "LeaderboardRow": _obj({
        "rank": {"type": "integer", "minimum": 1, "description": "competition rank: equal votes share a rank (1, 2, 2, 4)"},
        "entry_id": ID, "title": STRING, "category": _nullable(_ref("Category")),
        "cover_url": NULLABLE_URL, "votes": {"type": ["integer", "null"], "minimum": 0, "description": "null while counts are hidden"},
    }),
    "Leaderboard": _obj({
        "contest": STRING, "category_id": {"type": ["integer", "null"]},
        "counts_hidden": {"type": "boolean", "description": "the rules hide live counts now (e.g. the last hours before close)"},
        "private_left_out": {"type": "boolean", "description": "the rules keep minors' counts private: their entries are on "
                                                               "no board, and ranks are among the other entries"},
        "items": {"type": "array", "items": _ref("LeaderboardRow")},
    }),
    "Pong": _obj({"ok": {"type": "boolean", "const": True}}),
    "ProofStep": _obj({"side": {"type": "string", "enum": ["left", "right"]}, "hash": SHA256}),
    "Block": {
        **_obj({
            "height": {"type": "integer", "minimum": 1}, "version": {"type": "integer", "enum": [1, 2]},
            "hash": SHA256, "prev_hash": SHA256, "merkle_root": SHA256,
            "tree_size": {"type": ["integer", "null"], "minimum": 1,
                          "description": "version 2: the leaves of the tree whose head is merkle_root (every event "
                                         "sealed up to this block); null for version 1"},
            "first_event_id": ID, "last_event_id": ID, "event_count": {"type": "integer", "minimum": 1},
            "sealed_at": DATETIME,
            "hashed": {"type": "object", "description": "exactly the object whose canonical JSON is hashed into `hash` "
                                                         "(sealed_at spelled as hashed: UTC)"},
        }),
        "description": "A sealed block. hash = sha256 of the canonical JSON of `hashed` (docs/LEDGER.md).",
    },
    "EventFields": _obj({
        "format": {"type": "integer", "const": 3}, "kind": {"type": "string", "enum": ["cast", "void", "release"]},
        "at": STRING, "detail_sha256": {**SHA256, "description": "SHA-256 of the event's detail (UTF-8), "
                                                                     "which is for organisers"},
        "contest": ID, "entry": ID, "day": {"type": "string", "format": "date"},
        "cast_at": STRING, "receipt": STRING, "vote_status": {"type": "string", "enum": ["valid", "held", "voided"]},
    }),
    "EventFields4": _obj({
        "format": {"type": "integer", "const": 4}, "kind": {"type": "string", "enum": ["cast", "void", "release"]},
        "at": STRING, "detail_mac": {**SHA256, "description": "HMAC-SHA256 of the event's detail under the contest's "
                                                              "secret: it commits to the detail without revealing it"},
        "contest": ID, "entry": ID, "day": {"type": "string", "format": "date"},
        "cast_at": STRING, "receipt_sha256": {**SHA256, "description": "SHA-256 of the receipt code (ASCII)"},
        "vote_status": {"type": "string", "enum": ["valid", "held", "voided"]},
        "voter": {"type": "string", "pattern": "^[0-9a-f]{32}$",
                  "description": "the voter's pseudonym in this contest, the same for all their votes in it; shown "
                                 "to the receipt's holder on the receipt page"},
    }),
    "BlockLeaves": _obj({
        "height": {"type": "integer", "minimum": 1}, "first_leaf": {"type": "integer", "minimum": 0},
        "leaves": {"type": "array", "items": SHA256, "description": "the digests of the block's events in sealing "
                                                                    "order: leaf first_leaf, first_leaf + 1, …"},
    }),
    "LedgerEvent": {
        **_obj({
            "kind": {"type": "string", "enum": ["cast", "void", "release"]}, "at": DATETIME, "digest": SHA256,
            "format": {"type": "integer", "enum": [1, 2, 3, 4]},
            "fields": {"oneOf": [_ref("EventFields"), _ref("EventFields4"), {"type": "null"}],
                       "description": "what the digest covers, exactly as hashed (digest = sha256 of its canonical "
                                      "JSON); null for formats 1 and 2, whose digests cover the voter's account id"},
            "block": _nullable(_ref("Block")),
            "proof": {"type": "array", "items": _ref("ProofStep"), "description": "version-1 blocks only"},
            "leaf_index": {"type": ["integer", "null"], "minimum": 0},
            "tree_size": {"type": ["integer", "null"], "minimum": 1},
            "audit_path": {"type": "array", "items": SHA256, "description": "version-2 blocks: the RFC 6962 audit path "
                                                                           "of leaf_index in the tree of tree_size leaves"},
        }),
        "description": "Version-2 block: the RFC 6962 audit path (leaf = the digest's 32 bytes, hashed with a 0x00 "
                       "prefix, nodes with 0x01) leads to block.merkle_root. Version 1: folding `digest` with each "
                       "proof step (sha256 of left‖right, as bytes) gives block.merkle_root. block is null until the "
                       "event is sealed (a few seconds).",
    },
    "Receipt": _obj({
        "receipt": STRING, "status": {"type": "string", "enum": ["counted", "held", "voided"]},
        "entry": _obj({"id": ID, "title": STRING}), "contest": _obj({"id": ID, "slug": STRING, "title": STRING}),
        "cast_at": DATETIME, "events": {"type": "array", "items": _ref("LedgerEvent"), "minItems": 1},
    }),
    "Consistency": {
        **_obj({"first": _ref("Block"), "second": _ref("Block"), "proof": {"type": "array", "items": SHA256}}),
        "description": "RFC 6962 §2.1.2 consistency proof: the tree of second.tree_size leaves extends the tree of "
                       "first.tree_size leaves (docs/LEDGER.md).",
    },
}


def _error(description: str, codes: tuple[str, ...], *, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {
        "description": f"{description} (error.code: {', '.join(codes)})",
        "content": {"application/json": {"schema": _ref("Error")}},
    }
    if headers:
        response["headers"] = headers
    return response


def _ok(description: str, schema: str, *, headers: dict[str, Any] | None = None) -> dict[str, Any]:
    response: dict[str, Any] = {"description": description, "content": {"application/json": {"schema": _ref(schema)}}}
    if headers:
        response["headers"] = headers
    return response


RETRY_AFTER = {"required": True, "schema": {"type": "integer", "minimum": 0},
               "description": "seconds to wait before trying again"}
RATE_LIMIT_HEADERS = {
    "Retry-After": RETRY_AFTER,
    "X-RateLimit-Limit": {"schema": {"type": "integer", "minimum": 1}, "description": "requests allowed in the window"},
    "X-RateLimit-Remaining": {"schema": {"type": "integer", "minimum": 0}},
    "X-RateLimit-Reset": {"schema": {"type": "number"}, "description": "Unix time the window resets"},
}
RATE_LIMITED = _error("Too many requests from this address (or account): wait Retry-After seconds", ("rate_limited",),
                      headers=RATE_LIMIT_HEADERS)
UNAVAILABLE = _error("The service cannot take the request now (its database is unreachable or busy): retry after "
                     "Retry-After seconds", ("unavailable",), headers={"Retry-After": RETRY_AFTER})
TOO_LARGE = _error(f"The body is larger than {MAX_BODY // 1024} KB", ("too_large",))
UNSUPPORTED = _error("A body not sent as Content-Type: application/json", ("unsupported_type",))
UNAUTHORIZED = _error("Missing, invalid or expired bearer token", ("invalid_token",), headers={
    "WWW-Authenticate": {"required": True, "schema": {"type": "string", "const": 'Bearer realm="api"'}}})


def _bad_request(description: str = "", codes: tuple[str, ...] = ()) -> dict[str, Any]:
    """An operation's 400: its own bad input, and a control character in the path or query
    string, which the app refuses before any operation runs."""
    url = "a control character (U+0000 to U+001F but tab, LF and CR) in the path or query string"
    return _error(f"{description}, or {url}" if description else url[0].upper() + url[1:],
                  tuple(dict.fromkeys((*codes, "invalid_parameter"))))


BAD_URL = _bad_request()
SLUG = {"name": "slug", "in": "path", "required": True, "schema": {**TEXT, "examples": ["meipai"]},
        "description": "a contest's slug"}
ENTRY_ID = {"name": "entry_id", "in": "path", "required": True, "schema": ID,
            "description": f"ids are 32-bit: one above {MAX_ID} is no entry (404)"}
CATEGORY = {"name": "category", "in": "query", "schema": ID, "description": "a category or group id of the contest"}
BEARER: list[dict[str, list[str]]] = [{"bearer": []}]


def _json_body(schema: str, *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": _ref(schema)}}}


def _with_links(response: dict[str, Any], links: dict[str, Any]) -> dict[str, Any]:
    return {**response, "links": links}


# Links say which answers feed which requests (a client's path through the API; the
# stateful tests follow them).
ENTRIES_OF_CONTEST = {
    "listEntries": {"operationId": "listEntries", "parameters": {"slug": "$response.body#/items/0/slug"}},
    "getLeaderboard": {"operationId": "getLeaderboard", "parameters": {"slug": "$response.body#/items/0/slug"}},
}


def _uses_of_entry(pointer: str) -> dict[str, Any]:
    return {operation: {"operationId": operation, "parameters": {"entry_id": f"$response.body#{pointer}"}}
            for operation in ("getEntry", "castVote")}


PATHS: dict[str, Any] = {
    "/auth/token": {"post": {
        "operationId": "issueToken", "summary": "Exchange a phone number and password for a bearer token",
        "requestBody": _json_body("TokenRequest"),
        "responses": {
            "201": _ok("A new token, valid for 30 days", "Token"),
            "400": _bad_request("Malformed body, an undeclared field, or a phone or password longer or shorter than any "
                                "account can have", ("bad_json", "invalid")),
            "401": _error("Wrong phone number or password", ("bad_credentials",)),
            "403": _error("The account is disabled; or, after many failed sign-ins to this number (from anywhere), a "
                          "captcha is needed (captcha_required: create one with purpose \"login\" and send its id and "
                          "answer with the credentials) or the one sent was wrong or spent (captcha_invalid: get a "
                          "new one)", ("account_disabled", "captcha_required", "captcha_invalid")),
            "413": TOO_LARGE,
            "415": UNSUPPORTED,
            "429": _error("Too many failed sign-ins from this address, to this number or to any (login_throttled), or "
                          "too many requests from this address (rate_limited, with the X-RateLimit headers): wait "
                          "Retry-After seconds. Failures elsewhere never refuse the right password from another "
                          "address; at most they make it need a captcha", ("login_throttled", "rate_limited"),
                          headers=RATE_LIMIT_HEADERS),
            "503": UNAVAILABLE,
        },
    }},
    "/contests": {"get": {
        "operationId": "listContests", "summary": "Published contests in display order",
        "responses": {"200": _with_links(_ok("The contests", "ContestList"), ENTRIES_OF_CONTEST), "400": BAD_URL,
                      "503": UNAVAILABLE},
    }},
    "/contests/{slug}/entries": {"get": {
        "operationId": "listEntries", "summary": "Approved entries of a contest, searched and paginated",
        "description": "A parameter outside its bounds or its list of values is refused (400), never changed or ignored.",
        "parameters": [
            SLUG,
            {"name": "page", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
             "description": "past the last page: the last page"},
            {"name": "per_page", "in": "query",
             "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE, "default": DEFAULT_PER_PAGE}},
            {"name": "q", "in": "query", "schema": {**TEXT, "maxLength": SEARCH_MAX},
             "description": "words in the title, the school or the nominee's name"},
            CATEGORY,
            {"name": "school", "in": "query", "schema": ID, "description": "a school id"},
            {"name": "district", "in": "query", "schema": {"type": "string", "enum": list(DISTRICTS)},
             "description": "the school's district"},
            {"name": "sort", "in": "query", "schema": {"type": "string", "enum": list(GALLERY_SORTS), "default": "newest"},
             "description": "votes is not offered where the rules keep minors' counts private (sort_not_offered)"},
        ],
        "responses": {
            "200": _with_links(_ok("One page of entries", "EntryPage"), _uses_of_entry("/items/0/id")),
            "400": _bad_request("A parameter outside its bounds or its list, or a sort the contest does not offer",
                                ("invalid_parameter", "query_too_long", "sort_not_offered")),
            "404": _error("No such contest", ("not_found",)),
            "503": UNAVAILABLE,
        },
    }},
    "/entries/{entry_id}": {"get": {
        "operationId": "getEntry", "summary": "One approved entry with its public media",
        "parameters": [ENTRY_ID],
        "responses": {
            "200": _with_links(_ok("The entry", "Entry"), {
                "castVote": {"operationId": "castVote", "parameters": {"entry_id": "$response.body#/id"}}}),
            "400": BAD_URL,
            "404": _error("No such public entry", ("entry_not_found", "not_found")),
            "503": UNAVAILABLE,
        },
    }},
    "/captchas": {"post": {
        "operationId": "createCaptcha", "summary": "A new captcha for a vote or a sign-in (image and audio)",
        "requestBody": _json_body("CaptchaRequest", required=False),
        "responses": {
            "201": _ok("The captcha; its answer stays on the server and works once, for its purpose only", "Captcha"),
            "400": _bad_request("Malformed body, an undeclared field, or an unknown purpose",
                                ("bad_json", "invalid", "captcha_purpose")),
            "413": TOO_LARGE,
            "415": UNSUPPORTED,
            "429": RATE_LIMITED,
            "503": UNAVAILABLE,
        },
    }},
    "/entries/{entry_id}/votes": {"post": {
        "operationId": "castVote", "summary": "Vote for an entry",
        "description": "With an Idempotency-Key, a retry of the same request returns the first answer "
                       "(same status and body, header Idempotent-Replayed: true) without voting again.",
        "security": BEARER,
        "parameters": [
            ENTRY_ID,
            {"name": "Idempotency-Key", "in": "header", "schema": {"type": "string", "pattern": "^[\\x21-\\x7e]{1,80}$"}},
            {"name": "X-Device-Id", "in": "header", "schema": {"type": "string", "maxLength": DEVICE_ID_MAX},
             "description": "a stable id of the installation, for fraud checks"},
        ],
        "requestBody": _json_body("VoteRequest", required=False),
        "responses": {
            "201": _with_links(_ok("The vote is stored", "VoteAccepted", headers={
                "Idempotent-Replayed": {"schema": {"type": "string", "enum": ["true"]},
                                        "description": "present when this is the stored answer to an earlier request"},
            }), {"getReceipt": {"operationId": "getReceipt", "parameters": {"code": "$response.body#/receipt"}}}),
            "400": _bad_request("Malformed body or header, or an undeclared field",
                                ("bad_json", "invalid", "bad_idempotency_key")),
            "401": UNAUTHORIZED,
            "403": _error("Voting is closed, the voter is not eligible, the entry cannot be voted for, or a captcha is "
                          "needed or was wrong", ("voting_closed", "not_verified", "account_too_new", "entry_not_votable",
                                                  "captcha_required", "captcha_invalid")),
            "404": _error("No such entry", ("entry_not_found", "not_found")),
            "409": _error("Already voted for this entry today", ("already_voted", "duplicate_request")),
            "413": TOO_LARGE,
            "415": UNSUPPORTED,
            "422": _error("The Idempotency-Key was used for another request", ("idempotency_mismatch",)),
            "429": _error("Today's votes are used up (daily_quota: Retry-After is the seconds until midnight, Beijing "
                          "time, when the quota renews), or too many requests (rate_limited: with Retry-After and the "
                          "X-RateLimit headers)", ("daily_quota", "rate_limited"), headers={
                              **RATE_LIMIT_HEADERS, "Retry-After": RETRY_AFTER}),
            "503": UNAVAILABLE,
        },
    }},
    "/contests/{slug}/leaderboard": {"get": {
        "operationId": "getLeaderboard", "summary": "Entries by valid votes",
        "parameters": [
            SLUG,
            CATEGORY,
            {"name": "limit", "in": "query", "schema": {
                "type": "integer", "minimum": 1, "maximum": MAX_LEADERBOARD, "default": DEFAULT_LEADERBOARD}},
        ],
        "responses": {
            "200": _with_links(_ok("The leaderboard", "Leaderboard"), _uses_of_entry("/items/0/entry_id")),
            "400": _bad_request("A parameter outside its bounds", ("invalid_parameter",)),
            "404": _error("No such contest, or it has no public vote", ("not_found", "no_public_vote")),
            "503": UNAVAILABLE,
        },
    }},
    "/receipts/{code}": {"get": {
        "operationId": "getReceipt", "summary": "Whether a vote is counted, and the proof it is in the sealed ledger",
        "parameters": [{"name": "code", "in": "path", "required": True, "schema": TEXT,
                        "description": "the receipt code of VoteAccepted"}],
        "responses": {
            "200": _ok("The receipt's vote (never the voter)", "Receipt"),
            "400": BAD_URL,
            "404": _error("No such receipt", ("receipt_not_found", "not_found")),
            "429": RATE_LIMITED,
            "503": UNAVAILABLE,
        },
    }},
    "/ledger/blocks/{height}": {"get": {
        "operationId": "getBlock", "summary": "One sealed block of the vote ledger, with every field its hash covers",
        "parameters": [{"name": "height", "in": "path", "required": True, "schema": ID}],
        "responses": {
            "200": _ok("The block", "Block"),
            "400": BAD_URL,
            "404": _error("No such block", ("block_not_found", "not_found")),
            "429": RATE_LIMITED,
            "503": UNAVAILABLE,
        },
    }},
    "/ledger/head": {"get": {
        "operationId": "getHead", "summary": "The latest sealed block: the ledger's head, where a full check ends",
        "responses": {
            "200": _ok("The head block", "Block"),
            "400": BAD_URL,
            "404": _error("Nothing sealed yet", ("block_not_found",)),
            "429": RATE_LIMITED,
            "503": UNAVAILABLE,
        },
    }},
    "/ledger/blocks/{height}/leaves": {"get": {
        "operationId": "getBlockLeaves",
        "summary": "A sealed block's leaves: its events' digests in sealing order, to recompute its Merkle root",
        "parameters": [{"name": "height", "in": "path", "required": True, "schema": ID}],
        "responses": {
            "200": _ok("The block's leaves", "BlockLeaves"),
            "400": BAD_URL,
            "404": _error("No such block", ("block_not_found", "not_found")),
            "429": RATE_LIMITED,
            "503": UNAVAILABLE,
        },
    }},
    "/ledger/consistency": {"get": {
        "operationId": "getConsistency",
        "summary": "The RFC 6962 consistency proof between two version-2 heads of the vote ledger",
        "parameters": [
            {"name": "from", "in": "query", "required": True, "schema": ID, "description": "the earlier block's height"},
            {"name": "to", "in": "query", "required": True, "schema": ID, "description": "the later block's height"},
        ],
        "responses": {
            "200": _ok("Both blocks and the proof", "Consistency"),
            "400": _bad_request("A parameter missing or outside its bounds", ("invalid_parameter",)),
            "404": _error("A block missing, of version 1, or the two out of order", ("no_consistency_proof",)),
            "429": RATE_LIMITED,
            "503": UNAVAILABLE,
        },
    }},
    "/ping": {"get": {
        "operationId": "ping", "summary": "A constant answer: the API is serving (touches no database)",
        "responses": {"200": _ok("Always the same body", "Pong"), "400": BAD_URL},
    }},
    "/openapi.json": {"get": {
        "operationId": "getOpenApi", "summary": "This document",
        "responses": {"200": {"description": "The OpenAPI document", "content": {"application/json": {"schema": {"type": "object"}}}},
                      "400": BAD_URL},
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
