"""The servers a bench starts for itself, on free ports, and stops again: redis-server, a
PostgreSQL cluster of its own, gunicorn with the project's gunicorn.conf.py. Nothing here
touches the machine's shared PostgreSQL (5432) or Redis (6379)."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def wait_until(check: Callable[[], Any], what: str, timeout: float = 30.0,
               process: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise SystemExit(f"{what}: the process exited with {process.returncode}")
        try:
            if check():
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise SystemExit(f"{what}: not ready after {timeout:.0f} s")


def stop(process: subprocess.Popen[bytes], timeout: float = 15.0, sig: int = signal.SIGTERM) -> None:
    if process.poll() is None:
        process.send_signal(sig)
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


# --- Redis ---------------------------------------------------------------------------------

def redis_answers(port: int) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=1) as s:
        s.sendall(b"PING\r\n")
        return s.recv(16).startswith(b"+PONG")


def start_redis(tmp: Path, port: int | None = None) -> tuple[subprocess.Popen[bytes], str]:
    """A redis-server of our own, without persistence: (process, URL)."""
    port = port or free_port()
    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
         "--dir", str(tmp)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    wait_until(lambda: redis_answers(port), "redis-server", process=process)
    return process, f"redis://127.0.0.1:{port}/0"


# --- PostgreSQL ----------------------------------------------------------------------------

class PrivatePostgres:
    """A PostgreSQL cluster of our own (initdb and pg_ctl into a temporary directory, on a
    free port), run as the postgres account when we are root (initdb refuses root)."""

    def __init__(self, root: Path, max_connections: int = 200) -> None:
        found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not found:
            raise SystemExit("PostgreSQL's server programs are needed (Debian package postgresql)")
        self.bin = Path(found[-1]).parent
        self.root = root
        self.root.mkdir(parents=True, exist_ok=True)
        self.data = root / "data"
        self.max_connections = max_connections
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            account = pwd.getpwnam("postgres")
            os.chown(self.root, account.pw_uid, account.pw_gid)
        self.port = free_port()
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8",
                  "--locale=C.UTF-8")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def _run(self, program: str, *args: str) -> None:
        subprocess.run([*self.as_user, str(self.bin / program), *args], check=True, capture_output=True, timeout=120,
                       start_new_session=True)

    def start(self) -> None:
        options = (f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 "
                   f"-c max_connections={self.max_connections} -c shared_buffers=64MB")
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "server.log"), "-w", "-t", "60",
                  "start")

    def stop(self, mode: str = "fast") -> None:
        self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "-t", "60", "stop")

    def restart(self, mode: str = "fast") -> None:
        self.stop(mode)
        self.start()

    def remove(self) -> None:
        if self.running:
            try:
                self.stop("immediate")
            except subprocess.CalledProcessError:
                pass
        shutil.rmtree(self.root, ignore_errors=True)


# --- gunicorn ------------------------------------------------------------------------------

def gunicorn_command(port: int, *options: str, app: str = "wsgi:app") -> list[str]:
    """`gunicorn wsgi:app` as docs/DEPLOY.md runs it (every setting from gunicorn.conf.py,
    read from the project folder it starts in), bound to a port of ours. --no-control-socket
    because gunicorn's control socket has one default path per user, which a second server
    would take over."""
    return [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--no-control-socket", *options, app]
