"""Small helpers shared by the pages."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar

from ..dispatch import ApiError

T = TypeVar("T")


async def maybe(call: Awaitable[T]) -> tuple[T | None, str | None]:
    """An optional section of a page: its data, or why this key may not see it (401/403/404)
    — the rest of the page still shows. Other failures propagate."""
    try:
        return await call, None
    except ApiError as exc:
        if exc.status in (401, 403, 404):
            return None, f"{exc.status}: {exc.detail}"
        raise


def lines(text: str) -> list[str]:
    """A textarea's non-blank lines, trimmed."""
    return [line.strip() for line in text.splitlines() if line.strip()]


def form_page(value: Any) -> int:
    try:
        return max(1, int(value))
    except (TypeError, ValueError):
        return 1
