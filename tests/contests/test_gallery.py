"""The public gallery: only approved entries, search, filters, sorting, paging, bounded queries."""

from __future__ import annotations

import re

import pytest

from contest.contests.models import Entry
from contest.extensions import db
from contest.voting import live
from contest.voting import service as voting
from tests.conftest import redis_client
from tests.video_entries import add_video


def titles(page) -> list[str]:  # type: ignore[no-untyped-def]
    html = page.get_data(as_text=True)
    gallery = re.search(r'<ul class="gallery">(.*?)</ul>', html, re.S)
    assert gallery, html[:300]
    return re.findall(r"<h3>(.*?)</h3>", gallery.group(1))


def total(page) -> int:  # type: ignore[no-untyped-def]
    match = re.search(r"共 (\d+) 件作品", page.get_data(as_text=True))
    assert match
    return int(match.group(1))


def gallery_of(client, contest):  # type: ignore[no-untyped-def]
    def get(**params: str):  # type: ignore[no-untyped-def]
        return client.get(f"/c/{contest.slug}/entries", query_string=params)
    get.contest = contest  # type: ignore[attr-defined]
    return get


@pytest.fixture
def gallery(client, make_contest):  # type: ignore[no-untyped-def]
    """The gallery of a contest citizens enter (全民美拍)."""
    return gallery_of(client, make_contest())


@pytest.fixture
def school_gallery(client, make_contest):  # type: ignore[no-untyped-def]
    """The gallery of a contest schools enter (最美职校生): it filters by school and district."""
    return gallery_of(client, make_contest(kind="selection"))


def test_only_approved_entries_appear(gallery, make_entry):
    contest = gallery.contest
    make_entry(contest, title="通过的作品")
    for status in ("draft", "submitted", "rejected", "withdrawn"):
        make_entry(contest, status=status, title=f"状态{status}")
    page = gallery()
    assert page.status_code == 200
    assert titles(page) == ["通过的作品"]
    assert total(page) == 1
    assert "状态" not in page.get_data(as_text=True)


def test_entries_of_other_contests_do_not_appear(gallery, make_contest, make_entry):
    make_entry(gallery.contest, title="本活动作品")
    make_entry(make_contest(), title="别的活动作品")
    assert titles(gallery()) == ["本活动作品"]


def test_empty_gallery_says_nothing_found(gallery):
    page = gallery()
    assert page.status_code == 200
    assert "没有找到符合条件的作品。" in page.get_data(as_text=True)
    assert total(page) == 0


def test_search_by_title_school_and_nominee(gallery, make_entry, make_school):
    contest = gallery.contest
    make_entry(contest, title="泉城夜色", school=make_school("济南信息工程学校"))
    make_entry(contest, title="钢铁匠心", school=make_school("济南理工职业学校"), nominee="李小红")
    make_entry(contest, title="面点师傅", nominee="王大明")
    assert titles(gallery(q="夜色")) == ["泉城夜色"]
    assert titles(gallery(q="理工")) == ["钢铁匠心"]
    assert titles(gallery(q="大明")) == ["面点师傅"]
    assert sorted(titles(gallery(q="济南"))) == ["泉城夜色", "钢铁匠心"]
    assert titles(gallery(q="  夜色  ")) == ["泉城夜色"]  # surrounding spaces are ignored
    assert titles(gallery(q="不存在的词")) == []


def test_search_is_case_insensitive_for_latin_letters(gallery, make_entry):
    make_entry(gallery.contest, title="My Robot Arm")
    assert titles(gallery(q="robot")) == ["My Robot Arm"]


def test_search_keeps_the_query_in_the_box(gallery):
    html = gallery(q='"><script>x</script>').get_data(as_text=True)
    assert "<script>x</script>" not in html
    assert 'value="&#34;&gt;&lt;script&gt;x&lt;/script&gt;"' in html


def test_like_wildcards_are_taken_literally(gallery, make_entry):
    contest = gallery.contest
    make_entry(contest, title="100%纯手工")
    make_entry(contest, title="纯手工")
    make_entry(contest, title="a_b 作品")
    make_entry(contest, title="axb 作品")
    make_entry(contest, title="反斜杠\\作品")
    assert titles(gallery(q="%")) == ["100%纯手工"]
    assert titles(gallery(q="0%纯")) == ["100%纯手工"]
    assert titles(gallery(q="a_b")) == ["a_b 作品"]
    assert titles(gallery(q="_")) == ["a_b 作品"]
    assert titles(gallery(q="\\")) == ["反斜杠\\作品"]


def test_an_over_long_search_is_refused(gallery, make_entry):
    make_entry(gallery.contest, title="作" * 10)
    page = gallery(q="作" * 51)
    assert page.status_code == 400
    html = page.get_data(as_text=True)
    assert "搜索内容太长了，请不要超过 50 个字。" in html
    assert "请求未能完成" in html
    # exactly fifty is fine
    assert gallery(q="作" * 50).status_code == 200


def test_over_long_search_as_json(client, make_contest):
    contest = make_contest()
    page = client.get(f"/c/{contest.slug}/entries", query_string={"q": "x" * 51}, headers={"Accept": "application/json"})
    assert page.status_code == 400
    assert page.get_json() == {"error": {"code": "query_too_long", "message": "搜索内容太长了，请不要超过 50 个字。"}}


def test_filter_by_category_school_and_district(school_gallery, make_entry, make_school):
    contest = school_gallery.contest
    photo, video = contest.categories
    lixia = make_school("历下职业学校", district="历下区")
    zhangqiu = make_school("章丘职业学校", district="章丘区")
    make_entry(contest, title="历下照片", school=lixia, category_id=photo.id)
    make_entry(contest, title="历下视频", school=lixia, category_id=video.id)
    make_entry(contest, title="章丘照片", school=zhangqiu, category_id=photo.id)
    assert sorted(titles(school_gallery(category=str(photo.id)))) == ["历下照片", "章丘照片"]
    assert titles(school_gallery(category=str(video.id))) == ["历下视频"]
    assert sorted(titles(school_gallery(school=str(lixia.id)))) == ["历下照片", "历下视频"]
    assert titles(school_gallery(district="章丘区")) == ["章丘照片"]
    assert titles(school_gallery(district="历下区", category=str(photo.id))) == ["历下照片"]
    # combined with a search
    assert titles(school_gallery(q="照片", school=str(zhangqiu.id))) == ["章丘照片"]


def test_filter_options_list_schools_and_districts_with_entries(school_gallery, make_entry, make_school):
    contest = school_gallery.contest
    make_entry(contest, school=make_school("有作品的学校", district="天桥区"))
    make_school("没有作品的学校", district="商河县")
    make_entry(contest, status="rejected", school=make_school("被驳回的学校", district="平阴县"))
    html = school_gallery().get_data(as_text=True)
    assert "有作品的学校" in html and "<option >天桥区</option>" in html
    for hidden in ("没有作品的学校", "商河县", "被驳回的学校", "平阴县"):
        assert hidden not in html


def test_bad_filters_are_ignored_or_match_nothing(gallery, make_entry):
    make_entry(gallery.contest, title="唯一作品")
    for params in ({"category": "abc"}, {"category": "-1"}, {"school": "99999999999"}, {"district": "不存在区"},
                   {"sort": "evil"}, {"school": "1e3"}):
        page = gallery(**params)
        assert page.status_code == 200, params
        assert titles(page) == ["唯一作品"], params
    # a well-formed id that matches nothing gives an empty page, not an error
    assert titles(gallery(category="99999")) == []


def test_sort_newest_oldest_and_title(gallery, make_entry):
    contest = gallery.contest
    # published one after another: Charlie first, then Alpha, then Bravo
    make_entry(contest, title="Charlie", published_offset=1)
    make_entry(contest, title="Alpha", published_offset=2)
    make_entry(contest, title="Bravo", published_offset=3)
    assert titles(gallery()) == ["Bravo", "Alpha", "Charlie"]
    assert titles(gallery(sort="newest")) == ["Bravo", "Alpha", "Charlie"]
    assert titles(gallery(sort="oldest")) == ["Charlie", "Alpha", "Bravo"]
    assert titles(gallery(sort="title")) == ["Alpha", "Bravo", "Charlie"]


def test_pagination_second_page_shows_the_rest(gallery, make_entry):
    contest = gallery.contest
    for n in range(14):
        make_entry(contest, title=f"作品{n:02d}", published_offset=n + 1)
    first = gallery()
    assert titles(first) == [f"作品{n:02d}" for n in range(13, 1, -1)]
    assert total(first) == 14
    html = first.get_data(as_text=True)
    assert "第 1 / 2 页" in html
    assert 'rel="next"' in html and 'rel="prev"' not in html
    second = gallery(page="2")
    assert titles(second) == ["作品01", "作品00"]
    assert 'rel="prev"' in second.get_data(as_text=True)
    assert set(titles(first)).isdisjoint(titles(second))


def test_pager_links_keep_the_filters(gallery, make_entry):
    for n in range(13):
        make_entry(gallery.contest, title=f"夜景{n}")
    html = gallery(q="夜景", sort="title").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" rel="next">', html)
    assert link
    assert "page=2" in link.group(1) and "sort=title" in link.group(1) and "q=" in link.group(1)


def test_pager_links_stay_in_this_contest(gallery, make_entry):
    for n in range(13):
        make_entry(gallery.contest, title=f"作品{n}")
    html = gallery(slug="another-contest").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" rel="next">', html)
    assert link
    assert link.group(1).startswith(f"/c/{gallery.contest.slug}/entries?")


@pytest.mark.parametrize("sort", ["newest", "oldest", "title"])
def test_next_links_walk_every_page_by_keyset_as_the_numbers_do(client, gallery, make_entry, count_queries, sort):  # type: ignore[no-untyped-def]
    # Equal titles and equal publication times: the id breaks the tie, as in the order.
    for n in range(40):
        make_entry(gallery.contest, title=f"作品{n % 7}", published_offset=1 + n % 5)
    by_number = [titles(gallery(sort=sort, page=str(p))) for p in range(1, 5)]
    url, walked = f"/c/{gallery.contest.slug}/entries?sort={sort}", []
    while url:
        with count_queries() as statements:
            page = client.get(url)
        walked.append(titles(page))
        if "after=" in url:  # a page reached by its cursor seeks to where the last one ended
            assert any(re.search(r"\(entry\.\w+ [<>] .+? OR entry\.\w+ = .+? AND entry\.id [<>] ", s)
                       for s in statements), statements
        link = re.search(r'<a href="([^"]+)" rel="next">', page.get_data(as_text=True))
        url = link.group(1).replace("&amp;", "&") if link else ""
        assert not url or "after=" in url
    assert walked == by_number and len({t for page in walked for t in page}) == 7
    assert sum(len(page) for page in walked) == 40


def test_a_bad_or_foreign_cursor_falls_back_to_the_page_number(gallery, make_entry):  # type: ignore[no-untyped-def]
    for n in range(14):
        make_entry(gallery.contest, title=f"作品{n:02d}", published_offset=n + 1)
    html = gallery(sort="title").get_data(as_text=True)
    cursor = re.search(r'after=([^"&]+)', html).group(1)  # type: ignore[union-attr]
    expected = titles(gallery(sort="title", page="2"))
    for after in ("not-a-cursor", "%%%", cursor + "x", "W10", cursor):
        response = gallery(sort="newest" if after == cursor else "title", page="2", after=after)
        assert response.status_code == 200
        if after != cursor:
            assert titles(response) == expected
    assert titles(gallery(sort="newest", page="2", after=cursor)) == titles(gallery(sort="newest", page="2"))


def test_odd_page_numbers_are_clamped_never_an_error(gallery, make_entry):
    for n in range(13):
        make_entry(gallery.contest, title=f"作品{n:02d}", published_offset=n + 1)
    cases = [("-1", 1), ("0", 1), ("abc", 1), ("", 1), ("1.5", 1), ("99999", 2), ("9" * 30, 1), ("2", 2), ("%00", 1)]
    for raw, expected_page in cases:
        page = gallery(page=raw)
        assert page.status_code == 200, raw
        assert f"第 {expected_page} / 2 页" in page.get_data(as_text=True), raw
        assert len(titles(page)) == (12 if expected_page == 1 else 1), raw


@pytest.mark.parametrize("kind", ["selection", "media"])
def test_gallery_runs_a_bounded_number_of_queries(client, make_contest, make_entry, make_school, make_user, count_queries,
                                                  kind):
    small, large = make_contest(kind=kind), make_contest(kind=kind)
    for contest, n in ((small, 2), (large, 12)):
        category = contest.categories[0]
        for i in range(n):
            if kind == "selection":
                make_entry(contest, school=make_school(), category_id=category.id, nominee=f"选手{i}")
            else:  # each card names its author
                entry = make_entry(contest, category_id=category.id)
                db.session.get(Entry, entry.id).submitted_by_id = make_user(name=f"作者{contest.id}-{i}").id
                db.session.commit()
    small_url, large_url = f"/c/{small.slug}/entries", f"/c/{large.slug}/entries"
    # Warm up: the connection, and the live leaderboard each contest builds from the
    # database on its first read when Redis is configured.
    client.get(small_url)
    client.get(large_url)
    # The test shares the request's session: start both requests from an empty one.
    db.session.remove()
    with count_queries() as few:
        page = client.get(small_url)
    assert len(titles(page)) == 2
    db.session.remove()
    with count_queries() as many:
        page = client.get(large_url)
    assert len(titles(page)) == 12
    assert ("选手11" if kind == "selection" else f"作者：作者{large.id}-11") in page.get_data(as_text=True)
    assert len(many) == len(few), (few, many)
    assert len(many) <= 8


def test_gallery_shows_school_nominee_and_category_on_cards(school_gallery, make_entry, make_school):
    contest = school_gallery.contest
    entry = make_entry(contest, title="卡片作品", school=make_school("卡片学校"), nominee="张三",
                       category_id=contest.categories[0].id)
    html = school_gallery().get_data(as_text=True)
    assert f'href="/c/{contest.slug}/entries/{entry.id}"' in html
    assert "张三 · 卡片学校" in html
    assert '<span class="chip">摄影作品</span>' in html


def test_gallery_shows_a_cover_when_the_entry_has_one(gallery, make_entry):
    entry = make_entry(gallery.contest)
    key = "a" * 64 + ".jpg"
    db.session.get(Entry, entry.id).cover_key = key
    db.session.commit()
    assert f'src="/media/{key}"' in gallery().get_data(as_text=True)


def test_a_video_entry_card_has_the_video_badge_and_the_poster(app, gallery, make_entry):
    contest = gallery.contest
    clip = make_entry(contest, title="一分钟学会清洗空调滤网", category_id=contest.categories_of("category")[1].id)
    video = add_video(app, clip)
    make_entry(contest, title="毫厘之间")
    html = gallery().get_data(as_text=True)
    cards = {title: card for card, title in re.findall(r'<li class="card entry-card">(.*?<h3>(.*?)</h3>)', html, re.S)}
    card = cards["一分钟学会清洗空调滤网"]
    assert f'<img src="/media/{video.thumb_key}"' in card  # the poster frame's thumbnail
    badge = re.search(r'<span class="video-badge">(.*?)</span>\s*</span>', card, re.S)
    assert badge, card
    assert '<svg viewBox="0 0 16 16"' in badge.group(1) and 'aria-hidden="true"' in badge.group(1)
    assert "视频" in badge.group(1) and '<span class="video-length">0:02' in badge.group(1)
    assert "video-badge" not in cards["毫厘之间"]


# --- a contest citizens enter (全民美拍) and one schools enter (最美职校生) -------------------------


def _entered_by(entry: Entry, user) -> None:  # type: ignore[no-untyped-def]
    db.session.get(Entry, entry.id).submitted_by_id = user.id
    db.session.commit()


def test_a_citizens_contest_filters_by_category_and_search_not_by_school(gallery, make_entry, make_school):
    contest = gallery.contest
    photo = contest.categories[0]
    make_entry(contest, title="泉城夜色", category_id=photo.id)
    html = gallery().get_data(as_text=True)
    assert 'name="category"' in html and 'name="q"' in html and 'placeholder="作品名或作者昵称"' in html
    assert 'name="school"' not in html and 'name="district"' not in html and "区县" not in html
    # a school or district in the address is not a filter of this gallery
    school = make_school("某职业学校", district="章丘区")
    assert titles(gallery(school=str(school.id))) == ["泉城夜色"]
    assert titles(gallery(district="章丘区")) == ["泉城夜色"]
    assert titles(gallery(category=str(photo.id))) == ["泉城夜色"]


def test_a_schools_contest_keeps_its_school_and_district_filters(school_gallery, make_entry, make_school):
    make_entry(school_gallery.contest, title="钢铁匠心", school=make_school("济南理工职业学校", district="天桥区"))
    html = school_gallery().get_data(as_text=True)
    assert 'name="school"' in html and 'name="district"' in html and "济南理工职业学校" in html
    assert 'placeholder="作品名、学校或选手姓名"' in html and "作者：" not in html


def test_a_citizens_entry_shows_its_authors_display_name_and_never_a_phone(client, gallery, make_entry, make_user, clock):
    contest = gallery.contest
    author = make_user(name="泉城摄影人", phone="13912345678")
    entry = make_entry(contest, title="泉城夜色")
    _entered_by(entry, author)
    nameless = make_entry(contest, title="无名之作")
    _entered_by(nameless, make_user(phone="13912345679"))
    page = gallery().get_data(as_text=True)
    cards = {title: card for card, title in re.findall(r'<li class="card entry-card">(.*?<h3>(.*?)</h3>.*?)</li>', page, re.S)}
    assert "作者：泉城摄影人" in cards["泉城夜色"] and "作者：未署名" in cards["无名之作"]
    detail = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert "作者：泉城摄影人" in detail
    nameless_detail = client.get(f"/c/{contest.slug}/entries/{nameless.id}").get_data(as_text=True)
    assert "作者：未署名" in nameless_detail
    voting.record_vote(db.session, voter=make_user(), entry_id=entry.id, now=clock.now())
    db.session.commit()
    redis = redis_client(client.application)
    if redis is not None:  # record_vote leaves the live boards to their next rebuild
        live.invalidate(redis, contest.id)
    board = client.get(f"/c/{contest.slug}/leaderboard").get_data(as_text=True)
    assert "作者：泉城摄影人" in board
    for html in (page, detail, nameless_detail, board):
        for phone in ("13912345678", "13912345679", "139****5678", "139****5679"):
            assert phone not in html


def test_a_citizens_contest_is_searched_by_its_authors_display_name(gallery, make_entry, make_user):
    entry = make_entry(gallery.contest, title="晨光")
    _entered_by(entry, make_user(name="泉城摄影人", phone="13912340077"))
    make_entry(gallery.contest, title="暮色")
    assert titles(gallery(q="摄影人")) == ["晨光"]
    assert titles(gallery(q="13912340077")) == []  # never the phone


def test_a_school_contacts_name_is_neither_shown_nor_searched(school_gallery, make_entry, make_school, make_user):
    entry = make_entry(school_gallery.contest, title="钢铁匠心", school=make_school("济南理工职业学校"))
    _entered_by(entry, make_user("school_contact", name="联络人老王"))
    assert titles(school_gallery(q="老王")) == []
    assert "联络人老王" not in school_gallery().get_data(as_text=True)
