"""Search query normalisation (pure)."""

from __future__ import annotations

from honcho_server.services.search_query import MAX_WORDS, SearchQuery, tense_of


def test_question_with_punctuation() -> None:
    q = SearchQuery.parse("  What's   Alice's\tfavourite food?\n")
    assert q.text == "What's Alice's favourite food?"
    assert q.phrase == "What's Alice's favourite food"
    assert q.words == ("what", "s", "alice", "favourite", "food")


def test_identifier_keeps_inner_punctuation() -> None:
    q = SearchQuery.parse("ORD-1234?")
    assert q.phrase == "ORD-1234"
    assert q.words == ("ord", "1234")
    assert SearchQuery.parse("'tea'").phrase == "tea"
    assert SearchQuery.parse("C++").phrase == "C++"


def test_punctuation_only_keeps_the_punctuation() -> None:
    q = SearchQuery.parse(" ?! ")
    assert q.text == "?!" and q.phrase == "?!" and q.words == ()


def test_empty() -> None:
    for raw in ("", "   ", "\n\t"):
        q = SearchQuery.parse(raw)
        assert q.text == "" and q.phrase == "" and q.words == ()


def test_words_are_distinct_lowercase_and_capped() -> None:
    assert SearchQuery.parse("Tea tea TEA été").words == ("tea", "été")
    many = SearchQuery.parse(" ".join(f"w{i}" for i in range(100)))
    assert len(many.words) == MAX_WORDS and many.words[0] == "w0"


def test_tense_explicit_now_and_before() -> None:
    for now in ("What car does she drive these days?", "Is he STILL vegan", "where now?"):
        assert SearchQuery.parse(now).tense == "current", now
    for before in ("Where did she live before Berlin?", "what car he used to drive", "first job"):
        assert SearchQuery.parse(before).tense == "past", before
    # past words win: the question is about the old car
    assert tense_of("what did she drive before the car she has now") == "past"


def test_tense_from_the_verbs() -> None:
    assert tense_of("What car does Maria drive?") == "present"
    assert tense_of("Where is Lena's home") == "present"
    assert tense_of("Which car did Maria drive?") == "past"
    assert tense_of("How was the trip") == "past"


def test_tense_needs_whole_words() -> None:
    assert tense_of("snowboarding holidays") is None  # "now" inside a word
    assert tense_of("oldies playlist") is None
    assert tense_of("") is None
