"""`flask demo` seeds a working 2023 week: the three contests in their stages, judging
rounds, votes in a ledger that verifies, and the 最美职校生 results in 公示."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from contest.contests import service as contests
from contest.contests.models import Entry, NomineeProfile
from contest.extensions import db
from contest.judging import service as judging
from contest.media import service as media
from contest.media.models import MediaItem
from contest.results import service as results
from contest.voting.models import Vote
from tests.video_entries import probe


def test_demo_seeds_every_stage_and_a_verifiable_ledger(app, client, runner) -> None:  # type: ignore[no-untyped-def]
    seeded = runner.invoke(args=["demo"])
    assert seeded.exit_code == 0, seeded.output
    for slug in ("meipai-2023", "zuimei-2023", "huangyanpei-2023"):
        assert f"/c/{slug}" in seeded.output

    rounds = {(r.contest.slug, r.key): r for slug in ("meipai-2023", "zuimei-2023", "huangyanpei-2023")
              for r in judging.rounds_of(db.session, contests.get_contest(db.session, slug))}
    assert {key: r.state for key, r in rounds.items()} == {
        ("meipai-2023", "jury"): "open", ("zuimei-2023", "expert"): "finalised",
        ("huangyanpei-2023", "online"): "finalised", ("huangyanpei-2023", "final"): "open",
    }
    final = rounds[("huangyanpei-2023", "final")]
    assert final.live_entry_id is not None
    assert len(judging.live_board(db.session, final).ranking) == 2
    plan = judging.assignment_report(db.session, rounds[("huangyanpei-2023", "online")])
    assert plan.balanced and not plan.shortfalls

    selection = contests.get_contest(db.session, "zuimei-2023")
    publication = results.current_publication(db.session, selection)
    assert publication is not None and publication.state == "publicity"
    assert publication.requested_by_id != publication.confirmed_by_id
    statuses = dict(db.session.execute(select(Vote.status, func.count()).group_by(Vote.status)).all())
    assert statuses["valid"] > 500 and statuses["voided"] == 9 and statuses.get("held", 0) == 0

    verified = runner.invoke(args=["votes", "verify"])
    assert verified.exit_code == 0, verified.output

    page = client.get("/c/zuimei-2023/results")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert "公示" in text and "最美职校生" in text
    assert client.get("/c/zuimei-2023/transparency").status_code == 200
    assert client.get("/c/meipai-2023/leaderboard").status_code == 200
    _assert_the_videos_play(app, client)
    _assert_a_nominee_keeps_her_photos_private(client)

    again = runner.invoke(args=["demo"])
    assert again.exit_code == 0 and "already there" in again.output


def _assert_the_videos_play(app: Flask, client: FlaskClient) -> None:
    """Every 短视频 entry is a real clip (H.264 and AAC, longer than a second) stored as an
    upload is, with its poster frame as its cover; a nominee has photos and a video."""
    storage = app.extensions["storage"]
    meipai = contests.get_contest(db.session, "meipai-2023")
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
        page = client.get(f"/c/meipai-2023/entries/{entry.id}").get_data(as_text=True)
        assert f'<source src="/media/{video.original_key}" type="video/mp4">' in page
        assert client.get(f"/media/{video.original_key}", headers={"Range": "bytes=0-99"}).status_code == 206
    gallery = client.get("/c/meipai-2023/entries", query_string={"category": short_videos.id}).get_data(as_text=True)
    assert gallery.count('class="video-badge"') == 4

    nominee = db.session.scalar(select(Entry).join(NomineeProfile).where(NomineeProfile.name == "吴佳琪"))
    assert nominee is not None
    kinds = [m.kind for m in media.public_media_of(db.session, nominee)]
    assert kinds[-1] == "video" and kinds[:-1] and set(kinds[:-1]) == {"image"}
    pitches = db.session.scalar(select(func.count()).select_from(MediaItem).where(MediaItem.role == "pitch"))
    assert pitches == 2


def _assert_a_nominee_keeps_her_photos_private(client: FlaskClient) -> None:
    """One nominee's school did not choose 公开照片: her page and card show the placeholder."""
    entry = db.session.scalar(select(Entry).join(NomineeProfile).where(NomineeProfile.name == "孙悦"))
    assert entry is not None and entry.cover_key and not media.photos_public(entry)
    page = client.get(f"/c/zuimei-2023/entries/{entry.id}").get_data(as_text=True)
    assert "照片未公开" in page and entry.cover_key not in page
    gallery = client.get("/c/zuimei-2023/entries", query_string={"q": "孙悦"}).get_data(as_text=True)
    assert "照片未公开" in gallery and entry.cover_key not in gallery


def test_demo_is_refused_in_production(app, runner) -> None:  # type: ignore[no-untyped-def]
    from dataclasses import replace

    from contest.accounts.models import User

    app.extensions["settings"] = replace(app.extensions["settings"], env="production")
    refused = runner.invoke(args=["demo"])
    assert refused.exit_code != 0 and "CONTEST_ENV=production" in refused.output
    assert db.session.scalar(select(func.count()).select_from(User)) == 0
