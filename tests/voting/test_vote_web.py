"""Voting on the web: the vote button, every refusal, rate limits, leaderboard, receipts."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from contest.accounts.actors import SYSTEM
from contest.accounts.models import User
from contest.antifraud import captcha
from contest.contests import service as contests
from contest.extensions import db
from contest.voting import ledger, live
from contest.voting import service as voting
from contest.voting.models import Vote, VoteEntryQuota, VoteQuota
from tests.conftest import CSRF_RE, csrf_token, login, redis_client
from tests.site.isolation import committed

VT_RE = re.compile(r'name="vt" value="([^"]*)"')


@pytest.fixture
def ballot(make_contest, make_entry, clock):
    contest = make_contest(kind="media", stage="voting")
    photo, video = contest.categories
    entries = [make_entry(contest, category_id=photo.id), make_entry(contest, category_id=photo.id),
               make_entry(contest, category_id=video.id)]
    return contest, entries


@pytest.fixture
def voter(client, make_user, clock):
    user = make_user()
    # an account a few hours old, so that anti-fraud sees nothing unusual
    clock.advance(hours=3)
    login(client, user)
    return user


def set_rules(contest, clock, **values):
    contests.set_rules(db.session, actor=SYSTEM, contest=contest, values=values, now=clock.now())
    db.session.commit()


def page_url(contest, entry):
    return f"/c/{contest.slug}/entries/{entry.id}"


def cast_from_page(client, clock, contest, entry, page=None, **data):
    """What a browser does: open the page, read for a while, press the vote button."""
    html = client.get(page or page_url(contest, entry)).get_data(as_text=True)
    token, view = CSRF_RE.search(html).group(1), VT_RE.search(html)
    clock.advance(seconds=10)
    form = {"csrf_token": token, "vt": view.group(1) if view else "", **data}
    return client.post(f"/c/{contest.slug}/entries/{entry.id}/vote", data=form)


def post_vote(client, slug, entry_id, **data):
    """A vote posted without going through the entry page (which may not offer one)."""
    return client.post(f"/c/{slug}/entries/{entry_id}/vote", data={"csrf_token": csrf_token(client, "/"), **data})


def votes_stored():
    return committed(select(func.count()).select_from(Vote))


def quota_used():
    return committed(select(func.coalesce(func.sum(VoteQuota.used), 0))), committed(
        select(func.coalesce(func.sum(VoteEntryQuota.used), 0)))


def text(response):
    return response.get_data(as_text=True)


# --- the happy path ----------------------------------------------------------------------

def test_a_vote_from_the_entry_page(app, client, ballot, voter, clock):
    contest, entries = ballot
    redis = redis_client(app)
    if redis is not None:  # a complete board, so the vote goes through ZINCRBY
        assert live.leaderboard(db.session, redis, contest) == []
    page = text(client.get(page_url(contest, entries[0])))
    assert "今日还可投 5 票" in page and "投一票" in page and 'data-vote-count' in page

    response = cast_from_page(client, clock, contest, entries[0])
    assert response.status_code == 302
    assert response.headers["Location"] == page_url(contest, entries[0])
    cookie = next(h for h in response.headers.getlist("Set-Cookie") if h.startswith("did="))
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie

    receipt = committed(select(Vote.receipt))
    shown = text(client.get(page_url(contest, entries[0])))
    assert "投票成功" in shown and receipt in shown and "今日还可投 4 票" in shown
    assert re.search(f'data-vote-count="{entries[0].id}">1<', shown)
    assert votes_stored() == 1 and quota_used() == (1, 1)
    vote = db.session.scalar(select(Vote))
    assert vote.device_id and vote.user_agent and vote.ip == "127.0.0.1"
    if redis is not None:
        assert redis.zscore(f"lb:{{{contest.id}}}:all", str(entries[0].id)) == 1
        assert redis.zscore(f"lb:{{{contest.id}}}:cat:{entries[0].category_id}", str(entries[0].id)) == 1
    assert live.leaderboard(db.session, redis, contest) == [(entries[0].id, 1)]


def test_the_device_cookie_is_kept(client, ballot, voter, clock):
    contest, entries = ballot
    first = cast_from_page(client, clock, contest, entries[0])
    device = re.search(r"did=([^;]+)", first.headers["Set-Cookie"]).group(1)
    second = cast_from_page(client, clock, contest, entries[1])
    assert not any(h.startswith("did=") for h in second.headers.getlist("Set-Cookie"))
    assert set(db.session.scalars(select(Vote.device_id))) == {device}


def test_a_vote_from_a_gallery_card_goes_back_to_the_gallery(client, ballot, voter, clock):
    contest, entries = ballot
    gallery = f"/c/{contest.slug}/entries?sort=votes"
    html = text(client.get(gallery))
    assert html.count('name="vt"') == 3 and "今日还可投 5 票" in html
    response = cast_from_page(client, clock, contest, entries[2], page=gallery,
                              next=f"/c/{contest.slug}/entries?sort=votes")
    assert response.status_code == 302 and response.headers["Location"] == gallery
    assert votes_stored() == 1
    # most votes first
    html = text(client.get(gallery))
    assert html.index(f"/entries/{entries[2].id}\"") < html.index(f"/entries/{entries[0].id}\"")


def test_the_time_on_page_reaches_anti_fraud(client, ballot, voter, clock, monkeypatch):
    contest, entries = ballot
    seen = []
    original = voting.antifraud.assess_vote
    monkeypatch.setattr(voting.antifraud, "assess_vote", lambda s, r, signals, now: seen.append(signals) or original(s, r, signals, now))
    cast_from_page(client, clock, contest, entries[0])
    assert (clock.now() - seen[0].viewed_at) == timedelta(seconds=10)
    # a forged token is no token
    post_vote(client, contest.slug, entries[1].id, vt="forged")
    assert seen[1].viewed_at is None


def test_the_json_answer_for_the_script(app, client, ballot, voter, clock):
    contest, entries = ballot
    html = text(client.get(page_url(contest, entries[0])))
    clock.advance(seconds=10)
    response = client.post(f"/c/{contest.slug}/entries/{entries[0].id}/vote", headers={"Accept": "application/json"},
                           data={"csrf_token": CSRF_RE.search(html).group(1), "vt": VT_RE.search(html).group(1)})
    assert response.status_code == 201
    body = response.get_json()
    assert body["votes"] == 1 and body["votes_left_today"] == 4 and len(body["receipt"]) == 12
    assert body["votes_left_text"] == "今日还可投 4 票"
    again = client.post(f"/c/{contest.slug}/entries/{entries[0].id}/vote", headers={"Accept": "application/json"},
                        data={"csrf_token": CSRF_RE.search(html).group(1)})
    assert again.status_code == 409 and again.get_json()["error"]["code"] == "already_voted"


# --- refusals: status, message, nothing stored ---------------------------------------------

def assert_refused(response, status, message):
    assert response.status_code == status, text(response)[:400]
    assert message in text(response)
    assert votes_stored() == 0 and quota_used() == (0, 0)


def test_refused_outside_the_voting_window(client, make_contest, make_entry, voter):
    contest = make_contest(kind="media", stage="judging")
    entry = make_entry(contest)
    page = text(client.get(page_url(contest, entry)))
    assert "投票已结束" in page and "投一票" not in page
    assert_refused(post_vote(client, contest.slug, entry.id), 403, "现在不在投票时间内")


def test_refused_before_the_window_opens(client, make_contest, make_entry, voter):
    contest = make_contest(kind="media", stage="submission")
    entry = make_entry(contest)
    assert "投票将于" in text(client.get(page_url(contest, entry)))
    assert_refused(post_vote(client, contest.slug, entry.id), 403, "现在不在投票时间内")


def test_refused_twice_for_one_entry_on_one_day(client, ballot, voter, clock):
    contest, entries = ballot
    assert cast_from_page(client, clock, contest, entries[0]).status_code == 302
    response = cast_from_page(client, clock, contest, entries[0])
    assert response.status_code == 409
    assert "今天已经为这件作品投过票了，明天再来吧。" in text(response)
    assert votes_stored() == 1 and quota_used() == (1, 1)


def test_refused_beyond_the_daily_quota(client, ballot, voter, clock):
    contest, entries = ballot
    set_rules(contest, clock, votes_per_day=2)
    for entry in entries[:2]:
        assert cast_from_page(client, clock, contest, entry).status_code == 302
    response = cast_from_page(client, clock, contest, entries[2])
    assert response.status_code == 429
    assert "今天的 2 票已经用完了，明天再来吧。" in text(response)
    assert "今日还可投 0 票" in text(response)
    assert votes_stored() == 2 and quota_used() == (2, 2)


def test_refused_for_an_unverified_account(client, ballot, voter):
    contest, entries = ballot
    voter.phone_verified_at = None
    db.session.commit()
    assert_refused(post_vote(client, contest.slug, entries[0].id), 403, "请先完成手机验证再投票。")


@pytest.mark.parametrize("status", ["submitted", "rejected", "withdrawn"])
def test_refused_for_an_entry_not_approved(client, ballot, make_entry, voter, status):
    contest, _entries = ballot
    entry = make_entry(contest, status=status)
    assert_refused(post_vote(client, contest.slug, entry.id), 403, "这件作品目前不能投票。")


def test_refused_for_an_unknown_entry_or_another_contests_slug(client, ballot, make_contest, voter):
    contest, entries = ballot
    assert_refused(post_vote(client, contest.slug, 999999), 404, "没有找到这件作品。")
    other = make_contest(kind="media", stage="voting")
    assert_refused(post_vote(client, other.slug, entries[0].id), 404, "没有找到这件作品。")


def test_refused_without_a_csrf_token(client, ballot, voter):
    contest, entries = ballot
    response = client.post(f"/c/{contest.slug}/entries/{entries[0].id}/vote", data={})
    assert_refused(response, 400, "页面已过期或来源不明")


def test_anonymous_voters_are_sent_to_log_in(client, ballot):
    contest, entries = ballot
    page = text(client.get(page_url(contest, entries[0])))
    assert "登录后投票" in page and 'name="vt"' not in page
    response = client.post(f"/c/{contest.slug}/entries/{entries[0].id}/vote",
                           data={"csrf_token": csrf_token(client, "/account/login")})
    assert response.status_code == 302 and response.headers["Location"].startswith("/account/login")
    assert votes_stored() == 0


def test_captcha_when_the_rules_ask_for_it(app, client, ballot, voter, clock):
    contest, entries = ballot
    set_rules(contest, clock, captcha_mode="always")
    response = cast_from_page(client, clock, contest, entries[0])
    html = text(response)
    assert_refused(response, 403, "请先完成图形验证码。")
    captcha_id = re.search(r'name="captcha_id" value="([^"]+)"', html).group(1)
    assert f'src="/captcha/{captcha_id}.png"' in html and f'href="/captcha/{captcha_id}.wav"' in html
    assert 'name="captcha_answer"' in html
    assert 'data-captcha-refresh data-url="/captcha" data-purpose="vote" hidden>换一张</button>' in html
    assert re.search(r'<script src="/static/js/captcha\.js\?v=[0-9a-f]{12}" defer></script>', html)
    assert client.get(f"/captcha/{captcha_id}.png").status_code == 200

    # a wrong answer uses the challenge up and brings a new one
    wrong = cast_from_page(client, clock, contest, entries[0], captcha_id=captcha_id, captcha_answer="WRONG")
    assert_refused(wrong, 403, "验证码不正确或已过期，请换一张再试。")
    fresh = re.search(r'name="captcha_id" value="([^"]+)"', text(wrong)).group(1)
    assert fresh != captcha_id

    answer = captcha.challenge_code(db.session, redis_client(app), fresh)
    assert cast_from_page(client, clock, contest, entries[0], captcha_id=fresh, captcha_answer=answer.lower()).status_code == 302
    assert votes_stored() == 1
    # the same challenge again: spent
    replay = cast_from_page(client, clock, contest, entries[1], captcha_id=fresh, captcha_answer=answer)
    assert replay.status_code == 403 and "验证码不正确或已过期" in text(replay)
    assert votes_stored() == 1


def test_rate_limit_per_account_with_retry_after(client, ballot, voter, clock):
    contest, entries = ballot
    token = csrf_token(client, "/")
    statuses = [client.post(f"/c/{contest.slug}/entries/{entries[0].id}/vote", data={"csrf_token": token}).status_code
                for _ in range(20)]
    assert statuses[0] == 302 and set(statuses[1:]) == {409}
    response = client.post(f"/c/{contest.slug}/entries/{entries[1].id}/vote", data={"csrf_token": token})
    assert response.status_code == 429
    assert "投票太频繁，请稍后再试。" in text(response)
    assert 0 < int(response.headers["Retry-After"]) <= 60
    assert votes_stored() == 1


def test_rate_limit_per_address_across_accounts(app, client, ballot, make_user, clock):
    """Two phones behind one address (each its own cookies): 30 vote requests a minute between them."""
    contest, entries = ballot
    users = [make_user() for _ in range(2)]
    clock.advance(hours=3)
    statuses = []
    for user in users:
        phone = app.test_client()  # an IsolatedClient, like `client`
        login(phone, user)
        token = csrf_token(phone, "/")
        statuses += [phone.post(f"/c/{contest.slug}/entries/{entries[0].id}/vote", data={"csrf_token": token}).status_code
                     for _ in range(15 if user is users[0] else 16)]
    assert statuses.count(429) == 1 and statuses[-1] == 429, statuses
    assert votes_stored() == 2


# --- counts and the leaderboard ------------------------------------------------------------

@pytest.fixture
def cast(app, clock):
    """Votes cast through the service, committed and counted live, as the view does."""
    def run(voter, entry):
        if isinstance(voter, int):
            voter = db.session.get(User, voter)
        entry_id = entry if isinstance(entry, int) else entry.id
        result = voting.record_vote(db.session, voter=voter, entry_id=entry_id, now=clock.now())
        tally = live.LiveVote.of(result)
        db.session.commit()
        live.after_vote_committed(redis_client(app), tally)
        return result
    return run


def standings(html):
    """(rank, title, votes or None) of each leaderboard row."""
    rows = re.findall(r'<li value="(\d+)".*?<a href="[^"]+">([^<]+)</a>.*?(?:<strong>(\d+)</strong>.*?)?</li>', html, re.S)
    return [(int(rank), title, int(votes) if votes else None) for rank, title, votes in rows]


def test_the_leaderboard_ranks_by_valid_votes_per_contest_and_category(client, ballot, make_user, cast, make_entry, clock):
    contest, entries = ballot
    photo, video = contest.categories
    voters = [make_user() for _ in range(3)]
    for voter in voters:
        cast(voter, entries[2])
    for voter in voters[:2]:
        cast(voter, entries[0])
        cast(voter, entries[1])
    held = voting.record_vote(db.session, voter=make_user(), entry_id=entries[0].id, now=clock.now(),
                            verdict=voting.Verdict(action="hold", reasons=("test",)))
    db.session.commit()
    assert held.vote.status == "held"
    withdrawn = make_entry(contest, category_id=photo.id)
    for voter in voters:
        cast(voter, withdrawn)
    withdrawn.status = "withdrawn"
    db.session.commit()

    html = text(client.get(f"/c/{contest.slug}/leaderboard"))
    t = {e.id: e.title for e in entries}
    assert standings(html) == [(1, t[entries[2].id], 3), (2, t[entries[0].id], 2), (2, t[entries[1].id], 2)]
    html = text(client.get(f"/c/{contest.slug}/leaderboard?category={photo.id}"))
    assert standings(html) == [(1, t[entries[0].id], 2), (1, t[entries[1].id], 2)]
    assert "摄影作品 排行榜" in html
    html = text(client.get(f"/c/{contest.slug}/leaderboard?category={video.id}"))
    assert standings(html) == [(1, t[entries[2].id], 3)]
    # an unknown category is the whole contest
    assert len(standings(text(client.get(f"/c/{contest.slug}/leaderboard?category=abc")))) == 3


def test_the_leaderboard_runs_a_bounded_number_of_queries(client, ballot, make_user, make_entry, cast, count_queries):
    contest, entries = ballot
    entry_ids = [e.id for e in entries + [make_entry(contest) for _ in range(10)]]
    voter_ids = [make_user().id for _ in range(3)]
    for entry_id in entry_ids[:3]:
        cast(voter_ids[0], entry_id)
    url = f"/c/{contest.slug}/leaderboard"
    client.get(url)
    cast(make_user().id, entry_ids[0])  # renews the shared copy the first request left
    db.session.remove()
    with count_queries() as few:
        client.get(url)
    for voter_id in voter_ids[1:]:
        for entry_id in entry_ids[3:8]:
            cast(voter_id, entry_id)
    db.session.remove()
    with count_queries() as many:
        assert len(standings(text(client.get(url)))) == 8
    assert len(many) <= len(few) + 1 and len(many) <= 6, many


def test_no_leaderboard_without_a_public_vote(client, make_contest):
    contest = make_contest(kind="innovation", stage="judging")
    response = client.get(f"/c/{contest.slug}/leaderboard")
    assert response.status_code == 404 and "这项活动不设公众投票" in text(response)


def test_counts_hide_in_the_last_hours_before_close(client, ballot, make_user, cast, clock):
    contest, entries = ballot
    cast(make_user(), entries[1])
    _start, end = contest.window("voting")
    clock.set(end - timedelta(hours=23))
    page = text(client.get(page_url(contest, entries[1])))
    assert "投票截止前 24 小时起暂停公布票数" in page and "data-vote-count" not in page
    gallery = text(client.get(f"/c/{contest.slug}/entries"))
    assert "data-vote-count" not in gallery
    board = text(client.get(f"/c/{contest.slug}/leaderboard"))
    assert standings(board) == [(1, entries[1].title, None)] and "排名仍按实时票数更新" in board
    # a day and a bit before the close they still show
    clock.set(end - timedelta(hours=25))
    assert f'data-vote-count="{entries[1].id}">1<' in text(client.get(page_url(contest, entries[1])))
    # after the close the final counts are public again
    clock.set(end + timedelta(minutes=1))
    assert standings(text(client.get(f"/c/{contest.slug}/leaderboard"))) == [(1, entries[1].title, 1)]


def test_counts_never_shown_when_the_rules_say_so(client, ballot, make_user, cast, clock):
    contest, entries = ballot
    set_rules(contest, clock, counts_public=False)
    cast(make_user(), entries[0])
    page = text(client.get(page_url(contest, entries[0])))
    assert "本活动不公布实时票数" in page and "data-vote-count" not in page
    assert standings(text(client.get(f"/c/{contest.slug}/leaderboard"))) == [(1, entries[0].title, None)]


# --- receipts ------------------------------------------------------------------------------

def test_the_receipt_page_through_its_states(client, ballot, make_user, cast, clock):
    contest, entries = ballot
    voter = make_user()
    result = cast(voter, entries[0])
    code = result.vote.receipt
    lookup = client.get("/receipts")
    assert lookup.status_code == 200 and 'name="code"' in text(lookup)
    assert client.get(f"/receipts?code= {code.lower()} ").headers["Location"] == f"/receipts/{code}"

    html = text(client.get(f"/receipts/{code}"))
    assert "已计入票数" in html and entries[0].title in html and "尚未封存（几秒后再查）" in html
    assert voter.phone not in html and (voter.display_name or voter.phone) not in html

    clock.advance(seconds=5)
    block = ledger.seal_pending(db.session, now=clock.now())
    db.session.commit()
    html = text(client.get(f"/receipts/{code}"))
    assert "证明验算通过：这条记录包含在区块 #1 中。" in html and block.hash in html and "尚未封存" not in html

    vote_id = committed(select(Vote.id))
    voting.change_status(db.session, actor=SYSTEM, vote_ids=[vote_id], to="voided", reason="同一设备多账号", now=clock.now())
    db.session.commit()
    html = text(client.get(f"/receipts/{code}"))
    assert "已作废" in html and "作废" in html and "尚未封存" in html and "同一设备多账号" not in html

    held = voting.record_vote(db.session, voter=make_user(), entry_id=entries[1].id, now=clock.now(),
                            verdict=voting.Verdict(action="hold", reasons=("test",)))
    db.session.commit()
    assert "待核实" in text(client.get(f"/receipts/{held.vote.receipt}"))


@pytest.mark.parametrize("code", ["NOSUCHCODE22", "abc", "x" * 30, "ABC-DEF"])
def test_an_unknown_receipt(client, code):
    response = client.get(f"/receipts/{code}")
    assert response.status_code == 404 and "没有找到这个投票凭证" in text(response)
