"""The invitation text through the real gateway SDKs, against a local stand-in endpoint:
its own template with the organiser and the link where the deployment has one, else the
"notice" template (the outbox keeps the full text either way)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from contest.accounts import service as accounts
from contest.accounts.sms import AliyunSmsSender, TencentSmsSender
from contest.config import ConfigError
from contest.extensions import db
from tests.accounts.gateway import TEMPLATES, Gateway, aliyun_ok, gateway_settings, make_gateway_sender, serve, tencent_status

PHONE = "13800138000"
OK = {"aliyun": aliyun_ok(), "tencent": tencent_status()}
INVITE_TEMPLATE = {"aliyun": "SMS_465409", "tencent": "2145009"}
PARAMS = {"organiser": "济南市中华职业教育社", "link": "https://vote.example.cn/judge/invite/abc"}


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    yield from serve()


def send_invite(sender, clock) -> None:  # type: ignore[no-untyped-def]
    message = accounts.queue_sms(db.session, sender, phone=PHONE, kind="judge_invite", params=PARAMS, now=clock.now(),
                                 deliver_after_commit=False)
    assert message is not None and "济南市中华职业教育社邀请您担任评委" in message.body and PARAMS["link"] in message.body
    db.session.commit()
    with Session(db.engine) as own:
        sent = accounts.deliver(own, sender, message.id, clock.now())
        assert sent is not None and sent.state == "sent"


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_with_its_own_template(app, clock, gateway: Gateway, tmp_path: Path, provider: str) -> None:  # type: ignore[no-untyped-def]
    gateway.answer(OK[provider])
    templates = {**TEMPLATES[provider], "judge_invite": INVITE_TEMPLATE[provider]}
    settings = gateway_settings(provider, gateway.endpoint, tmp_path).override({"sms_templates": templates}).with_defaults()
    send_invite(AliyunSmsSender(settings) if provider == "aliyun" else TencentSmsSender(settings), clock)
    [request] = gateway.seen
    if provider == "aliyun":
        assert request.query["TemplateCode"] == [INVITE_TEMPLATE["aliyun"]]
        assert json.loads(request.query["TemplateParam"][0]) == PARAMS
    else:
        assert request.json()["TemplateId"] == INVITE_TEMPLATE["tencent"]
        assert request.json()["TemplateParamSet"] == [PARAMS["organiser"], PARAMS["link"]]


@pytest.mark.parametrize("provider", ["aliyun", "tencent"])
def test_without_one_it_goes_as_a_notice(app, clock, gateway: Gateway, tmp_path: Path, provider: str) -> None:  # type: ignore[no-untyped-def]
    gateway.answer(OK[provider])
    send_invite(make_gateway_sender(provider, gateway.endpoint, tmp_path), clock)
    [request] = gateway.seen
    if provider == "aliyun":
        assert request.query["TemplateCode"] == [TEMPLATES["aliyun"]["notice"]]
        assert "TemplateParam" not in request.query
    else:
        assert request.json()["TemplateId"] == TEMPLATES["tencent"]["notice"]
        assert request.json()["TemplateParamSet"] == []


def test_the_setting_is_optional_but_checked_when_given(tmp_path: Path) -> None:
    settings = gateway_settings("aliyun", "", tmp_path)  # validated: no SMS_TEMPLATE_JUDGE_INVITE is fine
    assert "judge_invite" not in settings.sms_templates
    with pytest.raises(ConfigError, match="SMS_TEMPLATE_JUDGE_INVITE is malformed"):
        settings.override({"sms_templates": {**TEMPLATES["aliyun"], "judge_invite": "x1"}}).with_defaults()
