"""A search query, normalised once into the forms each candidate source needs (pure)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .ranking import Tense

MAX_WORDS = 32
_WORD = re.compile(r"\w+")
_SPACE = re.compile(r"\s+")
# Sentence punctuation and quotes around a question ("ORD-1234?", "'tea'") are not part of
# what the user is looking for; anything inside the query is kept.
_EDGE = " \t?!.,;:\"'`()[]{}"

# Words and phrases that ask about the present state of things, or about an earlier one.
# Matched as whole words in the lowercased query; "past" wins when both occur ("what did she
# drive before she got the car she has now?" asks about the old one).
_CURRENT = re.compile(
    r"\b(now|nowadays|currently|current|these days|this days|at present|presently|"
    r"at the moment|right now|today|lately|latest|most recent|recently|still|anymore|any more|"
    r"any longer|up to date)\b"
)
_PAST = re.compile(
    r"\b(before|previously|previous|used to|originally|original|formerly|former|earlier|"
    r"at first|first|prior|back then|back in|in the past|old|once|initially)\b"
)

# Auxiliary verbs give a question's grammatical tense: "what car does she drive" asks about
# the present state of things, "what car did she drive" about an earlier one.
_PRESENT_VERB = re.compile(r"\b(is|are|am|does|do|has|have|isn't|aren't|doesn't|don't)\b")
_PAST_VERB = re.compile(r"\b(was|were|did|had|wasn't|weren't|didn't|hadn't)\b")


def tense_of(text: str) -> Tense:
    """What ``text`` asks about: explicitly now ("current": "these days", "still"…), the
    present by its verbs ("present": "what car does she drive"), the past ("past": "before",
    "used to", "what did she…"), or no telling (None). Past words win over present ones ("what
    did she drive before she got the car she has now?" asks about the old one)."""
    lowered = text.lower()
    if _PAST.search(lowered):
        return "past"
    if _CURRENT.search(lowered):
        return "current"
    if _PAST_VERB.search(lowered):
        return "past"
    if _PRESENT_VERB.search(lowered):
        return "present"
    return None


@dataclass(frozen=True)
class SearchQuery:
    text: str  # whitespace collapsed; "" means "no query": newest messages first
    phrase: str  # ``text`` without edge punctuation: the substring to look for
    words: tuple[str, ...]  # distinct lowercase word tokens, at most MAX_WORDS
    tense: Tense = None  # what the query asks about: the present, the past, or either
    # nothing but words (ASCII letters and digits, edge punctuation aside) and no "or": as a
    # web search, messages with all of them, each word parsed alone as in the whole text
    conjunction: bool = False

    @classmethod
    def parse(cls, raw: str) -> SearchQuery:
        text = _SPACE.sub(" ", raw).strip()
        phrase = text.strip(_EDGE) or text
        words = tuple(dict.fromkeys(w.lower() for w in _WORD.findall(text)))
        tokens = [t.strip(_EDGE) for t in text.split(" ")]
        conjunction = all(t.isascii() and t.isalnum() and t.lower() != "or" for t in tokens if t)
        return cls(
            text=text,
            phrase=phrase,
            words=words[:MAX_WORDS],
            tense=tense_of(text),
            conjunction=conjunction and bool(words),
        )
