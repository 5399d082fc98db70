"""Webhook endpoints: wire models and the rules a URL must follow.

The structural rules (scheme, host, length) are part of the request model, so breaking them is
a pydantic 422. Whether the host may be a private address depends on a setting, so that rule
is a separate function (:func:`address_problem`) the route applies with the setting in hand.
"""

from __future__ import annotations

import ipaddress
import socket
from datetime import datetime
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel

URL_MAX_LENGTH = 2048
SCHEMES = ("http", "https")
_LOCALHOST = "localhost"


def structure_problem(url: str) -> str | None:
    """Why ``url`` is not an absolute http(s) URL with a host, or ``None`` when it is."""
    if len(url) > URL_MAX_LENGTH:
        return f"URL must be at most {URL_MAX_LENGTH} characters"
    if any(c.isspace() or not c.isprintable() for c in url):
        return "URL must not contain whitespace or control characters"
    try:
        parts = urlsplit(url)
        host = parts.hostname
        parts.port  # noqa: B018 - raises ValueError on a malformed port
    except ValueError as exc:
        return f"Invalid URL: {exc}"
    if parts.scheme.lower() not in SCHEMES:
        return "URL scheme must be http or https"
    if not host:
        return "URL must include a host"
    return None


def _ip_literal(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address ``host`` denotes without a DNS lookup: a canonical IP literal, or one of
    the legacy IPv4 spellings resolvers still accept (``127.1``, ``0x7f.0.0.1``, ``2130706433``)."""
    try:
        return ipaddress.ip_address(host)
    except ValueError:
        pass
    try:
        return ipaddress.IPv4Address(socket.inet_aton(host))
    except OSError:
        return None


def _non_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_reserved
        or ip.is_multicast
        or ip.is_unspecified
        or not ip.is_global
    )


def address_problem(url: str) -> str | None:
    """Why ``url`` points at a non-public address, or ``None``. Hostnames are not resolved;
    IP literals and ``localhost`` names are checked."""
    host = (urlsplit(url).hostname or "").rstrip(".")
    if host == _LOCALHOST or host.endswith("." + _LOCALHOST):
        return "URL must not point at localhost"
    ip = _ip_literal(host)
    if ip is not None and _non_public(ip):
        return "URL must not point at a private, loopback, link-local or reserved address"
    return None


def _check_structure(url: str) -> str:
    problem = structure_problem(url)
    if problem is not None:
        raise ValueError(problem)
    return url


WebhookUrl = Annotated[str, AfterValidator(_check_structure)]


class WebhookEndpointCreate(BaseModel):
    url: WebhookUrl


class WebhookEndpoint(BaseModel):
    id: str
    workspace_id: str | None
    url: str
    created_at: datetime
