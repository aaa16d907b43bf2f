"""The objection form's evidence upload shares the upload pipeline of the entry forms:
it is rate limited per account and per address, a full disk is a clear 503 that writes
no objection, and files stored by a failed objection stay for the orphan sweep."""

from __future__ import annotations

import io
from collections.abc import Callable

import pytest
from flask import Flask
from flask.testing import FlaskClient

from contest.accounts.models import User
from tests.conftest import login, submit
from tests.media.conftest import FullAfter, intact, leftovers, media_root, stored_files, swept
from tests.results.test_public_views import PDF, World, build_selection_world, evidence_stored, objections_stored, png_bytes

FULL = "服务器存储空间不足，您提交的内容没有保存，请稍后再试。"


@pytest.fixture
def world(make_contest, make_entry, make_school, make_user, clock) -> World:  # type: ignore[no-untyped-def]
    return build_selection_world(make_contest, make_entry, make_school, make_user, clock)


def _object(client: FlaskClient, world: World, files: list[tuple[io.BytesIO, str]]):  # type: ignore[no-untyped-def]
    return submit(client, f"/c/{world.slug}/results/objections/new", {
        "entry_id": "", "subject": "score", "body": "专家评分与公布的评分标准不一致，请复核。", "files": files,
    }, content_type="multipart/form-data")


def test_a_full_disk_refuses_the_objection_with_503(app: Flask, client: FlaskClient, world: World,
                                                    make_user: Callable[..., User]) -> None:
    world.publish()
    login(client, make_user())
    app.extensions["storage"] = FullAfter(media_root(app), writes=1)  # the screenshot fits, the PDF does not
    response = _object(client, world, [(io.BytesIO(png_bytes()), "截图.png"), (io.BytesIO(PDF), "说明.pdf")])
    assert response.status_code == 503
    assert FULL in response.get_data(as_text=True)
    assert int(response.headers["Retry-After"]) >= 590
    assert objections_stored() == 0 and evidence_stored() == 0
    assert len(stored_files(app)) == 1 and leftovers(app) == [] and intact(app)
    assert swept(app).deleted and stored_files(app) == []


def test_objections_are_limited_per_account(client: FlaskClient, make_contest, make_user: Callable[..., User]) -> None:  # type: ignore[no-untyped-def]
    contest = make_contest(kind="selection", stage="voting")  # no results yet: each post is refused, and counted
    login(client, make_user())
    url = f"/c/{contest.slug}/results/objections/new"
    for _ in range(5):
        assert submit(client, url, {"subject": "score", "body": "x"}).status_code == 409
    response = submit(client, url, {"subject": "score", "body": "x"})
    assert response.status_code == 429
    assert "提交异议太频繁，请稍后再试。" in response.get_data(as_text=True)
