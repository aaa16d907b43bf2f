"""Reading back the text of the consent form the platform prints (media.consent_form).

A small reader of the PDF that reportlab writes, enough to see the words a reader would
show: the page's content streams are decoded (their filters: ASCII85, Flate, hex), the
text-showing operators (Tj, TJ, ', ") are picked out, and each string is decoded by the
font in use: a composite (Type0) font with a UCS-2 encoding such as UniGB-UCS2-H has two
bytes a character, big-endian; a simple font has one byte a character.
"""

from __future__ import annotations

import base64
import re
import zlib

from contest.media.pdf import check_pdf

_OBJECT = re.compile(rb"(\d+) 0 obj\b(.*?)\bendobj", re.S)
_STREAM = re.compile(rb"stream\r?\n(.*?)\r?\n?endstream", re.S)
_REF = re.compile(rb"/([^\s/<>\[\]()]+)\s+(\d+) 0 R")
_CONTENT_TOKEN = re.compile(rb"\((?:\\.|[^\\()])*\)|<[0-9A-Fa-f\s]*>|/[^\s/\[\]()<>]+|\[|\]|[^\s/\[\]()<>]+", re.S)
_ESCAPES = {b"n": b"\n", b"r": b"\r", b"t": b"\t", b"b": b"\b", b"f": b"\f", b"(": b"(", b")": b")", b"\\": b"\\"}
_SHOW = {b"Tj", b"TJ", b"'", b'"'}


def pdf_text(data: bytes) -> str:
    """The text a PDF made by consent_form shows, one drawn string a line, page by page."""
    check_pdf(data)
    objects = {int(number): body for number, body in _OBJECT.findall(data)}
    lines: list[str] = []
    for body in objects.values():
        if re.search(rb"/Type\s*/Page\b", body):
            composite = _composite_fonts(objects, body)
            for number in _contents(body):
                lines += _shown_strings(_stream(objects[number]), composite)
    return "\n".join(lines)


def _dict_after(body: bytes, key: bytes, objects: dict[int, bytes]) -> bytes:
    """The dictionary `key` names in `body`, written there or as a reference."""
    found = re.search(rb"/" + key + rb"\s*(?:(\d+) 0 R|<<)", body)
    if found is None:
        return b""
    if found.group(1):
        return objects[int(found.group(1))]
    depth, at = 1, found.end()
    while depth:
        opening, closing = body.find(b"<<", at), body.find(b">>", at)
        depth, at = (depth + 1, opening + 2) if -1 < opening < closing else (depth - 1, closing + 2)
    return body[found.end():at - 2]


def _composite_fonts(objects: dict[int, bytes], page: bytes) -> set[bytes]:
    """The resource names of the page's Type0 fonts."""
    fonts = _dict_after(_dict_after(page, b"Resources", objects), b"Font", objects)
    return {name for name, number in _REF.findall(fonts) if re.search(rb"/Subtype\s*/Type0\b", objects[int(number)])}


def _contents(page: bytes) -> list[int]:
    found = re.search(rb"/Contents\s*(\[[^\]]*\]|\d+ 0 R)", page)
    assert found is not None, "a page without contents"
    return [int(number) for number in re.findall(rb"(\d+) 0 R", found.group(1))]


def _stream(body: bytes) -> bytes:
    found = _STREAM.search(body)
    assert found is not None, "no stream in the object"
    data = found.group(1)
    filters = re.search(rb"/Filter\s*(\[[^\]]*\]|/\w+)", body[:found.start()])
    for name in re.findall(rb"/(\w+)", filters.group(1)) if filters else []:
        if name == b"ASCII85Decode":
            data = base64.a85decode(data.strip().removeprefix(b"<~").removesuffix(b"~>"))
        elif name == b"ASCIIHexDecode":
            data = bytes.fromhex(re.sub(rb"[^0-9A-Fa-f]", b"", data.split(b">")[0]).decode())
        elif name == b"FlateDecode":
            data = zlib.decompress(data)
        else:
            raise AssertionError(f"a stream filter this reader does not know: {name!r}")
    return data


def _literal(token: bytes) -> bytes:
    """A PDF string's bytes: (literal) with its escapes, or <hex>."""
    if token.startswith(b"<"):
        return bytes.fromhex(re.sub(rb"\s", b"", token[1:-1]).decode())
    out, body, at = bytearray(), token[1:-1], 0
    while at < len(body):
        char = body[at:at + 1]
        at += 1
        if char != b"\\":
            out += char
            continue
        octal = re.match(rb"[0-7]{1,3}", body[at:])
        if octal:
            out.append(int(octal.group(), 8) & 0xFF)
            at += octal.end()
        elif body[at:at + 1] in b"\r\n":  # a line continuation
            at += 2 if body[at:at + 2] == b"\r\n" else 1
        else:
            out += _ESCAPES.get(body[at:at + 1], body[at:at + 1])
            at += 1
    return bytes(out)


def _shown_strings(content: bytes, composite: set[bytes]) -> list[str]:
    shown, operands, font = [], [], b""
    for token in _CONTENT_TOKEN.findall(content):
        if token[:1] in b"(<[]/" or re.fullmatch(rb"[-+.0-9]+", token):
            operands.append(token)
            continue
        if token == b"Tf":
            font = operands[-2][1:]
        elif token in _SHOW:
            codes = b"".join(_literal(t) for t in operands if t[:1] in b"(<")
            shown.append(codes.decode("utf-16-be") if font in composite else codes.decode("latin-1"))
        operands = []
    return shown
