"""Verification, the sealed replay and the proofs read the ledger in bounded batches and
from stored subtree heads; on a small contest they give exactly what the earlier
implementation gave. That implementation's logic is kept below (`reference_*`: whole
ledger in memory, a state per vote, every proof re-hashing every sealed event) as the
yardstick."""

from __future__ import annotations

from collections import Counter

import pytest
from sqlalchemy import select, text

from contest.accounts.actors import SYSTEM
from contest.extensions import db
from contest.voting import figures, ledger, rfc6962
from contest.voting import service as voting
from contest.voting.models import LedgerBlock, LedgerEvent, Vote
from tests.voting import old_ledger

# --- the earlier implementation, as the reference ----------------------------------------


def reference_verify(session) -> ledger.VerifyReport:
    """verify_ledger as it was: every digest collected per block, a state per vote."""
    prev_hash = ledger.GENESIS
    blocks = 0
    block_digests: dict[int, list[str]] = {}
    block_ids: dict[int, list[int]] = {}
    walk = ledger.replay(session)
    for row in walk:
        problem = ledger.event_problem(row)
        if problem:
            return ledger.VerifyReport(False, blocks, walk.events - 1, problem)
        if row.block_id is not None:
            block_digests.setdefault(row.block_id, []).append(row.digest)
            block_ids.setdefault(row.block_id, []).append(row.id)
    seen = walk.events
    frontier: list[bytes] = []
    size = 0
    for block in session.scalars(select(LedgerBlock).order_by(LedgerBlock.id)):
        blocks += 1
        if block.id != blocks:
            return ledger.VerifyReport(False, blocks, seen, f"block {block.id}: height out of sequence (expected {blocks})")
        if block.prev_hash != prev_hash:
            return ledger.VerifyReport(False, blocks, seen, f"block {block.id}: previous hash does not match block {block.id - 1}")
        digests = block_digests.get(block.id, [])
        frontier = rfc6962.extend(frontier, size, [rfc6962.leaf_hash(bytes.fromhex(d)) for d in digests])
        size += len(digests)
        if block.version == 1:
            root_holds = ledger.merkle_root(digests) == block.merkle_root
        else:
            root_holds = block.tree_size == size and rfc6962.frontier_root(frontier).hex() == block.merkle_root
        if len(digests) != block.event_count or not root_holds:
            return ledger.VerifyReport(False, blocks, seen, f"block {block.id}: Merkle root does not match its events")
        if digests and (block.first_event_id, block.last_event_id) != (min(block_ids[block.id]), max(block_ids[block.id])):
            return ledger.VerifyReport(False, blocks, seen, f"block {block.id}: first or last event does not match its events")
        if ledger.block_hash(**_hash_args(block)) != block.hash:
            return ledger.VerifyReport(False, blocks, seen, f"block {block.id}: hash does not match its contents")
        prev_hash = block.hash
    for vote_id, status in session.execute(select(Vote.id, Vote.status).order_by(Vote.id)).all():
        state = walk.states.get(vote_id)
        if state is None:
            return ledger.VerifyReport(False, blocks, seen, f"vote {vote_id}: has no ledger event")
        if state.status != status:
            return ledger.VerifyReport(False, blocks, seen, f"vote {vote_id}: status {status!r} but its events say {state.status!r}")
    return ledger.VerifyReport(True, blocks, seen)


def _hash_args(block: LedgerBlock) -> dict:
    return {"height": block.id, "prev_hash": block.prev_hash, "root": block.merkle_root, "first": block.first_event_id,
            "last": block.last_event_id, "count": block.event_count, "sealed_at": block.sealed_at,
            "version": block.version, "tree_size": block.tree_size}


def reference_leaves(session, upto_block: int) -> list[bytes]:
    return [rfc6962.leaf_hash(bytes.fromhex(d)) for d in session.scalars(
        select(LedgerEvent.digest).where(LedgerEvent.block_id.is_not(None), LedgerEvent.block_id <= upto_block)
        .order_by(LedgerEvent.block_id, LedgerEvent.id))]


def reference_figures(session, contest_id: int, entry_ids=None) -> tuple[dict, Counter, list[int]]:
    """The sealed figures as the replay's per-vote states gave them."""
    head = ledger.head(session)
    states = ledger.replay(session, contest_id=contest_id, upto=head.last_event_id, sealed_only=True).run()
    counts: dict = {}
    days: Counter = Counter()
    for state in states.values():
        if entry_ids is not None and state.entry_id not in entry_ids:
            continue
        key = (state.entry_id, state.status, state.reason if state.status == "voided" else "")
        counts[key] = counts.get(key, 0) + 1
        if state.status == "valid":
            days[(state.entry_id, state.day)] += 1
    table = dict(session.execute(select(Vote.id, Vote.status).where(Vote.contest_id == contest_id)).all())
    mismatched = sorted(v for v, s in states.items() if table.get(v) != s.status)[:50]
    return counts, days, mismatched


def as_reference(found: figures.Figures) -> tuple[dict, Counter, list[int]]:
    counts: dict = {}
    for entry_id, f in found.entries.items():
        for status in ("valid", "held"):
            if f.of(status):
                counts[(entry_id, status, "")] = f.of(status)
        for reason, n in f.voided_by_reason.items():
            counts[(entry_id, "voided", reason)] = n
    return counts, list(found.mismatched)


def reference_days(reference: Counter, only: set[int], leave_out: frozenset[int] | set[int] = frozenset()) -> list:
    per_day: Counter = Counter()
    for (entry_id, day), n in reference.items():
        if entry_id in only and entry_id not in leave_out:
            per_day[day] += n
    return sorted(per_day.items())


# --- a small contest: a version-1 block, then version-2 blocks of many sizes, voids, days ---


@pytest.fixture
def ledger_built(make_user, make_contest, make_entry, clock):
    contest = make_contest(kind="media", stage="voting")
    entries = [make_entry(contest) for _ in range(4)]
    votes: list[int] = []

    def cast(n: int) -> None:
        for i in range(n):
            result = voting.record_vote(db.session, voter=make_user(), entry_id=entries[(len(votes) + i) % 4].id,
                                        now=clock.now())
            db.session.commit()
            votes.append(result.vote.id)

    def seal() -> None:
        clock.advance(seconds=10)
        ledger.seal_pending(db.session, now=clock.now(), max_events=7)
        db.session.commit()

    cast(3)
    clock.advance(seconds=10)
    with db.engine.begin() as conn:  # a block sealed before version 2
        old_ledger.seal(conn, upto=10**9, now=clock.now())
    db.session.expire_all()
    for n in (1, 5, 2, 9, 4, 16, 3):
        cast(n)
        if n == 9:
            clock.advance(days=1)
        seal()
        if n == 16:
            seal()  # a block of at most 7 leaves the rest to the next one
    voting.change_status(db.session, actor=SYSTEM, vote_ids=votes[2:9:2], to="voided", reason="同一设备多账号",
                         now=clock.now())
    voting.change_status(db.session, actor=SYSTEM, vote_ids=votes[20:22], to="voided", reason="刷票", now=clock.now())
    db.session.commit()
    seal()
    cast(2)  # left unsealed
    return contest, entries, votes


def test_verify_gives_the_reference_report_on_a_sound_ledger_and_on_each_tampering(ledger_built, clock):
    assert ledger.verify_ledger(db.session, batch=4) == reference_verify(db.session)
    assert ledger.verify_ledger(db.session).ok and ledger.verify_ledger(db.session).blocks >= 9
    _contest, _entries, votes = ledger_built
    for statement in (
        f"UPDATE vote SET status = 'held' WHERE id = {votes[5]}",
        "UPDATE ledger_event SET detail = 'x' WHERE id = 6",
        "UPDATE ledger_block SET event_count = event_count + 1 WHERE id = 4",
        "UPDATE ledger_block SET prev_hash = hash WHERE id = 3",
    ):
        with db.engine.begin() as conn:
            conn.execute(text(statement))
        db.session.expire_all()
        streamed, reference = ledger.verify_ledger(db.session, batch=3), reference_verify(db.session)
        assert streamed == reference and not streamed.ok, statement


def test_proofs_from_stored_subtree_heads_are_the_reference_proofs(ledger_built):
    blocks = list(db.session.scalars(select(LedgerBlock).where(LedgerBlock.version == 2).order_by(LedgerBlock.id)))
    assert len(blocks) >= 8
    for event in db.session.scalars(select(LedgerEvent).where(LedgerEvent.block_id.is_not(None))
                                    .order_by(LedgerEvent.block_id, LedgerEvent.id)):
        found = ledger.inclusion(db.session, event)
        assert found.holds()
        if found.block.version == 2:
            leaves = reference_leaves(db.session, found.block.id)
            assert found.leaf_index == leaves.index(rfc6962.leaf_hash(bytes.fromhex(event.digest)))
            assert found.path == tuple(h.hex() for h in rfc6962.inclusion_path(leaves, found.leaf_index,
                                                                                found.tree_size))
    for second in blocks:
        leaves = reference_leaves(db.session, second.id)
        for first in blocks[:blocks.index(second) + 1]:
            found = ledger.consistency(db.session, first.id, second.id)
            assert found is not None and found.holds()
            assert found.path == tuple(h.hex() for h in rfc6962.consistency_proof(leaves, first.tree_size,
                                                                                  second.tree_size))


def test_the_sealed_figures_are_the_reference_replay_figures(ledger_built):
    contest, entries, votes = ledger_built
    found = figures.figures(db.session, contest.id, sealed=True)
    counts, days, mismatched = reference_figures(db.session, contest.id)
    assert as_reference(found) == (counts, mismatched)
    assert sum(n for (_e, status, _r), n in counts.items() if status == "voided") == 6
    assert len({day for _e, day in days}) == 2 and found.unsealed == 2
    some = {entries[0].id, entries[2].id}
    some_counts, _days, some_mismatched = reference_figures(db.session, contest.id, some)
    assert as_reference(figures.figures(db.session, contest.id, sealed=True, entry_ids=some)) == \
        (some_counts, some_mismatched)
    # the per-day chart, streamed: the reference's days of the same entries, less those left out
    upto = ledger.head(db.session).last_event_id
    every = {e.id for e in entries}
    assert figures.counted_by_day(db.session, contest.id, upto=upto, only=every) == reference_days(days, every)
    assert sum(n for _day, n in figures.counted_by_day(db.session, contest.id, upto=upto, only=every)) == \
        found.totals().counted
    assert figures.counted_by_day(db.session, contest.id, upto=upto, only=every, leave_out={entries[0].id}) == \
        reference_days(days, every, {entries[0].id}) != reference_days(days, every)
    # a vote whose table status strays from its events is named by both
    with db.engine.begin() as conn:
        conn.execute(text(f"UPDATE vote SET status = 'held' WHERE id IN ({votes[1]}, {votes[7]})"))
    db.session.expire_all()
    found = figures.figures(db.session, contest.id, sealed=True)
    assert list(found.mismatched) == reference_figures(db.session, contest.id)[2] == [votes[1], votes[7]]


def test_verify_split_into_ranges_across_processes_names_what_one_walk_names(ledger_built):
    """Two worker processes, five ranges per pass: the same report as one walk in this
    process, for a sound ledger and for tampering that lies in a later range."""
    _contest, _entries, votes = ledger_built

    def both() -> tuple[ledger.VerifyReport, ledger.VerifyReport]:
        db.session.expire_all()
        return ledger.verify_ledger(db.session, workers=2, pieces=5, batch=4), ledger.verify_ledger(db.session, workers=1)

    assert ledger.verify_ledger(db.session, workers=1, pieces=5) == ledger.verify_ledger(db.session, workers=1)
    split, single = both()
    assert split == single and split.ok and split.blocks >= 9
    # a stored frontier is covered by no hash: a wrong one must not pass for a broken tree, nor fail a sound one
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_block SET frontier = '[]' WHERE id = 6"))
    split, single = both()
    assert split == single and split.ok
    last_event = db.session.scalar(select(LedgerEvent.id).order_by(LedgerEvent.id.desc()).limit(1))
    last_block = db.session.scalar(select(LedgerBlock.id).order_by(LedgerBlock.id.desc()).limit(1))
    for statement in (
        f"UPDATE vote SET status = 'held' WHERE id = {votes[-3]}",
        f"UPDATE ledger_block SET sealed_at = sealed_at + interval '1 second' WHERE id = {last_block}"
        if db.engine.dialect.name == "postgresql" else
        f"UPDATE ledger_block SET sealed_at = datetime(sealed_at, '+1 second') WHERE id = {last_block}",
        f"UPDATE ledger_event SET detail = 'x' WHERE id = {last_event - 1}",
        f"UPDATE ledger_event SET detail = 'y' WHERE id = {last_event - 12}",
    ):
        with db.engine.begin() as conn:
            conn.execute(text(statement))
        split, single = both()
        assert split == single and not split.ok, statement
        assert split == reference_verify(db.session), statement
