"""Business plan intake: a PDF, recognised by its content and checked to be complete.

Only the envelope is checked (the header and the end-of-file marker), not the objects
inside: that catches the usual mistakes (a Word or ZIP file renamed .pdf, an upload cut
short) without parsing untrusted documents on the server.
"""

from __future__ import annotations

from ..errors import PayloadTooLarge, Unprocessable, UnsupportedMediaType
from ..i18n import _
from .sniff import sniff

MAX_BYTES = 20 * 1024 * 1024
# The specification puts %%EOF at the very end; writers may append a few bytes after it
# (line ends, padding), so look at the tail rather than the last bytes only.
EOF_WINDOW = 2048


def check_pdf(data: bytes, *, max_bytes: int = MAX_BYTES) -> None:
    """Refuse anything but a complete PDF file within the size limit."""
    if not data:
        raise Unprocessable(_("文件是空的，请重新选择 PDF 文件。"), code="empty_file")
    if len(data) > max_bytes:
        raise PayloadTooLarge(_("文件太大了（最大 %(mb)s MB）。", mb=max_bytes // (1024 * 1024)), code="file_too_large")
    if sniff(data[:64]) != "pdf":
        raise UnsupportedMediaType(_("商业计划书只接受 PDF 文件。"), code="unsupported_document")
    if b"%%EOF" not in data[-EOF_WINDOW:]:
        raise Unprocessable(_("文件不完整，可能没有上传完，请重新导出 PDF 后上传。"), code="truncated_pdf")
