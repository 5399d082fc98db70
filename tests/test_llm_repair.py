"""Reading JSON out of what models write: pure functions, no server."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pydantic import BaseModel, Field

from honcho_server.llm.reasoning import ThinkFilter, strip_reasoning
from honcho_server.llm.repair import RepairError, extract_json, parse_model


class Fact(BaseModel):
    text: str
    confidence: float = Field(ge=0, le=1)


class Facts(BaseModel):
    facts: list[Fact]
    note: str | None = None


# ---- thinking -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '<think>\nThe user said {"a": 2}? No.\n</think>\n\n{"a": 1}',
        '<THINK>x</THINK>{"a": 1}',
        '<thinking>first</thinking> <reasoning>second</reasoning> {"a": 1}',
        # the chat template opened the block in the prompt: only the closing tag shows
        'Okay, so {"a": 3} would be wrong.\n</think>\n{"a": 1}',
        '<think>one</think><think>two {"a": 0}</think>{"a": 1}',
    ],
)
def test_thinking_is_ignored(text: str) -> None:
    assert extract_json(text) == {"a": 1}


def test_an_unfinished_think_block_means_no_answer() -> None:
    with pytest.raises(RepairError, match="only thinking"):
        extract_json('<think>Let me draft it: {"a": 1} and then')


def test_harmony_final_channel_is_the_answer() -> None:
    text = (
        '<|channel|>analysis<|message|>maybe {"a": 0}<|end|>'
        '<|start|>assistant<|channel|>final<|message|>{"a": 1}<|return|>'
    )
    assert extract_json(text) == {"a": 1}
    assert strip_reasoning(text) == '{"a": 1}'


# ---- fences and prose -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '```json\n{"a": 1}\n```',
        '```\n{"a": 1}\n```',
        '```JSON {"a": 1}```',
        'Here you go:\n```json\n{"a": 1}\n```\nLet me know if you need more {help}.',
        '```json\n{"a": 1}',  # the closing fence never came
        'Sure! The result is {"a": 1}. I hope that helps.',
        'Sure! The result is {"a": 1}\n\nNote: I used {curly} braces.',
        'Sure!\n\n{\n  "a": 1\n}\n\nAnything else?',
        'Objects start with { and end later. Here: {"a": 1}',
    ],
)
def test_fences_and_prose_around_the_json(text: str) -> None:
    assert extract_json(text) == {"a": 1}


def test_a_fenced_block_wins_over_examples_in_the_prose() -> None:
    text = 'Format is {"x": ...}. Result:\n```json\n{"a": 1}\n```'
    assert extract_json(text) == {"a": 1}


def test_arrays_at_top_level() -> None:
    assert extract_json('[{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]
    assert extract_json("The ids are [1, 2, 3], in order.") == [1, 2, 3]
    assert extract_json("```json\n[\n  'x',\n  'y',\n]\n```") == ["x", "y"]


# ---- breakage models commonly produce -------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1, "b": [1, 2,],}', {"a": 1, "b": [1, 2]}),
        ('{"a": 1,, "b": 2}', {"a": 1, "b": 2}),
        ("{'a': 'it\\'s', 'b': 'x'}", {"a": "it's", "b": "x"}),
        ("{'note': 'it's fine', 'n': 1}", {"note": "it's fine", "n": 1}),
        ("{'mixed': \"double\", \"k\": 'single'}", {"mixed": "double", "k": "single"}),
        ('{a: 1, snake_key: "x"}', {"a": 1, "snake_key": "x"}),
        ('{"t": True, "f": False, "n": None}', {"t": True, "f": False, "n": None}),
        ('{"a": 1, // the count\n "b": /* inline */ 2}', {"a": 1, "b": 2}),
        ('{"a": 1\n "b": 2}', {"a": 1, "b": 2}),
        ("[1 2 3]", [1, 2, 3]),
        ('{"text": "She said "hello" twice", "n": 1}', {"text": 'She said "hello" twice', "n": 1}),
        ('{"text": "line one\nline two"}', {"text": "line one\nline two"}),
        ('{"a": [1, 2}', {"a": [1, 2]}),
        ('[{"a": 1]', [{"a": 1}]),
        ('{"n": 007, "f": .5, "g": 2., "p": +3}', {"n": 7, "f": 0.5, "g": 2.0, "p": 3}),
        ('{"kind": explicit}', {"kind": "explicit"}),
        ('{"path": "C:\\dir"}', {"path": "C:\\dir"}),
        ('{"e": "\\ud83d\\ude00 \\u00e9"}', {"e": "😀 é"}),
    ],
)
def test_common_breakage_is_repaired(text: str, expected: Any) -> None:
    assert extract_json(text) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"s": "a } b { c ] d [ e"}', {"s": "a } b { c ] d [ e"}),
        ('{"s": "quote \\" brace }"}', {"s": 'quote " brace }'}),
        ('{"o": {"i": {"d": ["}", "{"]}}}', {"o": {"i": {"d": ["}", "{"]}}}),
        ("{'s': 'single } with \"double\"'}", {"s": 'single } with "double"'}),
    ],
)
def test_braces_inside_strings_do_not_count(text: str, expected: Any) -> None:
    assert extract_json(f"prefix {text} suffix") == expected


# ---- failures -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("   \n", "empty"),
        ("I could not find any facts in this conversation.", "no JSON"),
        ('{"facts": [{"text": "likes tea", "confidence": 0.9}, {"text": "lik', "cut off"),
        ('{"a": "never closed', "cut off"),
        ('{"a": 1 = 2}', "not valid JSON"),
    ],
)
def test_what_cannot_be_repaired_says_why(text: str, message: str) -> None:
    with pytest.raises(RepairError, match=message):
        extract_json(text)


# ---- validation against a model -------------------------------------------------------------


def test_parse_model_validates() -> None:
    value = parse_model(
        '```json\n{"facts": [{"text": "likes tea", "confidence": "0.9"}]}\n```', Facts
    )
    assert value == Facts(facts=[Fact(text="likes tea", confidence=0.9)])


def test_parse_model_skips_candidates_that_do_not_validate() -> None:
    text = (
        'For example {"text": "x"} is one fact. Answer: {"facts": [{"text": "t", "confidence": 1}]}'
    )
    assert parse_model(text, Facts).facts == [Fact(text="t", confidence=1)]


def test_parse_model_unwraps_and_wraps_the_usual_way() -> None:
    inner = '{"facts": [{"text": "t", "confidence": 0.5}]}'
    expected = Facts(facts=[Fact(text="t", confidence=0.5)])
    assert parse_model('{"Facts": ' + inner + "}", Facts) == expected
    assert parse_model("[" + inner + "]", Facts) == expected
    assert parse_model('[{"text": "t", "confidence": 0.5}]', Facts) == expected


def test_validation_errors_name_the_fields() -> None:
    with pytest.raises(RepairError) as caught:
        parse_model('{"facts": [{"text": "t", "confidence": 7}, {"confidence": 0}]}', Facts)
    message = str(caught.value)
    assert "does not match the schema" in message
    assert "facts.0.confidence: Input should be less than or equal to 1" in message
    assert "facts.1.text: Field required" in message


def test_the_longest_candidate_explains_the_failure() -> None:
    with pytest.raises(RepairError, match=r"facts\.0\.confidence"):
        parse_model('Like {x}: {"facts": [{"text": "a long fact", "confidence": 3}]}', Facts)


# ---- properties -----------------------------------------------------------------------------

_strings = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=20)
_json = st.recursive(
    st.none() | st.booleans() | st.integers() | _strings,
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(_strings, children, max_size=4)
    ),
    max_leaves=12,
)
_containers = st.one_of(st.lists(_json, max_size=4), st.dictionaries(_strings, _json, max_size=4))
_prose = st.text(alphabet="abc xyz.,!?'\n", max_size=30)


@settings(max_examples=300, deadline=None)
@given(value=_containers, before=_prose, after=_prose, indent=st.sampled_from([None, 2]))
def test_valid_json_comes_back_unchanged(
    value: Any, before: str, after: str, indent: int | None
) -> None:
    dumped = json.dumps(value, indent=indent, ensure_ascii=False)
    assert extract_json(dumped) == value
    assert extract_json(f"{before}```json\n{dumped}\n```{after}") == value
    assert extract_json(f"{before} {dumped} {after}") == value


@settings(max_examples=200, deadline=None)
@given(value=st.dictionaries(st.from_regex(r"[a-z]{1,8}", fullmatch=True), _json, max_size=5))
def test_trailing_commas_anywhere_are_dropped(value: dict[str, Any]) -> None:
    dumped = json.dumps(value, indent=1).replace("\n}", ",\n}").replace("\n]", ",\n]")
    assert extract_json(dumped) == value


# ---- streaming thinking filter --------------------------------------------------------------


def feed_all(pieces: list[str]) -> str:
    thinking = ThinkFilter()
    return "".join(thinking.feed(piece) for piece in pieces) + thinking.flush()


def test_think_filter_removes_blocks_split_across_pieces() -> None:
    pieces = ["<th", "ink>plan: say hi</thi", "nk>\n\nHel", "lo!"]
    assert feed_all(pieces) == "Hello!"


def test_think_filter_keeps_other_tags_and_angle_brackets() -> None:
    assert (
        feed_all(["a < b and <b>bold</b> ", "<", "think", "ing>x</thinking>c"])
        == "a < b and <b>bold</b> c"
    )


def test_think_filter_drops_an_unfinished_block() -> None:
    assert feed_all(["Answer: 42 ", "<think>but wait"]) == "Answer: 42 "


@settings(max_examples=200, deadline=None)
@given(
    answer=st.text(alphabet="ab <>/\n", max_size=40).filter(lambda s: s.strip() == s),
    cuts=st.lists(st.integers(min_value=0, max_value=80), max_size=6),
)
def test_think_filter_matches_strip_reasoning(answer: str, cuts: list[int]) -> None:
    text = f"<think>hmm <b> {{x}}</think>\n{answer}"
    bounds = sorted({0, len(text), *(c for c in cuts if c < len(text))})
    pieces = [text[a:b] for a, b in itertools.pairwise(bounds)]
    assert feed_all(pieces) == strip_reasoning(text)
