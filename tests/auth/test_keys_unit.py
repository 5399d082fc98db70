"""HS256 keys: encoding, upstream-minted keys, and every way a key is refused."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from honcho_server.auth import jwt
from honcho_server.auth.keys import Principal, mint, verify
from honcho_server.errors import Unauthorized

SECRET = "k3y-for-unit-tests-0123456789-abcdefghijklmnop"


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def hand_made(claims: dict[str, Any], secret: str = SECRET, header: Any = None) -> str:
    """A token built the way PyJWT (upstream's library) builds HS256 tokens."""
    head = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    signing_input = (
        b64(json.dumps(head, separators=(",", ":"), sort_keys=True).encode())
        + "."
        + b64(json.dumps(claims, separators=(",", ":")).encode())
    )
    sig = hmac.new(secret.encode(), signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{b64(sig)}"


def refused(token: str, detail: str = "Invalid JWT") -> None:
    with pytest.raises(Unauthorized) as caught:
        verify(token, SECRET)
    assert caught.value.detail == detail
    assert caught.value.status == 401


def test_minted_key_round_trips_with_every_claim() -> None:
    expires = datetime.now(UTC) + timedelta(hours=1)
    token = mint(SECRET, workspace="w1", peer="alice", expires_at=expires)
    assert verify(token, SECRET) == Principal(workspace="w1", peer="alice")
    claims = jwt.decode(token, SECRET)
    assert claims["w"] == "w1" and claims["p"] == "alice" and "s" not in claims
    assert claims["exp"].endswith("Z") and claims["t"].endswith("Z")
    assert datetime.fromisoformat(claims["exp"]) == expires
    assert verify(mint(SECRET, admin=True), SECRET) == Principal(admin=True)


def test_encoding_is_byte_identical_to_pyjwt() -> None:
    claims = {"t": "2025-01-01T00:00:00", "w": "acme", "s": "chat-1"}
    assert jwt.encode(claims, SECRET) == hand_made(claims)


def test_upstream_minted_keys_verify() -> None:
    # Exactly what upstream's create_jwt produces: naive ISO `t`, empty-claim keys omitted.
    admin = hand_made({"t": "2025-06-01T12:00:00.123456", "ad": True})
    assert verify(admin, SECRET).admin
    ws_key = hand_made({"t": "2025-06-01T12:00:00.123456", "w": "acme", "p": "", "s": ""})
    assert verify(ws_key, SECRET) == Principal(workspace="acme")
    future = (datetime.now(UTC) + timedelta(days=1)).isoformat().replace("+00:00", "Z")
    peer_key = hand_made({"t": "x", "w": "acme", "p": "bob", "exp": future})
    assert verify(peer_key, SECRET) == Principal(workspace="acme", peer="bob")


def test_expired_keys_are_refused_iso_and_numeric() -> None:
    past = datetime.now(UTC) - timedelta(seconds=5)
    refused(mint(SECRET, workspace="w", expires_at=past), "JWT expired")
    refused(hand_made({"w": "w", "exp": past.timestamp()}), "JWT expired")
    refused(hand_made({"w": "w", "exp": "2001-01-01T00:00:00"}), "JWT expired")
    future = datetime.now(UTC) + timedelta(minutes=5)
    assert verify(hand_made({"w": "w", "exp": int(future.timestamp())}), SECRET).workspace == "w"


def test_algorithm_none_and_other_algorithms_are_refused() -> None:
    claims = {"ad": True}
    unsigned = b64(b'{"alg":"none","typ":"JWT"}') + "." + b64(json.dumps(claims).encode()) + "."
    refused(unsigned)
    refused(unsigned + "x")
    refused(hand_made(claims, header={"alg": "HS512", "typ": "JWT"}))
    refused(hand_made(claims, header={"alg": "hs256", "typ": "JWT"}))


def test_tampered_wrong_secret_and_garbage_are_refused() -> None:
    token = mint(SECRET, workspace="w1")
    head, _, sig = token.split(".")
    forged_payload = b64(json.dumps({"ad": True}).encode())
    refused(f"{head}.{forged_payload}.{sig}")
    refused(mint("another-secret-of-enough-length-0123456789", admin=True))
    refused(token[:-2] + ("AA" if not token.endswith("AA") else "BB"))
    for garbage in ("", "abc", "a.b", "a.b.c", "....", "ü.ü.ü", token + ".x", "Bearer " + token):
        refused(garbage)


def test_claims_are_type_checked_and_narrow_claims_need_a_workspace() -> None:
    refused(hand_made({"p": "alice"}))
    refused(hand_made({"s": "chat"}))
    refused(hand_made({"w": "", "p": "alice"}))
    refused(hand_made({"w": 3}))
    refused(hand_made({"ad": "true"}))
    refused(hand_made({"exp": True}))
    refused(hand_made({"exp": "tomorrow"}))
    payload = b64(b"[1,2]")
    head = b64(b'{"alg":"HS256","typ":"JWT"}')
    sig = hmac.new(SECRET.encode(), f"{head}.{payload}".encode(), hashlib.sha256).digest()
    refused(f"{head}.{payload}.{b64(sig)}")
    assert verify(hand_made({}), SECRET) == Principal()  # claim-less: valid, reaches nothing


def test_minting_refuses_narrow_keys_without_workspace() -> None:
    with pytest.raises(ValueError):
        mint(SECRET, peer="alice")
