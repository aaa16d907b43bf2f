"""The captcha routes: issue (CSRF-protected), image and audio; the code never leaves the server."""

from __future__ import annotations

from dataclasses import replace

import pytest
from sqlalchemy import func, select

from contest import create_app
from contest.antifraud import captcha
from contest.antifraud.models import CaptchaChallenge
from contest.config import ConfigError, Settings
from contest.extensions import db
from tests.conftest import csrf_token

PAGE_WITH_FORM = "/account/login"


def post_captcha(client, **kwargs):
    token = csrf_token(client, PAGE_WITH_FORM)
    return client.post("/captcha", headers={"X-CSRFToken": token, "Accept": "application/json"}, **kwargs)


def stored_code(app, captcha_id):
    return captcha.challenge_code(db.session, app.extensions["redis"], captcha_id)


def challenges():
    return db.session.scalar(select(func.count()).select_from(CaptchaChallenge))


def test_issue_then_draw_as_image_and_audio(app, client):
    response = post_captcha(client, json={"purpose": "vote"})
    assert response.status_code == 201, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"id", "image_url", "audio_url", "expires_at"}
    assert body["image_url"] == f"/captcha/{body['id']}.png" and body["audio_url"] == f"/captcha/{body['id']}.wav"
    assert response.headers["Cache-Control"] == "no-store"

    image = client.get(body["image_url"])
    assert image.status_code == 200 and image.mimetype == "image/png"
    assert image.data.startswith(b"\x89PNG\r\n\x1a\n")
    assert image.headers["Cache-Control"] == "no-store"
    audio = client.get(body["audio_url"])
    assert audio.status_code == 200 and audio.mimetype == "audio/wav"
    assert audio.data[:4] == b"RIFF" and audio.data[8:12] == b"WAVE"

    # drawing it did not use it up
    code = stored_code(app, body["id"])
    assert captcha.check_captcha(db.session, app.extensions["redis"], captcha_id=body["id"], answer=code, purpose="vote")


def test_the_code_is_never_in_a_cookie_or_the_response(app, client):
    response = post_captcha(client, data={"purpose": "login"})
    assert response.status_code == 201
    captcha_id = response.get_json()["id"]
    code = stored_code(app, captcha_id)
    responses = [response, client.get(f"/captcha/{captcha_id}.png"), client.get(f"/captcha/{captcha_id}.wav")]
    for r in responses:
        for header in r.headers.getlist("Set-Cookie"):
            assert code not in header and code.lower() not in header
    assert code not in response.get_data(as_text=True)
    session_cookie = client.get_cookie(app.config.get("SESSION_COOKIE_NAME", "session"))
    assert session_cookie is not None  # the CSRF token lives there …
    session = app.session_interface.get_signing_serializer(app).loads(session_cookie.value)
    assert code not in repr(session)  # … but not the answer


def test_issue_without_csrf_token_is_refused(app, client):
    response = client.post("/captcha", json={"purpose": "vote"}, headers={"Accept": "application/json"})
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "csrf"
    assert challenges() == 0


@pytest.mark.parametrize("kwargs, code", [
    ({"json": {"purpose": "lottery"}}, "captcha_purpose"),
    ({"json": {"purpose": ["vote"]}}, "captcha_purpose"),
    ({"json": ["vote"]}, "malformed_json"),
    ({"data": "{not json", "content_type": "application/json"}, "malformed_json"),
])
def test_bad_requests_store_nothing(app, client, kwargs, code):
    response = post_captcha(client, **kwargs)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == code
    assert challenges() == 0


def test_unknown_or_used_challenges_are_not_drawn(app, client):
    assert client.get("/captcha/nothing-here.png").status_code == 404
    assert client.get("/captcha/nothing-here.wav").status_code == 404
    captcha_id = post_captcha(client, json={}).get_json()["id"]
    captcha.check_captcha(db.session, app.extensions["redis"], captcha_id=captcha_id, answer="X", purpose="vote")
    missing = client.get(f"/captcha/{captcha_id}.png", headers={"Accept": "application/json"})
    assert missing.status_code == 404 and missing.get_json()["error"]["code"] == "captcha_expired"


def test_issuing_is_rate_limited(app, client):
    token = csrf_token(client, PAGE_WITH_FORM)
    statuses = [client.post("/captcha", json={}, headers={"X-CSRFToken": token}).status_code for _ in range(21)]
    assert statuses[:20] == [201] * 20 and statuses[20] == 429


def test_drawing_is_rate_limited(app, client):
    captcha_id = post_captcha(client, json={}).get_json()["id"]
    statuses = [client.get(f"/captcha/{captcha_id}.wav").status_code for _ in range(11)]
    assert statuses[:10] == [200] * 10 and statuses[10] == 429


def test_the_testing_configuration_may_fix_the_answer(app, tmp_path):
    settings = replace(app.extensions["settings"], captcha_fixed_answer="k7px")
    fixed = create_app(settings)
    fixed_client = fixed.test_client()
    with fixed.app_context():
        response = post_captcha(fixed_client, json={"purpose": "vote"})
        assert response.status_code == 201
        captcha_id = response.get_json()["id"]
        assert captcha.check_captcha(db.session, fixed.extensions["redis"], captcha_id=captcha_id, answer="K7PX",
                                     purpose="vote")
        db.session.remove()
        db.engine.dispose()


@pytest.mark.parametrize("env", ["development", "production"])
def test_a_fixed_answer_is_refused_outside_testing(tmp_path, env):
    settings = Settings(env=env, instance_path=str(tmp_path), secret_key="s" * 32,
                        database_url="postgresql+psycopg://contest@127.0.0.1/contest", redis_url="redis://127.0.0.1:6379/0",
                        captcha_fixed_answer="K7PX")
    with pytest.raises(ConfigError) as refused:
        create_app(settings)
    assert str(refused.value) == "CAPTCHA_FIXED_ANSWER is only allowed when CONTEST_ENV=testing"


def test_the_fixed_answer_is_read_from_the_environment(tmp_path):
    settings = Settings.from_env({"CONTEST_ENV": "testing", "CAPTCHA_FIXED_ANSWER": " K7PX "}, str(tmp_path))
    assert settings.captcha_fixed_answer == "K7PX"
    refused = Settings.from_env({"CAPTCHA_FIXED_ANSWER": "K7PX"}, str(tmp_path))
    with pytest.raises(ConfigError, match="only allowed when CONTEST_ENV=testing"):
        refused.with_defaults()
