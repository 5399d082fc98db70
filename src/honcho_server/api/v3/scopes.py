"""Routes: scopes (being implemented)."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(tags=["scopes"])
