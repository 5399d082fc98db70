"""Messages rendered by Postgres as pydantic renders the API's ``Message``, for the routes that
return many of them (session context, the message list): one ``bytes`` per message comes
back, and no row, model or dict is built in Python.

Fields in the model's order; strings escaped by Postgres's ``to_json``, which escapes exactly
what pydantic-core does; ``created_at`` in UTC with "Z", microseconds only when not zero. The
session's and workspace's names, the same in every row, come rendered as two parameters
(:func:`name_parts`). Metadata is rendered here only when it is empty (nearly always): other
metadata comes as its JSONB text between two NUL bytes (which no text or JSONB value holds),
for :func:`join_rendered` to decode and render (JSONB's text has spaces and keeps a number's
stored digits, e.g. 0.0000001 where pydantic renders 1e-7).
"""

from __future__ import annotations

from pydantic_core import to_json

from ..engine import _loads as decode_json  # how the engine decodes JSON(B)

RENDERED_AT = """replace(
    to_char({0} AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US'), '.000000', ''
) || 'Z'"""


def fragment_sql(m: str, session_part: str, workspace_part: str) -> str:
    """The ``bytea`` expression rendering message row ``m``; ``session_part`` and
    ``workspace_part`` are the statement's parameters holding :func:`name_parts`."""
    head = f"""'{{"id":' || to_json({m}.public_id)::text
        || ',"content":' || to_json({m}.content)::text
        || ',"peer_id":' || to_json({m}.peer_name)::text || {session_part}::text"""
    tail = f"""',"created_at":"'
        || {RENDERED_AT.format(f"{m}.created_at")} || {workspace_part}::text
        || {m}.token_count || '}}'"""
    return f"""CASE WHEN {m}.metadata = '{{}}'
        THEN convert_to({head} || '{{}}' || {tail}, 'UTF8')
        ELSE convert_to({head}, 'UTF8') || '\\x00'::bytea
            || convert_to({m}.metadata::text, 'UTF8') || '\\x00'::bytea
            || convert_to({tail}, 'UTF8')
    END"""


def name_parts(workspace: str, session: str) -> tuple[str, str]:
    """The two parameters of :func:`fragment_sql`: the JSON around the session's and the
    workspace's names."""
    session_part = b',"session_id":' + to_json(session) + b',"metadata":'
    workspace_part = b'","workspace_id":' + to_json(workspace) + b',"token_count":'
    return session_part.decode(), workspace_part.decode()


def join_rendered(head: bytes, messages: list[bytes], tail: bytes) -> bytes:
    """``head``, the rendered messages separated by commas, ``tail``: in one copy (a
    whole-session context is most of a megabyte), then one search for the NUL bytes around
    metadata Postgres left to pydantic-core (``head`` and ``tail`` are JSON, which escapes
    NUL)."""
    if not messages:
        return head + tail
    first, last = messages[0], messages[-1]
    messages[0] = head + first
    messages[-1] = messages[-1] + tail
    body = b",".join(messages)
    if b"\0" in body:
        messages[0], messages[-1] = first, last
        body = head + b",".join([_with_metadata(m) for m in messages]) + tail
    return body


def _with_metadata(fragment: bytes) -> bytes:
    """A message whose metadata Postgres left between NUL bytes, with the metadata as the
    ``Message`` model renders it: decoded as the engine decodes JSONB, rendered by
    pydantic-core (JSONB's text has spaces, and its numbers keep the stored digits where a
    float renders shortest)."""
    if b"\0" not in fragment:
        return fragment
    head, metadata, tail = fragment.split(b"\0")
    return head + to_json(decode_json(metadata)) + tail
