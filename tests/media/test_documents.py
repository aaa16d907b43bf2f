"""media.service.check_document: an image or a PDF, told by its content, as other
domains take files (objection evidence)."""

from __future__ import annotations

import pytest

from contest.errors import DomainError
from contest.media.service import Document, check_document
from tests.media.conftest import MINIMAL_PDF, gif, jpeg, png, zip_bytes

LIMIT = 10 * 1024 * 1024


def test_a_pdf_is_kept_as_sent() -> None:
    assert check_document(MINIMAL_PDF, max_bytes=LIMIT) == Document(MINIMAL_PDF, "pdf", "application/pdf")


@pytest.mark.parametrize("data", [png(), jpeg(640, 480)], ids=["png", "jpeg"])
def test_an_image_becomes_its_clean_display_jpeg(data: bytes) -> None:
    document = check_document(data, max_bytes=LIMIT)
    assert document is not None
    assert (document.extension, document.content_type) == ("jpg", "image/jpeg")
    assert document.data.startswith(b"\xff\xd8") and document.data != data


@pytest.mark.parametrize("data", [gif(), zip_bytes(), b"just text"], ids=["gif", "zip", "text"])
def test_anything_else_is_not_a_document(data: bytes) -> None:
    assert check_document(data, max_bytes=LIMIT) is None


def test_a_broken_pdf_is_refused_as_an_entry_file_is() -> None:
    with pytest.raises(DomainError) as caught:
        check_document(MINIMAL_PDF[:-7], max_bytes=LIMIT)
    assert caught.value.code == "truncated_pdf"
