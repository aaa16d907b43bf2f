"""Ledger events state the status they leave their vote in; one replay of the events gives
every vote's state to the results' tally and to verify_ledger; ledgers written before
(format 1) still verify, and their statuses are held to what their digests cover."""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import select, text

from contest.extensions import db
from contest.results import service as results
from contest.voting import ledger
from contest.voting import service as voting
from contest.voting.models import LedgerEvent
from tests.voting import old_ledger

HOLD = voting.Verdict(action="hold", score=80, reasons=("shared_device", "ip_velocity"))


@pytest.fixture
def ballot(make_contest, make_entry):
    contest = make_contest(kind="media", stage="voting")
    return contest, [make_entry(contest) for _ in range(3)]


@pytest.fixture
def vote(make_user, clock):
    def cast(entry, *, held=False):
        result = voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now(),
                                  **({"verdict": HOLD} if held else {}))
        db.session.commit()
        return result.vote.id
    return cast


@pytest.fixture
def change(make_user, clock):
    organiser = make_user("organiser")

    def run(vote_ids, to):
        voting.change_status(db.session, actor=organiser, vote_ids=vote_ids, to=to, reason="人工复核", now=clock.now())
        db.session.commit()
    return run


def seal(clock):
    clock.advance(seconds=10)
    block = ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    return block


def event_rows():
    db.session.expire_all()
    return db.session.execute(select(LedgerEvent.vote_id, LedgerEvent.kind, LedgerEvent.detail, LedgerEvent.vote_status,
                                      LedgerEvent.format).order_by(LedgerEvent.id)).all()


# --- the field -----------------------------------------------------------------------------

def test_each_event_states_the_status_it_leaves_its_vote_in(ballot, vote, change):
    _contest, entries = ballot
    valid, held = vote(entries[0]), vote(entries[0], held=True)
    change([held], "valid")
    change([valid], "voided")
    assert event_rows() == [
        (valid, "cast", "valid", "valid", ledger.EVENT_FORMAT),
        (held, "cast", "held: shared_device,ip_velocity", "held", ledger.EVENT_FORMAT),
        (held, "release", "人工复核", "valid", ledger.EVENT_FORMAT),
        (valid, "void", "人工复核", "voided", ledger.EVENT_FORMAT),
    ]


def test_the_digest_of_a_new_event_covers_its_status_and_format_and_an_old_one_keeps_its_rule():
    at = datetime(2023, 5, 16, 2, 0, tzinfo=UTC)
    common = dict(kind="cast", at=at, detail="valid", contest_id=1, entry_id=2, voter_id=3, day=date(2023, 5, 16),
                  cast_at=at, receipt="ABCDEFGHJKMN")
    old = ('{"at":"2023-05-16T02:00:00+00:00","cast_at":"2023-05-16T02:00:00+00:00","contest":1,"day":"2023-05-16",'
           '"detail":"valid","entry":2,"kind":"cast","receipt":"ABCDEFGHJKMN","voter":3}')
    legacy = ledger.digest_of(ledger.cast_fields(**common, vote_status="valid", fmt=1))
    assert legacy == hashlib.sha256(old.encode()).hexdigest() == old_ledger.old_digest(**common)
    assert ledger.digest_of(ledger.cast_fields(**common, vote_status="held", fmt=1)) == legacy  # not covered then
    new = ledger.digest_of(ledger.cast_fields(**common, vote_status="valid", voter_key=KEY))
    assert new != legacy
    assert ledger.digest_of(ledger.cast_fields(**common, vote_status="held", voter_key=KEY)) != new


KEY, OTHER_KEY = "11" * 32, "22" * 32


def test_format_4_names_the_voter_by_a_pseudonym_of_the_contest_and_hides_receipt_and_detail():
    at = datetime(2023, 5, 16, 2, 0, tzinfo=UTC)
    common = dict(kind="cast", at=at, contest_id=1, entry_id=2, day=date(2023, 5, 16), cast_at=at,
                  receipt="ABCDEFGHJKMN", vote_status="held")
    fields = ledger.cast_fields(**common, detail="held: shared_device", voter_id=3, voter_key=KEY)
    assert sorted(fields) == ["at", "cast_at", "contest", "day", "detail_mac", "entry", "format", "kind",
                              "receipt_sha256", "vote_status", "voter"]
    assert fields["format"] == 4 and fields["receipt_sha256"] == hashlib.sha256(b"ABCDEFGHJKMN").hexdigest()
    assert "ABCDEFGHJKMN" not in ledger.canonical_json(fields).decode()
    assert fields["voter"] == ledger.voter_pseudonym(KEY, 3) and len(fields["voter"]) == 32
    # one voter, one name in the contest; another voter another; another contest's key another
    assert ledger.voter_pseudonym(KEY, 3) == ledger.voter_pseudonym(KEY, 3) != ledger.voter_pseudonym(KEY, 4)
    assert ledger.voter_pseudonym(OTHER_KEY, 3) != ledger.voter_pseudonym(KEY, 3)
    # a hold's signals are few: without the key their digest cannot be guessed from a list
    assert fields["detail_mac"] != hashlib.sha256(b"held: shared_device").hexdigest()
    assert fields["detail_mac"] != ledger.cast_fields(**common, detail="held: ip_velocity", voter_id=3,
                                                      voter_key=KEY)["detail_mac"]
    with pytest.raises(ValueError):
        ledger.cast_fields(**common, detail="valid", voter_id=3)  # never without the contest's secret


def test_a_new_contest_has_a_secret_of_its_own_that_no_page_or_api_shows(client, make_contest):
    one, two = make_contest(kind="media", stage="voting"), make_contest(kind="media", stage="voting")
    assert len(one.voter_key) == 64 and one.voter_key != two.voter_key
    for path in (f"/c/{one.slug}", f"/api/v1/contests/{one.slug}", "/api/v1/contests"):
        assert one.voter_key not in client.get(path).get_data(as_text=True)


# --- one replay ----------------------------------------------------------------------------

def test_replay_and_the_tally_count_held_released_and_voided_votes(ballot, vote, change, make_contest, make_entry,
                                                                    clock):
    contest, (a, b, c) = ballot
    stays_valid, voided = vote(a), vote(a)
    stays_held = vote(a, held=True)
    released, held_voided, released_voided = (vote(b, held=True) for _ in range(3))
    elsewhere = make_entry(make_contest(kind="media", stage="voting"))
    other = vote(elsewhere)
    change([released, released_voided], "valid")
    change([voided, held_voided, released_voided], "voided")
    seal(clock)
    late = vote(c)  # not sealed yet

    tally = results.ledger_tally(db.session, contest)
    assert tally.by_status("valid") == {a.id: 1, b.id: 1}
    assert tally.by_status("held") == {a.id: 1}
    assert tally.by_status("voided") == {a.id: 1, b.id: 2}
    assert tally.unsealed == 1 and tally.mismatched == ()

    expected = {stays_valid: (a.id, "valid"), voided: (a.id, "voided"), stays_held: (a.id, "held"),
                released: (b.id, "valid"), held_voided: (b.id, "voided"), released_voided: (b.id, "voided"),
                late: (c.id, "valid")}
    states = ledger.replay(db.session, contest_id=contest.id).run()
    assert {v: (s.entry_id, s.status) for v, s in states.items()} == expected
    seen: list[int] = []
    walk = ledger.replay(db.session, batch=2, progress=seen.append)
    ids = [row.id for row in walk]
    assert ids == sorted(ids) and len(ids) == walk.events == 13
    assert seen == [2, 4, 6, 8, 10, 12, 13]
    assert {v: (s.entry_id, s.status) for v, s in walk.states.items()} == {**expected, other: (elsewhere.id, "valid")}
    sealed = ledger.replay(db.session, contest_id=contest.id, sealed_only=True).run()
    assert late not in sealed and len(sealed) == 6
    assert ledger.verify_ledger(db.session, batch=3).ok


def test_the_tally_reports_a_vote_row_that_disagrees_with_its_events(ballot, vote, clock):
    contest, entries = ballot
    changed = vote(entries[0], held=True)
    seal(clock)
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE vote SET status = 'valid' WHERE id = :v"), {"v": changed})
    db.session.expire_all()
    tally = results.ledger_tally(db.session, contest)
    assert tally.by_status("held") == {entries[0].id: 1} and tally.mismatched == (changed,)
    report = ledger.verify_ledger(db.session)
    assert not report.ok and report.problem == f"vote {changed}: status 'valid' but its events say 'held'"


# --- ledgers written before the field ------------------------------------------------------

def test_a_ledger_written_before_the_status_field_still_verifies(ballot, vote, change, clock):
    contest, (a, b, _c) = ballot
    valid, later_voided = vote(a), vote(a)
    held, released, voided = (vote(b, held=True) for _ in range(3))
    change([released], "valid")
    change([voided], "voided")
    with db.engine.begin() as conn:  # as the code before the field wrote them
        old_ledger.rewrite_digests(conn, mark_format=True)
    old_block = seal(clock)
    assert old_block.event_count == 7
    assert ledger.verify_ledger(db.session).ok
    # new events follow the old ones in the chain
    change([later_voided], "voided")
    late = vote(b)
    seal(clock)
    report = ledger.verify_ledger(db.session)
    assert report.ok and (report.blocks, report.events) == (2, 9), report.problem
    assert [row.format for row in event_rows()] == [1] * 7 + [ledger.EVENT_FORMAT] * 2
    tally = results.ledger_tally(db.session, contest)
    assert (tally.by_status("valid"), tally.by_status("held"), tally.by_status("voided")) == ({a.id: 1, b.id: 2}, {b.id: 1}, {a.id: 1, b.id: 1})
    assert {valid, held, released, voided, late} <= set(ledger.replay(db.session).run())


def tamper(*statements):
    with db.engine.begin() as conn:
        for statement in statements:
            conn.execute(text(statement))
    db.session.expire_all()
    return ledger.verify_ledger(db.session)


def test_the_status_of_an_old_event_is_held_to_its_detail(ballot, vote, clock):
    _contest, entries = ballot
    cast = vote(entries[0])
    with db.engine.begin() as conn:
        old_ledger.rewrite_digests(conn, mark_format=True)
    seal(clock)
    event_id = db.session.scalar(select(LedgerEvent.id))
    # its digest does not cover vote_status, yet changing it with the vote row is found
    report = tamper("UPDATE ledger_event SET vote_status = 'held'", "UPDATE vote SET status = 'held'")
    assert not report.ok
    assert report.problem == f"event {event_id} (vote {cast}): status 'held' but its detail says 'valid'"
    # nor can an old event pass for a new one, whose digest would cover the changed status
    report = tamper("UPDATE ledger_event SET format = 2")
    assert not report.ok and report.problem == f"event {event_id} (vote {cast}): digest does not match its fields"


def test_the_status_and_format_of_a_new_event_are_covered_by_its_digest(ballot, vote, clock):
    _contest, entries = ballot
    cast = vote(entries[0])
    seal(clock)
    assert ledger.verify_ledger(db.session).ok
    event_id = db.session.scalar(select(LedgerEvent.id))
    broken = f"event {event_id} (vote {cast}): digest does not match its fields"
    report = tamper("UPDATE ledger_event SET vote_status = 'held'", "UPDATE vote SET status = 'held'")
    assert not report.ok and report.problem == broken
    report = tamper("UPDATE ledger_event SET vote_status = 'valid', format = 1", "UPDATE vote SET status = 'valid'")
    assert not report.ok and report.problem == broken
    report = tamper("UPDATE ledger_event SET vote_status = 'valid', format = 2")
    assert not report.ok and report.problem == broken
    report = tamper("UPDATE ledger_event SET vote_status = 'valid', format = 3")
    assert not report.ok and report.problem == broken
    report = tamper("UPDATE ledger_event SET format = 5")
    assert not report.ok and report.problem == f"event {event_id} (vote {cast}): unknown format 5"
    # the contest's secret is part of every new digest: changing it breaks them
    report = tamper("UPDATE ledger_event SET format = 4", f"UPDATE contest SET voter_key = '{'33' * 32}'")
    assert not report.ok and report.problem == broken


def test_an_event_cannot_leave_its_vote_in_a_status_its_kind_does_not_give(ballot, vote, change):
    _contest, entries = ballot
    voided = vote(entries[0])
    change([voided], "voided")
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE ledger_event SET vote_status = 'valid' WHERE kind = 'void'"))
        conn.execute(text("UPDATE vote SET status = 'valid'"))
        old_ledger.rewrite_digests(conn, mark_format=True)  # digests that match, by the old rule
    event_id = db.session.scalar(select(LedgerEvent.id).where(LedgerEvent.kind == "void"))
    report = ledger.verify_ledger(db.session)
    assert not report.ok
    assert report.problem == f"event {event_id} (vote {voided}): a 'void' event cannot leave its vote 'valid'"
