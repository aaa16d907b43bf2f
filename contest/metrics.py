"""What operators measure: every Prometheus metric of the platform, and `/metrics`.

The metrics are module globals of prometheus_client, one set per process. Under gunicorn
with `PROMETHEUS_MULTIPROC_DIR` set (in the environment, before the process starts: the
library chooses its storage when it is imported), each worker writes its values to files
in that folder and a scrape, whichever worker answers it, adds up every worker's files
(prometheus_client's multiprocess mode; gunicorn.conf.py empties the folder when the
server starts and drops a dead worker's live gauges). Without it (the embedded default,
the tests) a scrape reads the process's default registry.

Two figures are read when a scrape asks, not stored: the age of the oldest ledger event
no block has sealed yet (one indexed query) and whether Redis answers a PING.

The functions at the bottom are what the rest of the platform calls; none of them needs
an app, so services call them as well as views.

`/metrics` answers the addresses in METRICS_ALLOW and requests bearing METRICS_TOKEN, and
is a plain 404 to everyone else. It keeps out of the rate limits and the session.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
import time
from collections.abc import Iterable, Iterator, Sequence

from flask import Flask, Response, abort, g, request
from prometheus_client import CONTENT_TYPE_PLAIN_0_0_4, REGISTRY, CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client import values as prometheus_values
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector
from sqlalchemy import func, select
from sqlalchemy.exc import SQLAlchemyError
from werkzeug.exceptions import MethodNotAllowed

from . import web
from .config import ConfigError, Settings
from .db import Base
from .extensions import db, limiter

log = logging.getLogger(__name__)

PATH = "/metrics"
ENDPOINT = "metrics"
UNMATCHED = "(unmatched)"  # the endpoint label of a request no route took (a 404 or 405 from routing)

# Seconds: most pages take milliseconds; uploads and exports may take tens of seconds.
LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0)

REQUEST_SECONDS = Histogram(
    "contest_request_duration_seconds", "Time to answer a request, by Flask endpoint and status class (2xx … 5xx)",
    ["endpoint", "status"], buckets=LATENCY_BUCKETS)
REQUESTS_IN_PROGRESS = Gauge(
    "contest_requests_in_progress", "Requests being answered now (the live workers' sum)", multiprocess_mode="livesum")
VOTES = Counter(
    "contest_votes", "Vote requests that reached the vote's rules: counted, held for review, or refused (reason: the "
    "refusal's code)", ["outcome", "reason"])
UPLOADS = Counter(
    "contest_uploads", "Requests sending files (entries, objection evidence): accepted, or refused (reason: the "
    "refusal's code)", ["endpoint", "outcome", "reason"])
SMS_SENT = Counter("contest_sms_sent", "Text messages handed to a provider, by provider and outcome",
                   ["provider", "outcome"])
# Gauges that one process sets for all: the value last set wins, whichever process set it.
SMS_BUDGET_LEFT = Gauge("contest_sms_budget_left", "Text messages the provider account can still send",
                        ["provider"], multiprocess_mode="mostrecent")
SMS_BUDGET = Gauge("contest_sms_budget", "The provider account's whole budget of text messages, when known",
                   ["provider"], multiprocess_mode="mostrecent")
JOBS_QUEUED = Gauge("contest_jobs_queued", "Background jobs waiting to run", multiprocess_mode="mostrecent")
JOBS_FAILED = Gauge("contest_jobs_failed", "Background jobs that failed and gave up", multiprocess_mode="mostrecent")
JOBS_SCHEDULED = Gauge("contest_jobs_scheduled", "Background jobs scheduled for later", multiprocess_mode="mostrecent")


# --- what the rest of the platform calls ------------------------------------------------------

def vote_counted(status: str) -> None:
    """A vote committed: `status` is the vote's, 'valid' (counted) or 'held' (for review)."""
    VOTES.labels(outcome="held" if status == "held" else "counted", reason="").inc()


def vote_refused(code: str) -> None:
    """A vote refused by the rules, with the refusal's code (voting_closed, already_voted, …).
    An API request repeating an Idempotency-Key that has an answer is refused on its way
    too (then the earlier answer is replayed): it is counted here, not as a second vote."""
    VOTES.labels(outcome="refused", reason=code).inc()


def upload_accepted(endpoint: str) -> None:
    UPLOADS.labels(endpoint=endpoint, outcome="accepted", reason="").inc()


def upload_refused(endpoint: str, code: str) -> None:
    UPLOADS.labels(endpoint=endpoint, outcome="refused", reason=code).inc()


def sms_sent(provider: str, outcome: str) -> None:
    """One text message handed to `provider` ('console', 'aliyun', …): outcome 'sent', 'failed', …"""
    SMS_SENT.labels(provider=provider, outcome=outcome).inc()


def sms_budget_left(n: int, total: int | None = None, provider: str = "") -> None:
    """What the SMS account can still send (and its whole budget, when the provider says)."""
    SMS_BUDGET_LEFT.labels(provider=provider).set(n)
    if total is not None:
        SMS_BUDGET.labels(provider=provider).set(total)


def jobs_observed(queued: int, failed: int, scheduled: int) -> None:
    """The job queue as last seen: waiting, failed for good, scheduled for later."""
    JOBS_QUEUED.set(queued)
    JOBS_FAILED.set(failed)
    JOBS_SCHEDULED.set(scheduled)


# --- access -----------------------------------------------------------------------------------

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def parse_networks(cidrs: Iterable[str]) -> tuple[Network, ...]:
    """METRICS_ALLOW's entries (checked by Settings.with_defaults) as networks."""
    return tuple(ipaddress.ip_network(cidr) for cidr in cidrs)


def address_allowed(address: str, networks: Sequence[Network]) -> bool:
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # ::ffff:127.0.0.1 from a dual-stack socket is 127.0.0.1
    return any(ip.version == net.version and ip in net for net in networks)


def token_matches(header: str, token: str) -> bool:
    """`Authorization: Bearer <token>`, compared in constant time; no token set, no match."""
    scheme, _sep, given = header.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(given.strip().encode(), token.encode())


# --- what a scrape reads ------------------------------------------------------------------------

def multiprocess_mode() -> bool:
    """Whether this process's metrics live in PROMETHEUS_MULTIPROC_DIR (chosen at import)."""
    return bool(getattr(prometheus_values.ValueClass, "_multiprocess", False))


def oldest_unsealed_age(now_epoch: float) -> float | None:
    """Seconds since the oldest event that no block seals yet (0: none waits), or None when
    the database does not answer. The one query a scrape makes (on the block_id index)."""
    events = Base.metadata.tables["ledger_event"]  # the voting domain's table, by name: no import upward
    try:
        oldest = db.session.scalar(select(func.min(events.c.at)).where(events.c.block_id.is_(None)))
    except SQLAlchemyError as exc:
        db.session.rollback()
        # One line, no traceback: an outage is logged where it starts (errors.py), and a
        # scrape every few seconds would bury it.
        log.warning("metrics: the ledger query failed: %s", (str(exc).splitlines() or [""])[0][:200])
        return None
    return max(0.0, now_epoch - oldest.timestamp()) if oldest is not None else 0.0


def redis_up() -> float | None:
    """1 when the app's Redis answers a PING, 0 when not, None without Redis."""
    client = web.redis_client()
    if client is None:
        return None
    try:
        client.ping()
    except Exception:  # noqa: BLE001 - any failure means Redis is not usable
        return 0.0
    return 1.0


class ScrapeTime:
    """Figures measured as the scrape happens, in the process answering it."""

    def __init__(self, ledger_age: float | None, database: bool, redis: float | None) -> None:
        self.ledger_age, self.database, self.redis = ledger_age, database, redis

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily("contest_database_up", "1 when the database answered the scrape's query",
                                value=1.0 if self.database else 0.0)
        if self.ledger_age is not None:
            yield GaugeMetricFamily("contest_ledger_oldest_unsealed_age_seconds",
                                    "Age of the oldest ledger event no block seals yet (0: none waits)",
                                    value=self.ledger_age)
        if self.redis is not None:
            yield GaugeMetricFamily("contest_redis_up", "1 when Redis answered the scrape's PING", value=self.redis)


class _Together:
    """Several collectors read as one by generate_latest."""

    def __init__(self, *parts: Collector) -> None:
        self.parts = parts

    def collect(self) -> Iterator[Metric]:
        for part in self.parts:
            yield from part.collect()


def exposition() -> bytes:
    """The whole scrape in Prometheus's text format (inside a request: it reads the app)."""
    now = web.now().timestamp()
    age = oldest_unsealed_age(now)
    measured = ScrapeTime(age, age is not None, redis_up())
    if multiprocess_mode():
        every_worker = CollectorRegistry()
        MultiProcessCollector(every_worker)  # every worker's files, live and dead
        return generate_latest(_Together(every_worker, measured))
    return generate_latest(_Together(REGISTRY, measured))


# --- the app's hooks and route ------------------------------------------------------------------

def check_settings(settings: Settings) -> None:
    """What only prometheus_client knows: the folder must have been in the environment
    before the process imported it, or the workers' values stay in their own memory."""
    if settings.metrics_multiproc_dir and not multiprocess_mode():
        raise ConfigError("PROMETHEUS_MULTIPROC_DIR must be set in the environment the server starts with "
                          "(its shell or systemd unit), not from Python after start-up")


def init_metrics(app: Flask, settings: Settings) -> None:
    """Time every request, and answer /metrics to the allowed clients."""
    check_settings(settings)
    networks = parse_networks(settings.metrics_allow)
    token = settings.metrics_token

    def start_timer() -> None:
        g.metrics_started = time.perf_counter()
        REQUESTS_IN_PROGRESS.inc()
        g.metrics_in_progress = True

    # First of the hooks (as the request id's), so refused requests are timed too.
    app.before_request_funcs.setdefault(None, []).insert(0, start_timer)

    @app.before_request
    def hide_route() -> None:
        # Routing refuses other methods at /metrics with a 405 naming GET: that would tell
        # anyone the route exists. Every other method gets the 404 of an unknown path.
        if request.path == PATH and isinstance(request.routing_exception, MethodNotAllowed):
            abort(404)

    @app.after_request
    def observe(response: Response) -> Response:
        started = g.pop("metrics_started", None)
        endpoint = request.endpoint or UNMATCHED
        if started is not None and endpoint != ENDPOINT:  # scrapes stay out of the site's figures
            REQUEST_SECONDS.labels(endpoint=endpoint, status=f"{response.status_code // 100}xx").observe(
                time.perf_counter() - started)
        return response

    @app.teardown_request
    def finish(_exc: BaseException | None) -> None:
        if g.pop("metrics_in_progress", False):
            REQUESTS_IN_PROGRESS.dec()

    def metrics() -> Response:
        if not (address_allowed(web.client_ip(), networks)
                or token_matches(request.headers.get("Authorization", ""), token)):
            abort(404)
        response = Response(exposition(), headers={"Content-Type": CONTENT_TYPE_PLAIN_0_0_4})
        response.headers["Cache-Control"] = "no-store"
        return response

    app.add_url_rule(PATH, ENDPOINT, limiter.exempt(metrics), methods=["GET"], provide_automatic_options=False)
