"""Prompts for the deriver. Pure functions of their inputs; snapshot-tested.

Written for small local models as much as for hosted ones: short, concrete instructions, the
output shape spelled out, and no reliance on the model inferring what "memory" means.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    role: Role
    content: str


@dataclass(frozen=True)
class Line:
    """One message of the conversation as the model sees it."""

    speaker: str
    content: str
    at: datetime


class Deduction(BaseModel):
    conclusion: str = Field(description="something that follows from the facts")
    premises: list[str] = Field(default_factory=list, description="the facts it follows from")


class Update(BaseModel):
    outdated: str = Field(description="an already known fact that no longer holds")
    current: str = Field(description="the new explicit fact that replaces it")


class Extraction(BaseModel):
    """What the model returns: facts stated by the messages, what follows from them, and
    which known facts the new ones replace."""

    explicit: list[str] = Field(default_factory=list)
    deductive: list[Deduction] = Field(default_factory=list)
    updates: list[Update] = Field(default_factory=list)


def _stamp(at: datetime) -> str:
    return at.strftime("%Y-%m-%d %H:%M")


def _transcript(lines: Sequence[Line]) -> str:
    return "\n".join(f"[{_stamp(x.at)}] {x.speaker}: {x.content}" for x in lines) or "(none)"


def extraction_prompt(
    observed: str,
    new_messages: Sequence[Line],
    earlier: Sequence[Line],
    known: Sequence[str],
    custom_instructions: str | None = None,
) -> list[ChatMessage]:
    """Ask for facts about ``observed`` in ``new_messages`` (``earlier`` is context only)."""
    system = (
        f"You keep a long-term memory about a person called {observed}. "
        f"You read what {observed} said and write down what it tells you about {observed}.\n\n"
        "Write three lists:\n"
        f"- explicit: facts {observed}'s new messages state or plainly imply, each one short, "
        f'self-contained sentence that names {observed} (for example "{observed} has a dog '
        f'named Rex"). Include identity, relationships, preferences, plans, circumstances, '
        "opinions and anything they ask to be remembered. Skip greetings and small talk.\n"
        "- deductive: conclusions that follow with high certainty from the facts (new or "
        "already known), each with the facts it follows from as premises.\n"
        "- updates: when a new explicit fact means an already known one no longer holds (a "
        "move, a new job, a pet that died, a changed plan), the known fact copied exactly as "
        "outdated and the new fact as current.\n\n"
        f"Do not repeat what is already known, do not write facts about anyone but {observed}, "
        "and do not guess. If there is nothing to add, return empty lists.\n"
        'Answer with JSON only: {"explicit": ["..."], "deductive": '
        '[{"conclusion": "...", "premises": ["..."]}], '
        '"updates": [{"outdated": "...", "current": "..."}]}'
    )
    if custom_instructions and custom_instructions.strip():
        system += (
            f"\n\nAdditional instructions for this conversation:\n{custom_instructions.strip()}"
        )
    known_text = "\n".join(f"- {k}" for k in known) or "(nothing yet)"
    user = (
        f"Already known about {observed}:\n{known_text}\n\n"
        f"Earlier in the conversation (context only):\n{_transcript(earlier)}\n\n"
        f"New messages to learn from:\n{_transcript(new_messages)}"
    )
    return [ChatMessage("system", system), ChatMessage("user", user)]


def summary_prompt(
    kind: Literal["short", "long"],
    previous: str | None,
    lines: Sequence[Line],
    word_limit: int,
) -> list[ChatMessage]:
    """Ask for a summary of the whole conversation so far: ``previous`` plus ``lines``."""
    focus = (
        "the facts, decisions, requests and open questions"
        if kind == "short"
        else "the facts, decisions, requests and open questions, and also each participant's "
        "mood, personality and recurring themes"
    )
    system = (
        "You summarise a conversation so that someone who missed it can pick it up. "
        f"Cover the whole conversation so far, in order, as flowing prose (no bullet points), "
        f"keeping {focus}. Use the participants' names. Write at most {word_limit} words."
    )
    user = (
        f"Summary of the conversation until now:\n{previous or '(this is the start)'}\n\n"
        f"What was said since:\n{_transcript(lines)}\n\n"
        "Write the updated summary of the whole conversation."
    )
    return [ChatMessage("system", system), ChatMessage("user", user)]


CARD_LABELS = ("IDENTITY", "ATTRIBUTE", "RELATIONSHIP", "INSTRUCTION")
CARD_PREFIXES = tuple(f"{label}: " for label in CARD_LABELS)
CARD_DEFAULT_LABEL = "ATTRIBUTE"  # for an entry written without a label
CARD_MAX_ENTRIES = 40
CARD_MAX_CHARS = 200


class CardUpdate(BaseModel):
    """What the model returns: the whole new card.

    Read tolerantly, without changing the schema the model is shown: entries written as
    objects (``{"label": "IDENTITY", "text": "..."}`` or ``{"IDENTITY": "..."}``), a mapping
    of labels to entries (``{"entries": {"IDENTITY": [...]}}``) or labels as top-level keys
    with no ``entries`` at all (``{"IDENTITY": "...", "ATTRIBUTE": [...]}``) become
    ``"LABEL: text"`` lines; :func:`read_card` makes sense of the lines. Any other object
    without ``entries`` is refused, so a wrapped answer (``{"card": {"entries": [...]}}``) is
    unwrapped by the caller instead of being read as an empty card.
    """

    entries: list[str] = Field(default_factory=list)

    @model_validator(mode="before")
    @classmethod
    def _without_entries_key(cls, data: Any) -> Any:
        if not isinstance(data, dict) or not data or "entries" in data:
            return data
        if all(_texts(v) is not None for v in data.values()):
            if len(data) == 1 and _label_of(next(iter(data))) is None:
                return {"entries": next(iter(data.values()))}  # {"card": [...]}
            return {"entries": data}
        raise ValueError('expected an object with an "entries" list of strings')

    @field_validator("entries", mode="before")
    @classmethod
    def _flatten(cls, value: Any) -> Any:
        if value is None:
            return []
        return _lines(value)


def _texts(value: Any) -> list[str] | None:
    """``value`` as a list of strings when it is one string or number, or a list of them."""
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        return [str(value)]
    if isinstance(value, list) and all(_texts(v) is not None for v in value):
        return [t for v in value for t in _texts(v) or []]
    return None


_ITEM_LABEL_KEYS = ("label", "type", "category", "kind", "key")
_ITEM_TEXT_KEYS = ("text", "value", "content", "entry", "fact", "description", "detail")


def _lines(value: Any) -> Any:
    """Card entries in the shapes models write them in, as ``"label: text"`` strings; any
    other shape is returned unchanged (validation then says what is wrong)."""
    if isinstance(value, str):
        return [value]
    if isinstance(value, list):
        out: list[str] = []
        for item in value:
            lines = _lines(item) if isinstance(item, dict | list) else _texts(item)
            if not isinstance(lines, list):
                return value
            out.extend(lines)
        return out
    if isinstance(value, dict):
        label = next((value[k] for k in _ITEM_LABEL_KEYS if isinstance(value.get(k), str)), None)
        text = next((value[k] for k in _ITEM_TEXT_KEYS if isinstance(value.get(k), str)), None)
        if label is not None and text is not None:
            return [f"{label}: {text}"]
        if text is not None and len(value) == 1:
            return [text]
        flat: list[str] = []
        for key, item in value.items():
            texts = _texts(item)
            if texts is None:
                return value
            flat.extend(f"{key}: {t}" for t in texts)
        return flat
    return value


def card_prompt(observed: str, card: Sequence[str], facts: Sequence[str]) -> list[ChatMessage]:
    """Ask for the updated card of ``observed``: the current ``card`` revised by ``facts``."""
    system = (
        f"You maintain a short profile card about a person called {observed}: only stable "
        "facts that stay true for months or years. Keep name, age, where they live, "
        "occupation, family and other relationships, lasting likes and dislikes, and standing "
        f"instructions {observed} gave about how to treat them. Leave out moods, one-off "
        "events, plans and anything uncertain.\n\n"
        "Every entry starts with exactly one of these labels and is one short line:\n"
        "- IDENTITY: who they are (name, age, location, occupation)\n"
        "- ATTRIBUTE: a lasting trait or preference\n"
        "- RELATIONSHIP: a person or pet in their life and how they relate\n"
        "- INSTRUCTION: how they asked to be treated or answered\n\n"
        f"Write the complete new card: keep current entries that still hold, correct those the "
        f"new facts contradict, add what is new, and merge repeats. At most {CARD_MAX_ENTRIES} "
        f"entries of at most {CARD_MAX_CHARS} characters each.\n"
        'Answer with JSON only: {"entries": ["IDENTITY: ...", "ATTRIBUTE: ..."]}'
    )
    card_text = "\n".join(card) or "(empty)"
    facts_text = "\n".join(f"- {f}" for f in facts) or "(none)"
    user = (
        f"Current card of {observed}:\n{card_text}\n\n"
        f"Facts learned about {observed}, oldest first:\n{facts_text}\n\n"
        "Write the updated card."
    )
    return [ChatMessage("system", system), ChatMessage("user", user)]


# ---- reading the model's card -------------------------------------------------------------
#
# Small models rarely write the labels exactly as asked. A line is read as: optional bullet or
# numbering, optional markdown around a label, a separator (``:``, ``-``, ``=``, ``|``, or
# brackets around the label), the text. The label is looked up case-insensitively in two
# tables: names of a category (``Identity``, ``traits``, ``relations``) are replaced by the
# category; names of a field (``name``, ``job``, ``hobbies``, ``dog``) are filed under their
# category and kept in the text (``name: Alice`` → ``IDENTITY: Name: Alice``), so nothing the
# model said is lost. A line with no recognisable label is kept whole under
# ``CARD_DEFAULT_LABEL`` when it has at least two words (a plain sentence).


def _names(text: str) -> list[str]:
    return text.split("|")


def _table(**categories: str) -> dict[str, str]:
    """``CATEGORY="name|other name|..."`` as {name: CATEGORY}."""
    return {name: label for label, names in categories.items() for name in _names(names)}


#: Another name for a category: the label is replaced by the category.
CARD_LABEL_SYNONYMS = _table(
    IDENTITY="identity|who|who they are|who she is|who he is|basics|basic info|bio|background"
    "|personal info|personal details|personal information",
    ATTRIBUTE="attribute|trait|characteristic|quality|property|feature|fact|detail|info"
    "|information|note|other|misc|miscellaneous|general|preference",
    RELATIONSHIP="relationship|relation|connection|people|social",
    INSTRUCTION="instruction|standing instruction|directive|rule|guideline|request"
    "|user instruction|user request",
)

#: A field of a category: the entry is filed under the category and the field name is kept.
CARD_FIELD_LABELS = _table(
    IDENTITY="name|full name|first name|last name|nickname|age|born|birthday|birth date"
    "|date of birth|gender|pronoun|nationality|origin|hometown|home|location|lives in"
    "|residence|city|country|occupation|job|work|profession|career|employment|employer"
    "|company|role|job title|title|position|education|school|university|degree|study"
    "|studies|student|religion",
    ATTRIBUTE="like|likes|dislike|dislikes|love|loves|hate|hates|interest|hobby|passion"
    "|favourite|favorite|personality|temperament|habit|routine|value|belief|opinion|skill"
    "|talent|strength|weakness|diet|food|health|allergy|condition|fear|goal|language|taste"
    "|music|sport|lifestyle",
    RELATIONSHIP="family|partner|spouse|wife|husband|girlfriend|boyfriend|married|child"
    "|children|kid|son|daughter|parent|mother|mom|mum|father|dad|sibling|brother|sister"
    "|grandparent|grandmother|grandfather|friend|colleague|coworker|boss|manager|pet|dog|cat"
    "|roommate|neighbour|neighbor",
    INSTRUCTION="communication|communication style|tone|address as|call me|call them"
    "|response style|answer style|reply style|format|formatting",
)

#: Words of a longer label that are too vague to file it by.
_VAGUE_WORDS = frozenset(_names("who|info|information|other|general|note|detail"))
#: What models write when there is nothing to say (a whole line: skipped, a label's text:
#: rejected as a placeholder).
_NOTHING = frozenset(
    _names(
        "none|n/a|na|nothing|empty|null|nil|unknown|tbd|not known|not specified|unspecified"
        "|not mentioned|not stated|no facts|no entries|nothing to add|no information|no card"
    )
)
_COLONS = ":\uff1a"  # ASCII and full-width
_DASHES = "-\u2013\u2014"  # hyphen, en dash, em dash
_APOSTROPHES = "'\u2019"
_QUOTES = {'"': '"', "'": "'", "`": "`", "\u201c": "\u201d", "\u2018": "\u2019"}
_BULLET = re.compile(r"^(?:[-*•·‣◦+>]+\s*|\d{1,3}[.)](?:\s+|$)|\(\d{1,3}\)\s*)+")
_BOLD = re.compile(r"\*\*(.+?)\*\*")
_LABELLED = re.compile(
    r"^[*_`\[(\s]*(?P<label>[^\W\d_][\w '&/.-]{0,39}?)\s*[*_`\])]*\s*"
    rf"(?:[{_COLONS}=|]|[{_DASHES}]+(?=\s)|(?<=[\])])(?=\s))[\s*_`]*(?P<text>.*)$",
    re.S,
)
_BARE_LABEL = re.compile(r"^(?P<label>" + "|".join(CARD_LABELS) + r")\s+(?P<text>.*)$", re.S)


def _key(label: str) -> str:
    return " ".join(re.sub(rf"[_/&+,.{_APOSTROPHES}-]", " ", label.lower()).split())


def _singular(word: str) -> list[str]:
    forms = [word]
    if word.endswith("ies"):
        forms.append(word[:-3] + "y")
    if word.endswith("es"):
        forms.append(word[:-2])
    if word.endswith("s"):
        forms.append(word[:-1])
    return forms


def _label_of(label: str) -> tuple[str, bool] | None:
    """The category ``label`` names, and whether it names a field (to be kept in the text);
    None when it is not a label we know."""
    key = _key(label)
    if key.upper() in CARD_LABELS:
        return key.upper(), False
    for form in _singular(key):
        if form in CARD_LABEL_SYNONYMS:
            return CARD_LABEL_SYNONYMS[form], False
        if form in CARD_FIELD_LABELS:
            return CARD_FIELD_LABELS[form], True
    words = key.split()
    if 1 < len(words) <= 3:  # "Favourite food", "Family members", "Alice's job"
        for word in words:
            for form in _singular(word):
                if form in _VAGUE_WORDS:
                    continue
                if form.upper() in CARD_LABELS:
                    return form.upper(), True
                found = CARD_FIELD_LABELS.get(form) or CARD_LABEL_SYNONYMS.get(form)
                if found:
                    return found, True
    return None


def _tidy(text: str) -> str:
    return " ".join(text.replace("**", "").split()).strip(" *_`")


def _is_nothing(text: str) -> bool:
    bare = text.strip(" ()[]{}.!").lower()
    return not re.sub(r"[\W_]", "", bare) or bare in _NOTHING


@dataclass(frozen=True)
class CardReading:
    """A model's card entries, read: ``entries`` to store, and ``rejected`` lines with why.

    Blank lines, headings and "none"-like lines are neither: they say nothing.
    """

    entries: list[str]
    rejected: list[tuple[str, str]]

    @property
    def unusable(self) -> bool:
        """The model wrote entries and not one could be used."""
        return not self.entries and bool(self.rejected)

    def why(self, *, example: bool = True) -> str:
        """Why lines were rejected, counted, and (``example``) the first one, cut short."""
        if not self.rejected:
            return "nothing was rejected"
        counts: dict[str, int] = {}
        for _, reason in self.rejected:
            counts[reason] = counts.get(reason, 0) + 1
        reasons = ", ".join(f"{reason} ({n})" for reason, n in counts.items())
        if not example:
            return reasons
        first = self.rejected[0][0]
        first = first if len(first) <= 80 else first[:77] + "..."
        return f"{reasons}; first: {json.dumps(first, ensure_ascii=False)}"


def _read_line(line: str) -> tuple[str | None, str | None]:
    """One line as (entry, None), (None, why it is rejected) or (None, None): says nothing."""
    text = _BULLET.sub("", line.strip()).strip()
    if len(text) >= 2 and _QUOTES.get(text[0]) == text[-1]:
        text = text[1:-1].strip()
    text = _BOLD.sub(r"\1", text)
    if not text or text.startswith("#") or _is_nothing(text):
        return None, None
    found = None
    match = _LABELLED.match(text) or _BARE_LABEL.match(text)
    if match:
        found = _label_of(match["label"])
    if match and found:
        category, is_field = found
        rest = _tidy(match["text"])
        if not rest:
            return None, "a label with no text"
        if _is_nothing(rest):
            return None, "a placeholder instead of a fact"
        if is_field:
            field = _tidy(match["label"])
            if field.isupper() or field.islower():
                field = field[:1].upper() + field[1:].lower()
            rest = f"{field}: {rest}"
    else:
        if match and not _tidy(match["text"]):
            return None, None  # a heading ("Alice's card:")
        rest = _tidy(text)
        if len(rest.split()) < 2:
            return None, "a single word with no label"
        category = CARD_DEFAULT_LABEL
    entry = f"{category}: {rest}"
    if len(entry) > CARD_MAX_CHARS:
        return None, f"longer than {CARD_MAX_CHARS} characters"
    return entry, None


def read_card(entries: Sequence[str]) -> CardReading:
    """The model's card entries made into ``LABEL: text`` lines (labels above).

    Each entry may hold several lines. A line is kept when it has text and is at most
    ``CARD_MAX_CHARS`` long once labelled; case- and whitespace-insensitive duplicates are
    dropped and the first ``CARD_MAX_ENTRIES`` kept. Rejected: a label with no text or a
    placeholder (``IDENTITY: ...``, ``Name: unknown``), a lone word with no label, a line too
    long. Blank lines, headings and lines such as ``None`` say nothing and are skipped.
    """
    out: list[str] = []
    rejected: list[tuple[str, str]] = []
    seen: set[str] = set()
    for raw in entries:
        for line in raw.splitlines():
            entry, why = _read_line(line)
            if why is not None:
                rejected.append((line.strip(), why))
            if entry is None:
                continue
            k = " ".join(entry.lower().split())
            if k in seen:
                continue
            seen.add(k)
            out.append(entry)
            if len(out) == CARD_MAX_ENTRIES:
                return CardReading(out, rejected)
    return CardReading(out, rejected)


def normalise_card(entries: Sequence[str]) -> list[str]:
    """The entries :func:`read_card` keeps."""
    return read_card(entries).entries
