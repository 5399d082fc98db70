"""A chat request checked and normalised, before anything is read or created (422s)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...errors import Invalid
from ...ids import require_valid_name
from ...schemas.chat import DialecticOptions, ReasoningLevel, WorkspaceChatOptions
from ..representation.allowlist import parse_session_allowlist
from ..scopes import require_valid_scope
from .response_format import check_response_format


@dataclass(frozen=True)
class ChatRequest:
    workspace: str
    peer: str | None  # None: workspace chat
    target: str | None
    session: str | None
    allowlist: tuple[str, ...] | None  # from filters (or a list of scopes, resolved later)
    scope: str | None  # one scope: the scope's peer observes
    scopes: tuple[str, ...] | None  # several scopes: their member sessions are the allowlist
    query: str
    level: ReasoningLevel
    stream: bool
    response_format: dict[str, Any] | None
    include_evidence: bool


def check_request(workspace: str, peer: str | None, body: WorkspaceChatOptions) -> ChatRequest:
    """The order of BEHAVIOUR §18.1 (auth checks aside): scope guards, allowlist,
    ``response_format``, names."""
    scope: str | None = None
    scopes: tuple[str, ...] | None = None
    if body.scope is not None:
        if body.filters or body.session_id is not None:
            raise Invalid("scope cannot be combined with filters or session_id")
        if isinstance(body.scope, str):
            scope = require_valid_scope(body.scope)
        else:
            scopes = tuple(dict.fromkeys(require_valid_scope(s) for s in body.scope))
    allowlist: tuple[str, ...] | None = None
    if body.filters:
        parse_session_allowlist(body.filters, body.session_id)  # session_id must be allowed
        allowed = parse_session_allowlist(body.filters, None)
        allowlist = tuple(allowed) if allowed is not None else None
    if body.response_format is not None:
        check_response_format(body.response_format)
    target = body.target if isinstance(body, DialecticOptions) else None
    require_valid_name(workspace, "workspace")
    if peer is not None:
        require_valid_name(peer, "peer")
    if target is not None:
        require_valid_name(target, "peer")
    if body.session_id is not None:
        require_valid_name(body.session_id, "session")
    return ChatRequest(
        workspace=workspace,
        peer=peer,
        target=target,
        session=body.session_id,
        allowlist=allowlist,
        scope=scope,
        scopes=scopes,
        query=body.query,
        level=body.reasoning_level,
        stream=body.stream,
        response_format=body.response_format,
        include_evidence=body.include_evidence,
    )
