"""`flask demo` seeds a working Activity Week around the day it is built: the three contests
in their stages, judging rounds, votes in a ledger that verifies, and the 最美职校生 results
in 公示."""

from __future__ import annotations

import re
from datetime import date, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from contest.clock import LOCAL_TZ, to_local
from contest.contests import service as contests
from contest.contests.models import STAGES, Category, Contest, Entry, NomineeProfile, TeamMember
from contest.extensions import db
from contest.judging import service as judging
from contest.media import service as media
from contest.media.models import MediaItem
from contest.results import certificates
from contest.results import service as results
from contest.voting.models import Vote
from tests.video_entries import probe

BUILT_AT = datetime(2031, 9, 10, 10, 0, tzinfo=LOCAL_TZ)
DEMO_NOTICE = "演示数据：活动日期按今天自动安排"
YEAR_RE = re.compile(r"(?<!\d)((?:19|20)\d\d)(?!\d)")
DAY_RE = re.compile(r"(\d{1,2}|[一二三四五六七八九十]{1,3})\s*月\s*(\d{1,2}|[一二三四五六七八九十]{1,3})\s*[日号]")


def test_demo_seeds_every_stage_and_a_verifiable_ledger(app, client, runner, clock) -> None:  # type: ignore[no-untyped-def]
    # Built in another year and month than the week's own (May 2023): the demo's dates
    # follow the day it is built, and its prose must not say otherwise.
    clock.set(BUILT_AT)
    seeded = runner.invoke(args=["demo"])
    assert seeded.exit_code == 0, seeded.output
    for slug in ("meipai", "zuimei", "huangyanpei"):
        assert f"/c/{slug}" in seeded.output
    # The summary (addresses, accounts, passwords) names no year: the dates follow today.
    assert not YEAR_RE.findall(seeded.output), YEAR_RE.findall(seeded.output)

    rounds = {(r.contest.slug, r.key): r for slug in ("meipai", "zuimei", "huangyanpei")
              for r in judging.rounds_of(db.session, contests.get_contest(db.session, slug))}
    assert {key: r.state for key, r in rounds.items()} == {
        ("meipai", "jury"): "open", ("zuimei", "expert"): "finalised",
        ("huangyanpei", "online"): "finalised", ("huangyanpei", "final"): "open",
    }
    final = rounds[("huangyanpei", "final")]
    assert final.live_entry_id is not None
    assert len(judging.live_board(db.session, final).ranking) == 2
    plan = judging.assignment_report(db.session, rounds[("huangyanpei", "online")])
    assert plan.balanced and not plan.shortfalls

    selection = contests.get_contest(db.session, "zuimei")
    publication = results.current_publication(db.session, selection)
    assert publication is not None and publication.state == "publicity"
    assert publication.requested_by_id != publication.confirmed_by_id
    statuses = dict(db.session.execute(select(Vote.status, func.count()).group_by(Vote.status)).all())
    assert statuses["valid"] > 500 and statuses["voided"] == 9 and statuses.get("held", 0) == 0

    verified = runner.invoke(args=["votes", "verify"])
    assert verified.exit_code == 0, verified.output

    page = client.get("/c/zuimei/results")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "公示" in text and "最美职校生" in text
    assert client.get("/c/zuimei/transparency").status_code == 200
    assert client.get("/c/meipai/leaderboard").status_code == 200
    _assert_the_videos_play(app, client)
    _assert_a_nominee_keeps_her_photos_private(client)
    _assert_minors_have_a_consent_form_on_file(client)
    _assert_the_dates_tell_the_truth(client)

    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0 and "already there" in again.output


def _assert_the_videos_play(app: Flask, client: FlaskClient) -> None:
    """Every 短视频 entry is a real clip (H.264 and AAC, longer than a second) stored as an
    upload is, with its poster frame as its cover; a nominee has photos and a video."""
    storage = app.extensions["storage"]
    meipai = contests.get_contest(db.session, "meipai")
    short_videos = next(c for c in meipai.categories_of("category") if c.name == "短视频")
    entries = db.session.scalars(select(Entry).where(Entry.category_id == short_videos.id)).all()
    assert len(entries) == 4
    for entry in entries:
        (video,) = media.public_media_of(db.session, entry)
        assert (video.kind, video.role, video.content_type, video.width, video.height) == ("video", "video", "video/mp4", 1280, 720)
        info = probe(storage.path(video.original_key))
        streams = {s["codec_type"]: s["codec_name"] for s in info["streams"]}
        assert streams == {"video": "h264", "audio": "aac"}, (entry.title, streams)
        assert float(info["format"]["duration"]) > 1 and video.duration_seconds and video.duration_seconds > 1
        assert "tags" not in info["format"] or "encoder" not in info["format"]["tags"]  # metadata dropped by the intake
        assert entry.cover_key == video.thumb_key and storage.exists(video.poster_key)
        page = client.get(f"/c/meipai/entries/{entry.id}").get_data(as_text=True)
        assert f'<source src="/media/{video.original_key}" type="video/mp4">' in page
        assert client.get(f"/media/{video.original_key}", headers={"Range": "bytes=0-99"}).status_code == 206
    gallery = client.get("/c/meipai/entries", query_string={"category": short_videos.id}).get_data(as_text=True)
    assert gallery.count('class="video-badge"') == 4

    nominee = db.session.scalar(select(Entry).join(NomineeProfile).where(NomineeProfile.name == "吴佳琪"))
    assert nominee is not None
    kinds = [m.kind for m in media.public_media_of(db.session, nominee)]
    assert kinds[-1] == "video" and kinds[:-1] and set(kinds[:-1]) == {"image"}
    pitches = db.session.scalar(select(func.count()).select_from(MediaItem).where(MediaItem.role == "pitch"))
    assert pitches == 2


def _assert_minors_have_a_consent_form_on_file(client: FlaskClient) -> None:
    """Every minor nominee has the consent form the platform prints on file, and only there."""
    db.session.rollback()
    minors = list(db.session.scalars(select(NomineeProfile).where(NomineeProfile.guardian_consent.is_(True))))
    assert minors
    forms = {m.entry_id: m for m in db.session.scalars(select(MediaItem).where(MediaItem.role == "consent"))}
    assert set(forms) == {m.entry_id for m in minors}
    for item in forms.values():
        assert item.kind == "pdf" and item.original_key.endswith(".cpdf")
        assert client.get(f"/media/{item.original_key}").status_code == 404


def _assert_a_nominee_keeps_her_photos_private(client: FlaskClient) -> None:
    """One nominee's school did not choose 公开照片: her page and card show the placeholder."""
    entry = db.session.scalar(select(Entry).join(NomineeProfile).where(NomineeProfile.name == "孙悦"))
    assert entry is not None and entry.cover_key and not media.photos_public(entry)
    page = client.get(f"/c/zuimei/entries/{entry.id}").get_data(as_text=True)
    assert "照片未公开" in page and entry.cover_key not in page
    gallery = client.get("/c/zuimei/entries", query_string={"q": "孙悦"}).get_data(as_text=True)
    assert "照片未公开" in gallery and entry.cover_key not in gallery


def _demo_texts() -> list[str]:
    """Every text the demo wrote that a page shows: contests, categories, entries, nominees, teams."""
    contests_ = db.session.scalars(select(Contest).where(Contest.is_demo)).all()
    assert len(contests_) == 5  # the city's three, two 区县's 全民美拍
    ids = [c.id for c in contests_]
    texts = [getattr(c, f) for c in contests_ for f in ("title", "short_title", "theme", "summary", "rules_text")]
    texts += [name for c in contests_ for name in c.organisers]
    texts += [f"{c.name} {c.description}" for c in db.session.scalars(select(Category).where(Category.contest_id.in_(ids)))]
    entries = db.session.scalars(select(Entry).where(Entry.contest_id.in_(ids))).all()
    texts += [f"{e.title} {e.description}" for e in entries]
    for e in entries:
        if e.nominee is not None:
            texts += [str(v) for k, v in vars(e.nominee).items() if isinstance(v, str) and not k.startswith("_")]
    texts += [f"{m.name} {m.major} {m.student_no or ''}" for m in db.session.scalars(
        select(TeamMember).where(TeamMember.contest_id.in_(ids)))]
    return texts


def _assert_the_dates_tell_the_truth(client: FlaskClient) -> None:
    """Each contest is in a live stage around the day the demo was built, its award date is
    one of those days, its prose names no other year and no fixed day, and the home page
    says the data is a demonstration."""
    built = BUILT_AT.date()
    for contest in db.session.scalars(select(Contest).where(Contest.is_demo)):
        windows = [w for w in (contest.window(s) for s in STAGES) if w[0] is not None and w[1] is not None]
        days = {to_local(w).date() for pair in windows for w in pair}
        assert min(days) <= built <= max(days), contest.slug
        assert contest.awarded_on is not None and abs(contest.awarded_on - built) < timedelta(days=31)
        assert contest.awarded_on == to_local(contest.window("publicity")[0]).date()
    for text in _demo_texts():
        assert {int(y) for y in YEAR_RE.findall(text)} <= {built.year}, text
        assert not DAY_RE.search(text), text
    home = client.get("/").get_data(as_text=True)
    assert DEMO_NOTICE in home
    # Neither what the page says nor its links (the contests' addresses) name another year.
    assert not {int(y) for y in YEAR_RE.findall(home)} - {built.year}, YEAR_RE.findall(home)
    for contest in db.session.scalars(select(Contest).where(Contest.is_demo)):
        assert not YEAR_RE.search(contest.slug), contest.slug
    shown = re.sub(r"<[^>]*>", " ", home)
    assert not DAY_RE.search(shown)
    selection = contests.get_contest(db.session, "zuimei")
    publication = results.current_publication(db.session, selection)
    assert publication is not None
    (entry_id, *_rest) = [row["entry_id"] for row in publication.rows if row.get("awards") or row.get("award")]
    (cert, *_more) = certificates.certificates_for(db.session, selection, publication, entry_id)
    assert cert.issued_on == selection.awarded_on and isinstance(cert.issued_on, date)
    assert cert.number.startswith(f"JN{cert.issued_on.year}-")  # the award date's year, not a fixed one


def test_the_home_page_says_demo_only_with_demo_data(client, make_contest) -> None:  # type: ignore[no-untyped-def]
    contest = make_contest(stage="voting")
    assert DEMO_NOTICE not in client.get("/").get_data(as_text=True)
    contest.is_demo = True
    db.session.commit()
    assert DEMO_NOTICE in client.get("/").get_data(as_text=True)


def test_a_demo_seeded_under_earlier_addresses_is_found_and_reset(runner, make_contest) -> None:  # type: ignore[no-untyped-def]
    earlier = make_contest(slug="meipai-2023", stage="voting")
    earlier.is_demo = True
    db.session.commit()
    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0 and "already there" in again.output and "/c/meipai-2023" in again.output
    assert db.session.scalar(select(func.count()).select_from(Contest)) == 1  # nothing seeded beside it


def test_demo_is_refused_in_production(app, runner) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from contest.accounts.models import User

    app.extensions["settings"] = replace(app.extensions["settings"], env="production")
    refused = runner.invoke(args=["demo"])
    assert refused.exit_code != 0 and "CONTEST_ENV=production" in refused.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
