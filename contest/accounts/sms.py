"""Text messages: their kinds, and the senders that hand them to a gateway.

Chinese gateways send approved templates with parameters, not free text: each kind of
message below has its parameters, a template id per deployment (SMS_TEMPLATE_* in the
environment, see docs/DEPLOY.md) and a readable text, which is what the outbox table
keeps and the console sender (the embedded default) logs. `aliyun` and `tencent` send
through the gateways' official SDKs. A sender only talks to the gateway; recording the
delivery (state, attempts, the gateway's answer) is accounts/outbox.py's work.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Protocol

from ..config import SMS_OPTIONAL_TEMPLATES, SMS_TEMPLATE_VARIABLES, Settings
from ..i18n import N_, _, code_labels

log = logging.getLogger(__name__)

SIGNATURE = "【济南职教活动周】"


@dataclass(frozen=True)
class SmsKind:
    """One kind of text message: its template's parameters, in the template's order."""

    name: str
    params: tuple[str, ...]
    # The readable text of a message of this kind (source language), from its parameters.
    text: Callable[[Mapping[str, str]], str]
    # How long after queueing a retry is still worth sending (a code is dead after 5 minutes).
    fresh_for: timedelta
    # The kind whose template carries this one where a deployment has none of its own
    # (config.SMS_OPTIONAL_TEMPLATES); the outbox still keeps this kind's full text.
    fallback: str = ""


def _code_text(what: str) -> Callable[[Mapping[str, str]], str]:
    return lambda p: _("【济南职教活动周】您的%(what)s验证码是 %(code)s，5 分钟内有效，请勿告诉他人。",
                       what=_(what), code=p["code"])


KINDS: dict[str, SmsKind] = {kind.name: kind for kind in (
    # Template: 您的注册验证码是${code}，5分钟内有效，请勿告诉他人。
    SmsKind("register_code", ("code",), _code_text(N_("注册")), timedelta(minutes=5)),
    # Template: 您的重置密码验证码是${code}，5分钟内有效，请勿告诉他人。
    SmsKind("reset_code", ("code",), _code_text(N_("重置密码")), timedelta(minutes=5)),
    # No parameters: someone asked for a registration code for a number already registered.
    SmsKind("already_registered", (), lambda p: _("【济南职教活动周】有人用您的手机号申请注册，但该号码已经注册过了。请直接登录；如忘记密码，请在登录页点击“忘记密码”，用短信验证码重置。如非本人操作，请忽略本短信。"), timedelta(minutes=10)),
    # A notice on the site (a moderation decision, …). Its full text stays on the site's
    # notice page: the template has no free-text parameter (gateways do not approve one)
    # and only tells the user to look. The outbox keeps the full text.
    SmsKind("notice", (), lambda p: SIGNATURE + p.get("body", ""), timedelta(days=1)),
    # Template: ${organiser}邀请您担任评委，请于7天内打开 ${link} 登录后接受邀请。
    # Without SMS_TEMPLATE_JUDGE_INVITE it goes out as a "notice" (no link in the text the
    # gateway sends): organisers then pass the link on by hand.
    SmsKind("judge_invite", ("organiser", "link"), lambda p: _(
        "【济南职教活动周】%(organiser)s邀请您担任评委，请于 7 天内打开 %(link)s 登录后接受邀请。",
        organiser=p["organiser"], link=p["link"]), timedelta(days=1), fallback="notice"),
)}
assert set(KINDS) == set(SMS_TEMPLATE_VARIABLES), "every kind needs its SMS_TEMPLATE_* setting"
assert all(KINDS[name].fallback == fallback for name, fallback in SMS_OPTIONAL_TEMPLATES.items())


def template_for(templates: Mapping[str, str], kind: SmsKind, params: Mapping[str, str]) -> tuple[str, dict[str, str]]:
    """The gateway template a message of this kind goes out with, and its parameters: the
    kind's own, or its fallback kind's where the deployment configured none."""
    if kind.name not in templates and kind.fallback:
        return templates[kind.fallback], {p: params[p] for p in KINDS[kind.fallback].params}
    return templates[kind.name], {p: params[p] for p in kind.params}

# Why a message failed, in a few words; `RETRYABLE` ones are tried again later.
FAILURE_REASONS = code_labels("sms_failure", {
    "throttled": N_("发送太频繁，被短信平台限流"),
    "invalid_number": N_("手机号码无效或拒收"),
    "out_of_balance": N_("短信余额不足或账户欠费"),
    "not_approved": N_("短信签名或模板未通过审核"),
    "credentials": N_("短信平台账号或密钥有误"),
    "network": N_("网络故障，未连上短信平台"),
    "rejected": N_("短信平台拒绝发送"),
})
RETRYABLE = frozenset({"throttled", "network"})
NETWORK = "network"  # the error code recorded when no answer came back
BAD_NUMBER = "bad_number"  # the error code recorded when the number is not a mainland mobile number


@dataclass(frozen=True)
class SendResult:
    """A gateway's answer: accepted (with its request id) or refused (with its code)."""

    ok: bool
    request_id: str = ""
    error_code: str = ""
    detail: str = ""  # the gateway's own words, for the log only

    @classmethod
    def failed(cls, code: str, detail: str = "", request_id: str = "") -> SendResult:
        return cls(False, request_id=request_id, error_code=code or NETWORK, detail=detail[:300])


class SmsSender(Protocol):
    name: str
    daily_budget: int

    def send(self, phone: str, kind: SmsKind, params: Mapping[str, str], body: str) -> SendResult:
        """Hand one message for a mainland mobile number to the gateway; never raises for
        the gateway's refusals or the network (they come back as a failed SendResult)."""


class ConsoleSmsSender:
    """Writes each message to the log; the outbox row is the copy tests and developers read."""

    name = "console"

    def __init__(self, daily_budget: int = 2000) -> None:
        self.daily_budget = daily_budget

    def send(self, phone: str, kind: SmsKind, params: Mapping[str, str], body: str) -> SendResult:
        log.info("SMS to %s: %s", phone, body)
        return SendResult(True, request_id="console")


# --- Aliyun (阿里云短信服务, dysmsapi 2017-05-25) ---------------------------------------------

_ALIYUN: dict[str, tuple[str, bool]] = {
    "isv.BUSINESS_LIMIT_CONTROL": ("throttled", True),
    "isv.DAY_LIMIT_CONTROL": ("throttled", False),
    "isv.MONTH_LIMIT_CONTROL": ("throttled", False),
    "isv.MOBILE_NUMBER_ILLEGAL": ("invalid_number", False),
    "isv.MOBILE_COUNT_OVER_LIMIT": ("invalid_number", False),
    "isv.BLACK_KEY_CONTROL_LIMIT": ("invalid_number", False),
    "isv.DOMESTIC_NUMBER_NOT_SUPPORTED": ("invalid_number", False),
    "isv.AMOUNT_NOT_ENOUGH": ("out_of_balance", False),
    "isv.OUT_OF_SERVICE": ("out_of_balance", False),
    "isv.SMS_SIGNATURE_ILLEGAL": ("not_approved", False),
    "isv.SMS_SIGN_ILLEGAL": ("not_approved", False),
    "isv.SIGN_STATE_ILLEGAL": ("not_approved", False),
    "isv.SMS_SIGNATURE_SCENE_ILLEGAL": ("not_approved", False),
    "isv.SMS_TEMPLATE_ILLEGAL": ("not_approved", False),
    "isv.TEMPLATE_MISSING_PARAMETERS": ("not_approved", False),
    "isv.SMS_CONTENT_ILLEGAL": ("not_approved", False),
    "isv.PARAM_LENGTH_LIMIT": ("not_approved", False),
    "isv.ACCOUNT_NOT_EXISTS": ("credentials", False),
    "isv.ACCOUNT_ABNORMAL": ("credentials", False),
    "isv.PRODUCT_UN_SUBSCRIPT": ("credentials", False),
    "isv.PRODUCT_UNSUBSCRIBE": ("credentials", False),
    "isp.RAM_PERMISSION_DENY": ("credentials", False),
    "InvalidAccessKeyId.NotFound": ("credentials", False),
    "InvalidAccessKeyId.Inactive": ("credentials", False),
    "SignatureDoesNotMatch": ("credentials", False),
    "isp.SYSTEM_ERROR": ("network", True),
    "ServiceUnavailable": ("network", True),
    "InternalError": ("network", True),
}

# --- Tencent Cloud (腾讯云短信, sms 2021-01-11) -------------------------------------------------

_TENCENT: dict[str, tuple[str, bool]] = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": ("throttled", True),
    "LimitExceeded.PhoneNumberOneHourLimit": ("throttled", True),
    "LimitExceeded.DeliveryFrequencyLimit": ("throttled", True),
    "RequestLimitExceeded": ("throttled", True),
    "InvalidParameterValue.IncorrectPhoneNumber": ("invalid_number", False),
    "FailedOperation.PhoneNumberInBlacklist": ("invalid_number", False),
    "FailedOperation.PhoneNumberOnBlacklist": ("invalid_number", False),
    "UnsupportedOperation.UnsupportedRegion": ("invalid_number", False),
    "FailedOperation.InsufficientBalanceInSmsPackage": ("out_of_balance", False),
    "FailedOperation.SignatureIncorrectOrUnapproved": ("not_approved", False),
    "FailedOperation.TemplateIncorrectOrUnapproved": ("not_approved", False),
    "FailedOperation.TemplateParamSetNotMatchApprovedTemplate": ("not_approved", False),
    "FailedOperation.ContainSensitiveWord": ("not_approved", False),
    "FailedOperation.MissingSignature": ("not_approved", False),
    "InvalidParameterValue.TemplateParameterFormatError": ("not_approved", False),
    "InvalidParameterValue.TemplateParameterLengthLimit": ("not_approved", False),
    "InvalidParameterValue.SdkAppIdNotExist": ("credentials", False),
    "ClientNetworkError": ("network", True),
    "ServerNetworkError": ("network", True),
}


def classify(provider: str, code: str) -> tuple[str, bool]:
    """A gateway's error code as (reason, retryable); `reason` is a key of FAILURE_REASONS."""
    if not code or code == NETWORK:
        return "network", True
    if code == BAD_NUMBER:
        return "invalid_number", False
    if provider == "aliyun":
        if code.startswith("Throttling"):
            return "throttled", True
        return _ALIYUN.get(code, ("rejected", False))
    if provider == "tencent":
        if code in _TENCENT:
            return _TENCENT[code]
        if code.startswith("LimitExceeded."):  # the daily ones: another try today is refused too
            return "throttled", False
        if code.startswith(("AuthFailure", "UnauthorizedOperation")):
            return "credentials", False
        if code.startswith("InternalError"):
            return "network", True
    return "rejected", False


def is_mainland_number(phone: str) -> bool:
    """An 11-digit mainland mobile number (what the outbox stores, and the form Aliyun takes)."""
    return len(phone) == 11 and phone.isascii() and phone.isdigit() and phone.startswith("1")


def e164(phone: str) -> str:
    """+86 followed by the mainland number: the E.164 form Tencent takes."""
    if not is_mainland_number(phone):
        raise ValueError("a mainland mobile number has 11 digits and starts with 1")
    return "+86" + phone


class AliyunSmsSender:
    """Aliyun's SendSms through alibabacloud-dysmsapi20170525 (ACS3-HMAC-SHA256 signed)."""

    name = "aliyun"

    def __init__(self, settings: Settings) -> None:
        # The SDKs are imported by the deployments that use them only (they are heavy).
        from alibabacloud_dysmsapi20170525.client import Client  # type: ignore[import-untyped]
        from alibabacloud_tea_openapi.models import Config  # type: ignore[import-untyped]

        self.daily_budget = settings.sms_daily_budget
        self.sign_name = settings.sms_sign_name
        self.templates = dict(settings.sms_templates)
        self.timeout_ms = int(settings.sms_timeout * 1000)
        self.client = Client(Config(
            access_key_id=settings.sms_access_key_id, access_key_secret=settings.sms_access_key_secret,
            region_id=settings.sms_region, endpoint=settings.sms_endpoint or "dysmsapi.aliyuncs.com",
            protocol=settings.sms_protocol,
        ))

    def send(self, phone: str, kind: SmsKind, params: Mapping[str, str], body: str) -> SendResult:
        from alibabacloud_dysmsapi20170525.models import SendSmsRequest  # type: ignore[import-untyped]
        from darabonba.runtime import RuntimeOptions  # type: ignore[import-untyped]

        if not is_mainland_number(phone):
            return SendResult.failed(BAD_NUMBER)
        template, values = template_for(self.templates, kind, params)
        request = SendSmsRequest(
            phone_numbers=phone, sign_name=self.sign_name, template_code=template,
            template_param=json.dumps(values, ensure_ascii=False) if values else None,
        )
        # No retries inside the SDK: a retry is a new attempt the outbox records.
        runtime = RuntimeOptions(autoretry=False, max_attempts=0, connect_timeout=self.timeout_ms,
                                 read_timeout=self.timeout_ms)
        try:
            answer = self.client.send_sms_with_options(request, runtime).body
        except Exception as exc:  # the SDK raises its own types, and requests' for the network
            return SendResult.failed(str(getattr(exc, "code", "") or ""), _detail(exc),
                                     str(getattr(exc, "request_id", "") or ""))
        if answer is None:
            return SendResult.failed("", "empty answer")
        if answer.code == "OK":
            return SendResult(True, request_id=answer.biz_id or answer.request_id or "")
        return SendResult.failed(answer.code or "", answer.message or "", answer.request_id or "")


class TencentSmsSender:
    """Tencent Cloud's SendSms through tencentcloud-sdk-python-sms (TC3-HMAC-SHA256 signed)."""

    name = "tencent"

    def __init__(self, settings: Settings) -> None:
        from tencentcloud.common.credential import Credential  # type: ignore[import-untyped]
        from tencentcloud.common.profile.client_profile import ClientProfile  # type: ignore[import-untyped]
        from tencentcloud.common.profile.http_profile import HttpProfile  # type: ignore[import-untyped]
        from tencentcloud.sms.v20210111.sms_client import SmsClient  # type: ignore[import-untyped]

        self.daily_budget = settings.sms_daily_budget
        self.sign_name = settings.sms_sign_name
        self.app_id = settings.sms_sdk_app_id
        self.templates = dict(settings.sms_templates)
        http = HttpProfile(endpoint=settings.sms_endpoint or None, protocol=settings.sms_protocol,
                           reqTimeout=max(1, round(settings.sms_timeout)))
        self.client = SmsClient(Credential(settings.sms_access_key_id, settings.sms_access_key_secret),
                                settings.sms_region, ClientProfile(httpProfile=http))

    def send(self, phone: str, kind: SmsKind, params: Mapping[str, str], body: str) -> SendResult:
        from tencentcloud.sms.v20210111.models import SendSmsRequest  # type: ignore[import-untyped]

        if not is_mainland_number(phone):
            return SendResult.failed(BAD_NUMBER)
        request = SendSmsRequest()
        request.PhoneNumberSet = [e164(phone)]
        request.SmsSdkAppId = self.app_id
        request.SignName = self.sign_name
        template, values = template_for(self.templates, kind, params)
        request.TemplateId = template
        request.TemplateParamSet = list(values.values())
        try:
            answer = self.client.SendSms(request)
        except Exception as exc:  # TencentCloudSDKException carries the code; anything else is ours
            return SendResult.failed(str(getattr(exc, "code", "") or ""), _detail(exc),
                                     str(getattr(exc, "requestId", "") or ""))
        statuses = answer.SendStatusSet or []
        if not statuses:
            return SendResult.failed("", "no send status", answer.RequestId or "")
        status = statuses[0]
        if status.Code == "Ok":
            return SendResult(True, request_id=status.SerialNo or answer.RequestId or "")
        return SendResult.failed(status.Code or "", status.Message or "", answer.RequestId or "")


def _detail(exc: Exception) -> str:
    message: Any = getattr(exc, "message", None) or str(exc)
    return str(message)[:300]


def make_sender(settings: Settings) -> SmsSender:
    """The sender SMS_BACKEND names, built from the settings create_app has validated."""
    if settings.sms_backend == "aliyun":
        return AliyunSmsSender(settings)
    if settings.sms_backend == "tencent":
        return TencentSmsSender(settings)
    if settings.sms_backend == "console":
        return ConsoleSmsSender(settings.sms_daily_budget)
    raise ValueError(f"unknown SMS backend {settings.sms_backend!r}")
