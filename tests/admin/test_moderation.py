"""Moderation: the queue, decisions (single and bulk), duplicate flags, notices to entrants."""

from __future__ import annotations

import io
import random
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from PIL import Image
from sqlalchemy import func, select

from contest.accounts.models import AuditEvent, Notice, SmsMessage, User
from contest.contests.models import Contest, Entry
from contest.errors import Forbidden
from contest.extensions import db
from contest.media import moderation, submissions
from contest.media.models import DuplicateFlag, MediaItem
from tests.conftest import START, csrf_token, login
from tests.site.isolation import committed

QUEUE = "/admin/moderation/"
DECIDE = "/admin/moderation/decide"
REASON_REQUIRED = "请填写原因，作者会看到它。"
CSRF_MESSAGE = "页面已过期或来源不明，请刷新页面后重新提交。"


# --- helpers ------------------------------------------------------------------------------

@pytest.fixture
def entrant(make_user) -> User:  # type: ignore[no-untyped-def]
    return make_user("citizen", name="投稿人小李")


@pytest.fixture
def make_submission(app: Flask, clock) -> Callable[..., Entry]:  # type: ignore[no-untyped-def]
    """A submitted entry by `entrant`, optionally with an image row carrying a difference hash."""
    counter = iter(range(1, 10_000))

    def make(contest: Contest, entrant: User, *, title: str | None = None, status: str = "submitted",
             dhash: int | None = None) -> Entry:
        n = next(counter)
        now = clock.now()
        entry = Entry(contest_id=contest.id, submitted_by_id=entrant.id, title=title or f"待审作品{n}",
                      description="作品介绍", status=status, created_at=now, updated_at=now, submitted_at=now,
                      published_at=now if status == "approved" else None)
        db.session.add(entry)
        db.session.flush()
        if dhash is not None:
            key = f"{n:064x}.jpg"
            db.session.add(MediaItem(entry_id=entry.id, kind="image", role="photo", content_type="image/jpeg",
                                     original_key=key, display_key=key, thumb_key=key, width=1920, height=1080,
                                     dhash=dhash, created_at=now))
            entry.cover_key = key
        db.session.commit()
        return entry
    return make


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def decide(client: FlaskClient, entry_ids: list[int], decision: str, reason: str = "", **extra: Any) -> Any:
    """Post the queue's form the way the browser does."""
    token = csrf_token(client, QUEUE)
    return client.post(DECIDE, data={"csrf_token": token, "entry_ids": [str(i) for i in entry_ids],
                                     "decision": decision, "reason": reason, **extra})


def status_of(entry: Entry) -> tuple[str, str]:
    return (committed(select(Entry.status).where(Entry.id == entry.id)),
            committed(select(Entry.moderation_reason).where(Entry.id == entry.id)))


def count(model: type) -> int:
    return committed(select(func.count()).select_from(model))


def snapshot() -> tuple[int, int, int]:
    """Rows a decision writes besides the entry: audit events, notices, text messages."""
    return count(AuditEvent), count(Notice), count(SmsMessage)


def audits(action: str) -> list[AuditEvent]:
    db.session.rollback()
    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.id)))


def notices_of(user: User) -> list[Notice]:
    db.session.rollback()
    return list(db.session.scalars(select(Notice).where(Notice.user_id == user.id).order_by(Notice.id)))


def texts_to(user: User) -> list[str]:
    db.session.rollback()
    return list(db.session.scalars(select(SmsMessage.body).where(SmsMessage.phone == user.phone).order_by(SmsMessage.id)))


# --- who may moderate ---------------------------------------------------------------------

def test_anonymous_is_sent_to_login(client, make_contest, make_submission, entrant):
    entry = make_submission(make_contest(), entrant)
    for path in (QUEUE, f"/admin/moderation/{entry.id}"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response.headers["Location"].startswith("/account/login?next="), path
    token = csrf_token(client, "/account/login")
    response = client.post(DECIDE, data={"csrf_token": token, "entry_ids": [str(entry.id)], "decision": "approve"})
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")
    assert status_of(entry) == ("submitted", "")


def test_citizens_get_403_on_the_queue_and_on_decide(client, make_user, make_contest, make_submission, entrant):
    entry = make_submission(make_contest(), entrant)
    login(client, make_user("citizen"))
    for path in (QUEUE, f"/admin/moderation/{entry.id}"):
        response = client.get(path)
        assert response.status_code == 403, path
        assert "您没有权限访问此页面。" in html(response)
    token = csrf_token(client, "/")
    before = snapshot()
    response = client.post(DECIDE, data={"csrf_token": token, "entry_ids": [str(entry.id)], "decision": "approve"})
    assert response.status_code == 403
    assert client.post("/admin/moderation/flags/1/resolve", data={"csrf_token": token}).status_code == 403
    assert status_of(entry) == ("submitted", "")
    assert snapshot() == before
    # and the back office shows no way in
    assert "作品审核" not in html(client.get("/"))


def test_the_service_refuses_non_organisers(app, make_contest, make_submission, entrant, clock):
    entry = make_submission(make_contest(), entrant)
    with pytest.raises(Forbidden):
        moderation.decide(db.session, app.extensions["sms_sender"], actor=entrant, entry_ids=[entry.id],
                          decision="approve", reason="", now=clock.now())
    with pytest.raises(Forbidden):
        moderation.moderation_queue(db.session, actor=entrant)
    with pytest.raises(Forbidden):
        moderation.resolve_duplicate_flag(db.session, actor=entrant, flag_id=1, now=clock.now())
    db.session.rollback()
    assert status_of(entry) == ("submitted", "")


def test_posts_without_csrf_token_are_400_and_change_nothing(client, organiser, make_contest, make_submission, entrant):
    entry = make_submission(make_contest(), entrant)
    flag = _flag_between(make_submission(make_contest(), entrant, dhash=1), entry)
    before = snapshot()
    for token in (None, "forged-token"):
        data = {"entry_ids": [str(entry.id)], "decision": "approve"}
        if token:
            data["csrf_token"] = token
        response = client.post(DECIDE, data=data)
        assert response.status_code == 400
        assert CSRF_MESSAGE in html(response)
        response = client.post(f"/admin/moderation/flags/{flag.id}/resolve", data={"csrf_token": token} if token else {})
        assert response.status_code == 400
    assert status_of(entry) == ("submitted", "")
    assert committed(select(DuplicateFlag.resolved_at).where(DuplicateFlag.id == flag.id)) is None
    assert snapshot() == before


# --- the queue ------------------------------------------------------------------------------

def test_queue_lists_submitted_entries_oldest_first_with_their_details(client, organiser, make_contest, make_submission,
                                                                       make_school, clock, entrant):
    contest = make_contest(title="全民美拍测试")
    older = make_submission(contest, entrant, title="清晨的实训车间")
    clock.advance(hours=1)
    newer = make_submission(contest, entrant, title="面点师的手")
    school = make_school("济南市历下职业中专")
    newer.school_id = school.id
    db.session.commit()
    make_submission(contest, entrant, title="已经通过的作品", status="approved")
    page = html(client.get(QUEUE))
    assert page.index("清晨的实训车间") < page.index("面点师的手")
    assert "已经通过的作品" not in page
    assert f'name="entry_ids" value="{older.id}"' in page
    assert entrant.masked_phone in page and entrant.phone not in page
    assert "济南市历下职业中专" in page and "全民美拍测试" in page
    assert "提交于 2023-05-16" in page
    assert f'href="/admin/moderation/{older.id}"' in page
    # the status tabs count entries
    assert "待审核 <span class=\"count\">2</span>" in page
    approved = html(client.get(QUEUE + "?status=approved"))
    assert "已经通过的作品" in approved and "清晨的实训车间" not in approved
    assert 'name="entry_ids"' not in approved  # decided entries cannot be decided again


def test_queue_filters_by_contest_and_ignores_bad_filters(client, organiser, make_contest, make_submission, entrant):
    first, second = make_contest(), make_contest()
    make_submission(first, entrant, title="甲活动作品")
    make_submission(second, entrant, title="乙活动作品")
    page = html(client.get(f"{QUEUE}?contest={second.id}"))
    assert "乙活动作品" in page and "甲活动作品" not in page
    for query in ("?status=nonsense", "?contest=abc", "?page=-3", "?page=99999999999", "?contest=" + "9" * 30):
        response = client.get(QUEUE + query)
        assert response.status_code == 200, query
    assert "甲活动作品" in html(client.get(QUEUE + "?status=nonsense"))


def test_queue_runs_a_bounded_number_of_queries(client, organiser, make_contest, make_submission, make_user, count_queries):
    small, large = make_contest(), make_contest()
    for contest, n in ((small, 2), (large, 10)):
        earlier = make_submission(contest, make_user("citizen"), title=f"{contest.slug}-原作", dhash=0x0F0F)
        for i in range(n - 1):
            entry = make_submission(contest, make_user("citizen"), title=f"{contest.slug}-{i}", dhash=0x0F0F + i)
            _flag_between(entry, earlier)
    client.get(QUEUE)  # warm up
    counts = []
    for contest_id, n in ((small.id, 2), (large.id, 10)):
        # The test shares the request's session: start each request from an empty one.
        db.session.remove()
        with count_queries() as statements:
            page = html(client.get(f"{QUEUE}?contest={contest_id}"))
        assert page.count('name="entry_ids"') == n
        assert page.count("疑似重复</span>") == 2 * (n - 1)  # each flag shows on both entries
        counts.append(len(statements))
    assert counts[0] == counts[1], counts
    assert counts[1] <= 15, counts  # one of them: the person's roles in units, for the scope check


# --- decisions ------------------------------------------------------------------------------

def test_approve_makes_the_entry_public_and_tells_the_entrant(client, organiser, make_contest, make_submission, entrant):
    contest = make_contest(title="全民美拍")
    entry = make_submission(contest, entrant, title="巧手面点")
    public = f"/c/{contest.slug}/entries/{entry.id}"
    assert client.get(public).status_code == 404
    assert "巧手面点" not in html(client.get(f"/c/{contest.slug}/entries"))
    before = snapshot()

    response = decide(client, [entry.id], "approve", reason="不该留下的原因")
    assert response.status_code == 302
    assert response.headers["Location"] == QUEUE
    assert "已通过 1 件作品。" in html(client.get(QUEUE))

    assert status_of(entry) == ("approved", "")
    assert committed(select(Entry.published_at).where(Entry.id == entry.id)) == START
    assert client.get(public).status_code == 200
    assert "巧手面点" in html(client.get(f"/c/{contest.slug}/entries"))
    assert snapshot() == (before[0] + 1, before[1] + 1, before[2] + 1)
    event = audits("entry.approve")[-1]
    assert (event.actor_id, event.target_type, event.target_id) == (organiser.id, "entry", str(entry.id))
    assert event.before == {"status": "submitted", "moderation_reason": ""}
    assert event.after == {"status": "approved", "moderation_reason": ""}
    notice = notices_of(entrant)[-1]
    assert notice.body == "您的作品“巧手面点”已通过审核，现已公开展示。"
    assert notice.link == "/me/entries" and notice.read_at is None
    assert texts_to(entrant) == ["【济南职教活动周】您的作品“巧手面点”已通过审核，现已公开展示。"]


def test_reject_with_a_reason(app, client, organiser, make_contest, make_submission, entrant):
    entry = make_submission(make_contest(), entrant, title="夜色")
    reason = "作品与活动主题无关，请围绕“技能：让生活更美好”拍摄。"
    response = decide(client, [entry.id], "reject", reason=f"  {reason}\r\n")
    assert response.status_code == 302
    assert status_of(entry) == ("rejected", reason)
    event = audits("entry.reject")[-1]
    assert event.before == {"status": "submitted", "moderation_reason": ""}
    assert event.after == {"status": "rejected", "moderation_reason": reason}
    assert event.summary == "夜色"
    expected = f"您的作品“夜色”未通过审核。原因：{reason}"
    assert notices_of(entrant)[-1].body == expected
    assert texts_to(entrant) == [f"【济南职教活动周】{expected}"]
    # still not public
    contest = db.session.get(Contest, entry.contest_id)
    assert client.get(f"/c/{contest.slug}/entries/{entry.id}").status_code == 404
    # the entrant's own list shows the reason, where that page exists
    if any(rule.rule == "/me/entries" for rule in app.url_map.iter_rules()):
        own = app.test_client()
        login(own, entrant)
        assert reason in html(own.get("/me/entries"))


@pytest.mark.parametrize("decision", ["reject", "return"])
@pytest.mark.parametrize("reason", ["", "   ", "\r\n\t"])
def test_reject_or_return_without_a_reason_is_400_and_changes_nothing(client, organiser, make_contest, make_submission,
                                                                      entrant, decision, reason):
    entry = make_submission(make_contest(), entrant)
    before = snapshot()
    response = decide(client, [entry.id], decision, reason=reason)
    assert response.status_code == 400
    page = html(response)
    assert REASON_REQUIRED in page
    assert f'name="entry_ids" value="{entry.id}" id="pick-{entry.id}" checked' in page  # the selection is kept
    assert status_of(entry) == ("submitted", "")
    assert snapshot() == before


def test_an_over_long_reason_is_400_and_changes_nothing(client, organiser, make_contest, make_submission, entrant):
    entry = make_submission(make_contest(), entrant)
    before = snapshot()
    response = decide(client, [entry.id], "reject", reason="太" * 501)
    assert response.status_code == 400
    assert "原因不能超过 500 个字。" in html(response)
    assert status_of(entry) == ("submitted", "")
    assert snapshot() == before
    assert decide(client, [entry.id], "reject", reason="太" * 500).status_code == 302
    assert status_of(entry) == ("rejected", "太" * 500)


def test_bad_decisions_and_empty_selections_are_400(client, organiser, make_contest, make_submission, entrant):
    entry = make_submission(make_contest(), entrant)
    before = snapshot()
    cases = [([entry.id], "delete", "请选择审核结果：通过、不通过或退回修改。"), ([entry.id], "", "请选择审核结果"),
             ([], "approve", "请至少选择一件作品。")]
    for ids, decision, message in cases:
        response = decide(client, ids, decision, reason="原因")
        assert response.status_code == 400, decision
        assert message in html(response), decision
    response = decide(client, [entry.id, 987654], "approve")
    assert response.status_code == 404
    assert "没有找到作品 #987654。" in html(response)
    assert status_of(entry) == ("submitted", "")
    assert snapshot() == before


def test_bulk_approve_of_three_entries_in_one_post(client, organiser, make_contest, make_submission, make_user):
    contest = make_contest()
    people = [make_user("citizen") for _ in range(3)]
    entries = [make_submission(contest, person, title=f"批量作品{i}") for i, person in enumerate(people)]
    untouched = make_submission(contest, people[0], title="没有勾选的作品")
    response = decide(client, [e.id for e in entries], "approve")
    assert response.status_code == 302
    assert "已通过 3 件作品。" in html(client.get(QUEUE))
    assert [status_of(e)[0] for e in entries] == ["approved"] * 3
    assert status_of(untouched) == ("submitted", "")
    assert sorted(int(a.target_id) for a in audits("entry.approve")) == sorted(e.id for e in entries)
    for i, person in enumerate(people):
        assert [n.body for n in notices_of(person)] == [f"您的作品“批量作品{i}”已通过审核，现已公开展示。"]
        assert len(texts_to(person)) == 1
    gallery = html(client.get(f"/c/{contest.slug}/entries"))
    assert all(f"批量作品{i}" in gallery for i in range(3))


def test_deciding_an_already_decided_entry_is_409_and_changes_nothing(client, organiser, make_contest, make_submission,
                                                                      entrant):
    contest = make_contest()
    done = make_submission(contest, entrant, title="早已通过", status="approved")
    waiting = make_submission(contest, entrant, title="还在等")
    before = snapshot()
    response = decide(client, [done.id], "reject", reason="重新考虑")
    assert response.status_code == 409
    assert f"作品“早已通过”（#{done.id}）当前状态为“已通过”，只能审核待审核的作品。" in html(response)
    # a bulk decision is all or nothing
    response = decide(client, [waiting.id, done.id], "approve")
    assert response.status_code == 409
    assert status_of(done) == ("approved", "")
    assert status_of(waiting) == ("submitted", "")
    assert snapshot() == before


def test_return_for_changes_puts_the_entry_back_to_draft_until_resubmitted(app, client, organiser, make_contest,
                                                                           make_submission, entrant, clock):
    contest = make_contest(stage="submission")
    entry = make_submission(contest, entrant, title="待完善的作品")
    reason = "请补充作品介绍，说明拍摄的技能场景。"
    response = decide(client, [entry.id], "return", reason=reason)
    assert response.status_code == 302
    assert "已将 1 件作品退回修改。" in html(client.get(QUEUE))
    assert status_of(entry) == ("draft", reason)
    event = audits("entry.return")[-1]
    assert event.before["status"] == "submitted" and event.after == {"status": "draft", "moderation_reason": reason}
    expected = f"您的作品“待完善的作品”需要修改后重新提交。原因：{reason}"
    assert notices_of(entrant)[-1].body == expected
    assert texts_to(entrant) == [f"【济南职教活动周】{expected}"]
    assert "待完善的作品" not in html(client.get(QUEUE))
    assert "待完善的作品" in html(client.get(QUEUE + "?status=draft"))
    # the entrant edits it, which submits it again, and it is back in the queue
    clock.advance(hours=1)
    with app.test_request_context():
        submissions.update_entry_text(db.session, actor=db.session.get(User, entrant.id), entry_id=entry.id,
                                      title="待完善的作品", description="补充了介绍", now=clock.now())
        db.session.commit()
    assert status_of(entry)[0] == "submitted"
    assert "待完善的作品" in html(client.get(QUEUE))


def test_deciding_from_the_entry_page(client, organiser, make_contest, make_submission, entrant):
    entry = make_submission(make_contest(), entrant, title="详情页审核")
    page_url = f"/admin/moderation/{entry.id}"
    page = html(client.get(page_url))
    assert 'name="decision" value="reject"' in page and f'name="from_entry" value="{entry.id}"' in page
    token = csrf_token(client, page_url)
    form = {"csrf_token": token, "entry_ids": str(entry.id), "from_entry": str(entry.id), "decision": "reject",
            "reason": "", "next": QUEUE}
    response = client.post(DECIDE, data=form)
    assert response.status_code == 400
    assert REASON_REQUIRED in html(response) and "<h1>详情页审核</h1>" in html(response)
    response = client.post(DECIDE, data={**form, "reason": "图片模糊"})
    assert response.status_code == 302 and response.headers["Location"] == QUEUE
    assert status_of(entry) == ("rejected", "图片模糊")
    page = html(client.get(page_url))
    assert "图片模糊" in page and 'name="decision"' not in page


def test_the_decision_redirect_never_leaves_the_site(client, organiser, make_contest, make_submission, entrant):
    entry = make_submission(make_contest(), entrant)
    response = decide(client, [entry.id], "approve", next="//evil.example/")
    assert response.status_code == 302 and response.headers["Location"] == QUEUE


def test_entry_page_shows_media_profile_and_team(client, organiser, app, clock, make_contest, make_submission, entrant):
    contest = make_contest(kind="innovation")
    entry = make_submission(contest, entrant, title="智慧农业")
    now = clock.now()
    items = [
        MediaItem(entry_id=entry.id, kind="image", role="cover", content_type="image/jpeg", original_key="a" * 64 + ".jpg",
                  display_key="b" * 64 + ".jpg", thumb_key="c" * 64 + ".jpg", width=1600, height=900, created_at=now),
        MediaItem(entry_id=entry.id, kind="video", role="pitch", content_type="video/mp4", original_key="d" * 64 + ".mp4",
                  poster_key="e" * 64 + ".jpg", width=1280, height=720, duration_seconds=95.4, position=1, created_at=now),
        MediaItem(entry_id=entry.id, kind="pdf", role="plan", content_type="application/pdf", original_key="f" * 64 + ".pdf",
                  byte_size=2 * 1048576, caption="计划书.pdf", position=2, created_at=now),
    ]
    db.session.add_all(items)
    db.session.commit()
    page = html(client.get(f"/admin/moderation/{entry.id}"))
    assert f'src="/media/{"b" * 64}.jpg"' in page
    assert '<video controls preload="metadata"' in page
    assert f'poster="/media/{"e" * 64}.jpg"' in page and f'src="/media/{"d" * 64}.mp4"' in page
    assert f'href="/media/{"f" * 64}.pdf" download' in page and "计划书.pdf" in page
    assert client.get("/admin/moderation/999999").status_code == 404


# --- duplicate flags ------------------------------------------------------------------------

def _flag_between(entry: Entry, other: Entry) -> DuplicateFlag:
    mine = db.session.scalar(select(MediaItem).where(MediaItem.entry_id == entry.id))
    theirs = db.session.scalar(select(MediaItem).where(MediaItem.entry_id == other.id))
    if theirs is None:
        theirs = MediaItem(entry_id=other.id, kind="image", content_type="image/jpeg", original_key="0" * 64 + ".jpg",
                           dhash=1, created_at=START)
        db.session.add(theirs)
        db.session.flush()
    flag = DuplicateFlag(entry_id=entry.id, media_item_id=mine.id, other_entry_id=other.id,
                         other_media_item_id=theirs.id, distance=2, created_at=START)
    db.session.add(flag)
    db.session.commit()
    return flag


def _photo(seed: int) -> Image.Image:
    """A picture with structure (so its difference hash means something)."""
    rng = random.Random(seed)
    image = Image.new("RGB", (16, 12))
    image.putdata([(rng.randrange(256), rng.randrange(256), rng.randrange(256)) for _ in range(16 * 12)])
    return image.resize((1280, 960), Image.Resampling.BICUBIC)


def _upload(tmp_path: Path, name: str, image: Image.Image, quality: int) -> submissions.IncomingFile:
    out = io.BytesIO()
    image.save(out, "JPEG", quality=quality)
    path = tmp_path / name
    path.write_bytes(out.getvalue())
    return submissions.IncomingFile(name=name, path=str(path), size=len(out.getvalue()))


def _submit_photo(app: Flask, tmp_path: Path, contest: Contest, user: User, title: str, upload) -> Entry:  # type: ignore[no-untyped-def]
    with app.test_request_context():
        entry = submissions.submit_media_entry(
            db.session, app.extensions["storage"], actor=db.session.get(User, user.id),
            contest=db.session.get(Contest, contest.id), photos=[upload], video=None, cover=None, now=START,
            data=submissions.MediaEntryInput(title=title, description="", kind="photo",
                                             category_id=contest.categories[0].id),
        )
        db.session.commit()
    return entry


def test_duplicate_flags_show_in_the_queue_and_can_be_resolved(app, client, organiser, make_contest, make_user, tmp_path):
    contest = make_contest(stage="submission", rules={"min_image_width": 100, "min_image_height": 100})
    original = _photo(7)
    first = _submit_photo(app, tmp_path, contest, make_user("citizen"), "原创作品", _upload(tmp_path, "a.jpg", original, 92))
    # the same picture, smaller and re-encoded at a lower quality, by someone else
    copy = original.resize((1000, 750), Image.Resampling.LANCZOS)
    second = _submit_photo(app, tmp_path, contest, make_user("citizen"), "搬运作品", _upload(tmp_path, "b.jpg", copy, 60))
    unrelated = _submit_photo(app, tmp_path, contest, make_user("citizen"), "另一幅作品",
                              _upload(tmp_path, "c.jpg", _photo(8), 92))
    flags = list(db.session.scalars(select(DuplicateFlag)))
    assert [(f.entry_id, f.other_entry_id) for f in flags] == [(second.id, first.id)]
    flag = flags[0]

    page = html(client.get(QUEUE))
    assert page.count("疑似重复</span>") == 2  # on the copy and on the original
    assert f'与 <a href="/admin/moderation/{first.id}">原创作品</a>' in page
    assert f'与 <a href="/admin/moderation/{second.id}">搬运作品</a>' in page
    row = page[page.index(f'id="pick-{unrelated.id}"'):]
    assert "疑似重复" not in row[:row.find("</li>")]

    detail = html(client.get(f"/admin/moderation/{second.id}"))
    thumbs = list(db.session.scalars(select(MediaItem.thumb_key).where(MediaItem.entry_id.in_([first.id, second.id]))
                                     .order_by(MediaItem.entry_id)))
    assert all(f'src="/media/{key}"' in detail for key in thumbs)  # side by side
    assert f'action="/admin/moderation/flags/{flag.id}/resolve"' in detail

    token = csrf_token(client, f"/admin/moderation/{second.id}")
    response = client.post(f"/admin/moderation/flags/{flag.id}/resolve",
                           data={"csrf_token": token, "next": f"/admin/moderation/{second.id}"})
    assert response.status_code == 302 and response.headers["Location"] == f"/admin/moderation/{second.id}"
    assert committed(select(DuplicateFlag.resolved_at).where(DuplicateFlag.id == flag.id)) is not None
    event = audits("duplicate_flag.resolve")[-1]
    assert (event.actor_id, event.target_id) == (organiser.id, str(flag.id))
    assert event.before == {"resolved_at": None} and event.after["other_entry_id"] == first.id
    assert "疑似重复</span>" not in html(client.get(QUEUE))
    assert "已处理于" in html(client.get(f"/admin/moderation/{second.id}"))
    # resolving twice is a conflict that records nothing
    before = snapshot()
    response = client.post(f"/admin/moderation/flags/{flag.id}/resolve", data={"csrf_token": token})
    assert response.status_code == 409 and "这条疑似重复提示已处理过了。" in html(response)
    assert client.post("/admin/moderation/flags/999999/resolve", data={"csrf_token": token}).status_code == 404
    assert snapshot() == before


def test_approving_leaves_duplicate_flags_open(client, organiser, make_contest, make_submission, entrant):
    contest = make_contest()
    earlier = make_submission(contest, entrant, dhash=5)
    later = make_submission(contest, entrant, dhash=5)
    flag = _flag_between(later, earlier)
    assert decide(client, [later.id], "approve").status_code == 302
    assert committed(select(DuplicateFlag.resolved_at).where(DuplicateFlag.id == flag.id)) is None


def test_admins_moderate_too(client, admin_user, make_contest, make_submission, entrant):
    entry = make_submission(make_contest(), entrant)
    assert client.get(QUEUE).status_code == 200
    assert decide(client, [entry.id], "approve").status_code == 302
    assert status_of(entry)[0] == "approved"


def test_back_office_has_a_moderation_tab(client, organiser):
    page = html(client.get("/admin/"))
    assert f'href="{QUEUE}"' in page and "作品审核" in page
    assert f'href="{QUEUE}" aria-current="page"' in html(client.get(QUEUE))

