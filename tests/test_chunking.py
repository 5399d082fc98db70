"""Splitting long text into message-sized chunks."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from honcho_server.services.chunking import chunk_spans, split_text

LIMIT = 25_000


def test_short_and_empty_text_is_one_chunk() -> None:
    assert split_text("") == [""]
    assert split_text("hello") == ["hello"]
    assert split_text("x" * LIMIT) == ["x" * LIMIT]


def test_cuts_after_the_last_paragraph_break_in_the_window() -> None:
    text = "aaa\n\nbbb\nccc\n\nddd. eee fff"
    assert split_text(text, limit=16) == ["aaa\n\nbbb\nccc\n\n", "ddd. eee fff"]


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("aaaa\nbbbb. cccc dddd", "aaaa\n"),  # no paragraph break: a line break
        ("aaaa. bbbb cccc dddd", "aaaa. "),  # no line break: a sentence end
        ("aaaa bbbb cccc dddd", "aaaa bbbb "),  # no sentence end: a space
        ("aaaabbbbccccdddd", "aaaabbbbcc"),  # nothing: a hard cut at the limit
    ],
)
def test_separator_preference(text: str, first: str) -> None:
    chunks = split_text(text, limit=10)
    assert chunks[0] == first
    assert "".join(chunks) == text


def test_separator_at_the_window_start_is_not_used() -> None:
    # The only space starts the second window, so that window is cut hard.
    text = "a" * 10 + " " + "b" * 15
    assert split_text(text, limit=10) == ["a" * 10, " " + "b" * 9, "b" * 6]


def test_spans_are_contiguous_offsets() -> None:
    text = ("word " * 3000 + "\n\n") * 5
    spans = chunk_spans(text)
    assert spans[0][0] == 0 and spans[-1][1] == len(text)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(spans))
    assert all(0 < end - start <= LIMIT for start, end in spans)


def test_rejects_a_non_positive_limit() -> None:
    with pytest.raises(ValueError):
        chunk_spans("abc", limit=0)


@given(text=st.text(alphabet="ab .\n", max_size=300), limit=st.integers(1, 40))
def test_property_small_limits(text: str, limit: int) -> None:
    chunks = split_text(text, limit=limit)
    assert "".join(chunks) == text
    assert all(len(c) <= limit for c in chunks)
    assert all(chunks) or chunks == [""]
    if len(text) <= limit:
        assert chunks == [text]


@settings(max_examples=40, deadline=None)
@given(
    pieces=st.lists(
        st.sampled_from(["lorem", "ipsum", " ", ". ", "\n", "\n\n", "x" * 997]), max_size=30
    ),
    repeat=st.integers(0, 3000),
)
def test_property_real_limit(pieces: list[str], repeat: int) -> None:
    text = "".join(pieces) * repeat
    chunks = split_text(text)
    assert "".join(chunks) == text
    assert all(len(c) <= LIMIT for c in chunks)
    if len(text) <= LIMIT:
        assert len(chunks) == 1
