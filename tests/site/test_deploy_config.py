"""The deployment's own configuration: deploy/nginx/contest.conf, gunicorn.conf.py and the
command docs/DEPLOY.md gives, held to each other (bench/faults.py runs them under faults).

- nginx accepts the site file filled in as the bench fills it (`nginx -t`);
- gunicorn keeps an idle connection longer than nginx does, so nginx always closes first;
- a restart lets the longest request nginx waits for finish;
- gunicorn binds no public address, in its settings, in DEPLOY.md or in the demo script;
- run for real against two stand-in instances (one down): requests fail over, POSTs too
  when their connection was refused, and nginx reads a slow body whole before an instance
  sees the request.
"""

from __future__ import annotations

import http.server
import ipaddress
import re
import runpy
import shlex
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from bench.nginx import SERVER_NAME, TEMPLATE, Site, render
from bench.services import ROOT, free_port, gunicorn_command

NGINX = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
needs_nginx = pytest.mark.skipif(NGINX is None, reason="nginx is not installed (Debian package nginx; "
                                 "scripts/setup.sh dev installs it)")
DEPLOY = ROOT / "docs" / "DEPLOY.md"


def gunicorn_settings() -> dict[str, Any]:
    return runpy.run_path(str(ROOT / "gunicorn.conf.py"))


def section(markdown: str, title: str) -> str:
    start = markdown.index(f"\n## {title}\n")
    end = markdown.find("\n## ", start + 1)
    return markdown[start:end if end != -1 else None]


def documented_gunicorn_commands() -> list[list[str]]:
    """Every `gunicorn …` command line in DEPLOY.md's "Each instance" section."""
    text = section(DEPLOY.read_text(), "Each instance")
    return [shlex.split(line.split("#", 1)[0]) for line in text.splitlines() if re.match(r"\s*gunicorn\s", line)]


def nginx_directive(block: str, name: str) -> str:
    found = re.search(rf"^\s*{name}\s+([^;]+);", block, re.M)
    assert found, f"{name} is not set"
    return found.group(1).strip()


def seconds(value: str) -> float:
    number, unit = re.fullmatch(r"(\d+)(ms|s|m)?", value).groups()  # type: ignore[union-attr]
    return int(number) * {"ms": 0.001, "s": 1, "m": 60, None: 1}[unit]


def block(text: str, opening: str) -> str:
    """The body of the first `opening {` … matching `}` block."""
    start = text.index(opening)
    depth, i = 0, text.index("{", start)
    for j in range(i, len(text)):
        depth += {"{": 1, "}": -1}.get(text[j], 0)
        if depth == 0:
            return text[i + 1:j]
    raise AssertionError(f"unclosed {opening}")


def option(command: list[str], *names: str) -> str | None:
    for n, word in enumerate(command):
        for name in names:
            if word == name and n + 1 < len(command):
                return command[n + 1]
            if word.startswith(name + "="):
                return word.split("=", 1)[1]
    return None


# --- the files agree ------------------------------------------------------------------------

def test_deploy_md_runs_gunicorn_with_the_settings_file() -> None:
    commands = documented_gunicorn_commands()
    assert commands, "DEPLOY.md shows no gunicorn command"
    # what the bench runs is the documented command with a port of its own
    bench = gunicorn_command(8000)
    assert bench[-1] == "wsgi:app" and commands[0][-1] == "wsgi:app"
    assert [w for w in commands[0] if w.startswith("-")] == [], "the documented command sets nothing itself"
    assert set(w for w in bench[3:-1] if w.startswith("-")) == {"--bind", "--no-control-socket"}


def test_gunicorn_keeps_idle_connections_longer_than_nginx() -> None:
    upstream = block(TEMPLATE.read_text(), "upstream contest")
    nginx_idle = seconds(nginx_directive(upstream, "keepalive_timeout"))
    keepalive = gunicorn_settings()["keepalive"]
    for command in documented_gunicorn_commands():
        keepalive = int(option(command, "--keep-alive") or keepalive)
    assert keepalive > nginx_idle, (keepalive, nginx_idle)
    assert int(nginx_directive(upstream, "keepalive")) > 0


def test_a_restart_lets_the_longest_request_finish() -> None:
    template = TEMPLATE.read_text()
    waits = [seconds(v) for v in re.findall(r"proxy_read_timeout\s+([^;]+);", template)]
    assert waits and seconds(nginx_directive(block(template, "location ~ ^/c/[^/]+/submit$"), "proxy_read_timeout")) == max(waits)
    assert gunicorn_settings()["graceful_timeout"] >= max(waits)


def test_nginx_never_sends_a_post_twice_nor_counts_the_apps_503() -> None:
    template = TEMPLATE.read_text()
    directives = re.findall(r"^\s*proxy_next_upstream\s+([^;]+);", template, re.M)
    assert len(directives) == 1, "one proxy_next_upstream, in the server block"
    retried = directives[0].split()
    assert "error" in retried and "non_idempotent" not in retried and "http_503" not in retried
    assert not re.search(r"^\s*proxy_request_buffering\s+off", template, re.M)


def _addresses() -> list[str]:
    found = [str(b) for b in gunicorn_settings()["bind"]]
    found += [option(c, "--bind", "-b") or "" for c in documented_gunicorn_commands()]
    demo = (ROOT / "scripts" / "run-demo.sh").read_text()
    default_host = re.search(r"HOST=\$\{HOST:-([^}]+)\}", demo)
    assert default_host, "run-demo.sh sets no default HOST"
    found.append(default_host.group(1) + ":8000")
    return [a for a in found if a]


@pytest.mark.parametrize("address", _addresses())
def test_gunicorn_binds_no_public_address(address: str) -> None:
    if address.startswith("unix:"):
        return
    host = address.rsplit(":", 1)[0].strip("[]")
    ip = ipaddress.ip_address(socket.gethostbyname(host) if not re.match(r"^[\d.:a-fA-F]+$", host) else host)
    assert not ip.is_unspecified, f"{address} listens on every interface"
    assert ip.is_loopback or ip.is_private, f"{address} is a public address"


def test_every_placeholder_has_a_value_in_the_install_example() -> None:
    template = TEMPLATE.read_text()
    names = set(re.findall(r"\$\{(CONTEST_[A-Z0-9_]+)\}", template.split("\n\n", 1)[1]))
    example = set(re.findall(r"(CONTEST_[A-Z0-9_]+)=", template.split("\n\n", 1)[0]))
    assert names == example
    with pytest.raises(ValueError, match="CONTEST_APP_2"):
        render(template, {name: "x" for name in names - {"CONTEST_APP_2"}})


# --- nginx itself ---------------------------------------------------------------------------

@needs_nginx
def test_nginx_accepts_the_site_file(tmp_path: Path) -> None:
    site = Site(tmp_path / "nginx", free_port(), free_port(), ("127.0.0.1:18001", "127.0.0.1:18002"))
    site.write()
    checked = site.test()
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr


class StandIn(http.server.ThreadingHTTPServer):
    """An instance that answers every request with 200 and notes when each one arrived; a
    path with `shared` in it is answered as the app answers a shared public page."""

    def __init__(self) -> None:
        self.arrivals: list[tuple[str, float, int]] = []  # path, when, body bytes

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _answer(self) -> None:
                arrived = time.monotonic()
                size = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(size)
                server.arrivals.append((self.path, arrived, size))
                self.send_response(200)
                if "shared" in self.path:
                    self.send_header("Cache-Control", "public, max-age=10, s-maxage=30, stale-while-revalidate=30")
                    self.send_header("Vary", "Cookie")
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            do_GET = do_POST = _answer

            def log_message(self, format: str, *args: Any) -> None:
                return None

        server = self
        super().__init__(("127.0.0.1", 0), Handler)


@pytest.fixture
def running_nginx(tmp_path: Path) -> Iterator[tuple[Site, StandIn]]:
    stand_in = StandIn()
    threading.Thread(target=stand_in.serve_forever, daemon=True).start()
    down = f"127.0.0.1:{free_port()}"  # nothing listens there: an instance that is down
    site = Site(tmp_path / "nginx", free_port(), free_port(), (down, f"127.0.0.1:{stand_in.server_address[1]}"))
    site.write()
    process = subprocess.Popen(site.command(), stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", site.https_port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None and time.monotonic() < deadline, "nginx did not start"
                time.sleep(0.1)
        yield site, stand_in
    finally:
        process.terminate()
        process.wait(10)
        stand_in.shutdown()
        stand_in.server_close()


@needs_nginx
def test_requests_go_round_an_instance_that_is_down(running_nginx: tuple[Site, StandIn]) -> None:
    from bench.faults import SiteConnection

    site, stand_in = running_nginx
    conn = SiteConnection(site.https_port, "127.0.0.1", timeout=10)
    statuses = []
    for n in range(6):
        method = "POST" if n % 2 else "GET"
        conn.request(method, f"/api/v1/ping?n={n}", body=b"{}" if method == "POST" else None)
        response = conn.getresponse()
        response.read()
        statuses.append(response.status)
    conn.close()
    # a refused connection is tried on the other instance, for a POST too (nothing was sent)
    assert statuses == [200] * 6
    assert len(stand_in.arrivals) == 6


@needs_nginx
def test_shared_pages_come_from_the_micro_cache_but_not_for_a_session(running_nginx: tuple[Site, StandIn]) -> None:
    from bench.faults import SiteConnection

    site, stand_in = running_nginx
    conn = SiteConnection(site.https_port, "127.0.0.1", timeout=10)
    seen = []
    for path, cookie in [("/c/a/entries?shared=1", ""), ("/c/a/entries?shared=1", ""), ("/c/a/entries?shared=1", ""),
                         ("/c/a/entries?shared=1&page=2", ""), ("/c/a/entries?shared=1", "lang=en"),
                         ("/c/a/entries?shared=1", "lang=en"), ("/c/a/entries?shared=1", "session=abc"),
                         ("/c/a/entries?shared=1", "remember_token=abc"), ("/c/a/private", ""), ("/c/a/private", "")]:
        conn.request("GET", path, headers={"Cookie": cookie} if cookie else {})
        response = conn.getresponse()
        response.read()
        seen.append(response.headers.get("X-Cache-Status"))
    conn.close()
    assert seen == ["MISS", "HIT", "HIT", "MISS", "MISS", "HIT", "BYPASS", "BYPASS", "MISS", "MISS"]
    # Each language and query string once, each signed-in request, each private answer.
    assert [path for path, _when, _size in stand_in.arrivals] == [
        "/c/a/entries?shared=1", "/c/a/entries?shared=1&page=2", "/c/a/entries?shared=1", "/c/a/entries?shared=1",
        "/c/a/entries?shared=1", "/c/a/private", "/c/a/private"]


@needs_nginx
def test_a_slow_body_reaches_the_instance_only_once_it_is_whole(running_nginx: tuple[Site, StandIn]) -> None:
    from bench.faults import TLS

    site, stand_in = running_nginx
    raw = socket.create_connection(("127.0.0.1", site.https_port), timeout=10)
    sock = TLS.wrap_socket(raw, server_hostname=SERVER_NAME)
    body = b"x" * 4000
    sock.sendall(f"POST /slow HTTP/1.1\r\nHost: {SERVER_NAME}\r\nContent-Length: {len(body)}\r\n\r\n".encode())
    sock.sendall(body[:1000])
    time.sleep(1.5)
    assert [a for a in stand_in.arrivals if a[0] == "/slow"] == [], "the instance saw the request before its body"
    finished = time.monotonic()
    sock.sendall(body[1000:])
    answer = sock.recv(4096)
    sock.close()
    assert answer.startswith(b"HTTP/1.1 200")
    (path, arrived, size), = [a for a in stand_in.arrivals if a[0] == "/slow"]
    assert arrived >= finished and size == len(body)
