"""The Aliyun and Tencent senders, through their real SDKs, against a local stand-in for
each gateway's endpoint: what the signed request carries, how answers and error codes
are recorded, exactly-once delivery and the retries."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from contest.accounts import service as accounts
from contest.accounts.models import SmsMessage
from contest.accounts.sms import SmsSender
from contest.extensions import db
from contest.jobs import jobs_of
from tests.accounts.gateway import (
    KEY_IDS,
    SDK_APP_ID,
    SIGN_NAME,
    TEMPLATES,
    Gateway,
    aliyun_error,
    aliyun_ok,
    closed_endpoint,
    make_gateway_sender,
    serve,
    tencent_error,
    tencent_status,
)
from tests.accounts.support import html, request_code

PHONE = "13800138000"
PROVIDERS = ("aliyun", "tencent")
OK = {"aliyun": aliyun_ok(), "tencent": tencent_status()}


@pytest.fixture
def gateway() -> Iterator[Gateway]:
    yield from serve()


def queue_code(sender: SmsSender, clock, code: str = "123456", phone: str = PHONE) -> int:  # type: ignore[no-untyped-def]
    message = accounts.queue_sms(db.session, sender, phone=phone, kind="register_code", params={"code": code},
                                 now=clock.now(), deliver_after_commit=False)
    assert message is not None
    db.session.commit()
    return message.id


def deliver(sender: SmsSender, message_id: int, clock) -> SmsMessage | None:  # type: ignore[no-untyped-def]
    with Session(db.engine) as own:
        return accounts.deliver(own, sender, message_id, clock.now())


def row(message_id: int) -> SmsMessage:
    db.session.rollback()
    message = db.session.get(SmsMessage, message_id, populate_existing=True)
    assert message is not None
    return message


# --- what the SDK signs and sends -----------------------------------------------------------

def test_aliyun_sends_the_template_signed_by_the_sdk(app, clock, gateway, tmp_path: Path) -> None:
    gateway.answer(aliyun_ok())
    sender = make_gateway_sender("aliyun", gateway.endpoint, tmp_path)
    message_id = queue_code(sender, clock)
    deliver(sender, message_id, clock)

    [request] = gateway.seen
    assert request.headers["x-acs-action"] == "SendSms"
    assert request.headers["x-acs-version"] == "2017-05-25"
    assert {k: v[0] for k, v in request.query.items()} == {
        "PhoneNumbers": PHONE, "SignName": SIGN_NAME, "TemplateCode": TEMPLATES["aliyun"]["register_code"],
        "TemplateParam": json.dumps({"code": "123456"}),
    }
    assert re.fullmatch(rf"ACS3-HMAC-SHA256 Credential={KEY_IDS['aliyun']},SignedHeaders=[a-z0-9;-]+,Signature=[0-9a-f]{{64}}",
                        request.headers["Authorization"])
    assert "x-acs-action" in request.headers["Authorization"]  # the action is among the signed headers
    sent = row(message_id)
    assert (sent.state, sent.provider, sent.request_id, sent.attempts) == ("sent", "aliyun", "900619746936498440^0", 1)
    assert sent.sent_at is not None and sent.error_code == ""


def test_tencent_sends_the_template_to_an_e164_number_signed_by_the_sdk(app, clock, gateway, tmp_path: Path) -> None:
    gateway.answer(tencent_status())
    sender = make_gateway_sender("tencent", gateway.endpoint, tmp_path)
    message_id = queue_code(sender, clock, code="654321")
    deliver(sender, message_id, clock)

    [request] = gateway.seen
    assert request.headers["X-TC-Action"] == "SendSms"
    assert request.headers["X-TC-Version"] == "2021-01-11"
    assert request.headers["X-TC-Region"] == "ap-guangzhou"
    assert request.json() == {
        "PhoneNumberSet": ["+86" + PHONE], "SmsSdkAppId": SDK_APP_ID, "SignName": SIGN_NAME,
        "TemplateId": TEMPLATES["tencent"]["register_code"], "TemplateParamSet": ["654321"],
    }
    assert re.fullmatch(rf"TC3-HMAC-SHA256 Credential={KEY_IDS['tencent']}/\d{{4}}-\d\d-\d\d/sms/tc3_request, "
                        r"SignedHeaders=[a-z;-]+, Signature=[0-9a-f]{64}", request.headers["Authorization"])
    sent = row(message_id)
    assert (sent.state, sent.provider, sent.request_id) == ("sent", "tencent", "2645:1045710669157053657849499619")


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_kind_without_parameters_sends_none(app, clock, gateway, tmp_path: Path, provider: str) -> None:
    gateway.answer(OK[provider])
    sender = make_gateway_sender(provider, gateway.endpoint, tmp_path)
    message = accounts.queue_sms(db.session, sender, phone=PHONE, kind="already_registered", params={}, now=clock.now(),
                                 deliver_after_commit=False)
    assert message is not None
    db.session.commit()
    deliver(sender, message.id, clock)
    [request] = gateway.seen
    if provider == "aliyun":
        assert "TemplateParam" not in request.query
        assert request.query["TemplateCode"] == [TEMPLATES["aliyun"]["already_registered"]]
    else:
        assert request.json()["TemplateParamSet"] == []
        assert request.json()["TemplateId"] == TEMPLATES["tencent"]["already_registered"]


# --- error codes: reason and retry ----------------------------------------------------------

ALIYUN_ERRORS = [
    # (HTTP status, code, reason, retryable)
    (200, "isv.BUSINESS_LIMIT_CONTROL", "throttled", True),
    (200, "isv.DAY_LIMIT_CONTROL", "throttled", False),
    (200, "isv.MOBILE_NUMBER_ILLEGAL", "invalid_number", False),
    (200, "isv.AMOUNT_NOT_ENOUGH", "out_of_balance", False),
    (200, "isv.OUT_OF_SERVICE", "out_of_balance", False),
    (200, "isv.SMS_TEMPLATE_ILLEGAL", "not_approved", False),
    (400, "isv.SMS_SIGNATURE_ILLEGAL", "not_approved", False),
    (404, "InvalidAccessKeyId.NotFound", "credentials", False),
    (503, "ServiceUnavailable", "network", True),
    (400, "isv.SOMETHING_NEW", "rejected", False),
]


@pytest.mark.parametrize(("status", "code", "reason", "retryable"), ALIYUN_ERRORS)
def test_aliyun_error_codes_map_to_a_reason(app, clock, gateway, tmp_path: Path, status: int, code: str, reason: str,
                                            retryable: bool) -> None:
    gateway.answer(aliyun_error(code), status=status)
    sender = make_gateway_sender("aliyun", gateway.endpoint, tmp_path)
    message_id = queue_code(sender, clock)
    deliver(sender, message_id, clock)
    failed = row(message_id)
    assert (failed.state, failed.error_code, failed.error_reason, failed.retryable) == ("failed", code, reason, retryable)
    assert failed.request_id == "A1B2C3D4-0000-4000-8000-ERR000000001"
    assert (failed.next_attempt_at is not None) == retryable


TENCENT_ERRORS = [
    # (answer, code, reason, retryable)
    (tencent_status("LimitExceeded.PhoneNumberThirtySecondLimit", "30秒内下发短信条数超过设定的上限"),
     "LimitExceeded.PhoneNumberThirtySecondLimit", "throttled", True),
    (tencent_status("LimitExceeded.PhoneNumberDailyLimit", "单个手机号日下发短信条数超过设定的上限"),
     "LimitExceeded.PhoneNumberDailyLimit", "throttled", False),
    (tencent_status("InvalidParameterValue.IncorrectPhoneNumber", "手机号格式错误"),
     "InvalidParameterValue.IncorrectPhoneNumber", "invalid_number", False),
    (tencent_status("FailedOperation.InsufficientBalanceInSmsPackage", "套餐包余量不足"),
     "FailedOperation.InsufficientBalanceInSmsPackage", "out_of_balance", False),
    (tencent_status("FailedOperation.SignatureIncorrectOrUnapproved", "签名未审批或格式错误"),
     "FailedOperation.SignatureIncorrectOrUnapproved", "not_approved", False),
    (tencent_error("FailedOperation.TemplateIncorrectOrUnapproved"), "FailedOperation.TemplateIncorrectOrUnapproved",
     "not_approved", False),
    (tencent_error("AuthFailure.SignatureFailure"), "AuthFailure.SignatureFailure", "credentials", False),
    (tencent_error("InternalError.Timeout"), "InternalError.Timeout", "network", True),
    (tencent_error("RequestLimitExceeded"), "RequestLimitExceeded", "throttled", True),
]


@pytest.mark.parametrize(("answer", "code", "reason", "retryable"), TENCENT_ERRORS)
def test_tencent_error_codes_map_to_a_reason(app, clock, gateway, tmp_path: Path, answer, code: str, reason: str,  # type: ignore[no-untyped-def]
                                             retryable: bool) -> None:
    gateway.answer(answer)
    sender = make_gateway_sender("tencent", gateway.endpoint, tmp_path)
    message_id = queue_code(sender, clock)
    deliver(sender, message_id, clock)
    failed = row(message_id)
    assert (failed.state, failed.error_code, failed.error_reason, failed.retryable) == ("failed", code, reason, retryable)
    assert failed.request_id.startswith(("a0aabda6", "b1bbcec7"))


@pytest.mark.parametrize("provider", PROVIDERS)
def test_no_answer_is_a_network_failure_worth_retrying(app, clock, tmp_path: Path, provider: str) -> None:
    sender = make_gateway_sender(provider, closed_endpoint(), tmp_path)
    message_id = queue_code(sender, clock)
    deliver(sender, message_id, clock)
    failed = row(message_id)
    assert (failed.state, failed.error_reason, failed.retryable) == ("failed", "network", True)
    assert failed.next_attempt_at == clock.now() + timedelta(seconds=30)
    assert accounts.describe_sms(failed)["reason"] == "网络故障，未连上短信平台"


# --- exactly once ------------------------------------------------------------------------------

@pytest.mark.parametrize("provider", PROVIDERS)
def test_delivering_twice_sends_once(app, clock, gateway, tmp_path: Path, provider: str) -> None:
    gateway.answer(OK[provider])
    sender = make_gateway_sender(provider, gateway.endpoint, tmp_path)
    message_id = queue_code(sender, clock)
    assert deliver(sender, message_id, clock) is not None
    assert deliver(sender, message_id, clock) is None
    assert len(gateway.seen) == 1
    assert row(message_id).attempts == 1


def test_concurrent_deliveries_send_once(app, clock, gateway, tmp_path: Path) -> None:
    gateway.answer(aliyun_ok())
    sender = make_gateway_sender("aliyun", gateway.endpoint, tmp_path)
    message_id = queue_code(sender, clock)
    start = threading.Barrier(4)
    outcomes: list[bool] = []

    def racer() -> None:
        start.wait()
        with app.app_context():
            outcomes.append(deliver(sender, message_id, clock) is not None)

    threads = [threading.Thread(target=racer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    assert sorted(outcomes) == [False, False, False, True]
    assert len(gateway.seen) == 1
    assert row(message_id).state == "sent"


# --- retries ----------------------------------------------------------------------------------

def test_a_throttled_message_is_retried_after_its_backoff_and_sent_once_more(app, clock, gateway, tmp_path: Path) -> None:
    gateway.answer(aliyun_error("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"))
    gateway.answer(aliyun_ok())
    sender = make_gateway_sender("aliyun", gateway.endpoint, tmp_path)
    message_id = queue_code(sender, clock)
    deliver(sender, message_id, clock)
    assert accounts.due_for_retry(db.session, clock.now()) == []
    assert deliver(sender, message_id, clock) is None  # not due yet: no second request
    assert len(gateway.seen) == 1

    clock.advance(seconds=30)
    assert accounts.due_for_retry(db.session, clock.now()) == [message_id]
    deliver(sender, message_id, clock)
    sent = row(message_id)
    assert (sent.state, sent.attempts, sent.error_code, sent.retryable) == ("sent", 2, "", False)
    assert accounts.due_for_retry(db.session, clock.now()) == []
    assert len(gateway.seen) == 2


def test_retries_stop_after_three_attempts_and_for_dead_codes(app, clock, tmp_path: Path) -> None:
    sender = make_gateway_sender("aliyun", closed_endpoint(), tmp_path)
    message_id = queue_code(sender, clock)
    deliver(sender, message_id, clock)
    clock.advance(seconds=30)
    deliver(sender, message_id, clock)
    assert row(message_id).next_attempt_at == clock.now() + timedelta(minutes=2)
    clock.advance(minutes=2)
    deliver(sender, message_id, clock)
    spent = row(message_id)
    assert (spent.attempts, spent.state, spent.next_attempt_at) == (3, "failed", None)
    assert accounts.due_for_retry(db.session, clock.now() + timedelta(hours=1)) == []

    # a code no longer worth sending (5 minutes old) is not retried either
    other = queue_code(sender, clock)
    deliver(sender, other, clock)
    assert accounts.due_for_retry(db.session, clock.now() + timedelta(seconds=30)) == [other]
    assert accounts.due_for_retry(db.session, clock.now() + timedelta(minutes=5, seconds=1)) == []


# --- the page that asked for the code -----------------------------------------------------------

def through_the_job_runner(app, provider: str, endpoint: str, tmp_path: Path) -> accounts.Queued:  # type: ignore[no-untyped-def]
    """The deployment's gateway as the app holds it: its messages go to the job runner."""
    sender = accounts.Queued(make_gateway_sender(provider, endpoint, tmp_path), app.extensions["job_tasks"].send_sms)
    app.extensions["sms_sender"] = sender
    return sender


def run_queued_sms(app) -> list[str]:  # type: ignore[no-untyped-def]
    """What the consumer would do next: run the queued send_sms tasks; their outcomes."""
    huey = jobs_of(app)
    outcomes = []
    while (task := huey.dequeue()) is not None:
        assert task.name == "send_sms"
        outcomes.append(huey.execute(task))
    return outcomes


def sms_status(client) -> dict[str, str]:  # type: ignore[no-untyped-def]
    response = client.get("/account/sms-code/status")
    assert response.status_code == 200 and response.headers["Cache-Control"] == "no-store"
    answer: dict[str, str] = response.get_json()
    return answer


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_failed_send_is_shown_to_the_citizen_and_in_the_outbox(app, client, runner, gateway, tmp_path: Path,
                                                                  provider: str) -> None:
    gateway.answer(aliyun_error("isv.AMOUNT_NOT_ENOUGH") if provider == "aliyun"
                   else tencent_status("FailedOperation.InsufficientBalanceInSmsPackage"))
    through_the_job_runner(app, provider, gateway.endpoint, tmp_path)
    response = request_code(client, PHONE)
    assert response.status_code == 302
    assert gateway.seen == []  # the request did not wait for the gateway
    page = html(client.get(response.headers["Location"]))
    assert "验证码已发送" in page and "data-sms-status" in page  # on its way: the page follows it
    assert sms_status(client) == {"state": "sending", "message": ""}

    assert run_queued_sms(app) == ["failed"]
    assert sms_status(client) == {"state": "failed", "message": "短信发送失败，请稍后重试"}
    db.session.rollback()
    [message] = db.session.scalars(select(SmsMessage).where(SmsMessage.phone == PHONE))
    assert (message.state, message.error_reason, message.attempts) == ("failed", "out_of_balance", 1)
    output = runner.invoke(args=["sms", "outbox"]).output
    assert "发送失败 · 短信余额不足或账户欠费" in output
    # drawn again, the page says it without script, and stops following
    page = html(client.get(response.headers["Location"]))
    assert "data-sms-status" not in page


@pytest.mark.parametrize("provider", PROVIDERS)
def test_a_sent_code_reads_as_before(app, client, gateway, tmp_path: Path, provider: str) -> None:
    gateway.answer(OK[provider])
    through_the_job_runner(app, provider, gateway.endpoint, tmp_path)
    response = request_code(client, PHONE)
    assert gateway.seen == []
    assert run_queued_sms(app) == ["sent"]
    assert run_queued_sms(app) == []  # one task per message
    page = html(client.get(response.headers["Location"]))
    assert "验证码已发送，5 分钟内有效。" in page and "短信发送失败" not in page
    assert sms_status(client) == {"state": "sent", "message": ""}
    assert len(gateway.seen) == 1
    db.session.rollback()
    [message] = db.session.scalars(select(SmsMessage).where(SmsMessage.phone == PHONE))
    assert message.state == "sent"
    # the same task run again (a consumer restarted mid-task) sends nothing more
    assert app.extensions["job_tasks"].send_sms_now(message.id) == "not due"
    assert len(gateway.seen) == 1


def test_a_request_that_sends_nothing_reads_like_one_that_does(app, client, gateway, tmp_path: Path) -> None:
    through_the_job_runner(app, "aliyun", gateway.endpoint, tmp_path)
    response = request_code(client, PHONE, purpose="reset")  # no account has this number
    assert response.status_code == 302 and run_queued_sms(app) == []
    assert "验证码已发送，5 分钟内有效。" in html(client.get(response.headers["Location"]))
    assert sms_status(client) == {"state": "sent", "message": ""}
    assert gateway.seen == []


def test_a_message_whose_hand_over_was_lost_is_sent_by_the_retry_round(app, client, clock, gateway, tmp_path: Path) -> None:
    gateway.answer(aliyun_ok())
    lost: list[int] = []
    app.extensions["sms_sender"] = accounts.Queued(make_gateway_sender("aliyun", gateway.endpoint, tmp_path), lost.append)
    response = request_code(client, PHONE)
    assert response.status_code == 302 and len(lost) == 1 and gateway.seen == []  # handed to a queue that lost it
    tasks = app.extensions["job_tasks"]
    assert tasks.retry_sms_now() == 0  # not yet: the job runner may still be on its way
    clock.advance(seconds=31)
    assert tasks.retry_sms_now() == 1 and len(gateway.seen) == 1
    assert row(lost[0]).state == "sent"
    assert tasks.retry_sms_now() == 0 and len(gateway.seen) == 1


def test_the_job_runner_sends_a_throttled_message_again_once_due(app, clock, gateway, tmp_path: Path) -> None:
    gateway.answer(aliyun_error("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控Permits:1"))
    gateway.answer(aliyun_ok())
    sender = make_gateway_sender("aliyun", gateway.endpoint, tmp_path)
    app.extensions["sms_sender"] = sender  # the deployment's gateway, as the job runner reads it
    tasks = app.extensions["job_tasks"]
    message_id = queue_code(sender, clock)
    deliver(sender, message_id, clock)
    assert tasks.retry_sms_now() == 0 and len(gateway.seen) == 1  # its backoff has not passed
    clock.advance(seconds=30)
    assert tasks.retry_sms_now() == 1
    assert row(message_id).state == "sent" and len(gateway.seen) == 2
    assert tasks.retry_sms_now() == 0 and len(gateway.seen) == 2  # sent: never again


def test_the_job_runner_delivers_a_code_asked_for_on_the_web(app, client, worker) -> None:
    """The app as deployed: its Queued sender hands the message to `flask jobs worker`, a
    process of its own, which delivers it while the page follows."""
    assert isinstance(app.extensions["sms_sender"], accounts.Queued)
    response = request_code(client, PHONE)
    assert response.status_code == 302
    deadline = time.monotonic() + 30
    while sms_status(client)["state"] == "sending" and time.monotonic() < deadline:
        time.sleep(0.2)
    assert sms_status(client) == {"state": "sent", "message": ""}
    db.session.rollback()
    [message] = db.session.scalars(select(SmsMessage).where(SmsMessage.phone == PHONE))
    assert (message.state, message.attempts, message.provider) == ("sent", 1, "console")
