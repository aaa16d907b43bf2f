"""The public page of one entry."""

from __future__ import annotations

import re
from datetime import date

from PIL import Image

from contest.contests.models import Entry, TeamMember
from contest.extensions import db
from contest.media.models import MediaItem
from contest.media.service import attach_image
from tests.video_entries import add_video


def test_approved_entry_shows_title_school_and_nominee_story(client, make_contest, make_entry, make_school):
    contest = make_contest(kind="selection")
    entry = make_entry(contest, title="护理之星", school=make_school("济南护理职业学校", district="槐荫区"),
                       nominee="刘芳", category_id=contest.categories[0].id)
    entry.nominee.story = "第一段故事\n\n<script>alert(3)</script>"
    db.session.commit()
    page = client.get(f"/c/{contest.slug}/entries/{entry.id}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "<h2>护理之星</h2>" in html
    assert "济南护理职业学校（槐荫区）" in html
    assert "<dd>刘芳</dd>" in html
    assert "<p>第一段故事</p>" in html
    assert "<script>alert(3)</script>" not in html and "&lt;script&gt;alert(3)&lt;/script&gt;" in html
    assert "<dd>护理</dd>" in html and "<dd>二年级</dd>" in html  # major is public in the fixture
    assert '<span class="chip">摄影作品</span>' in html
    assert "发布于 2023-05-16\u00a010:" in html


def test_story_and_major_are_hidden_without_consent(client, make_contest, make_entry):
    contest = make_contest(kind="selection")
    entry = make_entry(contest, nominee="赵静")
    entry.nominee.story = "不公开的故事"
    entry.nominee.major = "不公开的专业"
    entry.nominee.birth_date = date(2006, 3, 15)
    entry.nominee.public_fields = {"photo": True}
    db.session.commit()
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert "赵静" in html
    assert "不公开的故事" not in html
    assert "不公开的专业" not in html and "二年级" not in html
    assert "2006" not in html  # the birth date is never shown


def test_story_shown_only_for_the_story_flag(client, make_contest, make_entry):
    contest = make_contest(kind="selection")
    entry = make_entry(contest, nominee="孙悦")
    entry.nominee.story = "公开的故事"
    entry.nominee.public_fields = {"story": True}
    db.session.commit()
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert "公开的故事" in html
    assert "<dd>护理</dd>" not in html


def test_team_members_are_listed_with_roles(client, make_contest, make_entry):
    contest = make_contest(kind="innovation")
    entry = make_entry(contest, title="智能农机")
    for pos, (role, name) in enumerate((("leader", "队长甲"), ("member", "队员乙"), ("advisor", "老师丙"))):
        db.session.add(TeamMember(entry_id=entry.id, contest_id=contest.id, role=role, name=name, position=pos))
    db.session.commit()
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert "<strong>队长甲</strong> <span class=\"chip\">负责人</span>" in html
    assert "<strong>老师丙</strong> <span class=\"chip\">指导教师</span>" in html


def test_unknown_entry_is_404(client, make_contest, make_entry):
    contest = make_contest()
    entry = make_entry(contest)
    page = client.get(f"/c/{contest.slug}/entries/{entry.id + 1000}")
    assert page.status_code == 404
    html = page.get_data(as_text=True)
    assert "页面不存在" in html
    assert "没有找到这件作品，可能尚未通过审核或已撤回。" in html


def test_entry_of_another_contest_is_404_under_this_slug(client, make_contest, make_entry):
    here, there = make_contest(), make_contest()
    entry = make_entry(there, title="别处的作品")
    assert client.get(f"/c/{there.slug}/entries/{entry.id}").status_code == 200
    page = client.get(f"/c/{here.slug}/entries/{entry.id}")
    assert page.status_code == 404
    assert "别处的作品" not in page.get_data(as_text=True)


def test_entry_that_is_not_approved_is_404(client, make_contest, make_entry):
    contest = make_contest()
    for status in ("draft", "submitted", "rejected", "withdrawn"):
        entry = make_entry(contest, status=status, title=f"未公开作品{status}")
        page = client.get(f"/c/{contest.slug}/entries/{entry.id}")
        assert page.status_code == 404, status
        assert "未公开作品" not in page.get_data(as_text=True), status


def test_entry_withdrawn_after_approval_disappears(client, make_contest, make_entry):
    contest = make_contest()
    entry = make_entry(contest)
    url = f"/c/{contest.slug}/entries/{entry.id}"
    assert client.get(url).status_code == 200
    db.session.get(Entry, entry.id).status = "withdrawn"
    db.session.commit()
    assert client.get(url).status_code == 404


def test_non_numeric_entry_id_is_404(client, make_contest):
    contest = make_contest()
    assert client.get(f"/c/{contest.slug}/entries/abc").status_code == 404
    assert client.get(f"/c/{contest.slug}/entries/-1").status_code == 404


# --- photos, videos and both ---------------------------------------------------------

VIDEO_RE = re.compile(r"<video ([^>]*)>(.*?)</video>", re.S)


def _video_tags(html: str) -> list[tuple[str, str]]:
    return VIDEO_RE.findall(html)


def clip_served(app, item):  # type: ignore[no-untyped-def]
    """The bytes stored for a video item."""
    return app.extensions["storage"].path(item.original_key).read_bytes()


def test_a_video_entry_plays_its_clip_with_the_poster_frame(app, client, make_contest, make_entry):
    contest = make_contest(kind="media")
    entry = make_entry(contest, title="面点师的清晨", category_id=contest.categories_of("category")[1].id)
    item = add_video(app, entry)
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)

    (attributes, inside), = _video_tags(html)
    assert 'controls playsinline preload="metadata"' in attributes
    assert f'poster="/media/{item.poster_key}"' in attributes
    assert 'width="1280" height="720"' in attributes
    assert 'aria-label="视频：面点师的清晨"' in attributes
    source = f"/media/{item.original_key}"
    assert f'<source src="{source}" type="video/mp4">' in inside
    # Where the browser cannot play it: plain words and a download link.
    assert "您的浏览器无法播放这段视频。" in inside and f'<a href="{source}" download>下载视频（' in inside
    assert "时长 2 秒" in html

    whole = client.get(source)
    assert whole.status_code == 200 and whole.mimetype == "video/mp4"
    assert whole.data == clip_served(app, item)
    part = client.get(source, headers={"Range": "bytes=0-1023"})
    assert part.status_code == 206 and part.mimetype == "video/mp4" and part.data == whole.data[:1024]
    assert client.get(f"/media/{item.poster_key}").mimetype == "image/jpeg"


def test_a_video_entry_with_a_cover_shows_the_cover_as_the_poster(app, client, make_contest, make_entry, clock):
    contest = make_contest(kind="media")
    entry = make_entry(contest, title="带封面的短视频")
    video = add_video(app, entry)
    cover = attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (800, 450), "teal"),
                         now=clock.now(), position=1)
    cover.role = "cover"
    db.session.commit()
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    (attributes, _inside), = _video_tags(html)
    assert f'poster="/media/{cover.display_key}"' in attributes
    assert video.poster_key not in html
    assert "<img" not in html.split('<div class="media-list">')[1].split("</div>")[0]  # no picture beside it


def test_a_nominee_shows_photos_and_the_video(app, client, make_contest, make_entry, clock):
    contest = make_contest(kind="selection")
    entry = make_entry(contest, title="护理之星", nominee="刘芳")
    photos = [attach_image(db.session, app.extensions["storage"], entry=entry, now=clock.now(), position=i,
                           image=Image.new("RGB", (600, 800), color), caption=caption)
              for i, (color, caption) in enumerate((("navy", "实训风采"), ("olive", "成长足迹")))]
    db.session.commit()
    video = add_video(app, entry, position=2)
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    media_list = html.split('<div class="media-list">')[1].split("</div>")[0]
    for photo in photos:
        assert f'src="/media/{photo.display_key}"' in media_list
    assert "<figcaption>实训风采</figcaption>" in media_list
    (attributes, inside), = _video_tags(media_list)
    assert f'poster="/media/{video.poster_key}"' in attributes  # its own frame: the photos are not its cover
    assert f'<source src="/media/{video.original_key}" type="video/mp4">' in inside
    # In the order the school gave them: the photos, then the video.
    assert media_list.index(photos[1].display_key) < media_list.index("<video")


def test_a_photo_entry_has_no_video_element(app, client, make_contest, make_entry, clock):
    contest = make_contest(kind="media")
    entry = make_entry(contest, title="焊花绽放")
    attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (800, 500), "gray"),
                 now=clock.now())
    db.session.commit()
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert "<video" not in html and 'alt="焊花绽放"' in html


def test_a_team_shows_its_cover_while_the_pitch_and_plan_stay_with_the_judges(app, client, make_contest, make_entry,
                                                                              clock):
    contest = make_contest(kind="innovation", categories=())
    entry = make_entry(contest, title="智能农机")
    cover = attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (800, 500), "green"),
                         now=clock.now())
    cover.role = "cover"
    storage = app.extensions["storage"]
    plan = MediaItem(entry_id=entry.id, kind="pdf", role="plan", content_type="application/pdf", position=2,
                     original_key=storage.put(b"%PDF-1.4\n%%EOF\n", "pdf"), caption="计划书.pdf", created_at=clock.now())
    db.session.add(plan)
    db.session.commit()
    pitch = add_video(app, entry, role="pitch", position=1)
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert f'src="/media/{cover.display_key}"' in html
    assert "<video" not in html
    for key in (pitch.original_key, pitch.poster_key, plan.original_key):
        assert key not in html
