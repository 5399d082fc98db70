"""Split text into overlapping chunks that each fit an embedding model's input.

Chunks are measured with the model's own tokenizer. Each chunk ends at the best natural boundary
(paragraph, line, sentence, word) in the second half of its window, and the next chunk starts at
the best boundary among its last ``overlap`` share of tokens, so text near a cut is seen whole
by at least one chunk.
"""

from __future__ import annotations

from bisect import bisect_right

from .protocol import Span, TextTokenizer

DEFAULT_OVERLAP = 0.2
# Preferred cut points, best first: paragraph, line, sentence, word.
_SEPARATORS = ("\n\n", "\n", ". ", "? ", "! ", " ")


def chunk_spans(
    tokenizer: TextTokenizer, text: str, max_tokens: int, overlap: float = DEFAULT_OVERLAP
) -> list[Span]:
    """``[start, end)`` character offsets of the chunks of ``text``, in order.

    Text of at most ``max_tokens`` tokens (including empty text) is one chunk, ``(0, len)``.
    """
    if max_tokens < 1:
        raise ValueError("max_tokens must be positive")
    if not 0 <= overlap < 1:
        raise ValueError("overlap must be in [0, 1)")
    tokens = tokenizer.token_spans(text)
    if len(tokens) <= max_tokens:
        return [(0, len(text))]
    starts = [start for start, _ in tokens]
    back = int(max_tokens * overlap)
    chunks: list[Span] = []
    first = 0
    while True:
        if first + max_tokens >= len(tokens):
            end = len(tokens)
        else:
            end = _cut(text, tokens, starts, first, max_tokens)
        chunks.append((tokens[first][0], tokens[end - 1][1]))
        if end == len(tokens):
            return chunks
        first = _next_first(text, tokens, starts, max(end - back, first + 1), end)


def chunk_text(
    tokenizer: TextTokenizer, text: str, max_tokens: int, overlap: float = DEFAULT_OVERLAP
) -> list[str]:
    """The chunks themselves (trimmed of surrounding whitespace), each ``<= max_tokens``."""
    chunks = []
    for start, end in chunk_spans(tokenizer, text, max_tokens, overlap):
        chunk = truncate_text(tokenizer, text[start:end].strip(), max_tokens)
        if chunk:
            chunks.append(chunk)
    return chunks


def truncate_text(tokenizer: TextTokenizer, text: str, max_tokens: int) -> str:
    """The longest prefix of ``text`` (cut at a token boundary) of at most ``max_tokens``."""
    tokens = tokenizer.token_spans(text)
    keep = max_tokens
    while len(tokens) > max_tokens:
        text = text[: tokens[keep - 1][1]] if keep > 0 else ""
        tokens = tokenizer.token_spans(text)
        keep -= 1  # re-tokenising the cut text gave too many tokens (rare): cut one more
    return text


def _cut(text: str, tokens: list[Span], starts: list[int], first: int, size: int) -> int:
    """Index of the token the chunk starting at ``first`` should end before."""
    last = first + size  # the window is tokens[first:last]
    low = first + max(1, size // 2)  # never end a chunk in the first half of its window
    for separator in _SEPARATORS:
        stop = starts[last] + len(separator)
        while (at := text.rfind(separator, starts[low], stop)) >= 0:
            k = _token_at(tokens, starts, at + len(separator))
            if low <= k <= last:
                return k
            if k < low:
                break
            stop = at + len(separator) - 1  # look further left
    return last


def _token_at(tokens: list[Span], starts: list[int], position: int) -> int:
    """The token containing character ``position``, or the first one after it."""
    k = bisect_right(starts, position) - 1
    return k + 1 if k < 0 or tokens[k][1] <= position else k


def _next_first(text: str, tokens: list[Span], starts: list[int], target: int, end: int) -> int:
    """Where the next chunk starts: the earliest best boundary in ``[target, end)``."""
    for separator in _SEPARATORS:
        at = text.find(separator, max(0, starts[target] - len(separator)), starts[end])
        while at >= 0:
            k = _token_at(tokens, starts, at + len(separator))
            if target <= k < end:
                return k
            at = text.find(separator, at + 1, starts[end])
    return target
