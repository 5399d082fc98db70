"""A search query, normalised once into the forms each candidate source needs (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

MAX_WORDS = 32
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
# Sentence punctuation and quotes around a question ("ORD-1234?", "'tea'") are not part of
# what the user is looking for; anything inside the query is kept.
_EDGE = " \t?!.,;:\"'`()[]{}"


@dataclass(frozen=True)
class SearchQuery:
    text: str  # whitespace collapsed; "" means "no query": newest messages first
    phrase: str  # ``text`` without edge punctuation: the substring to look for
    words: tuple[str, ...]  # distinct lowercase word tokens, at most MAX_WORDS

    @classmethod
    def parse(cls, raw: str) -> SearchQuery:
        text = _SPACE.sub(" ", raw).strip()
        phrase = text.strip(_EDGE) or text
        words = tuple(dict.fromkeys(w.lower() for w in _WORD.findall(text)))
        return cls(text=text, phrase=phrase, words=words[:MAX_WORDS])
