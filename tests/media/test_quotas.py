"""Quotas hold under concurrency: each thread is one request (its own app context and
database session) running the submission the way the view does, started together."""

from __future__ import annotations

import shutil
import tempfile
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any

from flask import Flask
from sqlalchemy import select

from contest.accounts.models import User
from contest.contests.models import Contest, Entry, School, TeamMember
from contest.errors import Conflict
from contest.extensions import db
from contest.media import submissions
from contest.media.models import MediaItem, QuotaSlot
from contest.media.submissions import IncomingFile, MediaEntryInput, MemberInput, TeamInput
from contest.media.uploads import upload_transaction
from tests.media.conftest import MINIMAL_PDF, add_contact, count, jpeg, set_rules, stored_files, swept


def run_together(app: Flask, n: int, work: Callable[[int, Any], Any]) -> list[str]:
    """Run work(i, files) for i in 0 … n-1 in n threads released at once, each inside the
    view's transaction-and-files guard; each outcome is "ok" or the Conflict's code
    (anything else fails the test)."""
    start = threading.Barrier(n)
    outcomes: list[str] = [""] * n

    def one(i: int) -> None:
        with app.app_context():
            start.wait()
            try:
                with upload_transaction() as files:
                    work(i, files)
                outcomes[i] = "ok"
            except Conflict as exc:
                outcomes[i] = exc.code
            except Exception as exc:  # noqa: BLE001 - reported through the outcome
                outcomes[i] = f"unexpected {exc!r}"
            finally:
                db.session.remove()

    threads = [threading.Thread(target=one, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a submission never finished"
    return outcomes


def incoming(folder: Path, name: str, data: bytes) -> IncomingFile:
    path = folder / name
    path.write_bytes(data)
    return IncomingFile(name=name, path=str(path), size=len(data))


def copy_in(folder: Path, name: str, source: str) -> IncomingFile:
    target = folder / name
    shutil.copyfile(source, target)
    return IncomingFile(name=name, path=str(target), size=target.stat().st_size)


def no_orphan_files(app: Flask) -> None:
    """Every committed media row's files exist, and once the sweep has run, every stored
    file belongs to a committed row."""
    db.session.rollback()
    keys: set[str] = set()
    for item in db.session.scalars(select(MediaItem)):
        keys.update(item.stored_keys())
    assert keys <= {p.name for p in stored_files(app)}
    swept(app)
    assert {p.name for p in stored_files(app)} == keys


def test_parallel_submissions_by_one_citizen_stay_within_the_limit(app, make_user, media_contest, clock, tmp_path):
    set_rules(media_contest, entries_per_person=3, min_image_width=100, min_image_height=100)
    user_id, contest_id = make_user().id, media_contest.id
    category_id = media_contest.categories_of("category")[0].id
    photos = [incoming(tmp_path, f"{i}.jpg", jpeg(320, 240, (30 * i, 120, 200), mark=i)) for i in range(8)]

    def submit(i: int, files: Any) -> None:
        submissions.submit_media_entry(
            db.session, app.extensions["storage"], actor=db.session.get(User, user_id),
            contest=db.session.get(Contest, contest_id),
            data=MediaEntryInput(title=f"作品{i}", description="", category_id=category_id, kind="photo"),
            photos=[photos[i]], video=None, cover=None, now=clock.now(),
        )

    outcomes = run_together(app, 8, submit)
    assert sorted(outcomes) == ["ok"] * 3 + ["person_quota"] * 5, outcomes
    assert count(Entry) == 3
    assert count(QuotaSlot) == 3
    assert sorted(db.session.scalars(select(QuotaSlot.slot))) == [1, 2, 3]
    assert count(MediaItem) == 3
    no_orphan_files(app)


def _team_input(school_id: int, contest: Contest, numbers: list[str], project: str) -> TeamInput:
    return TeamInput(
        school_id=school_id, track_id=contest.categories_of("track")[0].id, group_id=contest.categories_of("group")[0].id,
        project=project, summary="项目简介", students=[MemberInput(f"学生{n}", n, "电子商务") for n in numbers],
        leader_index=0, advisors=[MemberInput("王老师")],
    )


def _register(app: Flask, clock: Any, contest: Contest, user_id: int, school_id: int, teams: list[list[str]], clip: str,
              folder: Path) -> Callable[[int, Any], None]:
    contest_id = contest.id
    inputs = [_team_input(school_id, contest, numbers, f"项目{i}") for i, numbers in enumerate(teams)]

    def register(i: int, files: Any) -> None:
        own = Path(tempfile.mkdtemp(dir=folder))
        submissions.register_team(
            db.session, app.extensions["storage"], actor=db.session.get(User, user_id),
            contest=db.session.get(Contest, contest_id), data=inputs[i],
            plan=incoming(own, "plan.pdf", MINIMAL_PDF), pitch=copy_in(own, "pitch.mp4", clip),
            cover=incoming(own, "cover.jpg", jpeg(640, 360, mark=i)), now=clock.now(),
        )
    return register


def _contact(make_user: Callable[..., User], school: School) -> int:
    user = make_user("school_contact")
    add_contact(user, school)
    return user.id


def test_a_student_never_ends_up_in_two_teams(app, make_user, school, innovation_contest, clock, clips, tmp_path):
    teams = [["S001", "S002", "S003"], ["S101", "s002", "S103"]]  # one student in both (case does not matter)
    work = _register(app, clock, innovation_contest, _contact(make_user, school), school.id, teams, clips.two_seconds, tmp_path)
    outcomes = run_together(app, 2, work)
    assert sorted(outcomes) == ["ok", "student_in_other_team"], outcomes
    assert count(Entry) == 1
    db.session.rollback()
    assert list(db.session.scalars(select(TeamMember.entry_id).where(TeamMember.student_no == "S002"))) == [
        db.session.scalar(select(Entry.id))]
    assert count(QuotaSlot) == 1
    no_orphan_files(app)


def test_a_school_never_exceeds_its_quota(app, make_user, school, innovation_contest, clock, clips, tmp_path):
    set_rules(innovation_contest, school_quota_small=3)
    teams = [[f"T{i}01", f"T{i}02", f"T{i}03"] for i in range(6)]
    work = _register(app, clock, innovation_contest, _contact(make_user, school), school.id, teams, clips.two_seconds, tmp_path)
    outcomes = run_together(app, 6, work)
    assert sorted(outcomes) == ["ok"] * 3 + ["school_quota"] * 3, outcomes
    assert count(Entry) == 3
    assert count(QuotaSlot) == 3
    assert count(TeamMember) == 3 * 4  # three students and one advisor per registered team
    no_orphan_files(app)
