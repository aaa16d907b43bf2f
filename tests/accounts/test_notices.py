"""Notices: a signed-in user's messages on /account/notices and the unread count in the header."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from contest.accounts import service as accounts
from contest.accounts.models import Notice, User
from contest.contests.models import Entry
from contest.extensions import db
from contest.media import moderation
from tests.conftest import csrf_token, login

from .support import html

NOTICES = "/account/notices"


def header_count(client) -> str | None:  # type: ignore[no-untyped-def]
    """The unread count the header shows next to 消息, or None when it shows none."""
    page = html(client.get("/"))
    match = re.search(r'<a href="/account/notices" class="notices-link">消息(.*?)</a>', page)
    assert match, "no 消息 link in the header"
    badge = re.search(r'<span class="count-badge"><span class="sr-only">未读 </span>([^<]+)</span>', match.group(1))
    return badge.group(1) if badge else None


def tell(user: User, body: str, clock, *, link: str = "/me/entries") -> None:  # type: ignore[no-untyped-def]
    accounts.notify(db.session, _no_sms, user=user, body=body, now=clock.now(), link=link, sms=False)
    db.session.commit()
    clock.advance(minutes=1)


class _NoSms:
    def send(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        raise AssertionError("no text message expected")


_no_sms = _NoSms()


def unread_of(user: User) -> list[Notice]:
    db.session.rollback()
    return list(db.session.scalars(select(Notice).where(Notice.user_id == user.id, Notice.read_at.is_(None))))


def test_the_entrant_sees_a_moderation_notice_and_the_count_goes_to_zero(app, client, make_user, make_contest, clock):
    entrant = make_user("citizen")
    organiser = make_user("organiser")
    contest = make_contest()
    entry = Entry(contest_id=contest.id, submitted_by_id=entrant.id, title="巧手面点", status="submitted",
                  created_at=clock.now(), updated_at=clock.now(), submitted_at=clock.now())
    db.session.add(entry)
    db.session.commit()
    with app.test_request_context():
        moderation.decide(db.session, app.extensions["sms_sender"], actor=organiser, entry_ids=[entry.id],
                          decision="reject", reason="与主题无关", now=clock.now())
        db.session.commit()

    login(client, entrant)
    assert header_count(client) == "1"
    page = html(client.get(NOTICES))
    assert "您的作品“巧手面点”未通过审核。原因：与主题无关" in page
    assert '<span class="badge unread-badge">新</span>' in page
    assert '<a href="/me/entries">查看详情</a>' in page
    # the page itself already shows the header without a count
    header = page[:page.index("</header>")]
    assert "count-badge" not in header
    assert header_count(client) is None
    assert unread_of(entrant) == []
    # seen once: no longer marked new, still listed
    again = html(client.get(NOTICES))
    assert "与主题无关" in again and "unread-badge" not in again


def test_counts_and_lists_only_ones_own_notices(client, make_user, clock):
    me, other = make_user("citizen"), make_user("citizen")
    tell(me, "第一条消息", clock)
    tell(me, "第二条消息", clock)
    tell(other, "别人的消息", clock)
    login(client, me)
    assert header_count(client) == "2"
    page = html(client.get(NOTICES))
    assert "别人的消息" not in page
    assert page.index("第二条消息") < page.index("第一条消息")  # newest first
    assert header_count(client) is None
    assert len(unread_of(other)) == 1  # another user's notices stay unread
    tell(me, "第三条消息", clock)
    assert header_count(client) == "1"
    page = html(client.get(NOTICES))
    # unread first, then the ones already seen, newest first
    assert page.index("第三条消息") < page.index("第二条消息") < page.index("第一条消息")
    assert page.count("unread-badge") == 1


def test_a_large_count_is_capped_in_the_header(client, make_user, clock):
    user = make_user("citizen")
    for i in range(100):
        accounts.notify(db.session, _no_sms, user=user, body=f"消息{i}", now=clock.now() + timedelta(seconds=i), sms=False)
    db.session.commit()
    login(client, user)
    assert header_count(client) == "99+"


def test_no_notices_yet(client, make_user):
    login(client, make_user("citizen"))
    assert header_count(client) is None
    assert "还没有消息。" in html(client.get(NOTICES))


def test_only_safe_links_are_shown(client, make_user, clock):
    user = make_user("citizen")
    tell(user, "站外链接", clock, link="//evil.example/")
    tell(user, "没有链接", clock, link="")
    login(client, user)
    page = html(client.get(NOTICES))
    assert "站外链接" in page and "evil.example" not in page
    assert "查看详情" not in page


def test_anonymous_visitors_are_sent_to_login_and_never_count(client, count_queries):
    response = client.get(NOTICES)
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/account/login?next=")
    client.get("/")  # warm up
    with count_queries() as statements:
        page = html(client.get("/"))
    assert "/account/notices" not in page
    assert not [s for s in statements if "notice" in s]


def test_the_header_count_is_one_count_query(client, make_user, clock, count_queries):
    user = make_user("citizen")
    tell(user, "一条消息", clock)
    login(client, user)
    client.get("/")  # warm up
    with count_queries() as statements:
        assert header_count(client) == "1"
    touching = [s for s in statements if "notice" in s]
    assert len(touching) == 1
    assert touching[0].lstrip().upper().startswith("SELECT COUNT(*)")


def test_viewing_is_a_get_that_needs_no_token_but_logout_still_does(client, make_user):
    user = make_user("citizen")
    login(client, user)
    assert client.get(NOTICES).status_code == 200
    assert client.post("/account/logout").status_code == 400
    assert client.post("/account/logout", data={"csrf_token": csrf_token(client, NOTICES)}).status_code == 302
