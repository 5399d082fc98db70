"""Find the JSON in what a model wrote, mend what models commonly break, validate it.

Pure functions, no I/O. What they cope with:

- thinking (``<think>…</think>`` and friends, see :mod:`.reasoning`), markdown code fences,
  prose before and after the JSON, several candidate values (the first that validates wins);
- single-quoted strings, unquoted keys, trailing or doubled commas, missing commas, ``//``
  and ``/* */`` comments, Python's ``True``/``False``/``None``, raw newlines in strings,
  unescaped inner double quotes, a forgotten inner ``]`` or ``}``;
- a value wrapped once (``{"Answer": {...}}``), a one-element list around the object, or a
  bare list for a model whose only list field is what was asked for.

What is cut off (never closed) is not completed: it fails with an error saying so.
:class:`RepairError` messages are written to be shown to the model in a corrective retry.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Literal, TypeVar

from pydantic import BaseModel, ValidationError

from .reasoning import strip_reasoning

T = TypeVar("T", bound=BaseModel)

MAX_CANDIDATES = 16
MAX_LISTED_ERRORS = 8

Kind = Literal["open", "close", "comma", "colon", "string", "number", "word", "junk"]


class RepairError(ValueError):
    """No usable value in the text; the message says why, in words meant for the model."""


@dataclass(frozen=True, slots=True)
class _Token:
    kind: Kind
    text: str  # strings: the decoded value
    end: int
    closed: bool = True


_SPACE = re.compile(r"(?:\s+|//[^\n]*|/\*.*?(?:\*/|\Z)|#[^\n]*)+", re.S)
_NUMBER = re.compile(r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d+)?(?![\w$])")
_JSON_NUMBER = re.compile(r"-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][-+]?\d+)?")
_WORD = re.compile(r"-?[A-Za-z_$][\w$-]*")
_OPENING = re.compile(r"[{\[]")
_FENCE = re.compile(r"```[^\n`]*\n?(.*?)(?:```|\Z)", re.S)
_HEX4 = re.compile(r"[0-9a-fA-F]{4}")
_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "/": "/", "\\": "\\"}
_ESCAPES |= {'"': '"', "'": "'"}
_LITERALS = {"true": "true", "false": "false", "null": "null", "True": "true"}
_LITERALS |= {"False": "false", "None": "null", "undefined": "null", "NaN": "NaN"}
_LITERALS |= {"Infinity": "Infinity", "-Infinity": "-Infinity"}
_CLOSER = {"{": "}", "[": "]"}


# ---- public ---------------------------------------------------------------------------------


def extract_json(text: str) -> Any:
    """The first JSON value in ``text`` (thinking, fences and prose ignored), repaired."""
    cleaned = _answer(text)
    errors: list[tuple[int, str]] = []
    for source, tokens in _candidates(cleaned, prefer_objects=False):
        try:
            return _parse(source, tokens)
        except RepairError as exc:
            errors.append((len(source), str(exc)))
    try:
        return json.loads(cleaned)  # a bare string, number or literal
    except ValueError:
        pass
    raise RepairError(_worst(errors) or "the reply holds no JSON object or array")


def parse_model(text: str, model: type[T]) -> T:
    """The first JSON value in ``text`` that validates as ``model``."""
    cleaned = _answer(text)
    errors: list[tuple[int, str]] = []
    for source, tokens in _candidates(cleaned, prefer_objects=True):
        try:
            value = _parse(source, tokens)
        except RepairError as exc:
            errors.append((len(source), str(exc)))
            continue
        first: ValidationError | None = None
        for shaped in _shapes(value, model):
            try:
                return model.model_validate(shaped)
            except ValidationError as exc:
                first = first or exc
        assert first is not None
        errors.append((len(source), describe_validation_error(first)))
    raise RepairError(_worst(errors) or "the reply holds no JSON object")


def describe_validation_error(error: ValidationError) -> str:
    """A short list of what is wrong, by field path."""
    lines = []
    for item in error.errors(include_url=False)[:MAX_LISTED_ERRORS]:
        where = ".".join(str(part) for part in item["loc"]) or "(the whole value)"
        lines.append(f"- {where}: {item['msg']}")
    if error.error_count() > MAX_LISTED_ERRORS:
        lines.append(f"- and {error.error_count() - MAX_LISTED_ERRORS} more")
    return "the JSON does not match the schema:\n" + "\n".join(lines)


# ---- finding candidates ---------------------------------------------------------------------


def _answer(text: str) -> str:
    cleaned = strip_reasoning(text)
    if cleaned:
        return cleaned
    if text.strip():
        raise RepairError(
            "the reply holds only thinking and no answer (it may have run out of tokens "
            "while thinking)"
        )
    raise RepairError("the reply is empty")


def _candidates(text: str, *, prefer_objects: bool) -> list[tuple[str, list[_Token]]]:
    """Balanced ``{…}``/``[…]`` spans: in code fences first, then anywhere; no repeats."""
    found: list[tuple[str, list[_Token]]] = []
    seen: set[str] = set()
    regions = [m.group(1) for m in _FENCE.finditer(text)] + [text]
    for region in regions:
        for source, tokens in _spans(region):
            if source not in seen and len(found) < MAX_CANDIDATES:
                seen.add(source)
                found.append((source, tokens))
    if prefer_objects:
        found.sort(key=lambda item: not item[0].startswith("{"))  # stable: order kept
    return found


def _spans(text: str) -> Iterator[tuple[str, list[_Token]]]:
    pos, count = 0, 0
    while count < MAX_CANDIDATES and (match := _OPENING.search(text, pos)):
        start, depth, tokens = match.start(), 0, []
        for token in _lex(text, start):
            tokens.append(token)
            depth += {"open": 1, "close": -1}.get(token.kind, 0)
            if depth <= 0:
                break
        count += 1
        yield text[start : tokens[-1].end], tokens
        # past a whole (or cut-off) value; into a stray bracket in prose
        pos = tokens[-1].end if depth <= 0 or _cut_off_json(tokens) else start + 1


def _cut_off_json(tokens: list[_Token]) -> bool:
    """Whether an unclosed span starts like JSON (so what is inside is only part of it)."""
    first = tokens[1] if len(tokens) > 1 else None
    if first is None:
        return False
    if tokens[0].text == "{":
        return first.kind in ("string", "word") and len(tokens) > 2 and tokens[2].kind == "colon"
    return first.kind in ("open", "string", "number")


# ---- lexing ---------------------------------------------------------------------------------


def _lex(text: str, pos: int) -> Iterator[_Token]:
    """Tolerant JSON tokens from ``pos`` on; never raises."""
    value_position = True  # where a value may start: a quote there opens a string
    while pos < len(text):
        if space := _SPACE.match(text, pos):
            pos = space.end()
            continue
        token = _token(text, pos, value_position)
        yield token
        value_position = token.kind in ("open", "comma", "colon")
        pos = token.end


def _token(text: str, pos: int, value_position: bool) -> _Token:
    char = text[pos]
    if char in "{[":
        return _Token("open", char, pos + 1)
    if char in "}]":
        return _Token("close", char, pos + 1)
    if char in ",:":
        return _Token("comma" if char == "," else "colon", char, pos + 1)
    if char == '"' or (char == "'" and value_position):
        return _string(text, pos)
    if number := _NUMBER.match(text, pos):
        return _Token("number", number.group(), number.end())
    if word := _WORD.match(text, pos):
        return _Token("word", word.group(), word.end())
    return _Token("junk", char, pos + 1)


def _string(text: str, pos: int) -> _Token:
    quote, chars, i = text[pos], [], pos + 1
    while i < len(text):
        char = text[i]
        if char == "\\" and i + 1 < len(text):
            decoded, i = _escape(text, i)
            chars.append(decoded)
        elif char == quote and _closes_string(text, i + 1):
            return _Token("string", "".join(chars), i + 1)
        else:
            chars.append(char)
            i += 1
    return _Token("string", "".join(chars), len(text), closed=False)


def _closes_string(text: str, i: int) -> bool:
    """A quote ends the string only where JSON could go on: else it is an inner quote."""
    while i < len(text) and text[i] in " \t":
        i += 1
    return i >= len(text) or text[i] in ",:}]\r\n"


def _escape(text: str, i: int) -> tuple[str, int]:
    char = text[i + 1]
    if char in _ESCAPES:
        return _ESCAPES[char], i + 2
    if char == "u" and _HEX4.fullmatch(text, i + 2, i + 6):
        code = int(text[i + 2 : i + 6], 16)
        low = text[i + 6 : i + 12]
        if 0xD800 <= code < 0xDC00 and low[:2] == "\\u" and _HEX4.fullmatch(low, 2):
            second = int(low[2:], 16)
            if 0xDC00 <= second < 0xE000:
                return chr(0x10000 + ((code - 0xD800) << 10) + (second - 0xDC00)), i + 12
        return chr(code), i + 6
    return "\\" + char, i + 2  # not a JSON escape: keep the backslash


# ---- repairing and parsing ------------------------------------------------------------------


def _parse(source: str, tokens: list[_Token]) -> Any:
    try:
        return json.loads(source)
    except ValueError:
        pass
    repaired = _render(tokens)
    try:
        return json.loads(repaired)
    except json.JSONDecodeError as exc:
        raise RepairError(
            f"the reply is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None


def _render(tokens: list[_Token]) -> str:
    """The tokens as strict JSON text, mending what can be mended."""
    out: list[str] = []
    open_closers: list[str] = []
    previous: str | None = None  # "open", "close", "comma", "colon" or "value"
    for index, token in enumerate(tokens):
        if token.kind == "comma":
            if previous in ("value", "close"):
                out.append(",")
                previous = "comma"
            continue
        if token.kind == "close":
            if previous == "comma":
                out.pop()
            _close(token.text, open_closers, out)
            previous = "close"
            continue
        if token.kind == "colon":
            out.append(":")
            previous = "colon"
            continue
        if previous in ("value", "close") and open_closers:
            out.append(",")  # a forgotten comma between two values
        if token.kind == "open":
            out.append(token.text)
            open_closers.append(_CLOSER[token.text])
            previous = "open"
            continue
        following = tokens[index + 1] if index + 1 < len(tokens) else None
        if token.kind == "string" and not token.closed:
            raise RepairError(_CUT_OFF)
        out.append(_value(token, following))
        previous = "value"
    if open_closers:
        raise RepairError(_CUT_OFF)
    return "".join(out)


_CUT_OFF = (
    "the JSON is cut off: a string, object or array is never closed (the reply may have hit "
    "the output token limit)"
)


def _close(written: str, open_closers: list[str], out: list[str]) -> None:
    if not open_closers:
        out.append(written)  # one too many: left for the parser to reject
        return
    if open_closers[-1] != written and written in open_closers:
        while open_closers[-1] != written:  # close what was forgotten inside
            out.append(open_closers.pop())
    out.append(open_closers.pop())


def _value(token: _Token, following: _Token | None) -> str:
    if token.kind == "string":
        return json.dumps(token.text, ensure_ascii=False)
    if token.kind == "number":
        return _number(token.text)
    if token.kind == "word":
        if following is not None and following.kind == "colon":
            return json.dumps(token.text)  # an unquoted key
        return _LITERALS.get(token.text) or json.dumps(token.text)  # else an unquoted string
    return token.text  # junk: left for the parser to reject


def _number(text: str) -> str:
    text = text.removeprefix("+")
    if _JSON_NUMBER.fullmatch(text):
        return text
    try:
        return str(int(text))  # leading zeros
    except ValueError:
        return repr(float(text))  # ".5", "5."


def _worst(errors: list[tuple[int, str]]) -> str | None:
    """The error of the longest candidate: the one most likely meant as the answer."""
    return max(errors, key=lambda item: item[0])[1] if errors else None


# ---- fitting the value to the model ---------------------------------------------------------


def _shapes(value: Any, model: type[BaseModel]) -> Iterator[Any]:
    """``value``, then the forms a model commonly wraps or unwraps the answer into."""
    yield value
    if isinstance(value, dict) and len(value) == 1:
        (inner,) = value.values()
        if isinstance(inner, dict):
            yield inner
    if isinstance(value, list):
        if len(value) == 1 and isinstance(value[0], dict):
            yield value[0]
        field = _only_list_field(model)
        if field is not None:
            yield {field: value}


def _only_list_field(model: type[BaseModel]) -> str | None:
    schema = model.model_json_schema()
    properties: dict[str, Any] = schema.get("properties", {})
    lists = [name for name, prop in properties.items() if prop.get("type") == "array"]
    required = set(schema.get("required", []))
    if len(lists) == 1 and required <= set(lists):
        return lists[0]
    return None
