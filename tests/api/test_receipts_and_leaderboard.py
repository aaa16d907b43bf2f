"""Receipts prove a vote is counted and sealed without naming the voter; the leaderboard."""

from __future__ import annotations

import hashlib

import pytest

from contest.accounts.actors import SYSTEM
from contest.extensions import db
from contest.voting import ledger
from contest.voting import service as voting
from tests.api.conftest import PREFIX, error_of


def vote(api, entry, token):  # type: ignore[no-untyped-def]
    response = api.post(f"{PREFIX}/entries/{entry.id}/votes", json={}, token=token)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def seal(clock):  # type: ignore[no-untyped-def]
    clock.advance(seconds=5)  # past the sealing grace period
    block = ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    return block


def test_a_receipt_before_and_after_its_block_is_sealed(api, ballot, voter, make_voter, clock):
    _contest, entries = ballot
    for _ in range(2):  # a few other votes, so the block has a real Merkle tree
        vote(api, entries[1], make_voter().token)
    cast = vote(api, entries[0], voter.token)
    response = api.get(f"{PREFIX}/receipts/{cast['receipt']}")
    assert response.status_code == 200
    body = response.get_json()
    assert body["status"] == "counted"
    assert body["entry"] == {"id": entries[0].id, "title": entries[0].title}
    [event] = body["events"]
    assert event["kind"] == "cast" and event["block"] is None and event["proof"] == []

    block = seal(clock)
    body = api.get(f"{PREFIX}/receipts/{cast['receipt'].lower()}").get_json()  # codes are read case-insensitively
    [event] = body["events"]
    assert event["block"]["height"] == block.id and event["block"]["hash"] == block.hash
    assert event["block"]["merkle_root"] == block.merkle_root
    # an RFC 6962 tree of three leaves: the third leaf's path is the head of the first two
    assert (event["leaf_index"], event["tree_size"], event["proof"]) == (2, 3, [])
    assert len(event["audit_path"]) == 1
    leaf = hashlib.sha256(b"\x00" + bytes.fromhex(event["digest"])).digest()
    assert hashlib.sha256(b"\x01" + bytes.fromhex(event["audit_path"][0]) + leaf).hexdigest() == block.merkle_root


def test_a_receipt_never_names_the_voter(api, ballot, voter):
    _contest, entries = ballot
    cast = vote(api, entries[0], voter.token)
    text = api.get(f"{PREFIX}/receipts/{cast['receipt']}").get_data(as_text=True)
    for secret in (voter.phone, voter.phone[-4:], f'"voter":{voter.id}', f'"voter":"{voter.id}"', "127.0.0.1",
                   '"ip"', '"device'):
        assert secret not in text
    # the digest names the voter by a pseudonym of this contest only
    assert ledger.voter_pseudonym(_contest.voter_key, voter.id) in text


def test_held_and_voided_votes_say_so(api, ballot, voter, make_voter, clock):
    _contest, entries = ballot
    cast = vote(api, entries[0], voter.token)
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[cast["vote_id"]], to="voided", reason="同一设备多账号", now=clock.now())
    db.session.commit()
    body = api.get(f"{PREFIX}/receipts/{cast['receipt']}").get_json()
    assert body["status"] == "voided"
    assert [e["kind"] for e in body["events"]] == ["cast", "void"]
    assert "同一设备多账号" not in str(body)  # the reason is for organisers


@pytest.mark.parametrize("code", ["AAAAAAAAAAAA", "not-a-receipt", "x" * 300])
def test_an_unknown_receipt(api, code):
    response = api.get(f"{PREFIX}/receipts/{code}")
    assert error_of(response) == (404, "receipt_not_found")
    assert response.get_json()["error"]["message"] == "没有找到这个投票凭证，请检查后重试。"


def test_the_leaderboard_orders_entries_by_votes(api, ballot, make_voter):
    contest, entries = ballot
    tokens = [make_voter().token for _ in range(3)]
    for token in tokens:
        vote(api, entries[2], token)
    for token in tokens[:2]:
        vote(api, entries[5], token)
    vote(api, entries[0], tokens[0])
    body = api.get(f"{PREFIX}/contests/{contest.slug}/leaderboard").get_json()
    assert body["counts_hidden"] is False
    top = [(row["rank"], row["entry_id"], row["votes"]) for row in body["items"][:3]]
    assert top == [(1, entries[2].id, 3), (2, entries[5].id, 2), (3, entries[0].id, 1)]
    assert body["items"][0]["title"] == entries[2].title
    limited = api.get(f"{PREFIX}/contests/{contest.slug}/leaderboard?limit=2").get_json()
    assert [row["entry_id"] for row in limited["items"]] == [entries[2].id, entries[5].id]


def test_the_leaderboard_by_category(api, make_contest, make_entry, make_voter):
    contest = make_contest(rules={"captcha_mode": "never"})
    photo, video = contest.categories
    in_photo = make_entry(contest, category_id=photo.id)
    in_video = make_entry(contest, category_id=video.id)
    token = make_voter().token
    vote(api, in_photo, token)
    vote(api, in_video, token)
    body = api.get(f"{PREFIX}/contests/{contest.slug}/leaderboard?category={video.id}").get_json()
    assert body["category_id"] == video.id
    assert [row["entry_id"] for row in body["items"] if row["votes"]] == [in_video.id]


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "category=-1", "limit=51", "limit=1000", "category=2147483648"])
def test_bad_leaderboard_parameters(api, ballot, query):
    contest, _entries = ballot
    assert error_of(api.get(f"{PREFIX}/contests/{contest.slug}/leaderboard?{query}")) == (400, "invalid_parameter")


def test_the_largest_leaderboard_is_50(api, ballot, make_voter):
    contest, entries = ballot
    vote(api, entries[0], make_voter().token)
    body = api.get(f"{PREFIX}/contests/{contest.slug}/leaderboard?limit=50&category=2147483647").get_json()
    assert body["category_id"] == 2147483647 and body["items"] == []
    too_many = api.get(f"{PREFIX}/contests/{contest.slug}/leaderboard?limit=51")
    assert too_many.get_json()["error"]["message"] == "参数“limit”不能大于 50。"


def test_the_leaderboard_runs_a_fixed_number_of_queries(api, ballot, make_voter, count_queries):
    contest, entries = ballot
    url = f"{PREFIX}/contests/{contest.slug}/leaderboard"
    vote(api, entries[0], make_voter().token)
    api.client.get(url)  # with Redis, the first read builds the live board from the database
    with count_queries() as shared:
        assert api.client.get(url).status_code == 200  # the shared copy: the contest's row only
    vote(api, entries[0], make_voter().token)  # which a vote renews
    with count_queries() as few:
        assert api.client.get(url).status_code == 200
    token = make_voter().token
    for entry in entries[1:6]:
        vote(api, entry, token)
    with count_queries() as many:
        assert api.client.get(url).status_code == 200
    # the contest (twice: for the shared page cache, then the page), its categories, the
    # board (when Redis has none) and the entries shown
    assert len(shared) == 1 and len(many) == len(few) <= 5


def test_hidden_counts_keep_the_ranking_and_drop_the_numbers(api, make_contest, make_entry, make_voter):
    contest = make_contest(rules={"captcha_mode": "never", "counts_public": False})
    entries = [make_entry(contest) for _ in range(2)]
    voter = make_voter()
    vote(api, entries[1], voter.token)
    body = api.get(f"{PREFIX}/contests/{contest.slug}/leaderboard").get_json()
    assert body["counts_hidden"] is True
    assert [(row["entry_id"], row["votes"]) for row in body["items"]] == [(entries[1].id, None)]


def test_a_contest_without_a_public_vote_has_no_leaderboard(api, make_contest):
    contest = make_contest(kind="innovation", categories=())
    response = api.get(f"{PREFIX}/contests/{contest.slug}/leaderboard")
    assert error_of(response) == (404, "no_public_vote")
    assert response.get_json()["error"]["message"] == "这项活动没有公众投票。"
