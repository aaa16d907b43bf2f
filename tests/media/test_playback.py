"""Playback renditions of videos: what every viewer gets (H.264 High + AAC MP4, at most
1280×720, index first), made by the job runner's `transcode_video` after the upload's
commit; pending → ready or failed, once, by one runner; what the pages and the API show
meanwhile; and the one run through a real `flask jobs worker`."""

from __future__ import annotations

import struct
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from PIL import Image, ImageDraw
from sqlalchemy import select

from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.jobs import jobs_of
from contest.media import playback
from contest.media.demo import FRAME, ClipMaker
from contest.media.models import MediaItem
from contest.media.submissions import attach_video
from contest.media.video import process_video
from tests.conftest import TEST_REDIS_URL
from tests.media.conftest import entries, media_root, page, send, sign_in, submit_url, upload, video_entry
from tests.video_entries import HAS_HEVC, NO_HEVC, ffmpeg, probe


def top_level_atoms(path: str | Path) -> list[str]:
    """The names of an MP4's top-level boxes, in file order."""
    names = []
    with open(path, "rb") as fh:
        while header := fh.read(8):
            size, name = struct.unpack(">I4s", header)
            if size == 1:
                size = struct.unpack(">Q", fh.read(8))[0] - 8
            names.append(name.decode("latin-1"))
            if size == 0:
                break
            fh.seek(size - 8, 1)
    return names


def stored(app: Flask, key: str) -> Path:
    return media_root(app) / key[:2] / key


def attach(app: Flask, entry: Entry, source: Path, tmp_path: Path, queue: Callable[[int], None] | None = None) -> int:
    """Take a clip in as an upload is and attach it to the entry (committed); the item's id."""
    video = process_video(str(source), workdir=str(tmp_path))
    item = attach_video(db.session, app.extensions["storage"], entry, video, now=entry.created_at, role="video",
                        position=0, decoder=None, queue=queue)
    entry.cover_key = item.thumb_key
    item_id = item.id
    db.session.commit()
    return item_id


def fresh(item_id: int) -> MediaItem:
    db.session.rollback()
    db.session.expire_all()
    item = db.session.get(MediaItem, item_id)
    assert item is not None
    return item


def transcode(app: Flask, item_id: int) -> str:
    """The job runner's task, called as the consumer calls it."""
    state: str = app.extensions["job_tasks"].transcode_now(item_id)
    return state


@pytest.fixture
def contest(make_contest: Callable[..., Contest]) -> Contest:
    return make_contest(kind="media", stage="voting", slug="meipai-play", title="全民美拍")


# --- the rendition ----------------------------------------------------------------------

def test_a_1080p_upload_is_queued_after_the_commit_and_becomes_a_720p_h264_rendition(
        app, contest, make_entry, source_clips, tmp_path):
    entry = make_entry(contest)
    queued: list[int] = []
    video = process_video(str(source_clips["h264_1080p"]), workdir=str(tmp_path))
    assert not video.plays_everywhere
    item = attach_video(db.session, app.extensions["storage"], entry, video, now=entry.created_at, role="video",
                        position=0, decoder=None, queue=queued.append)
    item_id = item.id
    assert item.playback_state == "pending" and queued == []  # nothing is queued before the commit
    db.session.commit()
    assert queued == [item_id]

    assert transcode(app, item_id) == "ready"
    item = fresh(item_id)
    assert (item.playback_state, item.playback_error, item.playback_claimed_at) == ("ready", "", None)
    assert item.playback_key.endswith(".mp4") and item.playback_key != item.original_key
    path = stored(app, item.playback_key)
    info = probe(path)
    [v] = [s for s in info["streams"] if s["codec_type"] == "video"]
    [a] = [s for s in info["streams"] if s["codec_type"] == "audio"]
    assert (v["codec_name"], v["profile"], v["pix_fmt"], v["width"], v["height"]) == ("h264", "High", "yuv420p", 1280, 720)
    assert (a["codec_name"], a["channels"]) == ("aac", 2)
    assert int(info["format"]["bit_rate"]) < 2_600_000
    atoms = top_level_atoms(path)
    assert atoms.index("moov") < atoms.index("mdat")  # faststart: playback starts before the download ends
    # The clean original stays for judges and organisers.
    assert probe(stored(app, item.original_key))["streams"][0]["width"] == 1920


@pytest.mark.skipif(not HAS_HEVC, reason=NO_HEVC)
def test_an_upright_hevc_mov_without_sound_becomes_720x1280_h264_with_no_audio(app, contest, make_entry, source_clips,
                                                                                tmp_path):
    item_id = attach(app, make_entry(contest), source_clips["hevc_portrait"], tmp_path)
    assert fresh(item_id).playback_state == "pending"
    assert transcode(app, item_id) == "ready"
    info = probe(stored(app, fresh(item_id).playback_key))
    assert [(s["codec_type"], s["codec_name"], s.get("width"), s.get("height")) for s in info["streams"]] == [
        ("video", "h264", 720, 1280)]


def test_a_phone_held_upright_gives_an_upright_rendition_with_no_rotation_left(app, contest, make_entry, source_clips,
                                                                               tmp_path):
    """Landscape frames and a 90° rotation (what a phone held upright stores) come out as
    upright 720×1280 frames: players that ignore the rotation still show them right."""
    rotated = tmp_path / "upright.mov"
    ffmpeg("-i", str(source_clips["h264_1080p"]), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    item_id = attach(app, make_entry(contest), rotated, tmp_path)
    assert (fresh(item_id).width, fresh(item_id).height) == (1080, 1920)
    assert transcode(app, item_id) == "ready"
    [video] = [s for s in probe(stored(app, fresh(item_id).playback_key))["streams"] if s["codec_type"] == "video"]
    assert (video["width"], video["height"]) == (720, 1280)
    assert not any("rotation" in side for side in video.get("side_data_list", []))


def test_a_720p_h264_upload_is_its_own_rendition_and_is_never_queued(app, contest, make_entry, clips, tmp_path):
    queued: list[int] = []
    item_id = attach(app, make_entry(contest), Path(clips.two_seconds), tmp_path, queue=queued.append)
    item = fresh(item_id)
    assert (item.playback_state, item.playback_key) == ("ready", item.original_key)
    assert queued == []
    assert transcode(app, item_id) == "ready"  # a stray run changes nothing


# --- once, by one runner ------------------------------------------------------------------

def test_a_second_run_finds_the_rendition_ready_and_does_nothing(app, contest, make_entry, source_clips, tmp_path):
    item_id = attach(app, make_entry(contest), source_clips["h264_1080p"], tmp_path)
    assert transcode(app, item_id) == "ready"
    key = fresh(item_id).playback_key
    stored(app, key).unlink()  # were it made again, the file would come back
    assert transcode(app, item_id) == "ready"
    assert fresh(item_id).playback_key == key and not stored(app, key).exists()


def test_a_claim_keeps_a_second_runner_off_until_it_is_stale(app, contest, make_entry, clock, source_clips, tmp_path):
    item_id = attach(app, make_entry(contest), source_clips["h264_1080p"], tmp_path)
    now = clock.now()
    assert playback.claim(db.session, item_id, now) is True
    db.session.commit()
    assert playback.claim(db.session, item_id, now + timedelta(minutes=1)) is False
    db.session.rollback()
    # The task meanwhile: another runner is on it, so it leaves the video alone.
    assert playback.make_playback(db.session, app.extensions["storage"], item_id, now + timedelta(minutes=1)) == "busy"
    assert fresh(item_id).playback_state == "pending"
    # A runner that died: its claim may be taken over once stale.
    later = now + playback.CLAIM_FOR + timedelta(seconds=1)
    assert playback.make_playback(db.session, app.extensions["storage"], item_id, later) == "ready"


def test_a_video_whose_job_was_lost_is_queued_again_by_the_job_runner(app, contest, make_entry, clock, source_clips,
                                                                       tmp_path):
    entry = make_entry(contest)
    lost: list[int] = []
    item_id = attach(app, entry, source_clips["h264_1080p"], tmp_path, queue=lost.append)  # a queue that lost it
    assert lost == [item_id]
    uploaded = fresh(item_id).created_at
    tasks = app.extensions["job_tasks"]
    huey = jobs_of(app)

    def queued() -> list[tuple[Any, ...]]:
        return [t.args for t in huey.pending() if t.name == "transcode_video"]

    clock.set(uploaded + playback.STALLED_AFTER - timedelta(seconds=1))
    assert tasks.requeue_playback_now() == 0 and queued() == []  # its job may still be on its way
    # a runner holding it is left alone
    clock.set(uploaded + playback.STALLED_AFTER)
    assert playback.claim(db.session, item_id, clock.now()) is True
    db.session.commit()
    assert tasks.requeue_playback_now() == 0
    # once the claim is stale (its runner died) or was released, it is queued again, once per round
    clock.set(uploaded + playback.STALLED_AFTER + playback.CLAIM_FOR + timedelta(seconds=1))
    assert tasks.requeue_playback_now() == 1 and queued() == [(item_id,)]
    assert transcode(app, item_id) == "ready"
    assert tasks.requeue_playback_now() == 0  # ready: never again
    # a video pending for more than a day is left to organisers
    other = attach(app, make_entry(contest), source_clips["h264_1080p"], tmp_path, queue=lost.append)
    clock.set(fresh(other).created_at + playback.REQUEUED_FOR + timedelta(seconds=1))
    assert tasks.requeue_playback_now() == 0


def test_unknown_items_and_images_are_left_alone(app, contest, make_entry):
    assert transcode(app, 987654) == "gone"


# --- failure --------------------------------------------------------------------------------

def corrupt_video(app: Flask, entry: Entry) -> int:
    """A pending video whose stored original is not a video at all (a disk error, a bad copy)."""
    storage = app.extensions["storage"]
    item = MediaItem(entry_id=entry.id, kind="video", role="video", content_type="video/mp4",
                     original_key=storage.put(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 500, "mp4"),
                     poster_key=storage.put(b"\xff\xd8\xff poster", "jpg"), width=1920, height=1080,
                     playback_state="pending", position=0, created_at=entry.created_at)
    db.session.add(item)
    db.session.commit()
    return item.id


def test_a_corrupt_file_fails_with_a_message_for_its_author(app, client, contest, make_entry, make_user):
    author = make_user(name="作者")
    entry = make_entry(contest, title="坏掉的视频")
    entry.submitted_by_id = author.id
    item_id = corrupt_video(app, entry)
    sign_in(client, author)
    pending_list = page(client.get("/me/entries"))
    assert "视频处理中" in pending_list

    assert transcode(app, item_id) == "failed"
    item = fresh(item_id)
    assert (item.playback_state, item.playback_key, item.playback_claimed_at) == ("failed", "", None)
    assert item.playback_error == "视频已损坏或无法读取，请重新导出后上传。"
    assert transcode(app, item_id) == "failed"  # not tried again

    html = page(client.get("/me/entries"))
    assert "视频处理失败：" in html and "视频已损坏或无法读取，请重新导出后上传。" in html
    assert "视频处理中" not in html


# --- pages and API --------------------------------------------------------------------------

def test_the_entry_page_and_the_api_while_pending_then_ready(app, client, contest, make_entry, source_clips, tmp_path):
    entry = make_entry(contest, title="清晨面点")
    item_id = attach(app, entry, source_clips["h264_1080p"], tmp_path)
    item = fresh(item_id)
    url = f"/c/{contest.slug}/entries/{entry.id}"

    html = page(client.get(url))
    assert "视频处理中" in html and "<video" not in html
    assert f'src="/media/{item.poster_key}"' in html  # the poster stands in for the player
    assert item.original_key not in html
    body = client.get(f"/api/v1/entries/{entry.id}").get_json()
    [video] = [m for m in body["media"] if m["kind"] == "video"]
    assert (video["url"], video["playback_state"]) == (None, "pending")
    assert video["poster_url"].endswith(item.poster_key)

    transcode(app, item_id)
    item = fresh(item_id)
    html = page(client.get(url))
    assert "视频处理中" not in html
    assert f'<source src="/media/{item.playback_key}" type="video/mp4">' in html
    assert item.original_key not in html
    body = client.get(f"/api/v1/entries/{entry.id}").get_json()
    [video] = [m for m in body["media"] if m["kind"] == "video"]
    assert (video["url"], video["playback_state"]) == (f"http://localhost/media/{item.playback_key}", "ready")
    # Served with byte ranges, as players need.
    ranged = client.get(f"/media/{item.playback_key}", headers={"Range": "bytes=0-99"})
    assert ranged.status_code == 206 and ranged.headers["Content-Type"] == "video/mp4"


def test_a_gallery_card_shows_the_poster_frame_and_the_badge_whatever_the_state(app, client, contest, make_entry,
                                                                                  source_clips, tmp_path):
    entry = make_entry(contest, title="清晨面点")
    item_id = attach(app, entry, source_clips["h264_1080p"], tmp_path)
    for _ in range(2):
        item = fresh(item_id)
        html = page(client.get(f"/c/{contest.slug}/entries"))
        assert html.count('class="video-badge"') == 1 and f"/media/{item.thumb_key}" in html
        assert item.original_key not in html and "/media/" + (item.playback_key or "-") not in html
        transcode(app, item_id)


def test_a_failed_video_plays_from_its_clean_original_for_the_public(app, client, contest, make_entry):
    entry = make_entry(contest)
    item_id = corrupt_video(app, entry)
    transcode(app, item_id)
    item = fresh(item_id)
    html = page(client.get(f"/c/{contest.slug}/entries/{entry.id}"))
    assert f'<source src="/media/{item.original_key}" type="video/mp4">' in html and "视频处理中" not in html
    body = client.get(f"/api/v1/entries/{entry.id}").get_json()
    assert [(m["url"], m["playback_state"]) for m in body["media"]] == [
        (f"http://localhost/media/{item.original_key}", "failed")]


def test_images_in_the_api_have_no_playback_state(app, client, contest, make_entry):
    from contest.media.service import attach_image
    entry = make_entry(contest)
    attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (800, 600), "teal"),
                 now=entry.created_at)
    db.session.commit()
    [image] = client.get(f"/api/v1/entries/{entry.id}").get_json()["media"]
    assert image["playback_state"] is None and image["url"]


def test_judges_and_organisers_keep_the_clean_original(app, contest, make_entry, source_clips, tmp_path):
    from contest.judging.visibility import MediaForJudge
    item_id = attach(app, make_entry(contest), source_clips["h264_1080p"], tmp_path)
    transcode(app, item_id)
    item = fresh(item_id)
    assert MediaForJudge.of(item, blind=False).original_key == item.original_key != item.playback_key


# --- the upload and the demo ------------------------------------------------------------------

def test_an_uploaded_video_is_queued_with_the_job_runner(app, client, citizen, make_contest, source_clips):
    contest = make_contest(kind="media", stage="submission", slug="meipai-queue", title="全民美拍")
    data = video_entry(contest, upload(source_clips["h264_1080p"].read_bytes(), "clip.mp4", "video/mp4"))
    response = send(client, submit_url(contest), data)
    assert response.status_code == 302, page(response)[:2000]
    [entry] = entries()
    [item] = db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id))
    assert item.playback_state == "pending"
    tasks = [t for t in jobs_of(app).pending() if t.name == "transcode_video"]
    assert [t.args for t in tasks] == [(item.id,)]
    assert "视频处理中" in page(client.get("/me/entries"))


def test_the_demo_clips_are_ready_when_seeded(app, contest, make_entry):
    background = Image.new("RGB", FRAME, "navy")
    text = Image.new("RGBA", FRAME, (0, 0, 0, 0))
    ImageDraw.Draw(text).rectangle((100, 100, 400, 200), fill="white")
    entry = make_entry(contest)
    with ClipMaker() as maker:
        maker.order(1, background, text, contest=contest, tone=440.0)
        item = maker.attach(db.session, app.extensions["storage"], 1, entry=entry, now=entry.created_at, role="video",
                            position=0)
    assert item.playback_state == "ready" and item.playback_key


def test_a_demo_clip_that_is_not_playable_everywhere_is_transcoded_while_seeding(app, contest, make_entry, source_clips,
                                                                                 tmp_path):
    item_id = attach(app, make_entry(contest), source_clips["h264_1080p"], tmp_path)
    item = fresh(item_id)
    playback.make_playback_now(db.session, app.extensions["storage"], item)
    db.session.commit()
    item = fresh(item_id)
    assert item.playback_state == "ready"
    assert probe(stored(app, item.playback_key))["streams"][0]["height"] == 720


# --- a real job runner ----------------------------------------------------------------------

def test_a_real_worker_turns_an_uploaded_phone_video_into_h264(app, client, citizen, make_contest, source_clips,
                                                               worker: Any):
    """The one run through `flask jobs worker`: an upload's rendition is made by the
    consumer process, from the queue the web request wrote to."""
    contest = make_contest(kind="media", stage="submission", slug="meipai-worker", title="全民美拍")
    clip = source_clips.get("hevc_portrait") or source_clips["h264_1080p"]
    data = video_entry(contest, upload(clip.read_bytes(), clip.name, "video/quicktime" if clip.suffix == ".mov" else "video/mp4"))
    response = send(client, submit_url(contest), data)
    assert response.status_code == 302, page(response)[:2000]
    [entry] = entries()
    [item] = db.session.scalars(select(MediaItem).where(MediaItem.entry_id == entry.id))
    item_id = item.id
    deadline = time.monotonic() + 120
    while fresh(item_id).playback_state == "pending" and time.monotonic() < deadline:
        time.sleep(0.3)
    item = fresh(item_id)
    assert item.playback_state == "ready", (item.playback_error, TEST_REDIS_URL)
    [video] = [s for s in probe(stored(app, item.playback_key))["streams"] if s["codec_type"] == "video"]
    assert video["codec_name"] == "h264" and max(video["width"], video["height"]) == 1280
