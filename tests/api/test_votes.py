"""POST /api/v1/entries/{id}/votes: every outcome with its exact status and code, and
nothing stored when the vote is refused."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from contest.antifraud import captcha
from contest.antifraud.models import FraudObservation
from contest.extensions import db
from contest.voting.models import IdempotentReply, LedgerEvent, Vote
from tests.api.conftest import PREFIX, error_of, vote_count


def vote_url(entry_or_id) -> str:  # type: ignore[no-untyped-def]
    return f"{PREFIX}/entries/{getattr(entry_or_id, 'id', entry_or_id)}/votes"


def test_an_accepted_vote(api, ballot, voter):
    contest, entries = ballot
    response = api.post(vote_url(entries[0]), json={}, token=voter.token,
                        headers={"X-Device-Id": "device-abc", "User-Agent": "ContestApp/1.0 (Android 13)"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["votes_left_today"] == 4
    vote = db.session.get(Vote, body["vote_id"])
    assert (vote.receipt, vote.voter_id, vote.entry_id, vote.contest_id) == (body["receipt"], voter.id, entries[0].id, contest.id)
    assert (vote.ip, vote.device_id, vote.user_agent) == ("127.0.0.1", "device-abc", "ContestApp/1.0 (Android 13)")
    assert db.session.scalar(select(func.count()).select_from(LedgerEvent).where(LedgerEvent.vote_id == vote.id)) == 1


def test_every_value_at_its_limit_is_stored_whole_or_cut_to_its_column(api, ballot, voter):
    # The vote's statement leaves the columns' lengths to the values it is given: each is
    # bounded before it gets there (a long User-Agent is cut, the rest are refused above
    # their limits), so the longest request any client may send is a 201, not an error.
    _contest, entries = ballot
    response = api.post(vote_url(entries[0]), json={}, token=voter.token, headers={
        "User-Agent": "界" * 1000, "X-Device-Id": "d" * 64, "Idempotency-Key": "k" * 80})
    assert response.status_code == 201, response.get_json()
    vote = db.session.get(Vote, response.get_json()["vote_id"])
    assert (len(vote.user_agent), len(vote.device_id), len(vote.idempotency_key)) == (300, 64, 80)
    observation = db.session.scalar(select(FraudObservation).where(FraudObservation.voter_id == voter.id))
    assert (observation.device_id, observation.ip, observation.subnet) == (vote.device_id, vote.ip, vote.subnet)


def test_the_entry_answer_stamps_when_it_was_shown(api, ballot, voter, clock):
    # An app that votes the instant it shows an entry (or never shows it) looks like a bot.
    _contest, entries = ballot
    shown = api.get(f"{PREFIX}/entries/{entries[0].id}")
    assert shown.headers["Cache-Control"] == "no-store"
    stamp = shown.get_json()["view_token"]
    clock.advance(seconds=1)
    fast = api.post(vote_url(entries[0]), json={"view_token": stamp}, token=voter.token)
    assert fast.status_code == 201
    assert "too_fast" in db.session.get(Vote, fast.get_json()["vote_id"]).reasons
    second = api.get(f"{PREFIX}/entries/{entries[1].id}").get_json()["view_token"]
    clock.advance(seconds=20)
    calm = api.post(vote_url(entries[1]), json={"view_token": second}, token=voter.token)
    assert db.session.get(Vote, calm.get_json()["vote_id"]).reasons == []
    # a stamp of another entry, a forged one or a malformed one counts as unknown
    for n, token in ((2, second), (3, second[:-2] + "xx"), (4, "x" * 500)):
        other = api.post(vote_url(entries[n]), json={"view_token": token}, token=voter.token)
        assert other.status_code == 201 and db.session.get(Vote, other.get_json()["vote_id"]).reasons == []
    assert error_of(api.post(vote_url(entries[5]), json={"view_token": 7}, token=voter.token)) == (400, "invalid")


def test_no_stamp_while_voting_is_closed(api, make_contest, make_entry):
    entry = make_entry(make_contest(kind="media", stage="judging"))
    body = api.get(f"{PREFIX}/entries/{entry.id}").get_json()
    assert body["voting_open"] is False and body["view_token"] is None


def test_a_vote_without_a_body_is_fine(api, ballot, voter):
    _contest, entries = ballot
    assert api.post(vote_url(entries[0]), token=voter.token).status_code == 201


def test_already_voted_for_this_entry_today(api, ballot, voter):
    _contest, entries = ballot
    assert api.post(vote_url(entries[0]), json={}, token=voter.token).status_code == 201
    again = api.post(vote_url(entries[0]), json={}, token=voter.token)
    assert error_of(again) == (409, "already_voted")
    assert again.get_json()["error"]["message"] == "今天已经为这件作品投过票了，明天再来吧。"
    assert vote_count() == 1


def test_the_daily_quota(api, ballot, voter):
    _contest, entries = ballot
    for n, entry in enumerate(entries[:5]):
        assert api.post(vote_url(entry), json={}, token=voter.token).get_json()["votes_left_today"] == 4 - n
    over = api.post(vote_url(entries[5]), json={}, token=voter.token)
    assert error_of(over) == (429, "daily_quota")
    assert over.get_json()["error"]["message"] == "今天的 5 票已经用完了，明天再来吧。"
    assert 14 * 3600 - 5 <= int(over.headers["Retry-After"]) <= 14 * 3600 + 5  # until midnight, Beijing time
    assert vote_count() == 5


@pytest.mark.parametrize("stage", ["submission", "judging", "closed", "upcoming"])
def test_outside_the_voting_window(api, make_contest, make_entry, voter, stage):
    entry = make_entry(make_contest(stage=stage))
    response = api.post(vote_url(entry), json={}, token=voter.token)
    assert error_of(response) == (403, "voting_closed")
    assert response.get_json()["error"]["message"] == "现在不在投票时间内。"
    assert vote_count() == 0


def test_an_unverified_account_cannot_vote(api, ballot, voter):
    _contest, entries = ballot
    voter.phone_verified_at = None
    db.session.commit()
    response = api.post(vote_url(entries[0]), json={}, token=voter.token)
    assert error_of(response) == (403, "not_verified")
    assert response.get_json()["error"]["message"] == "请先完成手机验证再投票。"
    assert vote_count() == 0


def test_an_account_newer_than_the_rule_allows_cannot_vote_yet(api, make_contest, make_entry, voter, clock):
    # The token's account is read as the columns the checks use: its age counts as the
    # web's does, and the same account votes once it is old enough.
    entry = make_entry(make_contest(kind="media", stage="voting", rules={"captcha_mode": "never", "min_account_age_hours": 72}))
    voter.created_at = clock.now() - timedelta(hours=71)
    db.session.commit()
    response = api.post(vote_url(entry), json={}, token=voter.token)
    assert error_of(response) == (403, "account_too_new")
    assert response.get_json()["error"]["message"] == "新注册的账号需满 72 小时后才能投票。"
    assert vote_count() == 0
    clock.advance(hours=1)
    assert api.post(vote_url(entry), json={}, token=voter.token).status_code == 201


@pytest.mark.parametrize("status", ["draft", "submitted", "rejected", "withdrawn"])
def test_an_entry_that_is_not_approved(api, ballot, make_entry, voter, status):
    contest, _entries = ballot
    entry = make_entry(contest, status=status)
    response = api.post(vote_url(entry), json={}, token=voter.token)
    assert error_of(response) == (403, "entry_not_votable")
    assert response.get_json()["error"]["message"] == "这件作品目前不能投票。"
    assert vote_count() == 0


def test_an_unknown_entry(api, ballot, voter):
    response = api.post(vote_url(987654), json={}, token=voter.token)
    assert error_of(response) == (404, "entry_not_found")
    assert response.get_json()["error"]["message"] == "没有找到这件作品。"
    assert vote_count() == 0


@pytest.mark.parametrize("body, code", [
    (b"{not json", "bad_json"), (b'{"captcha_id": "abc",}', "bad_json"), (b"[]", "bad_json"), (b'"text"', "bad_json"),
    (b"\xff\xfe\x00garbage", "bad_json"), (b'{"captcha_id": 42}', "invalid"), (b'{"captcha_answer": ["A"]}', "invalid"),
])
def test_malformed_json(api, ballot, voter, body, code):
    _contest, entries = ballot
    response = api.post(vote_url(entries[0]), data=body, content_type="application/json", token=voter.token)
    assert error_of(response) == (400, code)
    assert vote_count() == 0


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", None])
def test_a_body_not_sent_as_json_is_415(api, ballot, voter, content_type):
    _contest, entries = ballot
    response = api.post(vote_url(entries[0]), data=b"{}", content_type=content_type, token=voter.token)
    assert error_of(response) == (415, "unsupported_type")
    assert vote_count() == 0
    # no body at all needs no Content-Type
    assert api.post(vote_url(entries[0]), data=b"", content_type=content_type, token=voter.token).status_code == 201


def test_a_device_id_longer_than_documented_is_400(api, ballot, voter):
    _contest, entries = ballot
    response = api.post(vote_url(entries[0]), json={}, token=voter.token, headers={"X-Device-Id": "d" * 65})
    assert error_of(response) == (400, "invalid")
    assert response.get_json()["error"]["message"] == "请求头“X-Device-Id”不能超过 64 个字符。"
    assert vote_count() == 0
    assert api.post(vote_url(entries[0]), json={}, token=voter.token, headers={"X-Device-Id": "d" * 64}).status_code == 201
    assert vote_count(device_id="d" * 64) == 1


def test_a_field_the_document_does_not_declare_is_400(api, ballot, voter):
    _contest, entries = ballot
    response = api.post(vote_url(entries[0]), json={"captcha_answr": "ABCD", "x": 1}, token=voter.token)
    assert error_of(response) == (400, "invalid")
    assert response.get_json()["error"]["message"] == "请求中有不支持的字段：captcha_answr、x。"
    assert vote_count() == 0


def test_a_huge_body_is_refused_before_it_is_read(api, ballot, voter):
    _contest, entries = ballot
    response = api.post(vote_url(entries[0]), data=b'{"captcha_id": "' + b"x" * 100_000 + b'"}',
                        content_type="application/json", token=voter.token)
    assert error_of(response) == (413, "too_large")
    assert vote_count() == 0


# --- captcha ----------------------------------------------------------------------------

@pytest.fixture
def captcha_ballot(make_contest, make_entry):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="media", stage="voting", rules={"captcha_mode": "always"})
    return contest, [make_entry(contest) for _ in range(3)]


def new_captcha(api, app):  # type: ignore[no-untyped-def]
    response = api.post(PREFIX + "/captchas")
    assert response.status_code == 201
    body = response.get_json()
    answer = captcha.challenge_code(db.session, app.extensions["redis"], body["id"])
    db.session.rollback()
    return body, answer


def test_a_captcha_is_issued_with_an_image_and_audio(api, app, client):
    body, answer = new_captcha(api, app)
    assert answer and body["image_url"].startswith("http://localhost/")
    image = client.get(body["image_url"])
    assert image.status_code == 200 and image.mimetype == "image/png" and image.data.startswith(b"\x89PNG")
    audio = client.get(body["audio_url"])
    assert audio.status_code == 200 and audio.mimetype == "audio/wav" and audio.data.startswith(b"RIFF")


def test_captcha_required(api, captcha_ballot, voter):
    _contest, entries = captcha_ballot
    response = api.post(vote_url(entries[0]), json={}, token=voter.token)
    assert error_of(response) == (403, "captcha_required")
    assert response.get_json()["error"]["message"] == "请先完成图形验证码。"
    assert vote_count() == 0


def test_a_solved_captcha_lets_the_vote_through_once(api, app, captcha_ballot, voter):
    _contest, entries = captcha_ballot
    challenge, answer = new_captcha(api, app)
    body = {"captcha_id": challenge["id"], "captcha_answer": answer.lower()}
    assert api.post(vote_url(entries[0]), json=body, token=voter.token).status_code == 201
    replayed = api.post(vote_url(entries[1]), json=body, token=voter.token)
    assert error_of(replayed) == (403, "captcha_invalid")
    assert vote_count() == 1


@pytest.mark.parametrize("case", ["wrong", "unknown", "missing_answer"])
def test_a_wrong_or_unknown_captcha(api, app, captcha_ballot, voter, case):
    _contest, entries = captcha_ballot
    challenge, answer = new_captcha(api, app)
    body = {
        "wrong": {"captcha_id": challenge["id"], "captcha_answer": "ZZZZZZ"},
        "unknown": {"captcha_id": "no-such-captcha", "captcha_answer": answer},
        "missing_answer": {"captcha_id": challenge["id"]},
    }[case]
    response = api.post(vote_url(entries[0]), json=body, token=voter.token)
    assert error_of(response) == (403, "captcha_invalid")
    assert response.get_json()["error"]["message"] == "验证码不正确或已过期，请换一张再试。"
    assert vote_count() == 0
    retry = api.post(vote_url(entries[0]), json={"captcha_id": challenge["id"], "captcha_answer": answer}, token=voter.token)
    if case == "unknown":
        assert retry.status_code == 201  # the real challenge was not touched
    else:  # a wrong answer used the challenge up: the right one no longer works
        assert error_of(retry) == (403, "captcha_invalid")


# --- idempotency ------------------------------------------------------------------------

def test_the_same_key_and_body_replays_the_first_answer(api, ballot, voter):
    _contest, entries = ballot
    headers = {"Idempotency-Key": "vote-7f3a9c"}
    first = api.post(vote_url(entries[0]), json={}, token=voter.token, headers=headers)
    assert first.status_code == 201 and "Idempotent-Replayed" not in first.headers
    again = api.post(vote_url(entries[0]), json={}, token=voter.token, headers=headers)
    assert again.status_code == 201
    assert again.get_json() == first.get_json()
    assert again.headers["Idempotent-Replayed"] == "true"
    # key order and spacing do not make another request
    spaced = api.post(vote_url(entries[0]), data=b"{ }", content_type="application/json", token=voter.token, headers=headers)
    assert spaced.get_json() == first.get_json()
    assert vote_count() == 1
    assert db.session.scalar(select(Vote.idempotency_key)) == "vote-7f3a9c"
    reply = db.session.scalar(select(IdempotentReply))
    assert (reply.voter_id, reply.status, reply.body) == (voter.id, 201, first.get_json())


def test_the_same_key_with_another_body_or_entry_is_422(api, ballot, voter):
    _contest, entries = ballot
    headers = {"Idempotency-Key": "k-1"}
    assert api.post(vote_url(entries[0]), json={}, token=voter.token, headers=headers).status_code == 201
    other_body = api.post(vote_url(entries[0]), json={"captcha_id": "x", "captcha_answer": "y"}, token=voter.token,
                          headers=headers)
    assert error_of(other_body) == (422, "idempotency_mismatch")
    assert other_body.get_json()["error"]["message"] == "这个 Idempotency-Key 已用于另一个请求，请换一个新的。"
    other_entry = api.post(vote_url(entries[1]), json={}, token=voter.token, headers=headers)
    assert error_of(other_entry) == (422, "idempotency_mismatch")
    assert vote_count() == 1


def test_a_repeat_that_the_quota_would_let_through_still_replays(api, app, ballot, voter):
    # Two votes a day for an entry: the repeat passes the quota and is stopped by its key.
    contest, entries = ballot
    contest.rules = {**contest.rules, "votes_per_entry_per_day": 2}
    db.session.commit()
    headers = {"Idempotency-Key": "twice-allowed"}
    first = api.post(vote_url(entries[0]), json={}, token=voter.token, headers=headers)
    again = api.post(vote_url(entries[0]), json={}, token=voter.token, headers=headers)
    assert first.status_code == again.status_code == 201
    assert again.get_json() == first.get_json() and again.headers["Idempotent-Replayed"] == "true"
    assert vote_count() == 1 and db.session.scalar(select(func.count()).select_from(LedgerEvent)) == 1
    fresh = api.post(vote_url(entries[0]), json={}, token=voter.token, headers={"Idempotency-Key": "second-vote"})
    assert fresh.status_code == 201 and vote_count() == 2


def test_a_repeat_after_voting_closed_replays_the_answer(api, ballot, voter, clock):
    contest, entries = ballot
    headers = {"Idempotency-Key": "before-the-close"}
    first = api.post(vote_url(entries[0]), json={}, token=voter.token, headers=headers)
    assert first.status_code == 201
    clock.set(contest.window("voting")[1])
    closed = api.post(vote_url(entries[1]), json={}, token=voter.token)
    assert error_of(closed) == (403, "voting_closed")
    again = api.post(vote_url(entries[0]), json={}, token=voter.token, headers=headers)
    assert again.status_code == 201 and again.get_json() == first.get_json()
    assert vote_count() == 1


def test_a_vote_is_written_by_one_statement_on_postgresql(app, api, ballot, voter, count_queries):
    _contest, entries = ballot
    api.post(vote_url(entries[0]), json={}, token=voter.token)  # the registration memo is settled here
    with count_queries() as statements:
        response = api.post(vote_url(entries[1]), json={}, token=voter.token, headers={"Idempotency-Key": "one-trip"})
    assert response.status_code == 201
    writes = [s for s in statements if not s.lstrip().upper().startswith("SELECT")]
    if db.engine.dialect.name == "postgresql":
        # quotas, vote, ledger event, its count, fraud observation and the key's answer: one WITH statement
        assert len(writes) == 1 and writes[0].lstrip().upper().startswith("WITH")
        for table in ("vote_entry_quota", "vote_quota", "vote ", "ledger_event", "vote_count", "fraud_observation",
                      "idempotent_reply"):
            assert f"INSERT INTO {table}" in writes[0]
    else:
        assert len(writes) == 7  # the same rows, one insert after the other
    reply = db.session.scalar(select(IdempotentReply).where(IdempotentReply.key == "one-trip"))
    assert reply.body == response.get_json() and reply.body["votes_left_today"] == 3
    assert db.session.scalar(select(func.count()).select_from(FraudObservation)) == 2


def test_keys_belong_to_their_voter(api, ballot, voter, make_voter):
    _contest, entries = ballot
    someone_token = make_voter().token
    headers = {"Idempotency-Key": "shared-key"}
    mine = api.post(vote_url(entries[0]), json={}, token=voter.token, headers=headers)
    theirs = api.post(vote_url(entries[0]), json={}, token=someone_token, headers=headers)
    assert mine.status_code == theirs.status_code == 201
    assert mine.get_json()["receipt"] != theirs.get_json()["receipt"]
    assert vote_count() == 2


def test_a_refusal_is_not_remembered_so_the_key_can_be_retried(api, app, captcha_ballot, voter):
    _contest, entries = captcha_ballot
    headers = {"Idempotency-Key": "retry-after-captcha"}
    refused = api.post(vote_url(entries[0]), json={}, token=voter.token, headers=headers)
    assert error_of(refused) == (403, "captcha_required")
    assert db.session.scalar(select(func.count()).select_from(IdempotentReply)) == 0
    challenge, answer = new_captcha(api, app)
    solved = api.post(vote_url(entries[0]), json={"captcha_id": challenge["id"], "captcha_answer": answer},
                      token=voter.token, headers=headers)
    assert solved.status_code == 201
    assert vote_count() == 1


@pytest.mark.parametrize("key", ["", "has space", "x" * 81, "ключ"])
def test_a_malformed_key_is_400(api, ballot, voter, key):
    _contest, entries = ballot
    response = api.post(vote_url(entries[0]), json={}, token=voter.token, headers={"Idempotency-Key": key})
    assert error_of(response) == (400, "bad_idempotency_key")
    assert vote_count() == 0


def test_parallel_retries_with_one_key_vote_once(app, api, ballot, voter):
    """Two copies of one request in flight at once: one vote, and both get its answer."""
    import threading

    _contest, entries = ballot
    url, token = vote_url(entries[0]), voter.token
    answers: list[tuple[int, dict]] = []
    start = threading.Barrier(4)

    def send() -> None:
        client = app.test_client()
        start.wait()
        response = client.post(url, json={}, headers={"Authorization": f"Bearer {token}", "Idempotency-Key": "twin"})
        answers.append((response.status_code, response.get_json()))

    threads = [threading.Thread(target=send) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [status for status, _body in answers] == [201] * 4, answers
    assert len({body["receipt"] for _status, body in answers}) == 1
    assert vote_count() == 1
