"""Absolute links are built on the configured public address, never on a Host a client
chose: an API answer, a QR code (cached publicly), a judge's invitation."""

from __future__ import annotations

import ast
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask

from contest import create_app
from contest.media import sharing
from tests.conftest import IsolatedClient

BASE = "https://vote.example.cn"


@pytest.fixture
def public_app(app: Flask) -> Flask:
    """The same database behind one proxy, with a public address and a trusted alias."""
    settings = replace(app.extensions["settings"], public_base_url=BASE, trusted_hosts=("127.0.0.1",), proxy_count=1)
    other = create_app(settings)
    other.test_client_class = IsolatedClient
    return other


def test_a_host_outside_the_trusted_list_is_refused_before_routing(public_app, make_contest):
    contest = make_contest(stage="voting")
    client = public_app.test_client()
    refused = client.get(f"/c/{contest.slug}", headers={"Host": "evil.example"})
    assert refused.status_code == 400
    assert "请求有误" in refused.get_data(as_text=True)
    assert client.get(f"/c/{contest.slug}", headers={"Host": "vote.example.cn"}).status_code == 200
    assert client.get(f"/c/{contest.slug}", headers={"Host": "127.0.0.1:8000"}).status_code == 200


def test_a_forwarded_host_is_not_believed_unless_the_proxy_sets_it(public_app, make_contest, make_entry):
    contest = make_contest(stage="voting")
    entry = make_entry(contest)
    client = public_app.test_client()
    poisoned = {"Host": "vote.example.cn", "X-Forwarded-Host": "evil.example", "X-Forwarded-Proto": "https"}
    answer = client.get(f"/api/v1/entries/{entry.id}", headers=poisoned)
    assert answer.status_code == 200, answer.get_data(as_text=True)
    assert answer.get_json()["url"] == f"{BASE}/c/{contest.slug}/entries/{entry.id}"
    assert "evil" not in answer.get_data(as_text=True)


def test_the_qr_code_encodes_the_public_address_whatever_the_request_says(app, public_app, make_contest, make_entry):
    contest = make_contest(stage="voting")
    entry = make_entry(contest)
    expected = f"{BASE}/c/{contest.slug}/entries/{entry.id}"
    # Even where the forwarded Host is believed and accepted (an old domain kept as an
    # alias), the code points at the public address.
    open_app = create_app(replace(app.extensions["settings"], public_base_url=BASE, proxy_count=1, proxy_sets_host=True,
                                  trusted_hosts=("127.0.0.1", "evil.example")))
    open_app.test_client_class = IsolatedClient
    for client in (public_app.test_client(), open_app.test_client()):
        qr = client.get(f"/c/{contest.slug}/entries/{entry.id}/share/qr.png",
                        headers={"Host": "127.0.0.1", "X-Forwarded-Host": "evil.example"})
        assert qr.status_code == 200
        assert qr.headers["ETag"].strip('"') == sharing.qr_etag(expected)
        assert qr.data == sharing.qr_png(expected)


def test_without_a_public_address_the_development_server_links_to_itself(client, make_contest, make_entry):
    contest = make_contest(stage="voting")
    entry = make_entry(contest)
    answer = client.get(f"/api/v1/entries/{entry.id}")
    assert answer.get_json()["url"] == f"http://localhost/c/{contest.slug}/entries/{entry.id}"


def test_absolute_urls_are_built_in_one_place():
    """`_external=True` and the request's host_url appear only in web.external_url."""
    root = Path(__file__).resolve().parents[2] / "contest"
    offenders = []
    for path in root.rglob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.keyword) and node.arg == "_external" and path.name != "web.py":
                offenders.append(f"{path.relative_to(root)}:{node.value.lineno}")
            if isinstance(node, ast.Attribute) and node.attr in ("host_url", "url_root", "host"):
                if isinstance(node.value, ast.Name) and node.value.id == "request":
                    offenders.append(f"{path.relative_to(root)}:{node.lineno}")
    assert offenders == []
