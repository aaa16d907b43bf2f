"""Upload memory: the peak resident memory of ONE gunicorn worker while many citizens
upload 49-megapixel photos to 全民美拍 at the same moment, through the real submission
form.

    python -m bench.upload_memory [--uploads 16] [--threads 16] [--slots 2] [--rounds 1] [--worst]

What it does, writing nothing inside the repository:

1. builds the embedded set-up in a temporary folder (SQLite, media on disk, no Redis),
   migrates it and seeds one 全民美拍 contest in its submission window and one citizen per
   upload (each within its own entry quota);
2. makes the files: a 7000×7000 PNG of one colour and a shape (about 170 KB, 49
   megapixels) and a 7000×7000 photo-like JPEG with fine detail (about 20 MB); with
   --worst, the shapes that cost most instead: a 16000×3100 progressive JPEG turned by
   its Exif orientation, a 6200×6200 progressive 4:4:4 JPEG (the largest whose
   coefficients fit the budget), a 5100×5100 PNG turned by its Exif orientation and the
   7000×7000 PNG;
3. starts gunicorn as docs/DEPLOY.md runs it (MALLOC_MMAP_THRESHOLD_=131072 included;
   --default-malloc leaves glibc's default to show why), but with one worker and
   --threads threads (default 16), so every upload of a round lands in the same process;
4. signs every citizen in through the login form, sends one small photo first and reads
   the worker's resident memory (the baseline), then sends the uploads of a round at
   once (PNGs and JPEGs alternating), sampling the worker's VmRSS every 20 ms;
5. prints the baseline, the peak (the worker's VmHWM, the kernel's high-water mark), the
   peak of the jpegtran processes the worker runs (summed, sampled) and of the worker
   and them together, the answers (302 accepted, 503 busy, anything else) and the time
   the round took.

Each citizen comes from its own address (X-Forwarded-For behind PROXY_COUNT=1, as nginx
sends it), so the per-address limits of the submission form do not refuse them.
"""

from __future__ import annotations

import argparse
import io
import os
import re
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests
from flask_migrate import upgrade
from PIL import Image, ImageDraw

from contest import create_app
from contest.accounts import service as accounts
from contest.accounts import units
from contest.accounts.actors import SYSTEM
from contest.config import Settings
from contest.contests import service as contests
from contest.contests.models import STAGES
from contest.extensions import db

ROOT = Path(__file__).resolve().parent.parent
SLUG = "bench-uploads"
PASSWORD = "Bench-uploads-2023"
SIDE = 7000  # 49 megapixels, just under the 50-megapixel cap
CSRF_RE = re.compile(r'name="csrf_token"[^>]*value="([^"]+)"')


# --- the set-up -------------------------------------------------------------------------------

def seed(citizens: int, now: datetime) -> tuple[str, list[str]]:
    """A 全民美拍 contest in its submission window (large-photo rules), and citizens."""
    index = STAGES.index("submission")
    windows = {stage: (now + timedelta(days=7 * (i - index) - 1), now + timedelta(days=7 * (i - index) + 6))
               for i, stage in enumerate(STAGES)}
    contest = contests.create_contest(db.session, actor=SYSTEM, now=now, changes=contests.ContestChanges(
        unit_id=units.ensure_unit(db.session, name="济南市教育局", now=now).id,
        slug=SLUG, kind="media", title="全民美拍 上传测试", theme="技能：让生活更美好", windows=windows,
        rules={"min_image_width": 1920, "min_image_height": 1080},
    ))
    category = contests.add_category(db.session, actor=SYSTEM, contest=contest, kind="category", name="摄影作品", now=now)
    phones = []
    for i in range(citizens):
        phone = f"138{i + 1:08d}"
        accounts.create_user(db.session, phone=phone, password=PASSWORD, roles=["citizen"], now=now,
                             display_name=f"市民{i + 1}")
        phones.append(phone)
    db.session.commit()
    return str(category.id), phones


def big_png() -> bytes:
    image = Image.new("RGB", (SIDE, SIDE), (230, 150, 40))
    ImageDraw.Draw(image).ellipse((500, 500, 4000, 4000), fill=(30, 90, 160))
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


def big_jpeg() -> bytes:
    """A photo-like 49-megapixel JPEG: fine detail everywhere, as a camera's would have."""
    base = Image.radial_gradient("L").resize((SIDE, SIDE)).convert("RGB")
    detail = Image.effect_noise((SIDE, SIDE), 30).convert("RGB")
    image = Image.blend(base, detail, 0.35)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def worst_files() -> list[tuple[bytes, str]]:
    """The shapes that cost most per upload (solid colours and a shape: small files)."""
    def made(mode: str, size: tuple[int, int], fmt: str, **options: object) -> bytes:
        image = Image.new(mode, size, (200, 40, 10) if mode == "RGB" else 128)
        ImageDraw.Draw(image).rectangle((10, 10, 600, 600), fill=(255, 255, 255))
        out = io.BytesIO()
        image.save(out, fmt, **options)
        return out.getvalue()

    turned = Image.Exif()
    turned[0x0112] = 6
    return [
        (made("RGB", (16000, 3100), "JPEG", quality=80, progressive=True, exif=turned.tobytes()), "wide.jpg"),
        (made("RGB", (6200, 6200), "JPEG", quality=80, progressive=True, subsampling=0), "prog444.jpg"),
        (made("RGB", (5100, 5100), "PNG", exif=turned.tobytes()), "turned.png"),
        (big_png(), "big.png"),
    ]


def small_jpeg() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (1920, 1080), (90, 140, 60)).save(out, "JPEG", quality=85)
    return out.getvalue()


# --- the server --------------------------------------------------------------------------------

def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def worker_of(master: int, timeout: float = 30.0) -> int:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
        if children:
            return int(children[0])
        time.sleep(0.1)
    raise SystemExit("gunicorn started no worker")


def memory_mb(pid: int, field: str) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise SystemExit(f"no {field} for process {pid}")


def children_mb(pid: int) -> float:
    """The summed VmRSS of a process's children (the jpegtran runs of its threads)."""
    total = 0.0
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            for child in (task / "children").read_text().split():
                total += memory_mb(int(child), "VmRSS")
        except (OSError, SystemExit):
            continue  # the thread or the child has just ended
    return total


class Sampler(threading.Thread):
    """The worker's VmRSS, and its children's, every 20 ms while a round runs."""

    def __init__(self, pid: int) -> None:
        super().__init__(daemon=True)
        self.pid, self.peak, self.children, self.total, self.running = pid, 0.0, 0.0, 0.0, True

    def run(self) -> None:
        while self.running:
            worker, children = memory_mb(self.pid, "VmRSS"), children_mb(self.pid)
            self.peak, self.children = max(self.peak, worker), max(self.children, children)
            self.total = max(self.total, worker + children)
            time.sleep(0.02)


# --- the citizens ------------------------------------------------------------------------------

def signed_in(base: str, phone: str, address: str) -> requests.Session:
    session = requests.Session()
    session.headers["X-Forwarded-For"] = address
    token = CSRF_RE.search(session.get(base + "/account/login", timeout=30).text)
    assert token, "no CSRF token on the login page"
    answer = session.post(base + "/account/login", data={"csrf_token": token.group(1), "phone": phone,
                                                         "password": PASSWORD}, allow_redirects=False, timeout=30)
    if answer.status_code != 302:
        raise SystemExit(f"signing in {phone} answered {answer.status_code}: {answer.text[:300]}")
    return session


def submit(session: requests.Session, base: str, category: str, data: bytes, name: str, title: str) -> int:
    url = f"{base}/c/{SLUG}/submit"
    token = CSRF_RE.search(session.get(url, timeout=60).text)
    assert token, "no CSRF token on the submission page"
    form = {"csrf_token": token.group(1), "kind": "photo", "title": title, "description": "", "category": category}
    answer = session.post(url, data=form, files={"photos": (name, data, "application/octet-stream")},
                          allow_redirects=False, timeout=300)
    return answer.status_code


# --- the run ----------------------------------------------------------------------------------

def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=16, help="uploads sent at once in a round")
    parser.add_argument("--threads", type=int, default=16, help="gunicorn threads of the one worker")
    parser.add_argument("--slots", type=int, default=2, help="IMAGE_DECODE_SLOTS of the worker")
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--default-malloc", action="store_true",
                        help="run the worker without docs/DEPLOY.md's MALLOC_MMAP_THRESHOLD_")
    parser.add_argument("--worst", action="store_true",
                        help="send the shapes that cost most (wide and turned JPEGs, 4:4:4, turned PNG)")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="contest-bench-") as tmp_name:
        tmp = Path(tmp_name)
        secret_key = secrets.token_urlsafe(48)
        env = {
            **os.environ, "CONTEST_ENV": "development", "SECRET_KEY": secret_key, "INSTANCE_PATH": str(tmp / "instance"),
            "MEDIA_ROOT": str(tmp / "media"), "DATABASE_URL": f"sqlite:///{tmp / 'bench.sqlite3'}", "REDIS_URL": "",
            "PROXY_COUNT": "1", "IMAGE_DECODE_SLOTS": str(args.slots), "LOG_LEVEL": "WARNING",
            "PYTHONDONTWRITEBYTECODE": "1",
        }
        if args.default_malloc:
            env.pop("MALLOC_MMAP_THRESHOLD_", None)
        else:
            env["MALLOC_MMAP_THRESHOLD_"] = "131072"
        settings = Settings(env="development", instance_path=env["INSTANCE_PATH"], secret_key=secret_key,
                            database_url=env["DATABASE_URL"], media_root=env["MEDIA_ROOT"], proxy_count=1,
                            log_level="WARNING")
        app = create_app(settings)
        with app.app_context():
            upgrade()
            category, phones = seed(args.uploads * args.rounds + 1, datetime.now(UTC))
            db.session.remove()
            db.engine.dispose()
        if args.worst:
            files = worst_files()
            described = ", ".join(f"{name} {len(data) / 1024:.0f} KB" for data, name in files)
        else:
            png, jpeg = big_png(), big_jpeg()
            files = [(png, "big.png"), (jpeg, "big.jpg")]
            described = f"PNG {SIDE}×{SIDE} {len(png) / 1024:.0f} KB, JPEG {SIDE}×{SIDE} {len(jpeg) / 1e6:.1f} MB"
        print(f"files: {described}; "
              f"gunicorn 1 worker × {args.threads} threads, {args.slots} decode slots, "
              f"MALLOC_MMAP_THRESHOLD_={env.get('MALLOC_MMAP_THRESHOLD_', 'unset (glibc default)')}", flush=True)

        port = free_port()
        base = f"http://127.0.0.1:{port}"
        command = [sys.executable, "-m", "gunicorn", "--workers", "1", "--threads", str(args.threads),
                   "--timeout", "300", "--bind", f"127.0.0.1:{port}", "--no-control-socket", "wsgi:app"]
        with (tmp / "gunicorn.log").open("wb") as log:
            server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
            try:
                run(args, base, server, category, phones, files)
            finally:
                server.send_signal(signal.SIGTERM)
                server.wait(30)
        errors = [line for line in (tmp / "gunicorn.log").read_text(errors="replace").splitlines()
                  if "Traceback" in line or "ERROR" in line]
        if errors:
            print("gunicorn log:", *errors[:10], sep="\n  ")


def run(args: argparse.Namespace, base: str, server: subprocess.Popen[bytes], category: str, phones: list[str],
        kinds: list[tuple[bytes, str]]) -> None:
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(base + "/healthz", timeout=10).status_code < 500:
                break
        except requests.RequestException:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            raise SystemExit("gunicorn did not start")
        time.sleep(0.2)
    worker = worker_of(server.pid)
    sessions = [signed_in(base, phone, f"10.9.{i // 250}.{i % 250 + 1}") for i, phone in enumerate(phones)]

    status = submit(sessions[0], base, category, small_jpeg(), "small.jpg", "基线")
    if status != 302:
        raise SystemExit(f"the baseline upload answered {status}")
    baseline = memory_mb(worker, "VmRSS")
    print(f"baseline: worker VmRSS {baseline:.0f} MB after one 1920×1080 upload (VmHWM so far "
          f"{memory_mb(worker, 'VmHWM'):.0f} MB)", flush=True)

    for round_no in range(args.rounds):
        mine = sessions[1 + round_no * args.uploads:1 + (round_no + 1) * args.uploads]
        files = [kinds[i % len(kinds)] for i in range(len(mine))]
        sampler = Sampler(worker)
        sampler.start()
        started = time.perf_counter()
        with ThreadPoolExecutor(len(mine)) as pool:
            answers = list(pool.map(lambda job: submit(job[0], base, category, job[1][0], job[1][1], f"作品{job[2]}"),
                                    [(s, f, i) for i, (s, f) in enumerate(zip(mine, files, strict=True))]))
        elapsed = time.perf_counter() - started
        sampler.running = False
        sampler.join()
        by_kind = Counter((name, code) for (_, name), code in zip(files, answers, strict=True))
        print(f"round {round_no + 1}: {len(mine)} uploads at once in {elapsed:.1f} s: "
              f"{answers.count(302)} accepted, {answers.count(503)} answered 503, "
              f"{len(answers) - answers.count(302) - answers.count(503)} other "
              f"({', '.join(f'{kind} {code}: {n}' for (kind, code), n in sorted(by_kind.items()))})")
        print(f"  worker peak: VmHWM {memory_mb(worker, 'VmHWM'):.0f} MB, sampled VmRSS peak {sampler.peak:.0f} MB, "
              f"after the round {memory_mb(worker, 'VmRSS'):.0f} MB (baseline {baseline:.0f} MB)", flush=True)
        print(f"  jpegtran runs: sampled peak {sampler.children:.0f} MB together; worker and them together "
              f"{sampler.total:.0f} MB", flush=True)


if __name__ == "__main__":
    main()
