"""Compact HS256 JSON Web Tokens with the standard library (RFC 7519 / 7515).

Tokens are byte-compatible with PyJWT's HS256 encoding, so keys minted by an upstream Honcho
deployment with the same secret verify here and the other way round. Only ``HS256`` is
accepted: any other ``alg`` (``none`` included) is refused before the signature is checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

ALGORITHM = "HS256"
_HEADER = {"alg": ALGORITHM, "typ": "JWT"}


class InvalidToken(Exception):
    """Malformed token, wrong algorithm or bad signature."""


def _b64encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _b64decode(part: str) -> bytes:
    padded = part + "=" * (-len(part) % 4)
    try:
        return base64.b64decode(padded.encode("ascii"), altchars=b"-_", validate=True)
    except (binascii.Error, UnicodeEncodeError, ValueError) as exc:
        raise InvalidToken("not base64url") from exc


def _json_object(raw: bytes) -> dict[str, Any]:
    try:
        value = json.loads(raw)
    except (UnicodeDecodeError, ValueError) as exc:
        raise InvalidToken("not JSON") from exc
    if not isinstance(value, dict):
        raise InvalidToken("not a JSON object")
    return value


def _sign(signing_input: bytes, secret: str) -> bytes:
    return hmac.new(secret.encode("utf-8"), signing_input, hashlib.sha256).digest()


def encode(claims: dict[str, Any], secret: str) -> str:
    """``header.payload.signature``, JSON encoded the way PyJWT does (compact separators)."""
    header = json.dumps(_HEADER, separators=(",", ":"), sort_keys=True).encode()
    payload = json.dumps(claims, separators=(",", ":")).encode()
    signing_input = f"{_b64encode(header)}.{_b64encode(payload)}".encode("ascii")
    return f"{signing_input.decode('ascii')}.{_b64encode(_sign(signing_input, secret))}"


def decode(token: str, secret: str) -> dict[str, Any]:
    """The verified claims of ``token``; :class:`InvalidToken` for anything else.

    Expiry is not checked here (see :mod:`.keys`): upstream mints ``exp`` as an ISO string,
    which generic JWT libraries refuse.
    """
    if not token.isascii():
        raise InvalidToken("not ASCII")
    parts = token.split(".")
    if len(parts) != 3 or not all(parts):
        raise InvalidToken("not a compact JWS")
    header = _json_object(_b64decode(parts[0]))
    if header.get("alg") != ALGORITHM or header.get("typ", "JWT") != "JWT" or "crit" in header:
        raise InvalidToken("unsupported header")
    signature = _b64decode(parts[2])
    expected = _sign(f"{parts[0]}.{parts[1]}".encode("ascii"), secret)
    if not hmac.compare_digest(signature, expected):
        raise InvalidToken("bad signature")
    return _json_object(_b64decode(parts[1]))
