#!/usr/bin/env python3
"""Check the contest platform's vote ledger from its public API, trusting nobody.

Written from docs/LEDGER.md alone, with the Python standard library only (3.9 or later):
copy this file anywhere and run it.

    python verify.py https://example.org                     # every block: hashes and chain
    python verify.py https://example.org --receipt K2ABGX5ST4M5
    python verify.py https://example.org --from 3 --to 40    # the ledger only grew
    python verify.py https://example.org --head 3:<hash>     # a head you saved earlier

It prints one line per check and exits 0 when every check holds, 1 when one fails, 2 when
the server cannot be read.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import urllib.error
import urllib.request
from typing import Any

GENESIS = "0" * 64


class Unreadable(Exception):
    """The server did not answer as the API documents."""


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def canonical(value: Any) -> bytes:
    """LEDGER.md §1: sorted keys, no whitespace, ASCII with \\uXXXX escapes."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode("ascii")


class Api:
    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/") + "/api/v1"

    def get(self, path: str) -> Any:
        """The JSON answer, or None on a 404."""
        try:
            with urllib.request.urlopen(self.base + path, timeout=30) as response:
                return json.load(response)
        except urllib.error.HTTPError as error:
            if error.code == 404:
                return None
            raise Unreadable(f"GET {path}: HTTP {error.code}") from error
        except (urllib.error.URLError, ValueError) as error:
            raise Unreadable(f"GET {path}: {error}") from error


class Report:
    def __init__(self) -> None:
        self.failures = 0

    def check(self, holds: bool, what: str) -> bool:
        print(("ok    " if holds else "FAIL  ") + what)
        if not holds:
            self.failures += 1
        return holds


# --- LEDGER.md §3, §5, §6 ---------------------------------------------------------------

def inclusion_holds(digest: str, index: int, size: int, path: list[str], root: str) -> bool:
    if not 0 <= index < size:
        return False
    fn, sn, r = index, size - 1, sha(b"\x00" + bytes.fromhex(digest))
    for p in (bytes.fromhex(h) for h in path):
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha(b"\x01" + p + r)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = sha(b"\x01" + r + p)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and r.hex() == root


def consistency_holds(m: int, n: int, old_root: str, new_root: str, proof: list[str]) -> bool:
    if not 0 < m <= n:
        return False
    if m == n:
        return not proof and old_root == new_root
    steps = [bytes.fromhex(h) for h in proof]
    if m & (m - 1) == 0:
        steps.insert(0, bytes.fromhex(old_root))
    if not steps:
        return False
    fn, sn = m - 1, n - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = steps[0]
    for c in steps[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr, sr = sha(b"\x01" + c + fr), sha(b"\x01" + c + sr)
            while fn & 1 == 0 and fn != 0:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = sha(b"\x01" + sr + c)
        fn, sn = fn >> 1, sn >> 1
    return sn == 0 and fr.hex() == old_root and sr.hex() == new_root


# --- LEDGER.md §4 ---------------------------------------------------------------------------

def block_fields(block: dict[str, Any]) -> dict[str, Any]:
    """What the block's hash covers, rebuilt from its published fields by its version."""
    fields = {"height": block["height"], "prev": block["prev_hash"], "root": block["merkle_root"],
              "first": block["first_event_id"], "last": block["last_event_id"], "count": block["event_count"],
              "sealed_at": block["hashed"].get("sealed_at")}
    if block["version"] == 2:
        fields.update(version=2, tree_size=block["tree_size"])
    return fields


def check_block(report: Report, block: dict[str, Any], previous_hash: str | None) -> bool:
    height = block["height"]
    ok = report.check(block["version"] in (1, 2), f"block {height}: version {block['version']} is known")
    rebuilt = block_fields(block)
    ok &= report.check(rebuilt == block["hashed"], f"block {height}: its published fields are the ones hashed")
    ok &= report.check(sha(canonical(rebuilt)).hex() == block["hash"], f"block {height}: hash recomputes")
    if previous_hash is not None:
        ok &= report.check(block["prev_hash"] == previous_hash, f"block {height}: chains to block {height - 1}")
    return ok


def check_chain(report: Report, api: Api, upto: int | None) -> dict[int, dict[str, Any]]:
    blocks: dict[int, dict[str, Any]] = {}
    previous = GENESIS
    height = 1
    while upto is None or height <= upto:
        block = api.get(f"/ledger/blocks/{height}")
        if block is None:
            break
        check_block(report, block, previous)
        blocks[height] = block
        previous = block["hash"]
        height += 1
    report.check(bool(blocks), f"the ledger has {len(blocks)} sealed blocks")
    return blocks


# --- receipts (LEDGER.md §2, §5) -------------------------------------------------------------

def check_receipt(report: Report, code: str, receipt: dict[str, Any] | None) -> None:
    if not report.check(receipt is not None, f"receipt {code}: found"):
        return
    assert receipt is not None
    for number, event in enumerate(receipt["events"], 1):
        where = f"receipt {code}, event {number} ({event['kind']})"
        fields = event["fields"]
        if fields is None:
            print(f"note  {where}: format {event['format']} covers an internal id; only the platform can recompute it")
        else:
            report.check(sha(canonical(fields)).hex() == event["digest"], f"{where}: digest recomputes from its fields")
            report.check(fields["receipt"] == receipt["receipt"] and fields["entry"] == receipt["entry"]["id"]
                         and fields["contest"] == receipt["contest"]["id"] and fields["kind"] == event["kind"],
                         f"{where}: the digest covers this receipt, entry and contest")
        block = event["block"]
        if block is None:
            print(f"note  {where}: not sealed yet")
            continue
        check_block(report, block, None)
        if block["version"] == 1:
            current = event["digest"]
            for step in event["proof"]:
                pair = step["hash"] + current if step["side"] == "left" else current + step["hash"]
                current = sha(bytes.fromhex(pair)).hex()
            report.check(current == block["merkle_root"], f"{where}: version-1 proof leads to block {block['height']}")
        else:
            report.check(event["tree_size"] == block["tree_size"], f"{where}: tree size is its block's")
            report.check(inclusion_holds(event["digest"], event["leaf_index"], event["tree_size"], event["audit_path"],
                                         block["merkle_root"]),
                         f"{where}: leaf {event['leaf_index']} of {event['tree_size']} in block {block['height']}")


def check_consistency(report: Report, api: Api, first: int, second: int, saved: dict[int, str]) -> None:
    where = f"heads {first} → {second}"
    answer = api.get(f"/ledger/consistency?from={first}&to={second}")
    if not report.check(answer is not None, f"{where}: the server gives a consistency proof"):
        return
    assert answer is not None
    ok = check_block(report, answer["first"], None) and check_block(report, answer["second"], None)
    for height, block in ((first, answer["first"]), (second, answer["second"])):
        if height in saved:
            report.check(block["hash"] == saved[height], f"{where}: block {height} is the head saved earlier")
    a, b = answer["first"], answer["second"]
    report.check(ok and consistency_holds(a["tree_size"], b["tree_size"], a["merkle_root"], b["merkle_root"],
                                          answer["proof"]),
                 f"{where}: tree of {b['tree_size']} extends tree of {a['tree_size']}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("base_url", help="the platform's address, e.g. https://example.org")
    parser.add_argument("--receipt", action="append", default=[], help="a receipt code to check (repeatable)")
    parser.add_argument("--from", dest="first", type=int, help="an earlier head's height")
    parser.add_argument("--to", dest="second", type=int, help="a later head's height")
    parser.add_argument("--head", action="append", default=[], metavar="HEIGHT:HASH",
                        help="a head saved earlier, which must still be in the ledger (repeatable)")
    parser.add_argument("--upto", type=int, help="check the chain only up to this height")
    args = parser.parse_args(argv)
    api, report = Api(args.base_url), Report()
    saved = {int(h): v for h, v in (item.split(":", 1) for item in args.head)}
    try:
        blocks = check_chain(report, api, args.upto)
        for height, value in saved.items():
            report.check(height in blocks and blocks[height]["hash"] == value, f"saved head {height} is in the ledger")
        for code in args.receipt:
            check_receipt(report, code, api.get(f"/receipts/{code}"))
        if args.first is not None and args.second is not None:
            check_consistency(report, api, args.first, args.second, saved)
    except Unreadable as error:
        print(f"error {error}")
        return 2
    print(f"{'OK' if not report.failures else 'FAILED'}: {report.failures} failed checks")
    return 1 if report.failures else 0


if __name__ == "__main__":
    sys.exit(main())
