"""Which principal may call which route with which options: BEHAVIOUR §21.3, tightened.

Two layers, both data rather than per-route code:

* **Routes.** A route's scope is read off its path template.
  ``/workspaces/{workspace_id}/peers/{peer_id}/…`` is a peer route,
  ``/workspaces/{workspace_id}/sessions/{session_id}/…`` a session route, any other route with a
  ``{workspace_id}`` a workspace route, and a route without one is admin-only. Only the
  exceptions are listed: the three self-authorizing get-or-create routes (their handlers check
  the writes), the read-only routes a peer key may use as an active member of the session, and
  clone, which creates a session and so needs a workspace-level key. The key's narrowest claim
  decides; a peer or session key never widens to workspace access.
* **Options.** Every query parameter, body field or path parameter that names another object
  (a peer, a session, a scope, a workspace) on a route a narrow key can reach is listed in
  :data:`OPTIONS` with its :class:`Role`, and :func:`decide_options` checks the named objects
  against the key's reach. A route without an entry names nothing beyond its own path, or is
  reachable only by workspace-level keys, for which every object of their workspace is in reach
  (ids are workspace-relative). ``tests/auth/test_authorization_matrix.py`` derives every such
  option from the served OpenAPI document and the routes' hidden parameters and probes each.

A key's reach: a **peer key** (``p``) is its peer, reading its own view of anyone, and the
sessions ``p`` is an active member of; a **session key** (``s``) is session ``s`` and the peers
that are active members of ``s`` (it cannot enrol others: adding peers, messages by other authors
and creating ``s`` with peers all name peers it must already reach); ``scope`` options reach
across sessions and need a workspace-level key.

Templates are relative to the ``/v3`` prefix (a leading ``/v3`` is dropped): depending on the
FastAPI version the matched route reports its path with or without its router's prefix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum

ADMIN_REQUIRED = "Resource requires admin privileges"
NOT_PERMISSIONED = "JWT not permissioned for this resource"
UNAUTHORIZED_RESOURCE = "Unauthorized access to resource"

API_PREFIX = "/v3"
WORKSPACE = "/workspaces/{workspace_id}"
PEER_ROUTES = WORKSPACE + "/peers/{peer_id}"
SESSION_ROUTES = WORKSPACE + "/sessions/{session_id}"

CREATE_WORKSPACE = ("POST", "/workspaces")
"""Self-authorizing: the handler requires the body id to equal the key's workspace."""

CREATE_IN_WORKSPACE = frozenset({("POST", WORKSPACE + "/peers"), ("POST", WORKSPACE + "/sessions")})
"""Self-authorizing within the key's workspace: handlers decide for peer and session keys."""

MEMBER_READS = frozenset(
    {
        ("GET", SESSION_ROUTES),
        ("POST", SESSION_ROUTES + "/messages/list"),
        ("GET", SESSION_ROUTES + "/messages/{message_id}"),
        ("GET", SESSION_ROUTES + "/context"),
        ("GET", SESSION_ROUTES + "/summaries"),
        ("GET", SESSION_ROUTES + "/peers"),
        ("GET", SESSION_ROUTES + "/peers/{peer_id}/config"),
        ("POST", SESSION_ROUTES + "/search"),
    }
)
"""Read-only session routes open to a peer key whose peer is an active member (§21.3 rule 6)."""

WORKSPACE_KEY_ROUTES = frozenset(
    {
        ("POST", SESSION_ROUTES + "/clone"),
        ("DELETE", SESSION_ROUTES + "/messages/{message_id}"),
        ("DELETE", PEER_ROUTES),
    }
)
"""Session and peer routes that need a workspace-level key: clone creates a new session, which a
session key (bound to its own session) or a peer key (which creates no sessions) may not do; the
two irreversible deletes beyond upstream (one message, erasing a peer) are an operator's, not a
participant's: a peer key may not erase itself, nor a session key remove a message."""


class Kind(Enum):
    ADMIN_ONLY = "admin-only"
    CREATE_WORKSPACE = "create-workspace"
    CREATE_IN_WORKSPACE = "create-in-workspace"
    SCOPED = "scoped"


def _under(template: str, prefix: str) -> bool:
    return template == prefix or template.startswith(prefix + "/")


@dataclass(frozen=True)
class RouteTarget:
    """A matched route: its method and template, and the resource its path names."""

    method: str
    template: str
    workspace: str | None = None
    peer: str | None = None
    """The peer a peer route is about (``/peers/{peer_id}/…`` only)."""
    session: str | None = None
    """The session a session route is about (``/sessions/{session_id}/…`` only)."""
    path_peer: str | None = None
    """Any ``{peer_id}`` in the path (e.g. a member's config under a session)."""

    @classmethod
    def of(cls, method: str, template: str, params: Mapping[str, str]) -> RouteTarget:
        if template.startswith(API_PREFIX + "/"):
            template = template.removeprefix(API_PREFIX)
        return cls(
            method=method.upper(),
            template=template,
            workspace=params.get("workspace_id") if _under(template, WORKSPACE) else None,
            peer=params.get("peer_id") if _under(template, PEER_ROUTES) else None,
            session=params.get("session_id") if _under(template, SESSION_ROUTES) else None,
            path_peer=params.get("peer_id"),
        )

    @property
    def key(self) -> tuple[str, str]:
        return (self.method, self.template)

    @property
    def kind(self) -> Kind:
        if self.key == CREATE_WORKSPACE:
            return Kind.CREATE_WORKSPACE
        if self.workspace is None:
            return Kind.ADMIN_ONLY  # fail closed: no workspace in the path, no scoped access
        if self.key in CREATE_IN_WORKSPACE:
            return Kind.CREATE_IN_WORKSPACE
        return Kind.SCOPED


@dataclass(frozen=True)
class Decision:
    allowed: bool
    detail: str = ""
    sessions: frozenset[str] = frozenset()
    """Allowed only if the key's peer is an active member of each of these (active) sessions."""
    members: frozenset[str] = frozenset()
    """Allowed only if each of these peers is an active member of the key's (active) session."""

    def also(self, other: Decision) -> Decision:
        """Both decisions at once (the first refusal wins)."""
        if not self.allowed:
            return self
        if not other.allowed:
            return other
        return Decision(True, "", self.sessions | other.sessions, self.members | other.members)


ALLOW = Decision(True)


def _deny(detail: str) -> Decision:
    return Decision(False, detail)


def decide(
    *, admin: bool, workspace: str | None, peer: str | None, session: str | None, route: RouteTarget
) -> Decision:
    """Whether a key with these claims may call ``route`` (before any handler-level check)."""
    if admin:
        return ALLOW
    kind = route.kind
    if kind is Kind.ADMIN_ONLY:
        return _deny(ADMIN_REQUIRED)
    if kind is Kind.CREATE_WORKSPACE:
        return ALLOW if workspace is not None else _deny(UNAUTHORIZED_RESOURCE)
    if workspace is None or workspace != route.workspace:
        return _deny(NOT_PERMISSIONED)
    if kind is Kind.CREATE_IN_WORKSPACE:
        return ALLOW  # the handler checks what a peer or session key may create
    if session is not None and route.session != session:
        return _deny(NOT_PERMISSIONED)
    if route.key in WORKSPACE_KEY_ROUTES and (peer is not None or session is not None):
        return _deny(NOT_PERMISSIONED)
    if peer is None or route.peer == peer:
        return ALLOW
    if route.key in MEMBER_READS and route.session is not None:
        return Decision(True, sessions=frozenset({route.session}))
    return _deny(NOT_PERMISSIONED)


# --- options that name other objects -------------------------------------------------------


class Role(Enum):
    """What an option's object is to the request, and so which keys reach it."""

    WORKSPACE = "workspace"
    """The workspace a request creates or reads: must be the key's own (any non-admin key)."""
    SESSION = "session"
    """A session whose data is read or written: a peer key's peer must be an active member; a
    session key must be for that very session."""
    OBSERVER = "observer"
    """Whose knowledge is read: a peer key's own peer; an active member of a session key's
    session."""
    OBSERVED = "observed"
    """Whom that knowledge is about: anyone for a peer key (it reads only its own view, pinned by
    its observer), an active member of a session key's session."""
    MEMBER = "member"
    """A peer read, enrolled, written as, or removed within a session: a peer key's own peer; an
    active member of a session key's session."""
    SCOPE = "scope"
    """A scope spans sessions: workspace-level keys only."""
    NARROWING = "narrowing"
    """Filters that can only narrow the route's own result set (already within reach). Listed
    so every object-naming option is classified; nothing to check."""


class Source(Enum):
    QUERY = "query"
    BODY = "body"
    FORM = "form"
    PATH = "path"


ITEMS = "[]"
"""Path step: every item of a list."""
KEYS = "{}"
"""Path step: the keys of a map (e.g. the peer ids of a session's peer map)."""
STRINGS = "**"
"""Path step: every string below this point (values of lists and maps, not map keys)."""


@dataclass(frozen=True)
class Named:
    """An option naming objects: where its value is, what the named objects are to the request.

    ``path`` walks the parsed value: field names, then :data:`ITEMS`, :data:`KEYS` or
    :data:`STRINGS` steps (a query option's path is its name; repeated values all count).
    ``observer_unless``: the option is the *observer* as well when this other option is absent
    (``peer_target`` without ``peer_perspective`` reads the target's own view).
    """

    source: Source
    path: tuple[str, ...]
    role: Role
    observer_unless: str | None = field(default=None)

    @property
    def name(self) -> str:
        return self.path[0] if self.path else ""


def _q(name: str, role: Role, observer_unless: str | None = None) -> Named:
    return Named(Source.QUERY, (name,), role, observer_unless)


def _b(*path_and_role: str | Role) -> Named:
    *path, role = path_and_role
    assert isinstance(role, Role)
    return Named(Source.BODY, tuple(str(p) for p in path), role)


_SESSION_ALLOWLIST = _b("filters", "session_id", STRINGS, Role.SESSION)
"""Chat and representation ``filters``: a session allowlist (``id | [ids] | {"in": [ids]}``)."""
_AUTHORS = (_b("messages", ITEMS, "peer_id", Role.MEMBER),)
_PATH_MEMBER = (Named(Source.PATH, ("peer_id",), Role.MEMBER),)

OPTIONS: Mapping[tuple[str, str], tuple[Named, ...]] = {
    # self-authorizing get-or-create routes
    ("POST", "/workspaces"): (_b("id", Role.WORKSPACE),),
    ("POST", WORKSPACE + "/peers"): (_b("id", Role.MEMBER),),
    ("POST", WORKSPACE + "/sessions"): (
        _b("id", Role.SESSION),
        _b("peers", KEYS, Role.MEMBER),
        _b("scopes", STRINGS, Role.SCOPE),
    ),
    # peer routes: the path peer is the observer (session keys never reach them)
    ("POST", PEER_ROUTES + "/representation"): (
        _b("session_id", Role.SESSION),
        _SESSION_ALLOWLIST,
        _b("target", Role.OBSERVED),
        _b("scope", STRINGS, Role.SCOPE),
    ),
    ("GET", PEER_ROUTES + "/context"): (_q("target", Role.OBSERVED),),
    ("GET", PEER_ROUTES + "/card"): (_q("target", Role.OBSERVED),),
    ("PUT", PEER_ROUTES + "/card"): (_q("target", Role.OBSERVED),),
    ("POST", PEER_ROUTES + "/chat"): (
        _b("session_id", Role.SESSION),
        _SESSION_ALLOWLIST,
        _b("target", Role.OBSERVED),
        _b("scope", STRINGS, Role.SCOPE),
    ),
    ("POST", PEER_ROUTES + "/search"): (
        _b("filters", Role.NARROWING),
        _b("scope", Role.SCOPE),
    ),
    ("POST", PEER_ROUTES + "/sessions"): (_b("filters", Role.NARROWING),),
    # session routes
    ("GET", SESSION_ROUTES + "/context"): (
        _q("peer_target", Role.OBSERVED, observer_unless="peer_perspective"),
        _q("peer_perspective", Role.OBSERVER),
        _q("sessions", Role.SESSION),
        _q("scope", Role.SCOPE),
    ),
    ("POST", SESSION_ROUTES + "/search"): (
        _b("filters", Role.NARROWING),
        _b("scope", Role.SCOPE),
    ),
    ("POST", SESSION_ROUTES + "/messages/list"): (_b("filters", Role.NARROWING),),
    ("POST", SESSION_ROUTES + "/messages"): _AUTHORS,
    ("POST", SESSION_ROUTES + "/messages/"): _AUTHORS,
    ("POST", SESSION_ROUTES + "/messages/upload"): (Named(Source.FORM, ("peer_id",), Role.MEMBER),),
    ("POST", SESSION_ROUTES + "/peers"): (_b(KEYS, Role.MEMBER),),
    ("PUT", SESSION_ROUTES + "/peers"): (_b(KEYS, Role.MEMBER),),
    ("DELETE", SESSION_ROUTES + "/peers"): (_b(ITEMS, Role.MEMBER),),
    ("GET", SESSION_ROUTES + "/peers/{peer_id}/config"): _PATH_MEMBER,
    ("PUT", SESSION_ROUTES + "/peers/{peer_id}/config"): _PATH_MEMBER,
}
"""Object-naming options of every route a peer or session key can reach (templates relative
to ``/v3``). Routes only workspace-level keys reach need no entry."""


def options_of(route: RouteTarget) -> tuple[Named, ...]:
    return OPTIONS.get(route.key, ())


def checked(option: Named, *, admin: bool, workspace_level: bool) -> bool:
    """Whether this option can refuse a key of this level (so its value must be read)."""
    if admin or option.role is Role.NARROWING:
        return False
    return option.role is Role.WORKSPACE or not workspace_level


def collect(value: object, path: Iterable[str]) -> list[str]:
    """The strings at ``path`` in a parsed value (models by attribute, maps by key)."""
    values = [value]
    for step in path:
        nxt: list[object] = []
        for v in values:
            if v is None:
                continue
            if step == ITEMS:
                nxt += list(v) if isinstance(v, list | tuple) else []
            elif step == KEYS:
                nxt += list(v) if isinstance(v, Mapping) else []
            elif step == STRINGS:
                nxt += _strings(v)
            elif isinstance(v, Mapping):
                nxt.append(v.get(step))
            else:
                nxt.append(getattr(v, step, None))
        values = nxt
    out: list[str] = []
    for v in values:
        if isinstance(v, str):
            out.append(v)
        elif isinstance(v, list | tuple):
            out += [item for item in v if isinstance(item, str)]
    return out


def _strings(value: object) -> list[object]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _strings(v)]
    return []


def decide_options(
    *,
    admin: bool,
    workspace: str | None,
    peer: str | None,
    session: str | None,
    route: RouteTarget,
    named: Mapping[Named, list[str]],
) -> Decision:
    """Whether the objects a request's options name (``named``: the values found for each of
    :func:`options_of` the route) are within the key's reach. What needs the database comes back
    as :attr:`Decision.sessions` / :attr:`Decision.members`."""
    if admin:
        return ALLOW
    refused = _deny(UNAUTHORIZED_RESOURCE if route.kind is not Kind.SCOPED else NOT_PERMISSIONED)
    present = {option.name for option, values in named.items() if values}
    sessions: set[str] = set()
    members: set[str] = set()
    for option, values in named.items():
        role = option.role
        if role is Role.OBSERVED and option.observer_unless not in (None, *present):
            role = Role.OBSERVER
        for value in values:
            if role is Role.WORKSPACE:
                if value != workspace:
                    return refused
            elif role is Role.NARROWING or (peer is None and session is None):
                continue
            elif role is Role.SCOPE:
                return _deny(UNAUTHORIZED_RESOURCE)
            elif role is Role.SESSION:
                if session is not None and value != session:
                    return refused
                if peer is not None:
                    sessions.add(value)
            elif peer is not None:  # OBSERVER, OBSERVED, MEMBER
                if role is not Role.OBSERVED and value != peer:
                    return refused
            else:
                members.add(value)
    return Decision(True, sessions=frozenset(sessions), members=frozenset(members))
