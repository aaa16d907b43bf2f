"""The Merkle tree of RFC 6962 §2.1 (as restated in RFC 9162 §2.1), over raw bytes.

A leaf is hashed as SHA-256(0x00 ‖ leaf) and an inner node as SHA-256(0x01 ‖ left ‖
right), so an inner node can never be passed off as a leaf. A tree of n leaves splits at
the largest power of two below n; nothing is duplicated, so a root commits to the number
of leaves as well as to each of them. Pure functions, no database: the ledger (version-2
blocks), its tests and docs/LEDGER.md use them as they are.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def leaf_hash(leaf: bytes) -> bytes:
    return hashlib.sha256(b"\x00" + leaf).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def _split(n: int) -> int:
    """The largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _subtree(hashes: Sequence[bytes], start: int, end: int) -> bytes:
    """MTH of the leaf hashes [start, end) (end > start)."""
    if end - start == 1:
        return hashes[start]
    k = _split(end - start)
    return node_hash(_subtree(hashes, start, start + k), _subtree(hashes, start + k, end))


def root(leaf_hashes: Sequence[bytes]) -> bytes:
    """The tree head over the given leaf hashes (the hash of the empty string for none)."""
    return _subtree(leaf_hashes, 0, len(leaf_hashes)) if leaf_hashes else EMPTY_ROOT


# --- extending a tree without its leaves ---------------------------------------------------

def extend(frontier: list[bytes], size: int, new_leaf_hashes: Sequence[bytes]) -> list[bytes]:
    """The frontier (roots of the perfect subtrees, largest first, as the binary digits of
    the size give them) after appending leaves to a tree of `size` leaves."""
    stack = list(frontier)
    for h in new_leaf_hashes:
        stack.append(h)
        size += 1
        # each trailing zero bit of the new size merges two equal subtrees into one
        merges = (size & -size).bit_length() - 1
        for _ in range(merges):
            right = stack.pop()
            stack[-1] = node_hash(stack[-1], right)
    return stack


def frontier_root(frontier: Sequence[bytes]) -> bytes:
    """The tree head from its frontier: the subtrees folded from the right."""
    if not frontier:
        return EMPTY_ROOT
    current = frontier[-1]
    for h in reversed(frontier[:-1]):
        current = node_hash(h, current)
    return current


# --- proofs ---------------------------------------------------------------------------------

# A subtree's head, MTH(D[start:end]): the proofs below ask only for perfect subtrees
# (a power of two of leaves, starting at a multiple of it) and for subtrees that end at the
# tree's last leaf, so a caller may answer from stored heads instead of the leaves.
Subtree = Callable[[int, int], bytes]


def inclusion_path(leaf_hashes: Sequence[bytes], index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]) of RFC 6962 §2.1.1: the audit path, from the leaf upwards."""
    if not size <= len(leaf_hashes):
        raise ValueError("leaf index outside the tree")
    return inclusion_path_by(lambda start, end: _subtree(leaf_hashes, start, end), index, size)


def inclusion_path_by(subtree: Subtree, index: int, size: int) -> list[bytes]:
    """PATH(index, D[0:size]), each sibling's head from `subtree(start, end)`."""
    if not 0 <= index < size:
        raise ValueError("leaf index outside the tree")
    path: list[bytes] = []

    def walk(m: int, start: int, end: int) -> None:
        if end - start <= 1:
            return
        k = _split(end - start)
        if m < k:
            walk(m, start, start + k)
            path.append(subtree(start + k, end))
        else:
            walk(m - k, start + k, end)
            path.append(subtree(start, start + k))

    walk(index, 0, size)
    return path


def verify_inclusion(leaf: bytes, index: int, size: int, path: Sequence[bytes], expected_root: bytes) -> bool:
    """RFC 9162 §2.1.3.2: whether `leaf` (the leaf's data, not its hash) is leaf number
    `index` of the tree of `size` leaves with head `expected_root`. A path longer or
    shorter than the index and size imply is refused."""
    if not 0 <= index < size:
        return False
    fn, sn = index, size - 1
    current = leaf_hash(leaf)
    for sibling in path:
        if sn == 0:
            return False  # more steps than the tree has levels
        if fn & 1 or fn == sn:
            current = node_hash(sibling, current)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            current = node_hash(current, sibling)
        fn >>= 1
        sn >>= 1
    return sn == 0 and current == expected_root


def consistency_proof(leaf_hashes: Sequence[bytes], old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]) of RFC 6962 §2.1.2."""
    if not new_size <= len(leaf_hashes):
        raise ValueError("tree sizes out of order")
    return consistency_proof_by(lambda start, end: _subtree(leaf_hashes, start, end), old_size, new_size)


def consistency_proof_by(subtree: Subtree, old_size: int, new_size: int) -> list[bytes]:
    """PROOF(old_size, D[0:new_size]), each node's head from `subtree(start, end)`."""
    if not 0 < old_size <= new_size:
        raise ValueError("tree sizes out of order")
    proof: list[bytes] = []

    def subproof(m: int, start: int, end: int, complete: bool) -> None:
        n = end - start
        if m == n:
            if not complete:
                proof.append(subtree(start, end))
            return
        k = _split(n)
        if m <= k:
            subproof(m, start, start + k, complete)
            proof.append(subtree(start + k, end))
        else:
            subproof(m - k, start + k, end, False)
            proof.append(subtree(start, start + k))

    subproof(old_size, 0, new_size, True)
    return proof


def verify_consistency(old_size: int, new_size: int, old_root: bytes, new_root: bytes, proof: Sequence[bytes]) -> bool:
    """RFC 9162 §2.1.4.2: whether the tree of `new_size` leaves with head `new_root`
    extends the tree of `old_size` leaves with head `old_root`."""
    if not 0 < old_size <= new_size:
        return False
    if old_size == new_size:
        return not proof and old_root == new_root
    steps = list(proof)
    if old_size & (old_size - 1) == 0:  # a power of two: the old head is the first node
        steps.insert(0, old_root)
    if not steps:
        return False
    fn, sn = old_size - 1, new_size - 1
    while fn & 1:
        fn >>= 1
        sn >>= 1
    fr = sr = steps[0]
    for c in steps[1:]:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                while fn & 1 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    return sn == 0 and fr == old_root and sr == new_root
