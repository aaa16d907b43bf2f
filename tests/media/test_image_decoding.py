"""Decoding through the submission form is bounded per process: when every decode slot
stays busy, an upload is answered 503 with Retry-After and nothing is stored."""

from __future__ import annotations

from contest.media.images import ImageDecoder
from tests.media.conftest import assert_nothing_stored, jpeg, page, photo_entry, send, submit_url, upload


def test_an_upload_finding_every_decode_slot_busy_is_answered_503(app, client, citizen, media_contest):
    decoder = ImageDecoder(slots=1, wait_seconds=0.05)
    app.extensions["image_decoder"] = decoder
    with decoder.slot():  # another request's decode, still running
        response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(jpeg(), "a.jpg", "image/jpeg")]))
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) > 0
    assert "系统繁忙，请稍后重试。" in page(response)
    assert_nothing_stored(app)
    # The slot is free again: the same upload goes through.
    response = send(client, submit_url(media_contest), photo_entry(media_contest, photos=[upload(jpeg(), "a.jpg", "image/jpeg")]))
    assert response.status_code == 302, page(response)[:2000]
