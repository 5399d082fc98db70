"""Shared by the auth tests: the signing secret of the auth-enabled test app."""

from __future__ import annotations

SECRET = "auth-tests-secret-7f3a9c1e5b2d4f6a8c0e1b3d5f7a9c2e"
