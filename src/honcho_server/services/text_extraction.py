"""Uploaded file bytes → text, chosen by the declared content type (PDF, ``text/*``, JSON)."""

from __future__ import annotations

import codecs
import io
import json

from pypdf import PdfReader

from ..errors import HonchoError, Invalid

_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)


class UnsupportedFileType(HonchoError):
    status = 415


def extract_text(data: bytes, content_type: str | None) -> str:
    """The text of an uploaded file; 415 for types we cannot read, 422 for unreadable files."""
    media_type, charset = _parse_content_type(content_type)
    if media_type == "application/pdf":
        return _pdf_text(data)
    if media_type.startswith("text/"):
        return decode_text(data, charset)
    if media_type == "application/json":
        return _json_text(data)
    raise UnsupportedFileType(f"Unsupported file type: {content_type or 'none given'}")


def decode_text(data: bytes, charset: str | None = None) -> str:
    """A declared charset if it fits, else UTF-8, else UTF-16, else Latin-1 (never fails).

    UTF-16 is only tried for data that looks like it (a byte-order mark, or NUL bytes, which
    UTF-16 text nearly always has and 8-bit text never has): otherwise any even-length
    Windows-1252 file would "decode" as UTF-16 into CJK noise instead of falling to Latin-1.
    """
    encodings = [charset] if charset else []
    encodings.append("utf-8-sig")
    if data.startswith(_UTF16_BOMS) or b"\x00" in data:
        encodings.append("utf-16")
    for encoding in encodings:
        try:
            return data.decode(encoding)
        except (UnicodeDecodeError, LookupError):
            continue
    return data.decode("latin-1")


def _parse_content_type(content_type: str | None) -> tuple[str, str | None]:
    """``"Text/Plain; charset=UTF-8"`` → ``("text/plain", "UTF-8")``."""
    media_type, *params = (content_type or "").split(";")
    charset = None
    for param in params:
        key, _, value = param.partition("=")
        if key.strip().lower() == "charset" and value.strip(' "'):
            charset = value.strip(' "')
    return media_type.strip().lower(), charset


def _pdf_text(data: bytes) -> str:
    """Each page with text as ``[Page N]`` + its text; pages are separated by a blank line."""
    try:
        reader = PdfReader(io.BytesIO(data))
        pages = [page.extract_text() for page in reader.pages]
    except Exception as exc:  # malformed input makes pypdf raise almost anything
        raise Invalid("Uploaded PDF could not be read") from exc
    return "\n\n".join(
        f"[Page {number}]\n{text}" for number, text in enumerate(pages, start=1) if text.strip()
    )


def _json_text(data: bytes) -> str:
    """Validated and re-serialised (non-ASCII kept); an empty file gives empty text."""
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise Invalid("Uploaded JSON must be UTF-8 encoded") from exc
    if not text.strip():
        return ""
    try:
        return json.dumps(json.loads(text), ensure_ascii=False)
    except (ValueError, RecursionError) as exc:
        raise Invalid("Uploaded JSON is invalid") from exc
