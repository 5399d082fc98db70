"""The built-in MCP server: upstream's 31 tools at ``/mcp`` (Streamable HTTP) and over stdio
(``honcho-server mcp``), with the REST API's keys and per-key limits (README "MCP")."""

from __future__ import annotations

from .endpoint import install

__all__ = ["install"]
