"""Every job kind the worker can run: kind → (payload model, handler).

A handler runs inside the transaction that marks its job succeeded. Handlers that call an
LLM or an embedder must not hold that transaction across the call: they get a
``JobContext`` in a later issue; database-only handlers take the open session.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel
from sqlalchemy.ext.asyncio import AsyncSession

from .kinds import deletion

Handler = Callable[[AsyncSession, int, Any], Awaitable[None]]


@dataclass(frozen=True)
class JobKind:
    payload: type[BaseModel]
    handler: Handler


JOB_KINDS: dict[str, JobKind] = {
    "delete_session": JobKind(deletion.DeleteSession, deletion.delete_session),
    "delete_workspace": JobKind(deletion.DeleteWorkspace, deletion.delete_workspace),
}


class UnknownJobKind(LookupError):
    pass


def lookup(kind: str) -> JobKind:
    try:
        return JOB_KINDS[kind]
    except KeyError:
        raise UnknownJobKind(f"no handler for job kind {kind!r}") from None
