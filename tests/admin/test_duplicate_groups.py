"""Duplicate-image flags against a withdrawn entry: shown once per other entry, marked as
withdrawn, and not counted as open in the queue."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from contest.contests.models import Contest, Entry
from contest.extensions import db
from contest.media import moderation
from contest.media.models import DuplicateFlag, MediaItem
from tests.conftest import START


def _entry_with_images(contest: Contest, user_id: int, title: str, n: int, status: str = "submitted") -> Entry:
    entry = Entry(contest_id=contest.id, submitted_by_id=user_id, title=title, description="", status=status,
                  created_at=START, updated_at=START, submitted_at=START)
    db.session.add(entry)
    db.session.flush()
    for i in range(n):
        key = f"{entry.id:032x}{i:032x}.jpg"
        db.session.add(MediaItem(entry_id=entry.id, kind="image", role="photo", content_type="image/jpeg",
                                 original_key=key, display_key=key, thumb_key=key, width=800, height=600, dhash=i + 1,
                                 position=i, created_at=START))
    db.session.flush()
    return entry


def _flag_every_pair(entry: Entry, other: Entry) -> None:
    """A series of similar photos against another series: one flag per pair of images."""
    mine = db.session.scalars(select(MediaItem.id).where(MediaItem.entry_id == entry.id)).all()
    theirs = db.session.scalars(select(MediaItem.id).where(MediaItem.entry_id == other.id)).all()
    for m in mine:
        for t in theirs:
            db.session.add(DuplicateFlag(entry_id=entry.id, media_item_id=m, other_entry_id=other.id,
                                         other_media_item_id=t, distance=3 if (m, t) != (mine[0], theirs[0]) else 1,
                                         created_at=START))
    db.session.commit()


def html(response: Any) -> str:
    return response.get_data(as_text=True)


def test_flags_against_a_withdrawn_entry_show_once(client, organiser, make_contest, make_user):  # type: ignore[no-untyped-def]
    contest = make_contest(stage="submission")
    author = make_user("citizen")
    later = _entry_with_images(contest, author.id, "后交的组照", 2)
    gone = _entry_with_images(contest, author.id, "已撤回的组照", 2)
    live = _entry_with_images(contest, author.id, "另一件作品", 1)
    _flag_every_pair(later, gone)  # four flags: two images against two
    _flag_every_pair(later, live)  # two flags
    gone.status = "withdrawn"
    db.session.commit()

    page = html(client.get(f"/admin/moderation/{later.id}"))
    assert page.count("对方作品已撤回") == 1
    assert page.count(f'data-other-entry="{gone.id}"') == 1
    assert "2 处相似图片" not in page and "4 处相似图片，最接近的相差 1 位" in page
    # the live pair is still shown per pair, each with its own button
    assert page.count("已核实，标记为已处理") == 2
    queue = html(client.get("/admin/moderation/"))
    row = queue[queue.index(f'id="pick-{later.id}"'):]
    row = row[:row.find("</li>")]
    assert row.count("疑似重复</span>") == 2 and "已撤回的组照" not in row


def test_the_flags_are_grouped_by_the_other_entry(organiser, make_contest, make_user):  # type: ignore[no-untyped-def]
    contest = make_contest(stage="submission")
    author = make_user("citizen")
    later = _entry_with_images(contest, author.id, "后交的组照", 2)
    gone = _entry_with_images(contest, author.id, "已撤回的组照", 2, status="submitted")
    _flag_every_pair(later, gone)
    gone.status = "withdrawn"
    db.session.commit()
    [item], _total = moderation.moderation_queue(db.session, actor=organiser, contest_id=contest.id)
    assert len(item.flags) == 4  # one per pair of images, as stored
    [group] = item.flag_groups
    assert (group.other_entry_id, group.other_withdrawn, len(group.flags)) == (gone.id, True, 4)
    assert group.closest.flag.distance == 1
    assert item.open_flags == []
