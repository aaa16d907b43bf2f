"""The captcha service: server-side answers, bound to a purpose, used once, expiring."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from contest.accounts.models import SmsMessage
from contest.antifraud import captcha
from contest.antifraud.models import CaptchaChallenge
from contest.clock import Clock
from contest.errors import InvalidInput
from contest.extensions import db

LOOK_ALIKES = set("0O1IL")


def issue(store, purpose="vote", **kwargs):
    challenge = captcha.issue_captcha(db.session, store, purpose=purpose, **kwargs)
    db.session.commit()  # as the view does: the challenge exists once committed
    return challenge


def code_of(store, challenge, **kwargs):
    return captcha.challenge_code(db.session, store, challenge.id, **kwargs)


def check(store, challenge_id, answer, purpose="vote", **kwargs):
    return captcha.check_captcha(db.session, store, captcha_id=challenge_id, answer=answer, purpose=purpose, **kwargs)


def rows():
    return db.session.scalar(select(func.count()).select_from(CaptchaChallenge))


def test_codes_are_short_and_free_of_look_alikes():
    codes = {captcha.new_code() for _ in range(300)}
    assert {len(c) for c in codes} == {4, 5}
    assert all(set(c) <= set(captcha.ALPHABET) for c in codes)
    assert not LOOK_ALIKES & set(captcha.ALPHABET)
    assert len(codes) > 290  # random, not a handful of values


def test_right_answer_passes_once_case_and_spaces_ignored(app, store):
    challenge = issue(store)
    code = code_of(store, challenge)
    assert code and len(code) in (4, 5)
    assert check(store, challenge.id, f"  {code.lower()} ")
    assert not check(store, challenge.id, code)  # replayed
    assert code_of(store, challenge) is None


def test_wrong_answer_consumes_the_challenge(app, store):
    challenge = issue(store)
    code = code_of(store, challenge)
    assert not check(store, challenge.id, "WRONG")
    assert not check(store, challenge.id, code)


def test_answer_lives_in_redis_only_when_redis_is_configured(app, store):
    challenge = issue(store)
    if store is None:
        assert rows() == 1
    else:
        assert rows() == 0
        ttl = store.ttl(captcha.REDIS_PREFIX + challenge.id)
        assert 0 < ttl <= captcha.CAPTCHA_TTL.total_seconds()


def test_expired_challenge_fails(app, store):
    start = Clock().now()
    challenge = issue(store, now=start)
    code = code_of(store, challenge, now=start)
    later = start + captcha.CAPTCHA_TTL + timedelta(seconds=1)
    assert code_of(store, challenge, now=later) is None
    assert not check(store, challenge.id, code, now=later)
    assert not check(store, challenge.id, code, now=start)  # and it is gone


def test_redis_ttl_really_expires(app, store):
    if store is None:
        pytest.skip("Redis only")
    challenge = issue(store, ttl=timedelta(seconds=1))
    code = code_of(store, challenge)
    time.sleep(1.1)
    assert store.get(captcha.REDIS_PREFIX + challenge.id) is None
    assert not check(store, challenge.id, code)


def test_bound_to_its_purpose(app, store):
    challenge = issue(store, purpose="login")
    code = code_of(store, challenge)
    assert not check(store, challenge.id, code, purpose="vote")
    assert not check(store, challenge.id, code, purpose="login")  # burnt by the attempt


def test_unknown_purpose_is_refused(app, store):
    with pytest.raises(InvalidInput):
        captcha.issue_captcha(db.session, store, purpose="anything")


@pytest.mark.parametrize("bad_id", ["", "   ", "../../etc", "x" * 41, "nope"])
def test_malformed_or_unknown_ids_fail(app, store, bad_id):
    assert not check(store, bad_id, "ABCD")
    assert captcha.challenge_code(db.session, store, bad_id) is None


def test_drawing_does_not_consume(app, store):
    challenge = issue(store)
    code = code_of(store, challenge)
    png = captcha.render_image(code)
    wav = captcha.render_audio(code)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    assert wav[:4] == b"RIFF" and wav[8:12] == b"WAVE"
    assert code_of(store, challenge) == code
    assert check(store, challenge.id, code)


def test_fixed_answer(app, store):
    challenge = issue(store, fixed_answer="k7px")
    assert code_of(store, challenge) == "K7PX"
    assert check(store, challenge.id, "k7px")


def test_consumed_even_when_the_request_is_rolled_back(app, store):
    challenge = issue(store)
    code = code_of(store, challenge)
    # the request has written something of its own before the check (on SQLite it now
    # holds the only write lock)
    db.session.add(SmsMessage(phone="13700000000", body="x", created_at=Clock().now()))
    db.session.flush()
    assert not check(store, challenge.id, "WRONG")
    db.session.rollback()  # the refusal is rolled back …
    assert not check(store, challenge.id, code)  # … the challenge stays used
    assert rows() == 0


def test_consumed_by_a_clean_request_that_is_rolled_back(app, store):
    challenge = issue(store)
    code = code_of(store, challenge)
    assert not check(store, challenge.id, "WRONG")
    db.session.rollback()
    assert not check(store, challenge.id, code)


def test_parallel_answers_pass_once(app, store):
    challenge = issue(store)
    code = code_of(store, challenge)
    results: list[bool] = []
    barrier = threading.Barrier(8)

    def attempt():
        with app.app_context():
            barrier.wait()
            try:
                results.append(check(store, challenge.id, code))
                db.session.commit()
            finally:
                db.session.remove()

    threads = [threading.Thread(target=attempt) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results.count(True) == 1 and len(results) == 8


def test_redis_down_falls_back_to_the_database(app, dead_redis):
    challenge = issue(dead_redis)
    assert rows() == 1
    code = code_of(dead_redis, challenge)
    assert code and check(dead_redis, challenge.id, code)
    assert rows() == 0


def test_issued_while_redis_was_down_checked_once_it_is_back(app, store, dead_redis):
    if store is None:
        pytest.skip("Redis only")
    challenge = issue(dead_redis)
    code = code_of(store, challenge)
    assert code is not None
    assert check(store, challenge.id, code)
    assert not check(store, challenge.id, code)


def test_expired_rows_are_swept_when_issuing(app):
    start = Clock().now()
    issue(None, now=start - timedelta(hours=1))
    issue(None, now=start)
    assert rows() == 1
