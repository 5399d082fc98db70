"""Splitting text into overlapping chunks that fit an embedder's input limit."""

from __future__ import annotations

import asyncio
import itertools
import re
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from honcho_server.embeddings import TextTokenizer, chunk_spans, chunk_text, truncate_text
from honcho_server.embeddings.local import LocalEmbedder
from honcho_server.embeddings.openai_compat import OpenAICompatEmbedder
from honcho_server.embeddings.protocol import Span


class Words:
    """A tokenizer whose tokens are whitespace-separated words (easy to reason about)."""

    def count_tokens(self, text: str) -> int:
        return len(self.token_spans(text))

    def token_spans(self, text: str) -> list[Span]:
        return [m.span() for m in re.finditer(r"\S+", text)]


@pytest.fixture(scope="module")
def real_tokenizers() -> Iterator[dict[str, TextTokenizer]]:
    """The two real tokenizers: WordPiece (local model) and cl100k_base (OpenAI)."""
    local = LocalEmbedder()
    remote = OpenAICompatEmbedder(model="m", dimensions=8, base_url="http://127.0.0.1:9/v1")
    yield {"wordpiece": local, "cl100k": remote}
    asyncio.run(local.aclose())
    asyncio.run(remote.aclose())


def words(n: int, start: int = 0) -> str:
    return " ".join(f"w{i}" for i in range(start, start + n))


def test_short_text_is_one_chunk_and_empty_text_none() -> None:
    assert chunk_text(Words(), "just a few words", 10) == ["just a few words"]
    assert chunk_text(Words(), words(10), 10) == [words(10)]
    assert chunk_text(Words(), "", 10) == []
    assert chunk_text(Words(), "  \n ", 10) == []
    assert chunk_spans(Words(), "", 10) == [(0, 0)]


def test_long_text_is_split_into_windows_overlapping_by_a_fifth() -> None:
    chunks = chunk_text(Words(), words(100), 20)
    assert all(len(c.split()) <= 20 for c in chunks)
    # Each chunk starts 4 words (20%) before the previous one ended.
    assert chunks[0] == words(20)
    assert chunks[1] == words(20, start=16)
    assert chunks[-1].endswith("w99")
    for before, after in itertools.pairwise(chunks):
        overlap = set(before.split()) & set(after.split())
        assert len(overlap) == 4


def test_chunks_end_at_the_best_boundary_in_the_second_half_of_the_window() -> None:
    text = f"{words(12)}\n\n{words(5, 12)}. {words(10, 17)}"
    first = chunk_text(Words(), text, 20)[0]
    assert first == words(12)  # at the paragraph break, though the window allows 20 words
    text = f"{words(12)}. {words(20, 12)}"
    assert chunk_text(Words(), text, 20)[0] == f"{words(12)}."
    text = f"{words(3)}\n\n{words(30, 3)}"  # a break in the first half is ignored
    assert chunk_text(Words(), text, 20)[0] == f"{words(3)}\n\n{words(17, 3)}"


def test_the_next_chunk_starts_at_a_sentence_when_the_overlap_has_one() -> None:
    text = " ".join(f"Sentence {i} is here." for i in range(30))
    chunks = chunk_text(Words(), text, 20)
    assert all(c.startswith("Sentence") for c in chunks)
    assert all(c.endswith(".") for c in chunks[:-1])


def test_overlap_zero_gives_adjacent_chunks() -> None:
    chunks = chunk_text(Words(), words(50), 10, overlap=0)
    assert " ".join(chunks) == words(50)


@pytest.mark.parametrize(("max_tokens", "overlap"), [(0, 0.2), (10, -0.1), (10, 1.0)])
def test_bad_arguments_are_refused(max_tokens: int, overlap: float) -> None:
    with pytest.raises(ValueError):
        chunk_spans(Words(), "text", max_tokens, overlap)


def test_truncate_keeps_the_longest_prefix_that_fits() -> None:
    assert truncate_text(Words(), words(10), 3) == "w0 w1 w2"
    assert truncate_text(Words(), "short", 3) == "short"
    assert truncate_text(Words(), words(3), 0) == ""


@pytest.mark.parametrize("name", ["wordpiece", "cl100k"])
def test_real_tokenizers_split_a_long_document_within_the_limit(
    real_tokenizers: dict[str, TextTokenizer], name: str
) -> None:
    tokenizer = real_tokenizers[name]
    text = "\n\n".join(
        f"Paragraph {p}. "
        + " ".join(f"Sentence {p}.{s} mentions Lisbon and dogs." for s in range(9))
        for p in range(12)
    )
    chunks = chunk_text(tokenizer, text, 64)
    assert len(chunks) > 10
    assert all(tokenizer.count_tokens(c) <= 64 for c in chunks)
    assert all(c in text for c in chunks)
    assert "Sentence 11.8 mentions Lisbon and dogs." in chunks[-1]


_ALPHABET = st.sampled_from([*"ab cd\n.é日😀,-", "\n\n", ". ", "hello ", "naïve "])


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=st.lists(_ALPHABET, max_size=400).map("".join), limit=st.integers(1, 40))
@pytest.mark.parametrize("name", ["wordpiece", "cl100k"])
def test_chunks_fit_cover_the_text_and_move_forward(
    real_tokenizers: dict[str, TextTokenizer], name: str, text: str, limit: int
) -> None:
    tokenizer = real_tokenizers[name]
    spans = chunk_spans(tokenizer, text, limit)
    for chunk in chunk_text(tokenizer, text, limit):
        assert 0 < tokenizer.count_tokens(chunk) <= limit
    # In order, moving forward, and together covering every token of the text. (Several
    # cl100k tokens can share one character, e.g. an emoji, so offsets may repeat.)
    tokens = tokenizer.token_spans(text)
    assert len(spans) <= max(1, len(tokens))
    assert all(a[0] <= b[0] and a[1] <= b[1] for a, b in itertools.pairwise(spans))
    for start, end in tokens:
        assert any(s <= start and end <= e for s, e in spans)
