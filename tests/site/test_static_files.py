"""Static files as a phone on mobile data should get them (contest/static_files.py):
versioned addresses cached for a year, compressed text, 304s, nothing outside the folder."""

from __future__ import annotations

import gzip
import re
import time
from pathlib import Path

import brotli
import pytest
from flask import Flask

from contest.static_files import StaticFiles

SITE_CSS = Path(__file__).resolve().parents[2] / "static" / "css" / "site.css"


def versioned(client, path: str) -> str:  # type: ignore[no-untyped-def]
    match = re.search(rf'="({re.escape(path)}\?v=[0-9a-f]{{12}})"', client.get("/account/login").get_data(as_text=True))
    assert match, f"the page links no versioned {path}"
    return match.group(1)


def test_a_versioned_address_is_cached_for_a_year_and_sent_compressed(client) -> None:
    url = versioned(client, "/static/css/site.css")
    for coding, decode in (("br", brotli.decompress), ("gzip", gzip.decompress)):
        response = client.get(url, headers={"Accept-Encoding": coding})
        assert response.status_code == 200 and response.headers["Content-Encoding"] == coding
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert "Accept-Encoding" in response.headers["Vary"]
        assert response.content_type == "text/css; charset=utf-8"
        assert decode(response.get_data()) == SITE_CSS.read_bytes()
        assert len(response.get_data()) < SITE_CSS.stat().st_size / 3
    plain = client.get(url, headers={"Accept-Encoding": "identity"})
    assert "Content-Encoding" not in plain.headers and plain.get_data() == SITE_CSS.read_bytes()
    # br is preferred when both are accepted
    assert client.get(url, headers={"Accept-Encoding": "gzip, deflate, br"}).headers["Content-Encoding"] == "br"


def test_an_unversioned_or_old_address_gets_the_short_cache(client) -> None:
    for url in ("/static/css/site.css", "/static/css/site.css?v=000000000000"):
        response = client.get(url)
        assert response.status_code == 200 and response.headers["Cache-Control"] == "public, max-age=43200"


def test_a_repeat_visit_is_answered_304(client) -> None:
    url = versioned(client, "/static/css/site.css")
    first = client.get(url, headers={"Accept-Encoding": "gzip"})
    again = client.get(url, headers={"Accept-Encoding": "gzip", "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304 and again.get_data() == b""
    # another coding is another body: its ETag differs
    assert client.get(url, headers={"Accept-Encoding": "br"}).headers["ETag"] != first.headers["ETag"]


@pytest.mark.parametrize("path", ["/static/../contest/config.py", "/static/nope.css", "/static/%2e%2e/wsgi.py"])
def test_nothing_outside_the_folder_and_nothing_missing(client, path: str) -> None:
    assert client.get(path).status_code == 404


def test_small_files_and_images_are_sent_as_they_are(client) -> None:
    icon = client.get(versioned(client, "/static/img/icon.svg"), headers={"Accept-Encoding": "gzip, br"})
    assert icon.status_code == 200 and icon.content_type.startswith("image/svg+xml")


def test_a_changed_file_has_a_new_version(app: Flask, tmp_path: Path) -> None:
    (tmp_path / "a.css").write_text("body { color: red; }" * 40)
    files = StaticFiles(str(tmp_path), 60)
    before = files.version("a.css")
    time.sleep(0.01)
    (tmp_path / "a.css").write_text("body { color: blue; }" * 40)
    after = files.version("a.css")
    assert before and after and before != after
    assert files.version("missing.css") is None
