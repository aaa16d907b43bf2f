"""Switching the interface language."""

from __future__ import annotations


def test_switch_to_english_sets_the_cookie_and_redirects(reading_client):
    response = reading_client.get("/lang/en?next=/")
    assert response.status_code == 302
    assert response.headers["Location"] == "/"
    cookie = reading_client.get_cookie("lang")
    assert cookie is not None and cookie.value == "en"
    assert cookie.http_only
    assert "SameSite=Lax" in response.headers["Set-Cookie"]


def test_english_cookie_sets_html_lang(reading_client):
    assert '<html lang="zh-CN">' in reading_client.get("/").get_data(as_text=True)
    reading_client.get("/lang/en?next=/")
    html = reading_client.get("/").get_data(as_text=True)
    assert '<html lang="en">' in html
    # the switch offers the way back
    assert 'href="/lang/zh?next=' in html
    reading_client.get("/lang/zh?next=/")
    assert '<html lang="zh-CN">' in reading_client.get("/").get_data(as_text=True)


def test_redirect_keeps_a_same_site_path_with_its_query(reading_client):
    target = "/c/some-contest/entries?q=a&sort=title"
    response = reading_client.get("/lang/en", query_string={"next": target})
    assert response.status_code == 302
    assert response.headers["Location"] == target


def test_never_an_open_redirect(reading_client):
    for target in ("//evil.example", "//evil.example/path", "https://evil.example/", "http:evil.example",
                   "\\\\evil.example", "javascript:alert(1)", ""):
        response = reading_client.get("/lang/en", query_string={"next": target})
        assert response.status_code == 302, target
        assert response.headers["Location"] == "/", target


def test_paths_that_browsers_read_as_another_host_go_home(reading_client):
    # Browsers read "/\\host" as "//host", and URL parsing drops tabs and newlines,
    # so "/\t/host" would leave as "//host" (and a raw newline cannot go in a header).
    for target in ("/\\evil.example", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example", "/\x7f/x"):
        response = reading_client.get("/lang/en", query_string={"next": target})
        assert response.status_code == 302, repr(target)
        assert response.headers["Location"] == "/", repr(target)


def test_unknown_language_sets_no_cookie(reading_client):
    response = reading_client.get("/lang/fr?next=/")
    assert response.status_code == 302
    assert reading_client.get_cookie("lang") is None
    reading_client.set_cookie("lang", "xx")
    assert '<html lang="zh-CN">' in reading_client.get("/").get_data(as_text=True)
