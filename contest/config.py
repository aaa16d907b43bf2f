"""Settings, read from the environment once (inside create_app) and validated."""

from __future__ import annotations

import ipaddress
import os
import re
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .redis_client import is_sentinel_url, parse_sentinel_url

ENVIRONMENTS = ("development", "production", "testing")
# Who may read /metrics without the token: the machine itself.
METRICS_ALLOW_DEFAULT = ("127.0.0.1/32", "::1/128")
METRICS_TOKEN_MIN = 32
SMS_BACKENDS = ("console", "aliyun", "tencent")
# One gateway template per kind of text message (accounts/sms.py names the kinds and their
# parameters): the environment variable that holds each template's id.
SMS_TEMPLATE_VARIABLES = {
    "register_code": "SMS_TEMPLATE_REGISTER_CODE",
    "reset_code": "SMS_TEMPLATE_RESET_CODE",
    "already_registered": "SMS_TEMPLATE_ALREADY_REGISTERED",
    "notice": "SMS_TEMPLATE_NOTICE",
    "judge_invite": "SMS_TEMPLATE_JUDGE_INVITE",
}
# Kinds a deployment may leave without a template of its own: their messages then go out
# with the template of the kind named here (accounts/sms.py, SmsKind.fallback).
SMS_OPTIONAL_TEMPLATES = {"judge_invite": "notice"}
# What each gateway's ids look like, so a typo is a start-up error and not a failed text.
_SMS_FORMATS = {
    "aliyun": {"SMS_ACCESS_KEY_ID": r"LTAI[0-9A-Za-z]{12,30}", "template": r"SMS_[0-9]{3,15}"},
    "tencent": {"SMS_ACCESS_KEY_ID": r"AKID[0-9A-Za-z]{12,60}", "template": r"[0-9]{1,12}",
                "SMS_SDK_APP_ID": r"1[0-9]{9}"},
}
# Programs the uploads need (photos are cleaned with jpegtran, videos probed and cleaned
# with ffmpeg): production refuses to start without them rather than fail on an upload.
PROGRAMS = (("jpegtran", "libjpeg-turbo-progs"), ("ffmpeg", "ffmpeg"), ("ffprobe", "ffmpeg"))


class ConfigError(RuntimeError):
    """Start-up refused: the message tells the operator what to set."""


@dataclass(frozen=True)
class Settings:
    env: str = "development"
    instance_path: str = ""
    secret_key: str = ""
    database_url: str = ""
    redis_url: str = ""
    media_root: str = ""
    sms_backend: str = "console"
    # The SMS gateway's account (SMS_BACKEND=aliyun or tencent; see docs/DEPLOY.md, "SMS").
    sms_access_key_id: str = ""
    sms_access_key_secret: str = field(default="", repr=False)
    sms_sign_name: str = ""
    sms_region: str = ""
    # Tencent's SmsSdkAppId (the SMS application the templates belong to).
    sms_sdk_app_id: str = ""
    # host[:port] of the gateway's API when not the SDK's default (a private endpoint).
    sms_endpoint: str = ""
    sms_protocol: str = "https"
    sms_timeout: float = 5.0
    # kind -> template id (keys of SMS_TEMPLATE_VARIABLES).
    sms_templates: Mapping[str, str] = field(default_factory=dict)
    # Text messages the deployment sends per day (Asia/Shanghai) at most, all kinds together.
    sms_daily_budget: int = 2000
    # How many reverse proxies stand in front of the app; 0 trusts no forwarded header.
    proxy_count: int = 0
    # The site's address as the public reaches it ("https://vote.example.cn"): every
    # absolute URL (API media links, QR codes, share posters, judge invitations) is built
    # from it, never from the request's Host. Required in production.
    public_base_url: str = ""
    # Host names the app answers to, besides the public base URL's; any other Host is a
    # 400. Empty in development: any host.
    trusted_hosts: tuple[str, ...] = ()
    # Whether the proxies' X-Forwarded-Host / X-Forwarded-Port are believed (only when the
    # proxy sets them itself and strips what clients send).
    proxy_sets_host: bool = False
    font_path: str = ""
    ratelimit_enabled: bool = True
    log_level: str = "INFO"
    # Image decodes one process runs at once; each may hold about 200 MB of pixels.
    image_decode_slots: int = 2
    # Every captcha's answer, for automated tests only; refused outside env 'testing'.
    captcha_fixed_answer: str = ""
    # /metrics: the client addresses (CIDRs) it answers, and a bearer token that opens it
    # from anywhere (empty: none); PROMETHEUS_MULTIPROC_DIR, the folder gunicorn's workers
    # share their figures in (empty: each process its own, as in development).
    metrics_allow: tuple[str, ...] = METRICS_ALLOW_DEFAULT
    metrics_token: str = ""
    metrics_multiproc_dir: str = ""
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def is_testing(self) -> bool:
        return self.env == "testing"

    @property
    def uses_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    @classmethod
    def from_env(cls, environ: Mapping[str, str], instance_path: str) -> Settings:
        """Build settings from environment variables (CONTEST_ENV, DATABASE_URL, …)."""
        def get(name: str, default: str = "") -> str:
            return environ.get(name, default).strip()

        try:
            proxy_count = int(get("PROXY_COUNT", "0") or 0)
        except ValueError:
            raise ConfigError("PROXY_COUNT must be a whole number (the number of proxies in front of the app)") from None
        try:
            image_decode_slots = int(get("IMAGE_DECODE_SLOTS", "2") or 2)
        except ValueError:
            raise ConfigError("IMAGE_DECODE_SLOTS must be a whole number (image decodes a process runs at once)") from None
        try:
            sms_timeout = float(get("SMS_TIMEOUT", "5") or 5)
        except ValueError:
            raise ConfigError("SMS_TIMEOUT must be a number of seconds") from None
        try:
            sms_daily_budget = int(get("SMS_DAILY_BUDGET", "2000") or 2000)
        except ValueError:
            raise ConfigError("SMS_DAILY_BUDGET must be a whole number (text messages per day)") from None
        return cls(
            env=get("CONTEST_ENV", "development"),
            instance_path=instance_path,
            secret_key=get("SECRET_KEY"),
            database_url=get("DATABASE_URL"),
            redis_url=get("REDIS_URL"),
            media_root=get("MEDIA_ROOT"),
            sms_backend=get("SMS_BACKEND", "console"),
            sms_access_key_id=get("SMS_ACCESS_KEY_ID"),
            sms_access_key_secret=get("SMS_ACCESS_KEY_SECRET"),
            sms_sign_name=get("SMS_SIGN_NAME"),
            sms_region=get("SMS_REGION"),
            sms_sdk_app_id=get("SMS_SDK_APP_ID"),
            sms_endpoint=get("SMS_ENDPOINT"),
            sms_protocol=get("SMS_PROTOCOL", "https").lower(),
            sms_timeout=sms_timeout,
            sms_templates={kind: get(name) for kind, name in SMS_TEMPLATE_VARIABLES.items() if get(name)},
            sms_daily_budget=sms_daily_budget,
            proxy_count=proxy_count,
            font_path=get("FONT_PATH"),
            ratelimit_enabled=get("RATELIMIT_ENABLED", "1") not in ("0", "false", "no"),
            log_level=get("LOG_LEVEL", "INFO").upper(),
            image_decode_slots=image_decode_slots,
            captcha_fixed_answer=get("CAPTCHA_FIXED_ANSWER"),
            public_base_url=get("PUBLIC_BASE_URL"),
            trusted_hosts=tuple(h.strip().lower() for h in get("TRUSTED_HOSTS").split(",") if h.strip()),
            proxy_sets_host=get("PROXY_SETS_HOST", "0") in ("1", "true", "yes"),
            # Set but empty: no address, the token alone opens /metrics.
            metrics_allow=METRICS_ALLOW_DEFAULT if environ.get("METRICS_ALLOW") is None else tuple(
                c.strip() for c in get("METRICS_ALLOW").split(",") if c.strip()),
            metrics_token=get("METRICS_TOKEN"),
            metrics_multiproc_dir=get("PROMETHEUS_MULTIPROC_DIR"),
        )

    def with_defaults(self) -> Settings:
        """Fill the embedded defaults (SQLite, media and secret under instance/) and validate."""
        if self.env not in ENVIRONMENTS:
            raise ConfigError(f"CONTEST_ENV must be one of {', '.join(ENVIRONMENTS)}, not {self.env!r}")
        if self.captcha_fixed_answer and not self.is_testing:
            raise ConfigError("CAPTCHA_FIXED_ANSWER is only allowed when CONTEST_ENV=testing")
        instance = Path(self.instance_path)
        changes: dict[str, Any] = {}
        if self.is_production:
            missing = [name for name, value in (
                ("SECRET_KEY", self.secret_key),
                ("DATABASE_URL", self.database_url),
                ("REDIS_URL", self.redis_url),
            ) if not value]
            if missing:
                raise ConfigError(
                    "production start-up refused: set " + ", ".join(missing)
                    + " in the environment (see README.md, 'Production')"
                )
            if len(self.secret_key) < 32:
                raise ConfigError("production start-up refused: SECRET_KEY must be at least 32 characters")
            if not self.database_url.startswith("postgresql"):
                raise ConfigError("production start-up refused: DATABASE_URL must be postgresql+psycopg://…")
            missing_tools = [f"{tool} (Debian package {package})" for tool, package in PROGRAMS if not shutil.which(tool)]
            if missing_tools:
                raise ConfigError("production start-up refused: install " + ", ".join(missing_tools)
                                  + ": uploads are checked and cleaned with them")
            if not self.public_base_url:
                raise ConfigError(
                    "production start-up refused: set PUBLIC_BASE_URL to the site's public address "
                    "(https://host), from which every absolute link and QR code is built"
                )
        if not self.database_url:
            _private_directory(instance)
            changes["database_url"] = f"sqlite:///{instance / 'contest.sqlite3'}"
        if not self.media_root:
            changes["media_root"] = str(instance / "media")
        if not self.secret_key:
            changes["secret_key"] = _development_secret(instance)
        _check_sms(self)
        if self.proxy_count < 0:
            raise ConfigError("PROXY_COUNT cannot be negative")
        if self.image_decode_slots < 1:
            raise ConfigError("IMAGE_DECODE_SLOTS must be at least 1")
        if self.redis_url:
            _check_redis_url(self.redis_url)
        if self.public_base_url:
            changes["public_base_url"] = _checked_base_url(self.public_base_url, self.is_production)
        changes["metrics_allow"] = _checked_networks(self.metrics_allow)
        if self.metrics_token and len(self.metrics_token) < METRICS_TOKEN_MIN:
            raise ConfigError(f"METRICS_TOKEN must be at least {METRICS_TOKEN_MIN} characters")
        if self.metrics_multiproc_dir and not os.path.isdir(self.metrics_multiproc_dir):
            raise ConfigError(f"PROMETHEUS_MULTIPROC_DIR {self.metrics_multiproc_dir!r} is not a folder: create it "
                              "(empty) before the server starts")
        return replace(self, **changes)

    @property
    def allowed_hosts(self) -> tuple[str, ...]:
        """Host names (with a port where one is given) a request may name; empty: any."""
        hosts = list(self.trusted_hosts)
        if self.public_base_url:
            hosts.append(urlsplit(self.public_base_url).netloc.lower())
        return tuple(dict.fromkeys(hosts))

    def override(self, values: Mapping[str, Any]) -> Settings:
        known = {f.name for f in fields(self)}
        unknown = set(values) - known
        if unknown:
            raise ConfigError(f"unknown settings: {', '.join(sorted(unknown))}")
        return replace(self, **values)


def _check_sms(s: Settings) -> None:
    """The gateway's settings, each named when missing or malformed; values are never
    echoed (the key id and secret are credentials)."""
    if s.sms_backend not in SMS_BACKENDS:
        raise ConfigError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}")
    if s.sms_daily_budget < 0:
        raise ConfigError("SMS_DAILY_BUDGET cannot be negative (0 stops every text message)")
    if not 0 < s.sms_timeout <= 60:
        raise ConfigError("SMS_TIMEOUT must be between 0 and 60 seconds")
    if s.sms_backend == "console":
        return
    formats = _SMS_FORMATS[s.sms_backend]
    given = {
        "SMS_ACCESS_KEY_ID": s.sms_access_key_id, "SMS_ACCESS_KEY_SECRET": s.sms_access_key_secret,
        "SMS_SIGN_NAME": s.sms_sign_name, "SMS_REGION": s.sms_region,
        **({"SMS_SDK_APP_ID": s.sms_sdk_app_id} if s.sms_backend == "tencent" else {}),
        **{name: s.sms_templates.get(kind, "") for kind, name in SMS_TEMPLATE_VARIABLES.items()
           if kind not in SMS_OPTIONAL_TEMPLATES},
    }
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise ConfigError(f"SMS_BACKEND={s.sms_backend} needs " + ", ".join(missing) + " (see docs/DEPLOY.md, 'SMS')")
    unknown = set(s.sms_templates) - set(SMS_TEMPLATE_VARIABLES)
    if unknown:
        raise ConfigError(f"unknown SMS message kinds: {', '.join(sorted(unknown))}")
    where = f"for SMS_BACKEND={s.sms_backend}"
    for name in ("SMS_ACCESS_KEY_ID", "SMS_SDK_APP_ID"):
        if name in formats and not re.fullmatch(formats[name], given[name]):
            raise ConfigError(f"{name} is malformed {where} (expected the pattern {formats[name]})")
    if not re.fullmatch(r"[!-~]{16,100}", s.sms_access_key_secret):
        raise ConfigError("SMS_ACCESS_KEY_SECRET is malformed: 16 to 100 visible ASCII characters expected")
    # Both gateways take a signature of 2 to 12 characters, without the 【】 the text shows.
    if not re.fullmatch(r"[0-9A-Za-z\u4e00-\u9fff]{2,12}", s.sms_sign_name):
        raise ConfigError("SMS_SIGN_NAME must be the approved signature itself: 2 to 12 Chinese characters, "
                          "letters or digits, without 【】")
    if not re.fullmatch(r"[a-z]{2,3}-[a-z]+(-[0-9]+)?", s.sms_region):
        raise ConfigError(f"SMS_REGION is malformed {where} (e.g. cn-hangzhou for aliyun, ap-guangzhou for tencent)")
    for kind, name in SMS_TEMPLATE_VARIABLES.items():
        if kind in s.sms_templates and not re.fullmatch(formats["template"], s.sms_templates[kind]):
            raise ConfigError(f"{name} is malformed {where} (expected the pattern {formats['template']})")
    if s.sms_endpoint and not re.fullmatch(r"[A-Za-z0-9.-]+(:[0-9]{1,5})?", s.sms_endpoint):
        raise ConfigError("SMS_ENDPOINT must be host[:port], without a scheme or path")
    if s.sms_protocol not in ("https", "http"):
        raise ConfigError("SMS_PROTOCOL must be https or http")
    if s.sms_protocol == "http" and s.is_production:
        raise ConfigError("production start-up refused: SMS_PROTOCOL=http would send the gateway's key in the clear")


def _check_redis_url(url: str) -> None:
    """One server (redis://, rediss://, unix://) or a Sentinel set (redis+sentinel://…,
    read by redis_client.parse_sentinel_url, as the app, the limiter and the job runner will)."""
    if is_sentinel_url(url):
        try:
            parse_sentinel_url(url)
        except ValueError as exc:
            raise ConfigError(f"REDIS_URL: {exc} (see docs/DEPLOY.md, 'Redis')") from None
    elif not url.startswith(("redis://", "rediss://", "unix://")):
        raise ConfigError("REDIS_URL must start with redis://, rediss://, unix:// or redis+sentinel:// "
                          "(see docs/DEPLOY.md, 'Redis')")


def _checked_base_url(value: str, production: bool) -> str:
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment \
            or parts.path not in ("", "/") or parts.username or parts.password:
        raise ConfigError(f"PUBLIC_BASE_URL must look like https://host[:port], not {value!r}")
    if production and parts.scheme != "https":
        raise ConfigError("production start-up refused: PUBLIC_BASE_URL must be https://…")
    return f"{parts.scheme}://{parts.netloc.lower()}"


def _checked_networks(cidrs: tuple[str, ...]) -> tuple[str, ...]:
    """METRICS_ALLOW's entries in canonical form (a bare address is one host)."""
    checked = []
    for cidr in cidrs:
        try:
            checked.append(str(ipaddress.ip_network(cidr.strip(), strict=True)))
        except ValueError as exc:
            raise ConfigError(f"METRICS_ALLOW: {cidr!r} is not an address or a network such as 10.0.0.0/8 "
                              f"or ::1/128 ({exc})") from None
    return tuple(checked)


def _private_directory(instance: Path) -> None:
    """Create the instance folder for the app's user alone: it holds the SQLite database
    (phone numbers, password hashes) and the development secret key."""
    instance.mkdir(mode=0o700, parents=True, exist_ok=True)


def _development_secret(instance: Path) -> str:
    """A random key kept in instance/ so sessions survive restarts of a development server."""
    _private_directory(instance)
    path = instance / "secret_key"
    if path.exists():
        return path.read_text().strip()
    key = secrets.token_urlsafe(48)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    return key


def discover_cjk_font(configured: str = "") -> str:
    """Path of a font with Chinese glyphs: the setting, or what fontconfig finds."""
    if configured:
        if not Path(configured).is_file():
            raise ConfigError(f"FONT_PATH {configured!r} does not exist")
        return configured
    fc_match = shutil.which("fc-match")
    try:
        found = subprocess.run(  # nosec
            [fc_match, "sans:lang=zh-cn", "--format", "%{file}"], capture_output=True, text=True, timeout=10, check=False,
        ).stdout.strip() if fc_match else ""
    except (OSError, subprocess.TimeoutExpired):
        found = ""
    if not found or "CJK" not in found and "cjk" not in found.lower():
        raise ConfigError(
            "no Chinese font found: install the Debian package fonts-noto-cjk "
            "(apt-get install fonts-noto-cjk) or set FONT_PATH"
        )
    return found
