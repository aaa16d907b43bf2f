"""Version-2 blocks: RFC 6962 hashing (leaf and node prefixes, no doubled odd nodes),
inclusion proofs that name their leaf index and tree size, consistency proofs between
any two heads; version-1 blocks sealed before still verify by their own rule.

The tree code is checked against a reference written here from RFC 6962 §2.1 itself
(recursive, as the RFC states it), not against the platform's own functions."""

from __future__ import annotations

import hashlib
from dataclasses import replace

import pytest
from sqlalchemy import select, text

from contest.extensions import db
from contest.voting import ledger, rfc6962
from contest.voting import service as voting
from contest.voting.models import LedgerBlock, LedgerEvent
from tests.voting import old_ledger

# --- a reference implementation, straight from the RFC's definitions ----------------------


def ref_mth(leaves: list[bytes]) -> bytes:
    n = len(leaves)
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < n:
        k *= 2
    return hashlib.sha256(b"\x01" + ref_mth(leaves[:k]) + ref_mth(leaves[k:])).digest()


def ref_path(m: int, leaves: list[bytes]) -> list[bytes]:
    n = len(leaves)
    if n == 1:
        return []
    k = 1
    while k * 2 < n:
        k *= 2
    if m < k:
        return ref_path(m, leaves[:k]) + [ref_mth(leaves[k:])]
    return ref_path(m - k, leaves[k:]) + [ref_mth(leaves[:k])]


def ref_subproof(m: int, leaves: list[bytes], b: bool) -> list[bytes]:
    n = len(leaves)
    if m == n:
        return [] if b else [ref_mth(leaves)]
    k = 1
    while k * 2 < n:
        k *= 2
    if m <= k:
        return ref_subproof(m, leaves[:k], b) + [ref_mth(leaves[k:])]
    return ref_subproof(m - k, leaves[k:], False) + [ref_mth(leaves[:k])]


def data(n: int) -> list[bytes]:
    return [hashlib.sha256(f"event {i}".encode()).digest() for i in range(n)]


def hashes(leaves: list[bytes]) -> list[bytes]:
    return [rfc6962.leaf_hash(leaf) for leaf in leaves]


# --- the tree by itself --------------------------------------------------------------------

def test_roots_and_audit_paths_match_the_reference_for_1_to_70_leaves():
    for n in range(1, 71):
        leaves = data(n)
        assert rfc6962.root(hashes(leaves)) == ref_mth(leaves), n
        assert rfc6962.frontier_root(rfc6962.extend([], 0, hashes(leaves))) == ref_mth(leaves), n
        for m in range(n):
            path = rfc6962.inclusion_path(hashes(leaves), m, n)
            assert path == ref_path(m, leaves), (m, n)
            assert rfc6962.verify_inclusion(leaves[m], m, n, path, ref_mth(leaves)), (m, n)


def test_extending_a_frontier_in_steps_matches_building_it_at_once():
    leaves = hashes(data(70))
    frontier, size = [], 0
    for step in (1, 2, 5, 8, 13, 3, 38):
        frontier = rfc6962.extend(frontier, size, leaves[size:size + step])
        size += step
        assert rfc6962.frontier_root(frontier) == rfc6962.root(leaves[:size])


def test_consistency_proofs_match_the_reference_and_verify_for_every_pair_up_to_40():
    leaves = data(40)
    roots = {n: ref_mth(leaves[:n]) for n in range(1, 41)}
    for n in range(1, 41):
        for m in range(1, n + 1):
            proof = rfc6962.consistency_proof(hashes(leaves), m, n)
            assert proof == ref_subproof(m, leaves[:n], True), (m, n)
            assert rfc6962.verify_consistency(m, n, roots[m], roots[n], proof), (m, n)
            if m < n:
                # a different old head, or the sizes swapped, is refused
                assert not rfc6962.verify_consistency(m, n, roots[n], roots[n], proof), (m, n)
                if m > 1:
                    assert not rfc6962.verify_consistency(m - 1, n, roots[m], roots[n], proof), (m, n)


def test_an_inner_node_cannot_be_passed_off_as_a_leaf():
    leaves = data(4)
    head = ref_mth(leaves)
    # level 1 of the tree: its two inner nodes
    left, right = rfc6962.node_hash(*hashes(leaves[:2])), rfc6962.node_hash(*hashes(leaves[2:]))
    assert rfc6962.node_hash(left, right) == head
    # the old scheme's forgery: the inner nodes taken as the leaves of a tree of 2
    assert rfc6962.root(hashes([left, right])) != head
    # and a proof for an "event" that is really the left inner node is refused
    assert not rfc6962.verify_inclusion(left, 0, 2, [right], head)
    assert not rfc6962.verify_inclusion(left, 0, 4, [right], head)
    # the version-1 root had the weakness this fixes
    v1 = ledger.merkle_root([leaf.hex() for leaf in leaves])
    inner = [hashlib.sha256(leaves[0] + leaves[1]).hexdigest(), hashlib.sha256(leaves[2] + leaves[3]).hexdigest()]
    assert ledger.merkle_root(inner) == v1


@pytest.mark.parametrize("n", [1, 2, 3, 5, 6, 7, 9, 31, 33, 69])
def test_a_root_commits_to_the_number_of_leaves(n):
    leaves = data(n)
    assert ref_mth(leaves) != ref_mth([*leaves, leaves[-1]])
    assert rfc6962.root(hashes(leaves)) != rfc6962.root(hashes([*leaves, leaves[-1]]))
    # (the version-1 root did not: an odd level doubled its last node)
    if n % 2 and n > 1:
        assert ledger.merkle_root([x.hex() for x in leaves]) == ledger.merkle_root([x.hex() for x in [*leaves, leaves[-1]]])


def test_a_proof_is_held_to_its_leaf_index_and_tree_size():
    leaves = data(11)
    head = ref_mth(leaves)
    path = rfc6962.inclusion_path(hashes(leaves), 6, 11)
    assert rfc6962.verify_inclusion(leaves[6], 6, 11, path, head)
    # a size that changes the path's shape or length is refused by the path itself ...
    for index, size in ((7, 11), (5, 11), (6, 7), (6, 8), (6, 17), (6, 6), (11, 11), (-1, 11)):
        assert not rfc6962.verify_inclusion(leaves[6], index, size, path, head), (index, size)
    # ... one of the same shape (leaf 6 in the left 8 of 9 to 16 leaves) is not: the size is
    # bound by the block hash, which covers tree_size, and Inclusion.holds compares them
    assert rfc6962.verify_inclusion(leaves[6], 6, 12, path, head)
    assert not rfc6962.verify_inclusion(leaves[6], 6, 11, [*path, path[-1]], head)  # one step too many
    assert not rfc6962.verify_inclusion(leaves[6], 6, 11, path[:-1], head)  # one too few
    # with the last leaf repeated the tree is another: the proof of the 12th leaf is not for 11
    longer = [*leaves, leaves[-1]]
    assert not rfc6962.verify_inclusion(longer[11], 11, 12, rfc6962.inclusion_path(hashes(longer), 11, 12), head)


# --- the ledger's blocks -----------------------------------------------------------------


@pytest.fixture
def ballot(make_contest, make_entry):
    contest = make_contest(kind="media", stage="voting")
    return contest, [make_entry(contest) for _ in range(3)]


@pytest.fixture
def cast(make_user, clock, ballot):
    _contest, entries = ballot

    def run(count):
        ids = []
        for i in range(count):
            result = voting.record_vote(db.session, voter=make_user(), entry_id=entries[i % 3].id, now=clock.now())
            db.session.commit()
            ids.append(result.vote.id)
        return ids
    return run


def seal(clock):
    clock.advance(seconds=10)
    block = ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    return block


def all_events():
    return list(db.session.scalars(select(LedgerEvent).order_by(LedgerEvent.block_id, LedgerEvent.id)))


def test_new_blocks_are_version_2_and_their_root_is_the_tree_head_of_every_sealed_event(cast, clock):
    sizes = []
    for count in (3, 1, 6, 5):
        cast(count)
        block = seal(clock)
        sizes.append(block.tree_size)
        assert block.version == 2
        digests = [bytes.fromhex(e.digest) for e in all_events()]
        assert block.merkle_root == ref_mth(digests).hex()
    assert sizes == [3, 4, 10, 15]
    assert ledger.verify_ledger(db.session).ok
    for event in all_events():
        proof = ledger.inclusion(db.session, event)
        assert proof.holds()
        assert rfc6962.verify_inclusion(bytes.fromhex(event.digest), proof.leaf_index, proof.tree_size,
                                        [bytes.fromhex(h) for h in proof.path], bytes.fromhex(proof.block.merkle_root))


def test_a_receipt_proof_with_a_wrong_index_or_size_fails(cast, clock):
    cast(7)
    seal(clock)
    event = all_events()[4]
    proof = ledger.inclusion(db.session, event)
    assert proof.holds() and (proof.leaf_index, proof.tree_size) == (4, 7)
    for changed in (replace(proof, leaf_index=5), replace(proof, leaf_index=3), replace(proof, tree_size=8),
                    replace(proof, tree_size=6), replace(proof, path=(*proof.path, proof.path[-1])),
                    replace(proof, path=proof.path[:-1])):
        assert not changed.holds()


def test_consistency_between_every_pair_of_heads(cast, clock):
    for count in (1, 2, 4, 3, 8, 1, 5):
        cast(count)
        seal(clock)
    heights = list(db.session.scalars(select(LedgerBlock.id).order_by(LedgerBlock.id)))
    for second in heights:
        for first in heights[:heights.index(second) + 1]:
            found = ledger.consistency(db.session, first, second)
            assert found is not None and found.holds(), (first, second)
    # a head that was rewritten is caught
    found = ledger.consistency(db.session, 3, 6)
    wrong = LedgerBlock(id=3, merkle_root=ledger.head(db.session).merkle_root, tree_size=found.first.tree_size, version=2)
    assert not replace(found, first=wrong).holds()
    assert ledger.consistency(db.session, 5, 2) is None and ledger.consistency(db.session, 1, 99) is None


def test_version_1_blocks_still_verify_and_the_tree_continues_over_their_events(cast, clock):
    cast(5)
    clock.advance(seconds=10)
    with db.engine.begin() as conn:  # a block sealed by the code before version 2
        old_ledger.seal(conn, upto=10**9, now=clock.now())
    db.session.expire_all()
    old = db.session.get(LedgerBlock, 1)
    assert old.version == 1 and old.tree_size is None
    assert ledger.verify_ledger(db.session).ok
    old_proof = ledger.inclusion(db.session, all_events()[2])
    assert old_proof.holds() and old_proof.proof and old_proof.leaf_index is None
    cast(4)
    new = seal(clock)
    assert (new.version, new.tree_size) == (2, 9)
    assert new.merkle_root == ref_mth([bytes.fromhex(e.digest) for e in all_events()]).hex()
    report = ledger.verify_ledger(db.session)
    assert report.ok and report.blocks == 2, report.problem
    assert ledger.inclusion(db.session, all_events()[7]).holds()
    assert ledger.consistency(db.session, 1, 2) is None  # a version-1 head has no tree size
    # the old block is still checked by its own rule
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_block SET merkle_root = :r WHERE id = 1"), {"r": "ab" * 32})
    db.session.expire_all()
    report = ledger.verify_ledger(db.session)
    assert not report.ok and report.problem == "block 1: Merkle root does not match its events"


@pytest.mark.parametrize(("statement", "problem"), [
    ("UPDATE ledger_block SET tree_size = tree_size + 1 WHERE id = 2", "block 2: Merkle root does not match its events"),
    ("UPDATE ledger_block SET version = 1 WHERE id = 2", "block 2: Merkle root does not match its events"),
    ("UPDATE ledger_block SET version = 3 WHERE id = 2", "block 2: unknown version 3"),
    ("UPDATE ledger_block SET first_event_id = first_event_id + 1 WHERE id = 2",
     "block 2: first or last event does not match its events"),
    ("UPDATE ledger_block SET sealed_at = :later WHERE id = 2", "block 2: hash does not match its contents"),
])
def test_verify_names_a_changed_version_2_block(cast, clock, statement, problem):
    cast(3)
    seal(clock)
    cast(2)
    seal(clock)
    assert ledger.verify_ledger(db.session).ok
    later = db.session.get(LedgerBlock, 2).sealed_at.replace(tzinfo=None) + ledger.SEAL_GRACE
    with db.engine.begin() as conn:
        conn.execute(text(statement), {"later": later} if ":later" in statement else {})
    db.session.expire_all()
    report = ledger.verify_ledger(db.session)
    assert not report.ok and report.problem == problem


def test_flask_votes_verify_checks_both_versions(runner, cast, clock):
    cast(3)
    clock.advance(seconds=10)
    with db.engine.begin() as conn:
        old_ledger.seal(conn, upto=10**9, now=clock.now())
    cast(2)
    seal(clock)
    result = runner.invoke(args=["votes", "verify"])
    assert result.exit_code == 0 and "OK: 2 blocks, 5 events" in result.output, result.output
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_block SET tree_size = 4 WHERE id = 2"))
    result = runner.invoke(args=["votes", "verify"])
    assert result.exit_code != 0 and "block 2: Merkle root does not match its events" in result.output, result.output
