"""Honcho API keys: the claims a key carries, verifying one, minting one (BEHAVIOUR §21.2).

Claims use upstream's short names: ``t`` issued-at (informational), ``exp`` expiry (an ISO-8601
string as upstream mints it, or a numeric epoch), ``ad`` admin, ``w`` workspace, ``p`` peer,
``s`` session. Empty strings count as absent.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..errors import Unauthorized
from . import jwt

INVALID = "Invalid JWT"
EXPIRED = "JWT expired"
MISSING = "No access token provided"


@dataclass(frozen=True)
class Principal:
    """Who is calling: an admin, or a key scoped to a workspace and maybe a peer or session.

    ``workspace`` is ``None`` only for admins and for claim-less keys (which reach nothing).
    """

    admin: bool = False
    workspace: str | None = None
    peer: str | None = None
    session: str | None = None

    @property
    def workspace_level(self) -> bool:
        """Admin, or a key for a whole workspace (no peer or session narrowing)."""
        return self.admin or (
            self.workspace is not None and self.peer is None and self.session is None
        )

    def describe(self) -> str:
        if self.admin:
            return "admin"
        scope = [f"w={self.workspace}"] if self.workspace else []
        scope += [f"p={self.peer}"] if self.peer else []
        scope += [f"s={self.session}"] if self.session else []
        return ",".join(scope) or "no scope"


ADMIN = Principal(admin=True)


def _iso(moment: datetime) -> str:
    """UTC ISO-8601 with a ``Z`` suffix, as upstream writes ``t`` and ``exp``."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def mint(
    secret: str,
    *,
    admin: bool = False,
    workspace: str | None = None,
    peer: str | None = None,
    session: str | None = None,
    expires_at: datetime | None = None,
    now: datetime | None = None,
) -> str:
    """A signed key. ``peer``/``session`` need ``workspace``, as verification requires."""
    if (peer or session) and not workspace:
        raise ValueError("a peer or session key needs a workspace")
    claims: dict[str, Any] = {"t": _iso(now or datetime.now(UTC))}
    if expires_at is not None:
        claims["exp"] = _iso(expires_at)
    if admin:
        claims["ad"] = True
    for name, value in (("w", workspace), ("p", peer), ("s", session)):
        if value:
            claims[name] = value
    return jwt.encode(claims, secret)


def _expiry(value: Any) -> datetime | None:
    """``exp`` as an aware datetime: ISO string (upstream) or numeric epoch (RFC 7519)."""
    if value is None:
        return None
    if isinstance(value, bool):
        raise Unauthorized(INVALID)
    if isinstance(value, int | float):
        try:
            return datetime.fromtimestamp(value, UTC)
        except (OverflowError, OSError, ValueError):
            raise Unauthorized(INVALID) from None
    if isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.strip())
        except ValueError:
            raise Unauthorized(INVALID) from None
        return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
    raise Unauthorized(INVALID)


def _name(claims: dict[str, Any], key: str) -> str | None:
    value = claims.get(key)
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise Unauthorized(INVALID)
    return value


def verify(token: str, secret: str, *, now: datetime | None = None) -> Principal:
    """The principal a key stands for; :class:`Unauthorized` (401) if it is not acceptable."""
    try:
        claims = jwt.decode(token, secret)
    except jwt.InvalidToken:
        raise Unauthorized(INVALID) from None
    expires = _expiry(claims.get("exp"))
    if expires is not None and (now or datetime.now(UTC)) >= expires:
        raise Unauthorized(EXPIRED)
    admin = claims.get("ad", False)
    if admin is None:
        admin = False
    if not isinstance(admin, bool):
        raise Unauthorized(INVALID)
    workspace, peer, session = _name(claims, "w"), _name(claims, "p"), _name(claims, "s")
    if (peer or session) and not workspace:
        raise Unauthorized(INVALID)
    return Principal(admin=admin, workspace=workspace, peer=peer, session=session)
