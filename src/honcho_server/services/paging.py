"""Turn repository pages into ``Page[T]``."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

from ..schemas.pagination import Page

T = TypeVar("T")
R = TypeVar("R")  # a repository's typed read model


@dataclass(frozen=True)
class PageRequest:
    page: int = 1
    size: int = 50
    reverse: bool = False


def to_page(result: tuple[Sequence[R], int], view: Callable[[R], T], req: PageRequest) -> Page[T]:
    rows, total = result
    return Page[T].build([view(r) for r in rows], total=total, page=req.page, size=req.size)
