"""Server-sent events of a streamed chat answer (BEHAVIOUR §18.2). Pure.

Only ``data:`` lines, each followed by a blank line; JSON with Python's default separators
(``", "`` and ``": "``). Text chunks are ``{"delta": {"content": …}, "done": false}``; the
end is ``{"done": true}`` (with ``evidence`` when asked for). A failure after the stream
started is reported as ``{"error": …, "done": false}`` and the stream then ends *without*
``done``: clients stop reading (SDKs ignore the line) and can tell the answer is incomplete.
"""

from __future__ import annotations

import json
from typing import Any

MEDIA_TYPE = "text/event-stream"


def event(payload: dict[str, Any]) -> bytes:
    return f"data: {json.dumps(payload)}\n\n".encode()


def delta(text: str) -> bytes:
    return event({"delta": {"content": text}, "done": False})


def done(evidence: dict[str, Any] | None = None) -> bytes:
    payload: dict[str, Any] = {"done": True}
    if evidence is not None:
        payload["evidence"] = evidence
    return event(payload)


def error(detail: str) -> bytes:
    return event({"error": detail, "done": False})
