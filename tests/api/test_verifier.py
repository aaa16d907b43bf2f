"""verifier/verify.py, run as its own process against the app live_server over real HTTP:
it passes on an untouched ledger and names a changed block, a forged receipt proof and a
rewritten head."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import text

from contest.extensions import db
from contest.voting import ledger
from contest.voting import service as voting

VERIFIER = Path(__file__).parents[2] / "verifier" / "verify.py"


def run(*args: str) -> subprocess.CompletedProcess[str]:
    # -I: the script's own directory only, no site packages: it must need nothing else
    return subprocess.run([sys.executable, "-I", str(VERIFIER), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def sealed(make_contest, make_entry, make_user, clock):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="media", stage="voting")
    entry = make_entry(contest)
    receipts = []
    for count in (2, 3, 1):
        for _ in range(count):
            receipts.append(voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now()).vote.receipt)
            db.session.commit()
        clock.advance(seconds=5)
        ledger.seal_pending(db.session, now=clock.now())
        db.session.commit()
    return receipts


def test_the_verifier_passes_on_an_untouched_ledger(live_server, sealed):
    first = ledger.block_at(db.session, 1)
    result = run(live_server, "--receipt", sealed[0], "--receipt", sealed[4], "--from", "1", "--to", "3",
                 "--head", f"1:{first.hash}")
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert "ok    block 3: chains to block 2" in out
    assert f"ok    receipt {sealed[4]}, event 1 (cast): leaf 4 of 5 in block 2" in out
    assert "ok    heads 1 → 3: tree of 6 extends tree of 2" in out
    assert "OK: 0 failed checks" in out


def test_the_verifier_names_a_changed_block(live_server, sealed):
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_block SET event_count = 4 WHERE id = 2"))
    result = run(live_server)
    assert result.returncode == 1 and "FAIL  block 2: hash recomputes" in result.stdout, result.stdout


def test_the_verifier_names_a_rewritten_head(live_server, sealed):
    saved = ledger.block_at(db.session, 1).hash
    # the operator rewrites history: block 1 gets another root and every hash after it is redone
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_block SET merkle_root = :r WHERE id = 1"), {"r": "ab" * 32})
    db.session.expire_all()
    previous = ledger.GENESIS
    for height in (1, 2, 3):
        block = ledger.block_at(db.session, height)
        block.prev_hash = previous
        block.hash = hashlib.sha256(ledger.canonical_json(ledger.hashed_fields(block))).hexdigest()
        previous = block.hash
    db.session.commit()
    result = run(live_server, "--no-leaves")
    assert result.returncode == 0, result.stdout  # by itself the rewritten chain holds together
    result = run(live_server)  # but block 1's root is not its leaves' root
    assert result.returncode == 1 and "FAIL  block 1: Merkle root recomputes from its leaves" in result.stdout
    result = run(live_server, "--no-leaves", "--head", f"1:{saved}", "--from", "1", "--to", "3")
    assert result.returncode == 1, result.stdout
    assert "FAIL  saved head 1 is in the ledger" in result.stdout
    assert "FAIL  heads 1 → 3: tree of 6 extends tree of 2" in result.stdout


def test_the_verifier_names_a_receipt_whose_vote_was_changed(live_server, sealed):
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE vote SET receipt = 'ZZZZZZZZZZZZ' WHERE receipt = :r"), {"r": sealed[1]})
    result = run(live_server, "--receipt", "ZZZZZZZZZZZZ")
    assert result.returncode == 1, result.stdout
    assert "FAIL  receipt ZZZZZZZZZZZZ, event 1 (cast): digest recomputes from its fields" in result.stdout


def test_an_unreachable_server():
    result = run("http://127.0.0.1:9")
    assert result.returncode == 2 and result.stdout.startswith("error ")
