"""Every page stays on its own origin: a strict CSP and no external URLs."""

from __future__ import annotations

import re

import pytest
from PIL import Image

from contest.extensions import db
from contest.media.service import attach_image
from tests.conftest import login

ATTRIBUTE_RE = re.compile(r"""\b(src|href|action|srcset|poster|formaction)\s*=\s*["']?([^"'\s>]*)""", re.I)


def external_references(html: str) -> list[str]:
    return [value for _name, value in ATTRIBUTE_RE.findall(html)
            if re.match(r"(?i)(https?:)?//", value.strip())]


@pytest.fixture
def public_pages(app, make_contest, make_entry, make_school):  # type: ignore[no-untyped-def]
    contest = make_contest(kind="selection")
    entry = make_entry(contest, school=make_school(), nominee="周明", category_id=contest.categories[0].id)
    attach_image(db.session, app.extensions["storage"], entry=entry, image=Image.new("RGB", (64, 48), "red"),
                 now=entry.created_at)
    db.session.commit()
    return ["/", f"/c/{contest.slug}", f"/c/{contest.slug}/entries", f"/c/{contest.slug}/entries/{entry.id}",
            "/account/login", "/account/register", "/account/reset", "/no/such/page"]


def test_strict_content_security_policy_on_every_page(client, public_pages):
    for path in public_pages + ["/healthz", "/static/css/site.css"]:
        response = client.get(path)
        policy = response.headers.get("Content-Security-Policy", "")
        directives = {d.split()[0]: d.split()[1:] for d in policy.split(";") if d.strip()}
        assert directives.get("default-src") == ["'self'"], path
        assert directives.get("script-src") == ["'self'"], path
        assert directives.get("object-src") == ["'none'"], path
        assert directives.get("frame-ancestors") == ["'none'"], path
        assert "'unsafe-inline'" not in policy and "'unsafe-eval'" not in policy, path
        assert response.headers["X-Content-Type-Options"] == "nosniff", path
        assert response.headers["X-Frame-Options"] == "DENY", path
        assert response.headers["Referrer-Policy"] == "same-origin", path
        # HSTS only in production, where the site is served over HTTPS
        assert "Strict-Transport-Security" not in response.headers, path


def test_pages_reference_no_external_urls(client, public_pages):
    for path in public_pages:
        response = client.get(path)
        assert response.status_code in (200, 404), path
        html = response.get_data(as_text=True)
        assert external_references(html) == [], path
    # the scan covered real images: the entry page shows its photo from this site
    assert 'src="/media/' in client.get(public_pages[3]).get_data(as_text=True)


def test_pages_use_no_inline_scripts_or_styles_the_policy_would_block(client, public_pages):
    for path in public_pages:
        html = client.get(path).get_data(as_text=True)
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html, re.I), path
        assert not re.search(r"<style\b|\sstyle\s*=|\son[a-z]+\s*=", html, re.I), path


def test_back_office_pages_reference_no_external_urls(client, make_user, make_contest, make_school):
    contest = make_contest()
    school = make_school()
    login(client, make_user("admin"))
    for path in ("/admin/", "/admin/contests/new", f"/admin/contests/{contest.id}", f"/admin/contests/{contest.id}/categories",
                 "/admin/schools", f"/admin/schools/{school.id}", "/admin/users", "/admin/audit"):
        response = client.get(path)
        assert response.status_code == 200, path
        assert external_references(response.get_data(as_text=True)) == [], path


def test_the_scanner_finds_external_urls():
    html = '<img src="https://cdn.example/x.png"><a href=//evil.example>x</a><link href="/static/a.css">'
    assert external_references(html) == ["https://cdn.example/x.png", "//evil.example"]
