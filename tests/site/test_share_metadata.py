"""Every public page says what it is to search engines and to chat apps' link cards: a
meta description, Open Graph title, description, address and picture (absolute URLs on
the public address), the entry's own cover where its pictures are public."""

from __future__ import annotations

import re
from dataclasses import replace
from html import unescape

from contest import create_app
from contest.extensions import db
from tests.conftest import IsolatedClient


def meta(html: str, name: str) -> str:
    match = re.search(rf'<meta (?:name|property|itemprop)="{re.escape(name)}" content="([^"]*)">', html)
    assert match, f"no {name} meta"
    return unescape(match.group(1))


def test_public_pages_carry_a_description_and_a_link_card(client, make_contest, make_entry):
    contest = make_contest(kind="media", stage="voting", slug="meipai-card", title="全民美拍")
    entry = make_entry(contest, title="巧手面点")
    for path in ("/", f"/c/{contest.slug}", f"/c/{contest.slug}/entries", f"/c/{contest.slug}/entries/{entry.id}"):
        html = client.get(path).get_data(as_text=True)
        description = meta(html, "description")
        assert 4 <= len(description) <= 151, (path, description)
        assert meta(html, "og:description") == description
        assert meta(html, "og:title") and meta(html, "og:url") == f"http://localhost{path}"
        assert re.fullmatch(r"http://localhost/static/img/share\.png\?v=[0-9a-f]{12}", meta(html, "og:image")), path
        assert meta(html, "image") == meta(html, "og:image")  # itemprop, which WeChat reads
    entry_page = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert meta(entry_page, "description").startswith("巧手面点") and "全民美拍" in meta(entry_page, "description")
    assert meta(entry_page, "og:title").startswith("巧手面点")


def test_the_card_shows_the_entry_cover_only_where_its_pictures_are_public(client, make_contest, make_entry):
    contest = make_contest(kind="media", stage="voting", slug="meipai-cover", title="全民美拍")
    entry = make_entry(contest, title="泉城日出")
    entry.cover_key = "a" * 64 + ".jpg"
    nominated = make_entry(make_contest(kind="selection", stage="voting", slug="zuimei-cover"), nominee="李小燕")
    nominated.cover_key = "b" * 64 + ".jpg"
    nominated.nominee.public_fields = {**(nominated.nominee.public_fields or {}), "photo": False}
    db.session.commit()
    html = client.get(f"/c/{contest.slug}/entries/{entry.id}").get_data(as_text=True)
    assert meta(html, "og:image") == f"http://localhost/media/{'a' * 64}.jpg"
    html = client.get(f"/c/zuimei-cover/entries/{nominated.id}").get_data(as_text=True)
    assert "/media/" + "b" * 64 not in html and "share.png" in meta(html, "og:image")


def test_link_cards_use_the_public_address(app):
    other = create_app(replace(app.extensions["settings"], public_base_url="https://zhijiao.example.cn",
                               trusted_hosts=("localhost",)))
    other.test_client_class = IsolatedClient
    html = other.test_client().get("/").get_data(as_text=True)
    assert meta(html, "og:url") == "https://zhijiao.example.cn/"
    assert re.fullmatch(r"https://zhijiao\.example\.cn/static/img/share\.png\?v=[0-9a-f]{12}", meta(html, "og:image"))
