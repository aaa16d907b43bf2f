"""Settings, read from the environment once (inside create_app) and validated."""

from __future__ import annotations

import ipaddress
import os
import secrets
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

ENVIRONMENTS = ("development", "production", "testing")
# Who may read /metrics without the token: the machine itself.
METRICS_ALLOW_DEFAULT = ("127.0.0.1/32", "::1/128")
METRICS_TOKEN_MIN = 32
SMS_BACKENDS = ("console",)
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
        return cls(
            env=get("CONTEST_ENV", "development"),
            instance_path=instance_path,
            secret_key=get("SECRET_KEY"),
            database_url=get("DATABASE_URL"),
            redis_url=get("REDIS_URL"),
            media_root=get("MEDIA_ROOT"),
            sms_backend=get("SMS_BACKEND", "console"),
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
        if self.sms_backend not in SMS_BACKENDS:
            raise ConfigError(f"SMS_BACKEND must be one of {', '.join(SMS_BACKENDS)}")
        if self.proxy_count < 0:
            raise ConfigError("PROXY_COUNT cannot be negative")
        if self.image_decode_slots < 1:
            raise ConfigError("IMAGE_DECODE_SLOTS must be at least 1")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("REDIS_URL must start with redis://, rediss:// or unix://")
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
