"""Reading back the text of the consent form the platform prints (media.consent_form)."""

from __future__ import annotations

import re
import zlib

from contest.media.pdf import check_pdf


def pdf_text(data: bytes) -> str:
    """The text a PDF made by consent_form shows: its content stream's UTF-16 strings."""
    check_pdf(data)
    stream = data[data.index(b"stream\n") + 7:data.index(b"\nendstream")]
    hexes = re.findall(rb"<([0-9A-F]+)> Tj", zlib.decompress(stream))
    return "\n".join(bytes.fromhex(h.decode()).decode("utf-16-be") for h in hexes)
