import re

from contest.extensions import db


def test_home_lists_contests(client, make_contest):
    make_contest(kind="media", title="全民美拍测试")
    page = client.get("/")
    assert page.status_code == 200
    assert "全民美拍测试" in page.get_data(as_text=True)


def _card(html: str, title: str) -> str:
    match = re.search(r'<li class="card contest-card[^"]*">(?:(?!</li>).)*?' + re.escape(title) + r"(?:(?!</li>).)*</li>", html, re.S)
    assert match, f"no card for {title}"
    return match.group(0)


def test_home_shows_each_contests_current_stage(client, make_contest, make_entry):
    voting = make_contest(stage="voting", title="投票中的活动")
    make_contest(stage="judging", title="评审中的活动")
    make_contest(stage="publicity", title="公示中的活动")
    make_contest(stage="closed", title="结束的活动")
    make_contest(stage="upcoming", title="未开始的活动")
    make_entry(voting)
    make_entry(voting)
    make_entry(voting, status="submitted")
    html = client.get("/").get_data(as_text=True)
    assert '<span class="badge stage-voting">公众投票</span>' in _card(html, "投票中的活动")
    assert '<span class="badge stage-judging">专家评审</span>' in _card(html, "评审中的活动")
    assert '<span class="badge stage-publicity">结果公示</span>' in _card(html, "公示中的活动")
    assert '<span class="badge stage-closed">已结束</span>' in _card(html, "结束的活动")
    assert '<span class="badge stage-upcoming">即将开始</span>' in _card(html, "未开始的活动")
    # only approved entries are counted
    assert "2 件作品" in _card(html, "投票中的活动")
    assert "0 件作品" in _card(html, "评审中的活动")


def test_home_stage_follows_the_clock(client, clock, make_contest):
    make_contest(stage="voting", title="会变的活动")
    assert "stage-voting" in _card(client.get("/").get_data(as_text=True), "会变的活动")
    clock.advance(days=3)
    assert "stage-judging" in _card(client.get("/").get_data(as_text=True), "会变的活动")


def test_home_hides_unpublished_contests(client, make_contest):
    hidden = make_contest(title="未公开的活动")
    hidden.is_published = False
    db.session.commit()
    make_contest(title="公开的活动")
    html = client.get("/").get_data(as_text=True)
    assert "公开的活动" in html
    assert "未公开的活动" not in html


def test_home_without_contests_says_so(client):
    page = client.get("/")
    assert page.status_code == 200
    assert "活动即将上线，敬请期待。" in page.get_data(as_text=True)
