"""verifier/verify.py against a published season over real HTTP (the app's live_server),
run as its own process with the standard library only: with the platform's address and
the publication's bundle it re-derives every count from the pseudonymised events, finds
each event among the ledger's leaves and recomputes every block's root — and names each
tampering: one vote changed, one block removed, one event reordered, one judge's score
changed."""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
from sqlalchemy import select, text

from contest.extensions import db
from contest.judging.models import Score
from contest.voting import ledger
from contest.voting import service as voting
from contest.voting.models import LedgerEvent, Vote
from tests.results.test_minor_counts_underivable import build

VERIFIER = Path(__file__).parents[2] / "verifier" / "verify.py"


def verify(*args: str) -> subprocess.CompletedProcess[str]:
    # -I: the script's own directory only, no site packages: it must need nothing else
    return subprocess.run([sys.executable, "-I", str(VERIFIER), *args], capture_output=True, text=True, timeout=120)


@pytest.fixture
def published(live_server, make_contest, make_entry, make_school, make_user, clock):  # type: ignore[no-untyped-def]
    """A published 最美职校生 (one sealed block of its votes), then two more blocks of
    another contest's votes."""
    contest, entries = build(make_contest, make_entry, make_school, make_user, clock, "rank", hide=False)
    other = make_entry(make_contest(kind="media", stage="voting"))
    for _ in range(2):
        for _ in range(2):
            voting.record_vote(db.session, voter=make_user(), entry_id=other.id, now=clock.now())
        db.session.commit()
        clock.advance(seconds=5)
        ledger.seal_pending(db.session, now=clock.now())
        db.session.commit()
    return contest, entries, f"{live_server}/c/{contest.slug}/results/bundle.json"


def run(live_server: str, bundle_url: str) -> str:
    return verify(live_server, "--bundle", bundle_url).stdout


def tamper(*statements: str, **params: object) -> None:
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement), params)
    db.session.expire_all()


def test_an_untouched_season_re_derives_from_its_events_and_the_ledger(live_server, published, tmp_path):
    contest, entries, url = published
    with urllib.request.urlopen(url) as response:
        bundle = json.load(response)
    assert bundle["bundle_format"] == 2 and bundle["contest"]["id"] == contest.id
    with urllib.request.urlopen(live_server + bundle["events"]["href"]) as response:
        assert response.headers["Content-Type"].startswith("application/x-ndjson")
        lines = [json.loads(raw) for raw in response]
    votes = db.session.scalars(select(Vote).where(Vote.contest_id == contest.id)).all()
    assert len(lines) == bundle["events"]["count"] == len(votes)
    # every event names its voter by the pseudonym only: no receipt code, no account id
    body = json.dumps(lines)
    assert not any(v.receipt in body for v in votes)
    assert {line["fields"]["voter"] for line in lines} == {
        ledger.voter_pseudonym(contest.voter_key, v.voter_id) for v in votes}
    out = verify(live_server, "--bundle", url)
    assert "OK: 0 failed checks" in out.stdout, out.stdout
    assert f"ok    results v1: events: {len(votes)} events, as the bundle states ({len(votes)})" in out.stdout
    assert "ok    results v1: events: every digest recomputes and is the ledger's leaf at its index" in out.stdout
    assert (f"ok    results v1: events: {len(votes)} votes by {len(votes)} pseudonymous voters re-derive every "
            "entry's counted votes") in out.stdout
    assert "ok    block 3: Merkle root recomputes from its leaves" in out.stdout
    assert "note  results v1: events: the most votes one pseudonymous voter cast on one day: 1 (" in out.stdout
    # a downloaded bundle and its events, checked offline
    events = tmp_path / "events.jsonl"
    events.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
    offline = verify("--bundle", url, "--events", str(events))
    assert "OK: 0 failed checks" in offline.stdout, offline.stdout
    assert "note  results v1: events: give the platform's address to find each event among the ledger's leaves" in (
        offline.stdout)


def test_one_vote_changed_is_named(live_server, published):
    contest, entries, url = published
    target = entries["数控追梦人"].id
    moved = db.session.scalars(select(Vote.id).where(Vote.entry_id == target).limit(1)).one()
    tamper("UPDATE vote SET entry_id = :to WHERE id = :v", to=entries["汽修小能手"].id, v=moved)
    out = run(live_server, url)
    leaf = db.session.scalar(select(LedgerEvent.id).where(LedgerEvent.vote_id == moved)) - 1
    assert f"FAIL  results v1: events: event at leaf {leaf}: its digest does not recompute from its fields" in out, out
    assert f"FAIL  results v1: events: entry #{target}: 8 counted votes published, its events give 7" in out
    assert out.rstrip().endswith("failed checks") and "FAILED" in out


def test_one_block_removed_is_named(live_server, published):
    tamper("UPDATE ledger_event SET block_id = NULL WHERE block_id = 2", "DELETE FROM ledger_block WHERE id = 2")
    out = run(live_server, published[2])
    assert "FAIL  block 2: missing from the ledger (its head is block 3)" in out, out
    assert "FAILED" in out


def test_one_event_reordered_is_named(live_server, published):
    contest, _entries, url = published
    first, second = db.session.scalars(select(LedgerEvent.id).where(LedgerEvent.contest_id == contest.id)
                                       .order_by(LedgerEvent.id).limit(2)).all()
    # the two events swap places in the ledger: each keeps its own, correct digest
    tamper("UPDATE ledger_event SET id = -1 WHERE id = :a", "UPDATE ledger_event SET id = :a WHERE id = :b",
           "UPDATE ledger_event SET id = :b WHERE id = -1", a=first, b=second)
    out = run(live_server, url)
    assert "FAIL  block 1: Merkle root recomputes from its leaves" in out, out
    assert "FAILED" in out
    assert not ledger.verify_ledger(db.session).ok  # the platform's own check agrees


def test_one_judge_score_changed_is_named(live_server, published):
    _contest, entries, url = published
    judged = entries["汽修小能手"].id
    score = db.session.scalars(select(Score).where(Score.entry_id == judged)).first()
    score.values = {key: value - 15 for key, value in score.values.items()}  # behind the service's back
    db.session.commit()
    out = run(live_server, url)
    assert f"FAIL  results v1: entry #{judged} 汽修小能手: round expert score published 75.0" in out, out
    assert "FAILED" in out
