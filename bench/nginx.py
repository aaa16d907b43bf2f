"""nginx as deployed: deploy/nginx/contest.conf filled in with a bench's own ports and paths,
inside a main configuration of its own, run in the foreground (never the machine's nginx).

The main file stands for Debian's /etc/nginx/nginx.conf (worker processes, connections, the
temporary folders); everything about the site is the deployed file itself."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from bench.services import ROOT

TEMPLATE = ROOT / "deploy" / "nginx" / "contest.conf"
PLACEHOLDER = re.compile(r"\$\{(CONTEST_[A-Z0-9_]+)\}")
SERVER_NAME = "vote.example.cn"
WORKER_USER = "www-data"  # what Debian's nginx package runs its workers as

MAIN = """\
# bench: stands for /etc/nginx/nginx.conf
worker_processes auto;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
{user}
events {{ worker_connections 768; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    sendfile on;
    log_format timed '$remote_addr [$time_local] "$request" $status $body_bytes_sent '
                     'rt=$request_time up=$upstream_addr us=$upstream_status ut=$upstream_response_time';
    access_log {prefix}/access.log timed;
    client_body_temp_path {prefix}/body;
    proxy_temp_path {prefix}/proxy;
    fastcgi_temp_path {prefix}/fastcgi;
    uwsgi_temp_path {prefix}/uwsgi;
    scgi_temp_path {prefix}/scgi;
    include {site};
}}
"""


def render(template: str, values: Mapping[str, str]) -> str:
    """The template with every ${CONTEST_…} replaced (what envsubst does in production); a
    name without a value is an error, nginx's own $variables are left alone."""
    missing = sorted({name for name in PLACEHOLDER.findall(template) if name not in values})
    if missing:
        raise ValueError("no value for " + ", ".join(missing))
    return PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


@dataclass(frozen=True)
class Site:
    prefix: Path  # nginx's folder: configuration, logs, temporary files, certificate
    https_port: int
    http_port: int
    apps: tuple[str, ...]  # host:port of each instance
    static_root: Path = ROOT / "static"
    server_name: str = SERVER_NAME  # the site's name (TLS certificate, SNI, Host)

    @property
    def main_conf(self) -> Path:
        return self.prefix / "nginx.conf"

    def values(self) -> dict[str, str]:
        values = {
            "CONTEST_SERVER_NAME": self.server_name,
            "CONTEST_HTTPS_LISTEN": f"127.0.0.1:{self.https_port}",
            "CONTEST_HTTP_LISTEN": f"127.0.0.1:{self.http_port}",
            "CONTEST_TLS_CERT": str(self.prefix / "tls.crt"),
            "CONTEST_TLS_KEY": str(self.prefix / "tls.key"),
            "CONTEST_STATIC_ROOT": str(self.static_root),
            "CONTEST_MEDIA_CACHE": str(self.prefix / "media-cache"),
            "CONTEST_PAGE_CACHE": str(self.prefix / "page-cache"),
        }
        values.update({f"CONTEST_APP_{n}": app for n, app in enumerate(self.apps, 1)})
        return values

    def write(self) -> Path:
        """The certificate, the site file and the main file; returns the main file."""
        self.prefix.mkdir(parents=True, exist_ok=True)
        # the workers (www-data when started by root) read and write below here (the
        # caches, too): they must be able to pass through the folders above it that a
        # bench or a test made for itself in the temporary folder (mode 0700)
        self.prefix.chmod(0o755)
        temporary = Path(tempfile.gettempdir()).resolve()
        for folder in self.prefix.resolve().parents:
            if folder == temporary or temporary not in folder.parents:
                break
            folder.chmod(folder.stat().st_mode | 0o011)
        if not (self.prefix / "tls.crt").exists():
            subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                            "-subj", f"/CN={self.server_name}", "-addext", f"subjectAltName=DNS:{self.server_name}",
                            "-keyout", str(self.prefix / "tls.key"), "-out", str(self.prefix / "tls.crt")],
                           check=True, capture_output=True)
        site = self.prefix / "contest.conf"
        site.write_text(render(TEMPLATE.read_text(), self.values()))
        user = f"user {WORKER_USER};" if os.geteuid() == 0 else ""
        self.main_conf.write_text(MAIN.format(prefix=self.prefix, site=site, user=user))
        return self.main_conf

    def command(self, *extra: str) -> list[str]:
        return [nginx_binary(), "-p", str(self.prefix), "-c", str(self.main_conf), "-g", "daemon off;", *extra]

    def test(self) -> subprocess.CompletedProcess[str]:
        """`nginx -t` of the written configuration."""
        return subprocess.run(self.command("-t"), capture_output=True, text=True, check=False)


def nginx_binary() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else "")
    if not found:
        raise SystemExit("nginx is needed: apt-get install -y nginx")
    return found
