"""Split long text into message-sized chunks at the most natural boundary in each window."""

from __future__ import annotations

from ..schemas.messages import MAX_MESSAGE_CHARS

# Preferred cut points, best first: paragraph, line, sentence, word.
_SEPARATORS = ("\n\n", "\n", ". ", " ")

Span = tuple[int, int]


def chunk_spans(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[Span]:
    """``[start, end)`` offsets of consecutive chunks of at most ``limit`` characters.

    Text of at most ``limit`` characters (including empty text) is one chunk. Otherwise each
    window ``text[start:start + limit]`` is cut right after the last occurrence in it of the
    best separator that occurs after the window start, or at the window end if none does.
    """
    if limit < 1:
        raise ValueError("limit must be positive")
    spans: list[Span] = []
    start = 0
    while len(text) - start > limit:
        end = _cut(text, start, start + limit)
        spans.append((start, end))
        start = end
    spans.append((start, len(text)))
    return spans


def split_text(text: str, limit: int = MAX_MESSAGE_CHARS) -> list[str]:
    """The chunks themselves; joined, they give back ``text``."""
    return [text[start:end] for start, end in chunk_spans(text, limit)]


def _cut(text: str, start: int, stop: int) -> int:
    for separator in _SEPARATORS:
        at = text.rfind(separator, start, stop)
        if at > start:
            return at + len(separator)
    return stop
