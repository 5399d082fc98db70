"""Declarative base with a naming convention, so migrations get stable constraint names."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, MetaData, Table, func
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.dialects.postgresql.base import ischema_names
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import UserDefinedType

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_N_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

JsonObject = dict[str, Any]


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: DateTime(timezone=True), JsonObject: JSONB}


def created_at_column() -> Mapped[datetime]:
    return mapped_column(DateTime(timezone=True), server_default=func.now(), nullable=False)


def json_column(name: str | None = None) -> Mapped[JsonObject]:
    if name is None:
        return mapped_column(JSONB, server_default="{}", nullable=False)
    return mapped_column(name, JSONB, server_default="{}", nullable=False)


def table(model: type[Base]) -> Table:
    """The Core ``Table`` of a mapped class, typed as such for query building."""
    tbl = model.__table__
    assert isinstance(tbl, Table)
    return tbl


class Vector(UserDefinedType[str]):
    """pgvector's ``vector``. Values travel as text (``'[0.1,0.2,…]'``); the size of the
    column is fixed by the migration from the ``EMBEDDING_DIMENSIONS`` setting."""

    cache_ok = True

    def __init__(self, dimensions: int | None = None) -> None:
        self.dimensions = dimensions  # informational: reflection passes the column's size

    def get_col_spec(self, **kw: object) -> str:
        return "vector"


# Let reflection (Alembic's model/database comparison) recognise the column type.
ischema_names["vector"] = Vector


def vector_literal(values: list[float]) -> str:
    return "[" + ",".join(f"{v:.7g}" for v in values) + "]"
