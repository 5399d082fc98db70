"""Public identifiers: 21-character nanoids, and the rule for user-chosen names."""

from __future__ import annotations

import re
import secrets

from .errors import Invalid

_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-"
NAME_PATTERN = r"^[a-zA-Z0-9_-]+$"
NAME_MAX_LENGTH = 512
_NAME_RE = re.compile(NAME_PATTERN)


# each random byte to a symbol by its low 6 bits (256 is a multiple of 64: still uniform)
_SYMBOLS = bytes(ord(_ALPHABET[b & 63]) for b in range(256))


def _random_symbols(count: int) -> str:
    """``count`` symbols of the alphabet from one read of the system's random source."""
    return secrets.token_bytes(count).translate(_SYMBOLS).decode("ascii")


def new_id(size: int = 21) -> str:
    """A nanoid: ``size`` characters from the URL-safe 64-symbol alphabet."""
    return _random_symbols(size)


def new_ids(n: int, size: int = 21) -> list[str]:
    """``n`` nanoids from one read of the random source (a batch's message ids)."""
    symbols = _random_symbols(n * size)
    return [symbols[i : i + size] for i in range(0, n * size, size)]


def is_valid_name(name: str) -> bool:
    return 0 < len(name) <= NAME_MAX_LENGTH and _NAME_RE.fullmatch(name) is not None


def require_valid_name(name: str, kind: str) -> str:
    """For names created implicitly (paths, message authors): 422 with a string detail."""
    if not is_valid_name(name):
        raise Invalid(
            f"Invalid {kind} id {name[:80]!r}: ids must be 1-{NAME_MAX_LENGTH} characters "
            "of letters, digits, '_' or '-'"
        )
    return name
