"""Public identifiers: 21 URL-safe symbols, every symbol equally likely."""

from __future__ import annotations

from collections import Counter

from honcho_server.ids import NAME_PATTERN, new_id, new_ids

ALPHABET = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-")


def test_ids_are_21_url_safe_symbols_and_distinct() -> None:
    batch = new_ids(500)
    singles = [new_id() for _ in range(500)]
    for made in (batch, singles):
        assert len(set(made)) == 500
        assert all(len(i) == 21 and set(i) <= ALPHABET for i in made)
    assert new_ids(0) == []
    assert len(new_id(8)) == 8 and {len(i) for i in new_ids(3, size=5)} == {5}
    assert NAME_PATTERN == r"^[a-zA-Z0-9_-]+$"  # an id is also a valid name


def test_every_symbol_is_equally_likely() -> None:
    counts = Counter("".join(new_ids(2000)) + "".join(new_id() for _ in range(2000)))
    assert set(counts) == ALPHABET
    expected = 4000 * 21 / 64  # 1312.5 each, standard deviation about 36
    assert all(abs(n - expected) < 250 for n in counts.values()), counts
