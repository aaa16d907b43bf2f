"""docs/LEDGER.md's worked example is what the platform computes, and recomputes from the
document's rules with hashlib and json alone."""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import date, datetime, timedelta, timezone
from pathlib import Path

from contest.voting import ledger, rfc6962

DOC = (Path(__file__).parents[2] / "docs" / "LEDGER.md").read_text(encoding="utf-8")
BEIJING = timezone(timedelta(hours=8))


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def canonical(value: dict) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


def test_the_worked_example_recomputes_from_the_document_and_matches_the_platform():
    fields = {"at": "2023-05-14T02:00:01.250000Z", "cast_at": "2023-05-14T02:00:01.250000Z", "contest": 2,
              "day": "2023-05-14", "detail_sha256": sha(b"valid").hex(), "entry": 17, "format": 3, "kind": "cast",
              "receipt": "K2ABGX5ST4M5", "vote_status": "valid"}
    assert canonical(fields).decode() in DOC
    d0 = sha(canonical(fields))
    cast = datetime(2023, 5, 14, 10, 0, 1, 250000, tzinfo=BEIJING)
    platform = ledger.cast_fields(kind="cast", at=cast, detail="valid", contest_id=2, entry_id=17, voter_id=99,
                                  day=date(2023, 5, 14), cast_at=cast, receipt="K2ABGX5ST4M5", vote_status="valid",
                                  fmt=3)
    assert ledger.digest_of(platform) == d0.hex() and f"digest d0 = {d0.hex()}" in DOC
    d1, d2 = sha(b"example 2"), sha(b"example 3")
    leaves = [sha(b"\x00" + d) for d in (d0, d1, d2)]
    n01 = sha(b"\x01" + leaves[0] + leaves[1])
    root = sha(b"\x01" + n01 + leaves[2])
    for value in (*leaves, n01, root, d1, d2):
        assert value.hex() in DOC
    assert rfc6962.root(leaves) == root
    assert rfc6962.inclusion_path(leaves, 0, 3) == leaves[1:] and rfc6962.inclusion_path(leaves, 2, 3) == [n01]
    assert rfc6962.consistency_proof(leaves, 2, 3) == [leaves[2]]
    block = {"count": 3, "first": 1, "height": 1, "last": 3, "prev": "0" * 64, "root": root.hex(),
             "sealed_at": "2023-05-14T02:00:05.000000Z", "tree_size": 3, "version": 2}
    assert canonical(block).decode() in DOC
    block_hash = sha(canonical(block)).hex()
    assert f"hash = {block_hash}" in DOC
    assert block_hash == ledger.block_hash(height=1, prev_hash=ledger.GENESIS, root=root.hex(), first=1, last=3, count=3,
                                           sealed_at=datetime(2023, 5, 14, 10, 0, 5, tzinfo=BEIJING), version=2,
                                           tree_size=3)


def test_the_format_4_example_recomputes_from_the_document_and_matches_the_platform():
    key = bytes([0x11] * 32)
    fields = {"at": "2023-05-14T02:00:01.250000Z", "cast_at": "2023-05-14T02:00:01.250000Z", "contest": 2,
              "day": "2023-05-14", "entry": 17, "format": 4, "kind": "cast", "vote_status": "valid",
              "detail_mac": hmac.new(key, b"detail:valid", hashlib.sha256).hexdigest(),
              "receipt_sha256": sha(b"K2ABGX5ST4M5").hex(),
              "voter": hmac.new(key, b"voter:99", hashlib.sha256).hexdigest()[:32]}
    assert canonical(fields).decode() in DOC
    digest = sha(canonical(fields)).hex()
    assert f"format-4 digest = {digest}" in DOC
    cast = datetime(2023, 5, 14, 10, 0, 1, 250000, tzinfo=BEIJING)
    platform = ledger.cast_fields(kind="cast", at=cast, detail="valid", contest_id=2, entry_id=17, voter_id=99,
                                  day=date(2023, 5, 14), cast_at=cast, receipt="K2ABGX5ST4M5", vote_status="valid",
                                  voter_key=key.hex())
    assert platform == fields and ledger.digest_of(platform) == digest


def test_non_ascii_is_escaped_in_the_hashed_bytes():
    assert ledger.canonical_json({"b": "同", "a": 1}) == b'{"a":1,"b":"\\u540c"}'
