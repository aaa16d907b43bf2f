"""Contests, entries and one entry: public data only, bounded pages, bounded queries."""

from __future__ import annotations

import pytest

from contest.extensions import db
from tests.api.conftest import PREFIX, error_of


def test_contests_in_display_order_with_stage_windows_and_counts(api, make_contest, make_entry):
    first = make_contest(stage="voting", title="全民美拍", position=1)
    second = make_contest(kind="selection", stage="submission", title="最美职校生", position=2)
    make_contest(title="未发布的活动", is_published=False)
    make_entry(first)
    make_entry(first)
    make_entry(first, status="submitted")
    response = api.get(PREFIX + "/contests")
    assert response.status_code == 200
    items = response.get_json()["items"]
    assert [c["slug"] for c in items] == [first.slug, second.slug]
    assert items[0]["entries_count"] == 2 and items[1]["entries_count"] == 0
    assert items[0]["stage"]["current"] == "voting" and items[0]["stage"]["active"] == ["voting"]
    assert items[1]["stage"]["next_stage"] == "review"
    assert items[0]["windows"]["voting"]["starts_at"].endswith("+08:00")
    assert [c["name"] for c in items[0]["categories"]] == ["摄影作品", "短视频"]
    assert items[0]["url"] == f"http://localhost/c/{first.slug}"


def test_the_contest_list_runs_a_fixed_number_of_queries(api, make_contest, count_queries):
    make_contest()
    with count_queries() as few:
        api.client.get(PREFIX + "/contests")
    for _ in range(5):
        make_contest()
    with count_queries() as many:
        api.client.get(PREFIX + "/contests")
    # the contests' schedules (for the shared page cache), contests, their categories, their
    # co-organising units, entry counts
    assert len(many) == len(few) == 5


@pytest.fixture
def gallery(make_contest, make_entry, make_school):  # type: ignore[no-untyped-def]
    contest = make_contest()
    school = make_school("济南信息工程学校")
    photo = contest.categories[0]
    entries = [make_entry(contest, title=f"作品{i:02d}", school=school if i % 2 else None,
                          category_id=photo.id if i < 10 else None) for i in range(60)]
    make_entry(contest, status="submitted", title="未审核")
    return contest, entries, photo


def test_entries_page_by_page(api, gallery):
    contest, _entries, _photo = gallery
    first = api.get(f"{PREFIX}/contests/{contest.slug}/entries").get_json()
    assert (first["page"], first["per_page"], first["pages"], first["total"]) == (1, 12, 5, 60)
    assert [e["title"] for e in first["items"]][:2] == ["作品59", "作品58"]  # newest first
    second = api.get(f"{PREFIX}/contests/{contest.slug}/entries?page=2&per_page=25").get_json()
    assert (second["page"], second["per_page"], len(second["items"])) == (2, 25, 25)
    last = api.get(f"{PREFIX}/contests/{contest.slug}/entries?page=99&per_page=25").get_json()
    assert (last["page"], len(last["items"])) == (3, 10)  # past the end: the last page
    assert "未审核" not in {e["title"] for e in first["items"] + second["items"] + last["items"]}


@pytest.mark.parametrize("query, bound", [("per_page=51", 50), ("per_page=1000", 50), ("page=10001", 10000),
                                          ("category=2147483648", 2147483647), ("school=99999999999", 2147483647)])
def test_a_number_past_its_documented_maximum_is_400_not_changed(api, gallery, query, bound):
    contest, _entries, _photo = gallery
    response = api.get(f"{PREFIX}/contests/{contest.slug}/entries?{query}")
    assert error_of(response) == (400, "invalid_parameter")
    name = query.split("=")[0]
    assert response.get_json()["error"]["message"] == f"参数“{name}”不能大于 {bound}。"
    spec = api.spec["paths"]["/contests/{slug}/entries"]["get"]["parameters"]
    assert next(p for p in spec if p["name"] == name)["schema"]["maximum"] == bound


def test_the_documented_maximums_are_served(api, gallery):
    contest, _entries, _photo = gallery
    body = api.get(f"{PREFIX}/contests/{contest.slug}/entries?per_page=50&page=10000").get_json()
    assert (body["page"], body["per_page"], len(body["items"])) == (2, 50, 10)  # past the end: the last page
    none = api.get(f"{PREFIX}/contests/{contest.slug}/entries?category=2147483647&school=2147483647").get_json()
    assert none["total"] == 0


@pytest.mark.parametrize("query, name", [("sort=popular", "sort"), ("sort=NEWEST", "sort"), ("district=朝阳区", "district"),
                                         ("district=%20历下区", "district")])
def test_a_sort_or_district_outside_its_list_is_400_not_ignored(api, gallery, query, name):
    contest, _entries, _photo = gallery
    response = api.get(f"{PREFIX}/contests/{contest.slug}/entries?{query}")
    assert error_of(response) == (400, "invalid_parameter")
    assert response.get_json()["error"]["message"].startswith(f"参数“{name}”的取值无效，可选：")


def test_every_documented_sort_and_district_is_served(api, gallery, make_school, make_entry):
    contest, _entries, _photo = gallery
    make_entry(contest, title="章丘的作品", school=make_school(district="章丘区"))
    spec = {p["name"]: p["schema"] for p in api.spec["paths"]["/contests/{slug}/entries"]["get"]["parameters"]}
    for sort in spec["sort"]["enum"]:
        assert api.get(f"{PREFIX}/contests/{contest.slug}/entries", query_string={"sort": sort}).status_code == 200
    for district in spec["district"]["enum"]:
        body = api.get(f"{PREFIX}/contests/{contest.slug}/entries", query_string={"district": district}).get_json()
        assert body["total"] == {"章丘区": 1, "历下区": 30}.get(district, 0)  # the gallery's school is in 历下区


@pytest.mark.parametrize("query", ["per_page=0", "per_page=-5", "per_page=abc", "page=0", "page=x", "page=1.5",
                                   "per_page=９", "category=abc", "page=%205"])
def test_bad_numbers_are_400(api, gallery, query):
    contest, _entries, _photo = gallery
    response = api.get(f"{PREFIX}/contests/{contest.slug}/entries?{query}")
    assert error_of(response) == (400, "invalid_parameter")
    assert "应为正整数" in response.get_json()["error"]["message"]


def test_search_and_category(api, gallery):
    contest, _entries, photo = gallery
    found = api.get(f"{PREFIX}/contests/{contest.slug}/entries", query_string={"q": "作品0"}).get_json()
    assert found["total"] == 10
    by_school = api.get(f"{PREFIX}/contests/{contest.slug}/entries", query_string={"q": "信息工程"}).get_json()
    assert by_school["total"] == 30
    assert by_school["items"][0]["school"]["name"] == "济南信息工程学校"
    photos = api.get(f"{PREFIX}/contests/{contest.slug}/entries?category={photo.id}&per_page=50").get_json()
    assert photos["total"] == 10 and {e["category"]["id"] for e in photos["items"]} == {photo.id}
    too_long = api.get(f"{PREFIX}/contests/{contest.slug}/entries", query_string={"q": "字" * 51})
    assert error_of(too_long) == (400, "query_too_long")
    # the document bounds what is sent, so spaces count too
    spaces = api.get(f"{PREFIX}/contests/{contest.slug}/entries", query_string={"q": " " * 51})
    assert error_of(spaces) == (400, "query_too_long")


def test_an_entries_page_runs_the_same_queries_at_any_size(api, gallery, count_queries):
    contest, _entries, _photo = gallery
    url = f"{PREFIX}/contests/{contest.slug}/entries"
    with count_queries() as small:
        assert api.client.get(url + "?per_page=1").status_code == 200
    with count_queries() as large:
        assert api.client.get(url + "?per_page=50").status_code == 200
    # the contest (for the shared page cache), its categories, the count, the page (with
    # schools and categories joined)
    assert len(small) == len(large) == 5


def test_unknown_or_unpublished_contest_is_404(api, make_contest):
    hidden = make_contest(is_published=False)
    for slug in ("no-such-contest", hidden.slug):
        for what in ("entries", "leaderboard"):
            assert error_of(api.get(f"{PREFIX}/contests/{slug}/{what}")) == (404, "not_found")


def test_one_entry_with_only_what_may_be_shown(api, make_contest, make_entry, make_school):
    contest = make_contest(kind="selection", stage="voting")
    entry = make_entry(contest, title="最美的她", school=make_school("济南护理学校"), nominee="李小红")
    entry.nominee.public_fields = {"major": True}  # the story is not for the public
    entry.nominee.story = "不公开的故事"
    db.session.commit()
    response = api.get(f"{PREFIX}/entries/{entry.id}")
    assert response.status_code == 200
    body = response.get_json()
    assert (body["title"], body["contest"], body["voting_open"]) == ("最美的她", contest.slug, True)
    assert body["nominee"] == {"name": "李小红", "major": "护理", "grade": "二年级", "story": None}
    assert "不公开的故事" not in response.get_data(as_text=True)
    assert body["school"]["name"] == "济南护理学校"
    assert body["url"] == f"http://localhost/c/{contest.slug}/entries/{entry.id}"


@pytest.mark.parametrize("status", ["draft", "submitted", "rejected", "withdrawn"])
def test_an_entry_that_is_not_public_is_404(api, make_contest, make_entry, status):
    entry = make_entry(make_contest(), status=status)
    response = api.get(f"{PREFIX}/entries/{entry.id}")
    assert error_of(response) == (404, "entry_not_found")


def test_unknown_entry_and_entries_of_unpublished_contests_are_404(api, make_contest, make_entry):
    hidden = make_entry(make_contest(is_published=False))
    for entry_id in (hidden.id, 987654):
        assert error_of(api.get(f"{PREFIX}/entries/{entry_id}")) == (404, "entry_not_found")


def test_a_citizens_entry_names_its_author_by_display_name_only(api, make_contest, make_entry, make_user, count_queries):
    contest = make_contest(kind="media", stage="voting")
    author = make_user(phone="13712345678", name="泉城光影")
    named = [make_entry(contest, title=f"作品{i}") for i in range(3)]
    unnamed = make_entry(contest, title="无名作品")
    for entry in named:
        entry.submitted_by_id = author.id
    unnamed.submitted_by_id = make_user().id  # no display name
    db.session.commit()

    listing = api.get(f"{PREFIX}/contests/{contest.slug}/entries")
    items = {e["title"]: e for e in listing.get_json()["items"]}
    assert items["作品0"]["author"] == "泉城光影" and items["无名作品"]["author"] is None
    assert all(e["nominee_name"] is None and e["school"] is None for e in items.values())
    detail = api.get(f"{PREFIX}/entries/{named[0].id}")
    assert detail.get_json()["author"] == "泉城光影"
    for response in (listing, detail):  # nothing else of the account
        text = response.get_data(as_text=True)
        assert "13712345678" not in text and "5678" not in text and "phone" not in text

    # The authors come with the page: the same queries at any size.
    url = f"{PREFIX}/contests/{contest.slug}/entries"
    with count_queries() as small:
        assert api.client.get(url + "?per_page=1").status_code == 200
    with count_queries() as large:
        assert api.client.get(url + "?per_page=50").status_code == 200
    assert len(small) == len(large)


def test_a_school_entry_names_the_school_and_the_nominee_not_the_account(api, make_contest, make_entry, make_school,
                                                                         make_user):
    contest = make_contest(kind="selection", stage="voting")
    entry = make_entry(contest, title="最美的她", school=make_school("济南护理学校"), nominee="李小红")
    entry.submitted_by_id = make_user("school_contact", name="赵老师").id
    db.session.commit()
    (item,) = api.get(f"{PREFIX}/contests/{contest.slug}/entries").get_json()["items"]
    detail = api.get(f"{PREFIX}/entries/{entry.id}").get_json()
    for body in (item, detail):
        assert (body["school"]["name"], body["nominee_name"], body["author"]) == ("济南护理学校", "李小红", None)
    assert "赵老师" not in api.get(f"{PREFIX}/entries/{entry.id}").get_data(as_text=True)

