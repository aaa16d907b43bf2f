"""The ledger through the API, checked the way an outsider would: block hashes, event
digests, inclusion and consistency proofs recomputed here from the published fields with
hashlib and json alone, by the byte formats of docs/LEDGER.md (nothing of the platform's
ledger code is used to check them)."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from contest.accounts.actors import SYSTEM
from contest.extensions import db
from contest.voting import ledger
from contest.voting import service as voting
from tests.api.conftest import PREFIX, error_of


def canonical(value: dict[str, Any]) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def inclusion_holds(digest: str, index: int, size: int, path: list[str], root: str) -> bool:
    """RFC 9162 §2.1.3.2."""
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, sha(b"\x00" + bytes.fromhex(digest))
    for step in map(bytes.fromhex, path):
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            r = sha(b"\x01" + step + r)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = sha(b"\x01" + r + step)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == root


def consistency_holds(m: int, n: int, old: str, new: str, proof: list[str]) -> bool:
    """RFC 9162 §2.1.4.2."""
    if m == n:
        return not proof and old == new
    steps = [bytes.fromhex(h) for h in proof]
    if m & (m - 1) == 0:
        steps.insert(0, bytes.fromhex(old))
    fn, sn = m - 1, n - 1
    while fn % 2 == 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = steps[0]
    for c in steps[1:]:
        if sn == 0:
            return False
        if fn % 2 == 1 or fn == sn:
            fr, sr = sha(b"\x01" + c + fr), sha(b"\x01" + c + sr)
            while fn % 2 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = sha(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr.hex() == old and sr.hex() == new


def block_holds(block: dict[str, Any]) -> bool:
    """The block's hash from its published fields, rebuilt by docs/LEDGER.md's version-2 rule."""
    rebuilt = {"version": block["version"], "height": block["height"], "prev": block["prev_hash"],
               "root": block["merkle_root"], "tree_size": block["tree_size"], "first": block["first_event_id"],
               "last": block["last_event_id"], "count": block["event_count"], "sealed_at": block["hashed"]["sealed_at"]}
    return rebuilt == block["hashed"] and sha(canonical(rebuilt)).hex() == block["hash"]


def vote(api, entry, token):  # type: ignore[no-untyped-def]
    response = api.post(f"{PREFIX}/entries/{entry.id}/votes", json={}, token=token)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def seal(clock):  # type: ignore[no-untyped-def]
    clock.advance(seconds=5)
    block = ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    return block


def test_a_receipt_holder_recomputes_the_digest_the_inclusion_and_the_block_hash(api, ballot, voter, make_voter, clock):
    contest, entries = ballot
    for _ in range(4):
        vote(api, entries[1], make_voter().token)
    cast = vote(api, entries[0], voter.token)
    seal(clock)
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[cast["vote_id"]], to="voided", reason="同一设备多账号",
                         now=clock.now())
    db.session.commit()
    seal(clock)
    body = api.get(f"{PREFIX}/receipts/{cast['receipt']}").get_json()
    assert body["contest"]["id"] == contest.id
    cast_event, void_event = body["events"]
    for event in (cast_event, void_event):
        fields = event["fields"]
        assert sha(canonical(fields)).hex() == event["digest"]
        # the fields are the receipt's own: nobody's identity, and what the voter sees
        assert set(fields) == {"format", "kind", "at", "detail_mac", "contest", "entry", "day", "cast_at",
                               "receipt_sha256", "vote_status", "voter"}
        assert (fields["receipt_sha256"], fields["contest"], fields["entry"]) == (
            sha(cast["receipt"].encode()).hex(), contest.id, entries[0].id)
        # the voter by a pseudonym: not the account id, the same on both events of the vote
        assert fields["voter"] == cast_event["fields"]["voter"] and fields["voter"] != str(voter.id)
        assert fields["kind"] == event["kind"]
        block = event["block"]
        assert block["version"] == 2 and block_holds(block)
        assert inclusion_holds(event["digest"], event["leaf_index"], event["tree_size"], event["audit_path"],
                               block["merkle_root"])
        assert event["tree_size"] == block["tree_size"]
        # the same path under another index or size does not hold
        assert not inclusion_holds(event["digest"], event["leaf_index"] + 1, event["tree_size"], event["audit_path"],
                                   block["merkle_root"])
    assert (cast_event["leaf_index"], cast_event["tree_size"]) == (4, 5)
    assert (void_event["leaf_index"], void_event["tree_size"]) == (5, 6)
    assert void_event["fields"]["vote_status"] == "voided" and "同一设备多账号" not in str(body)
    assert cast_event["fields"]["at"].endswith("Z") and len(cast_event["fields"]["at"]) == len("2023-05-14T02:00:00.000000Z")
    # the second block chains to the first
    first = api.get(f"{PREFIX}/ledger/blocks/1").get_json()
    assert void_event["block"]["prev_hash"] == first["hash"] and block_holds(first)


def test_consistency_between_every_pair_of_heads(api, ballot, make_voter, clock):
    _contest, entries = ballot
    for count in (1, 3, 2, 4):
        for _ in range(count):
            vote(api, entries[0], make_voter().token)
        seal(clock)
    blocks = {h: api.get(f"{PREFIX}/ledger/blocks/{h}").get_json() for h in range(1, 5)}
    assert [b["tree_size"] for b in blocks.values()] == [1, 4, 6, 10]
    for second in range(1, 5):
        for first in range(1, second + 1):
            response = api.get(f"{PREFIX}/ledger/consistency?from={first}&to={second}")
            assert response.status_code == 200
            body = response.get_json()
            assert body["first"] == blocks[first] and body["second"] == blocks[second]
            assert consistency_holds(blocks[first]["tree_size"], blocks[second]["tree_size"],
                                     blocks[first]["merkle_root"], blocks[second]["merkle_root"], body["proof"])
            if first < second:
                # against a head that is not the one saved, the proof fails
                assert not consistency_holds(blocks[first]["tree_size"], blocks[second]["tree_size"],
                                             blocks[second]["merkle_root"], blocks[second]["merkle_root"], body["proof"])


@pytest.mark.parametrize(("query", "status", "code"), [
    ("from=1&to=9", 404, "no_consistency_proof"),
    ("from=2&to=1", 404, "no_consistency_proof"),
    ("from=1", 400, "invalid_parameter"),
    ("to=1", 400, "invalid_parameter"),
    ("from=0&to=1", 400, "invalid_parameter"),
    ("from=x&to=1", 400, "invalid_parameter"),
])
def test_consistency_refusals(api, ballot, make_voter, clock, query, status, code):
    _contest, entries = ballot
    for _ in range(2):
        vote(api, entries[0], make_voter().token)
        seal(clock)
    assert error_of(api.get(f"{PREFIX}/ledger/consistency?{query}")) == (status, code)


def test_an_unknown_block(api):
    assert error_of(api.get(f"{PREFIX}/ledger/blocks/5")) == (404, "block_not_found")
