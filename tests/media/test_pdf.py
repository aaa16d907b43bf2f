"""Business plan PDFs: accepted when whole, refused with the reason otherwise."""

from __future__ import annotations

import io
import zipfile

import pytest

from contest.errors import DomainError
from contest.media.pdf import check_pdf

# The smallest well-formed one-page PDF (written by hand; the xref offsets are not
# checked by check_pdf, which only looks at the envelope).
MINIMAL_PDF = (
    b"%PDF-1.4\n"
    b"1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n"
    b"2 0 obj << /Type /Pages /Kids [3 0 R] /Count 1 >> endobj\n"
    b"3 0 obj << /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] >> endobj\n"
    b"trailer << /Root 1 0 R /Size 4 >>\n"
    b"%%EOF\n"
)


def refused(data: bytes, **limits: int) -> DomainError:
    with pytest.raises(DomainError) as caught:
        check_pdf(data, **limits)
    return caught.value


def test_complete_pdf_is_accepted() -> None:
    assert check_pdf(MINIMAL_PDF) is None


def test_pdf_with_bytes_after_the_end_marker_is_accepted() -> None:
    # Some writers pad the file after %%EOF.
    check_pdf(MINIMAL_PDF + b"\x00" * 600)


def test_zip_named_pdf_is_refused() -> None:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("plan.docx", "商业计划书")

    error = refused(out.getvalue())

    assert (error.status, error.code) == (415, "unsupported_document")
    assert error.message == "商业计划书只接受 PDF 文件。"


def test_image_named_pdf_is_refused() -> None:
    error = refused(b"\x89PNG\r\n\x1a\n" + b"\x00" * 100)

    assert (error.status, error.message) == (415, "商业计划书只接受 PDF 文件。")


def test_empty_file_is_refused() -> None:
    error = refused(b"")

    assert (error.status, error.code) == (422, "empty_file")
    assert error.message == "文件是空的，请重新选择 PDF 文件。"


def test_truncated_pdf_is_refused() -> None:
    error = refused(MINIMAL_PDF[: len(MINIMAL_PDF) // 2])

    assert (error.status, error.code) == (422, "truncated_pdf")
    assert error.message == "文件不完整，可能没有上传完，请重新导出 PDF 后上传。"


def test_end_marker_far_from_the_end_does_not_count() -> None:
    # A complete PDF followed by a large chunk of something else is not a complete PDF.
    error = refused(MINIMAL_PDF + b"x" * 4096)

    assert (error.status, error.code) == (422, "truncated_pdf")


def test_oversize_is_refused() -> None:
    limit = 1024 * 1024
    error = refused(MINIMAL_PDF + b"\n" * limit, max_bytes=limit)

    assert (error.status, error.code) == (413, "file_too_large")
    assert error.message == "文件太大了（最大 1 MB）。"


def test_default_limit_is_20_mb() -> None:
    error = refused(b"%PDF-1.4\n" + b"\n" * (20 * 1024 * 1024))

    assert (error.status, error.message) == (413, "文件太大了（最大 20 MB）。")
