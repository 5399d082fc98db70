"""Turn repository pages into ``Page[T]``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..db.repositories.paging import AnyRow
from ..schemas.pagination import Page

T = TypeVar("T")


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    size: int = 50
    reverse: bool = False


def to_page(
    result: tuple[list[AnyRow], int], view: Callable[[AnyRow], T], req: PageRequest
) -> Page[T]:
    rows, total = result
    return Page[T].build([view(r) for r in rows], total=total, page=req.page, size=req.size)
