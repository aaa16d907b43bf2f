"""Fixtures for the entry tests: contests in their submission window, signed-in entrants,
files made on the spot (images with Pillow, clips with ffmpeg once per run), and reads of
what was left behind (rows and files)."""

from __future__ import annotations

import errno
import hashlib
import io
import os
import subprocess
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image, ImageDraw
from sqlalchemy import func, select

from contest.accounts.actors import SYSTEM
from contest.accounts.models import User
from contest.contests import service as contests
from contest.contests.models import Contest, Entry, School, SchoolContact
from contest.extensions import db
from contest.media.models import MediaItem, QuotaSlot
from contest.media.orphans import SweepReport, sweep_orphans
from contest.media.storage import LocalStorage
from tests.conftest import csrf_token, sign_in_id

MINIMAL_PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n"
    b"trailer << /Root 1 0 R /Size 4 >>\n"
    b"%%EOF\n"
)

# --- files ------------------------------------------------------------------------------

def jpeg(width: int = 1920, height: int = 1080, color: str | tuple[int, int, int] = "steelblue", *,
         exif: Image.Exif | None = None, mark: int = 0) -> bytes:
    """A JPEG with a few shapes (distinct `mark`s give distinct pictures)."""
    image = Image.new("RGB", (width, height), color)
    draw = ImageDraw.Draw(image)
    step = max(8, width // 12)
    draw.rectangle((step * (mark % 8), step, step * (mark % 8 + 3), step * 4), fill="white")
    draw.ellipse((width // 2, height // 3, width // 2 + step * 2, height // 3 + step * 2), fill=(mark * 37 % 256, 90, 30))
    out = io.BytesIO()
    image.save(out, "JPEG", quality=85, **({"exif": exif.tobytes()} if exif is not None else {}))
    return out.getvalue()


def png(width: int = 64, height: int = 64) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (width, height), "orange").save(out, "PNG")
    return out.getvalue()


def gif() -> bytes:
    out = io.BytesIO()
    Image.new("P", (1920, 1080)).save(out, "GIF")
    return out.getvalue()


def _chunk(kind: bytes, data: bytes) -> bytes:
    return len(data).to_bytes(4, "big") + kind + data + zlib.crc32(kind + data).to_bytes(4, "big")


def huge_png(width: int = 30000, height: int = 30000) -> bytes:
    """A well-formed PNG header claiming width×height pixels, with a few bytes of data:
    what a decompression bomb looks like to a server, without building one."""
    header = width.to_bytes(4, "big") + height.to_bytes(4, "big") + bytes([1, 0, 0, 0, 0])  # 1-bit greyscale
    rows = zlib.compress(b"\x00" * (1 + (width + 7) // 8) * 4)
    return b"\x89PNG\r\n\x1a\n" + _chunk(b"IHDR", header) + _chunk(b"IDAT", rows) + _chunk(b"IEND", b"")


def gps_exif() -> Image.Exif:
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0110] = "Model X"  # Model
    exif[0x8825] = {1: "N", 2: (36.0, 39.0, 4.32), 3: "E", 4: (117.0, 7.0, 12.5)}  # GPSInfo: Jinan
    return exif


def zip_bytes() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("plan.docx", "not a pdf")
    return out.getvalue()


def upload(data: bytes, name: str, content_type: str = "application/octet-stream") -> tuple[io.BytesIO, str, str]:
    """A file part as the test client sends it."""
    return (io.BytesIO(data), name, content_type)


def _ffmpeg(*args: str) -> None:
    subprocess.run(["ffmpeg", "-v", "error", "-nostdin", "-y", *args], check=True, timeout=120)


def _clip(path: Path, seconds: int, size: str = "1280x720") -> str:
    _ffmpeg("-f", "lavfi", "-i", f"testsrc=size={size}:rate=15", "-f", "lavfi", "-i", "sine=frequency=440",
            "-t", str(seconds), "-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
            "-shortest", str(path))
    return str(path)


@dataclass(frozen=True)
class Clips:
    two_seconds: str
    three_seconds: str

    def read(self, name: str) -> bytes:
        return Path(getattr(self, name)).read_bytes()


@pytest.fixture(scope="session")
def clips(tmp_path_factory: pytest.TempPathFactory) -> Clips:
    """Small 720p clips made once per run (every upload runs ffprobe and ffmpeg on them)."""
    folder = tmp_path_factory.mktemp("clips")
    return Clips(_clip(folder / "two.mp4", 2), _clip(folder / "three.mp4", 3))


# --- contests and people ----------------------------------------------------------------

@pytest.fixture
def media_contest(make_contest: Callable[..., Contest]) -> Contest:
    """全民美拍 in its submission window, with the platform's default rules (1920×1080 minimum)."""
    return make_contest(kind="media", stage="submission", slug="meipai-test", title="全民美拍测试")


@pytest.fixture
def selection_contest(make_contest: Callable[..., Contest]) -> Contest:
    return make_contest(kind="selection", stage="submission", slug="zuimei-test", title="最美职校生测试",
                        categories=("中职学生", "高职学生"))


@pytest.fixture
def innovation_contest(make_contest: Callable[..., Contest], clock: Any) -> Contest:
    contest = make_contest(kind="innovation", stage="submission", slug="hyp-test", title="黄炎培测试", categories=())
    for kind, names in (("track", ("创意组", "初创组")), ("group", ("中职组", "高职组"))):
        for name in names:
            contests.add_category(db.session, actor=SYSTEM, contest=contest, kind=kind, name=name, now=clock.now())
    db.session.commit()
    return contest


def set_rules(contest: Contest, **rules: Any) -> None:
    """Store rules as an organiser's edit would, without the editor's bounds (a 2-second
    video limit keeps test clips tiny)."""
    contest.rules = {**(contest.rules or {}), **rules}
    db.session.commit()


def sign_in(client: FlaskClient, user: User) -> None:
    """Sign in through the session cookie, as the login form does (the accounts tests
    cover the form itself)."""
    with client.session_transaction() as session:
        session["_user_id"] = sign_in_id(user)
        session["_fresh"] = True


@pytest.fixture
def citizen(client: FlaskClient, make_user: Callable[..., User]) -> User:
    """A signed-in citizen (the client is theirs)."""
    user = make_user(name="泉城光影")
    sign_in(client, user)
    return user


def add_contact(user: User, school: School) -> None:
    db.session.add(SchoolContact(user_id=user.id, school_id=school.id))
    db.session.commit()


@pytest.fixture
def school(make_school: Callable[..., School]) -> School:
    return make_school("济南旅游学校", enrolment=1500)


@pytest.fixture
def contact(client: FlaskClient, make_user: Callable[..., User], school: School) -> User:
    """A signed-in school contact of `school`."""
    user = make_user("school_contact", name="赵敏")
    add_contact(user, school)
    sign_in(client, user)
    return user


# --- sending forms ----------------------------------------------------------------------

def send(client: FlaskClient, url: str, data: dict[str, Any], **kwargs: Any) -> Any:
    """Post a multipart form with the page's CSRF token, as a browser does."""
    token = csrf_token(client, url)
    return client.post(url, data={"csrf_token": token, **data}, content_type="multipart/form-data", **kwargs)


def submit_url(contest: Contest) -> str:
    return f"/c/{contest.slug}/submit"


def first_category(contest: Contest, kind: str = "category") -> str:
    return str(contest.categories_of(kind)[0].id)


def photo_entry(contest: Contest, title: str = "灶台前的火候", photos: list[Any] | None = None, **extra: Any) -> dict[str, Any]:
    return {"kind": "photo", "title": title, "description": "实训课上的一瞬间。", "category": first_category(contest),
            "photos": photos if photos is not None else [upload(jpeg(), "a.jpg", "image/jpeg")], **extra}


def video_entry(contest: Contest, video: Any, cover: Any = None, title: str = "面点师的清晨") -> dict[str, Any]:
    return {"kind": "video", "title": title, "description": "", "category": first_category(contest),
            "video": video, "cover": cover}


def nominee_entry(contest: Contest, birth_date: str = "2000-03-01", **extra: Any) -> dict[str, Any]:
    return {"category": first_category(contest), "name": "李小燕", "gender": "female", "birth_date": birth_date, "major": "护理", "grade": "二年级",
            "story": "她坚持每周去社区服务。", "show_photo": "y", "show_major": "y", "show_story": "y",
            "photos": [upload(jpeg(800, 600), "p.jpg", "image/jpeg")], **extra}


def team_entry(contest: Contest, students: int = 3, *, numbers: tuple[str, ...] = (), plan: Any = None, pitch: Any = None,
               cover: Any = None, leader: int = 0, **extra: Any) -> dict[str, Any]:
    data: dict[str, Any] = {"track": first_category(contest, "track"), "group": first_category(contest, "group"),
                            "project": "智慧农业小管家", "summary": "用传感器和手机小程序帮助农户管理大棚。",
                            "leader": str(leader), "advisors-0-name": "王老师", "advisors-1-name": ""}
    for i in range(5):
        filled = i < students
        data[f"students-{i}-name"] = f"学生{i + 1}" if filled else ""
        data[f"students-{i}-student_no"] = (numbers[i] if i < len(numbers) else f"2023{i + 1:04d}") if filled else ""
        data[f"students-{i}-major"] = "现代农艺" if filled else ""
    data["plan"] = plan if plan is not None else upload(MINIMAL_PDF, "计划书.pdf", "application/pdf")
    data["pitch"] = pitch
    data["cover"] = cover if cover is not None else upload(jpeg(800, 600), "cover.jpg", "image/jpeg")
    return {**data, **extra}


# --- what is left -----------------------------------------------------------------------

def media_root(app: Flask) -> Path:
    return Path(app.extensions["settings"].media_root)


def stored_files(app: Flask) -> list[Path]:
    root = media_root(app)
    return sorted(p for p in root.rglob("*") if p.is_file()) if root.exists() else []


def count(model: type) -> int:
    db.session.rollback()  # read what is committed, not this session's view
    return db.session.scalar(select(func.count()).select_from(model)) or 0


def entries() -> list[Entry]:
    db.session.rollback()
    return list(db.session.scalars(select(Entry).order_by(Entry.id)))


def swept(app: Flask, *, after: timedelta = timedelta(days=2)) -> SweepReport:
    """Run the orphan sweep as if `after` had passed since every file was stored (the
    files carry real modification times; the app's clock is fixed in 2023)."""
    db.session.rollback()
    return sweep_orphans(db.session, app.extensions["storage"], now=datetime.now(UTC) + after, grace=timedelta(hours=24))


def assert_nothing_stored(app: Flask) -> None:
    assert count(Entry) == 0
    assert count(MediaItem) == 0
    assert count(QuotaSlot) == 0
    assert stored_files(app) == []


def page(response: Any) -> str:
    return response.get_data(as_text=True)


class FullAfter(LocalStorage):
    """The app's local storage on a disk that fills up after `writes` more files: the next
    write fails with ENOSPC from inside the real write (its temporary file already made)."""

    def __init__(self, root: str | Path, writes: int) -> None:
        super().__init__(root)
        self.writes_left = writes

    def _write(self, target: Path, fill: Callable[[Any], Any]) -> None:
        if self.writes_left <= 0:
            def fill(out: Any) -> None:  # the disk refuses whatever comes
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        self.writes_left -= 1
        super()._write(target, fill)


def leftovers(app: Flask) -> list[Path]:
    """Temporary files an interrupted write left in storage."""
    return [p for p in stored_files(app) if p.name.startswith(".")]


def intact(app: Flask) -> bool:
    """Every file stored under a key holds exactly the bytes the key names."""
    return all(hashlib.sha256(p.read_bytes()).hexdigest() == p.name.split(".")[0]
               for p in stored_files(app) if not p.name.startswith("."))
