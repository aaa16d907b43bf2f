"""The receipt page shows a version-2 proof in full: leaf index, tree size, audit path, and
the exact bytes the event digest and the block hash cover, so it can be checked by hand."""

from __future__ import annotations

import hashlib
import html as html_lib
import json

from sqlalchemy import select

from contest.extensions import db
from contest.voting import ledger
from contest.voting import service as voting
from contest.voting.models import LedgerEvent


def test_the_receipt_page_shows_what_the_digest_and_the_block_hash_cover(client, make_contest, make_entry, make_user,
                                                                          clock):
    contest = make_contest(kind="media", stage="voting")
    entry = make_entry(contest)
    results = [voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now()) for _ in range(3)]
    db.session.commit()
    clock.advance(seconds=5)
    block = ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    code = results[1].vote.receipt
    page = html_lib.unescape(client.get(f"/receipts/{code}").get_data(as_text=True))
    assert "证明验算通过：这条记录包含在区块 #1 中。" in page
    assert "<code>1</code> / <code>3</code>" in page  # leaf 1 of a tree of 3
    event = db.session.scalar(select(LedgerEvent).where(LedgerEvent.vote_id == results[1].vote.id))
    proof = ledger.inclusion(db.session, event)
    for step in proof.path:
        assert step in page
    # the bytes shown hash to the digest and to the block hash
    fields = page.split('<code class="hashed-fields">')
    event_bytes = next(f.split("</code>")[0] for f in fields[1:] if '"receipt_sha256"' in f)
    block_bytes = next(f.split("</code>")[0] for f in fields[1:] if '"tree_size"' in f)
    assert hashlib.sha256(event_bytes.encode("ascii")).hexdigest() == event.digest
    hashed = json.loads(event_bytes)
    # the receipt by its hash, the voter by the pseudonym shown to the holder only on this page
    assert hashed["receipt_sha256"] == hashlib.sha256(code.encode()).hexdigest() and code not in event_bytes
    pseudonym = ledger.voter_pseudonym(contest.voter_key, results[1].vote.voter_id)
    assert hashed["voter"] == pseudonym and f'<code class="voter-pseudonym">{pseudonym}</code>' in page
    other = html_lib.unescape(client.get(f"/receipts/{results[0].vote.receipt}").get_data(as_text=True))
    assert pseudonym not in other  # another voter's receipt shows another name
    assert hashlib.sha256(block_bytes.encode("ascii")).hexdigest() == block.hash
