"""A hybrid message search in one statement: every candidate source and the candidates' rows.

:mod:`.search` reads the sources one statement at a time (6 to 8 round trips, each built with
SQLAlchemy); this module asks Postgres for all of it at once, for the searches that name no
filter of their own: the workspace, a session or a peer (the routes' forced scope), which is
what the SDKs' ``search`` calls send. The statement's text depends only on the shape of the
search (which scope, whether peers named in the query count, whether the query is one token,
how many words it has), so it is written once per shape and prepared once per connection.

The sources are those of :mod:`.search`, with the same conditions, collations and bounds:

* ``near``: the nearest embedded chunks in scope (an HNSW scan, iterative), its messages by
  their nearest chunk, the ``wide`` first;
* ``named`` and ``near_named``: peers of the workspace whose lowercased name is a query word,
  and the nearest chunks among their messages (skipped when no peer is named: a one-time
  filter, so no index is scanned for nothing). When the caller expects no peer to be named
  (``Shape.report_named``), ``near_named`` is left out of the statement (not planned) and
  the named peers are only reported;
* ``aw``: the newest ``window`` messages matching every word (full text), unless more than
  ``all_words_cap`` do: then the words together are as common as a common word (no evidence,
  no candidate), and at most that many + 1 matches are read, whatever their number;
* ``sub``: the newest ``window`` messages containing the query (one token only);
* ``w0`` .. ``wN`` and ``rare``: per word (the query's words, less the named peers' names;
  stems a word before it had, stop words and the whole list when one word is left are
  skipped), at most ``cap`` + 1 matches read; the messages of the words with at most ``cap``
  matches, rarest first, then newest.

The rows returned are the candidates (every source's messages) with their similarity to the
query (nearest chunk) and what each keyword source said of them; the caller ranks them.

It runs on connections whose planner settings are those :mod:`.search` sets per transaction
(index scans only, custom plans, iterative HNSW scans: ``ReadPool.search``), so outside a
transaction it is one round trip. In a transaction (an in-process caller's unit of work), the
settings are set for that transaction first, as :mod:`.search` does.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from ..read_pool import SEARCH_SETTINGS, ReadPool
from .messages import COLUMNS, MessageRow
from .raw import fetch
from .vectors import CHUNKS_PER_MESSAGE, ef_search

WORDS_COLLATION = '"C"'  # as .search.WORDS_COLLATION
NO_INDEX_COLLATION = '"POSIX"'  # as .search.NO_INDEX_COLLATION


@dataclass(frozen=True)
class Shape:
    """What the statement's text depends on."""

    session: bool  # the session is forced (session search)
    peer: bool  # the author is forced (peer search)
    named: bool  # peers named in the query bring their own nearest messages
    substring: bool  # the query is one token: look for it as a substring too
    words: int  # rare-word branches (none when the query has fewer than 2 words)
    all_words: bool = True  # look for the messages with all the words (not known common)
    # the query is its words and nothing else (no operator, no token the text parser splits
    # otherwise): more than the all-words cap matching all of them then means more than
    # ``cap`` match each, so the word branches are not read (none of them could be rare)
    conjunction: bool = False
    # no ``named`` sources, but the peers the query names are reported all the same: the
    # caller expects none (its words were no peer's name lately) and searches again with
    # ``named`` if some are (planning the named sources is a third of the statement's)
    report_named: bool = False


@dataclass(frozen=True)
class Query:
    """The values: ``words`` lowercase and distinct; ``branch_words`` those read one by one
    (``Shape.words`` of them: the query's words not known to be common)."""

    workspace: str
    session: str | None
    peer: str | None
    vector: list[float]
    text: str  # websearch syntax, for all the words
    pattern: str  # ILIKE pattern of the phrase (used when Shape.substring)
    words: Sequence[str]
    branch_words: Sequence[str]
    wide: int  # nearest messages wanted
    window: int  # newest matches read per keyword source
    cap: int  # a word with at most this many matches is rare
    all_words_cap: int  # all the words matching more messages than this bring no candidate


@dataclass(slots=True)  # not frozen, as MessageRow: built per candidate, read-only all the same
class Candidate:
    row: MessageRow
    similarity: float | None  # nearest chunk's cosine similarity; None: not embedded
    in_all_words: bool
    in_substring: bool
    rare_df: int | None  # document frequency of its rarest matched rare word


@dataclass(frozen=True)
class Found:
    candidates: list[Candidate]
    named: set[str]  # peers named in the query (their names as stored)
    all_words: int  # messages matching every word (at most the window)
    substring: int  # messages containing the phrase (at most the window)
    common_words: list[str]  # branch words with more than ``cap`` matches
    all_words_common: bool  # more than ``all_words_cap`` messages match all the words
    # branch words the text parser keeps nothing of (stop words, punctuation): their branch
    # reads nothing, and a statement without it is planned in less time
    stop_words: list[str] = field(default_factory=list)


_WIDTH = len(COLUMNS)  # the statement's first columns are COLUMNS, in order

# Parameters: $1 workspace, $2 vector (floats, sent in binary by every connection's codec:
# ``db.vector_codec``), $3 chunk rows per nearest scan, $4 nearest messages wanted, $5 query
# text, $6 window, $7 cap, $8 words (text[]), $9 session, $10 peer, $11 substring pattern,
# $12 all-words cap, then $13.. one per word branch.
_FIXED = 12


def _scope(shape: Shape, collation: str | None) -> str:
    def c(column: str) -> str:
        return f"{column} COLLATE {collation}" if collation else column

    parts = [f"{c('m.workspace_name')} = $1"]
    if shape.session:
        parts.append(f"{c('m.session_name')} = $9")
    if shape.peer:
        parts.append(f"{c('m.peer_name')} = $10")
    if collation is None:
        parts.append("s.is_active")
    else:  # the text statements: inactive sessions as a list, not a join (see .search),
        # read once for all of them (one plan of the sessions' scan instead of one per branch)
        parts.append("m.session_name NOT IN (SELECT name FROM inactive)")
    parts.append("EXISTS (SELECT 1 FROM live)")
    return " AND ".join(parts)


def _nearest(shape: Shape, extra: str) -> str:
    return f"""
      SELECT e.message_id, e.embedding <=> CAST($2 AS vector) AS distance
        FROM message_embeddings e
        JOIN messages m ON m.id = e.message_id
        JOIN sessions s ON s.workspace_name = m.workspace_name AND s.name = m.session_name
       WHERE e.workspace_name = $1 AND {_scope(shape, None)}{extra}
       ORDER BY distance LIMIT $3"""


def _excluded(shape: Shape, i: int) -> str:
    """Whether word ``i`` is the name of a named peer (then it is no rare-word evidence)."""
    if not shape.named:
        return "false"
    return f"EXISTS (SELECT 1 FROM named WHERE lower(named.name) = ${_FIXED + 1 + i})"


def _word_branch(shape: Shape, i: int) -> str:
    q = f"plainto_tsquery('english', ${_FIXED + 1 + i})"
    guards = [f"numnode({q}) > 0", f"NOT {_excluded(shape, i)}"]
    for j in range(i):  # a stem an earlier (kept) word had is counted there
        earlier = f"plainto_tsquery('english', ${_FIXED + 1 + j})"
        guards.append(f"({q} <> {earlier} OR {_excluded(shape, j)})")
    if shape.named:  # one word left (the others named peers): all the words said it
        guards.append(
            "(SELECT count(*) FROM unnest(CAST($8 AS text[])) AS k(word) WHERE NOT EXISTS"
            " (SELECT 1 FROM named WHERE lower(named.name) = k.word)) > 1"
        )
    if shape.conjunction and shape.all_words:
        guards.append("(SELECT count(*) FROM aw_read) <= $12")
    return f"""
    w{i} AS (
      SELECT m.id, m.created_at FROM messages m
       WHERE {_scope(shape, WORDS_COLLATION)} AND {" AND ".join(guards)}
         AND to_tsvector('english', m.content) @@ {q}
       LIMIT $7 + 1),"""


@lru_cache(maxsize=512)
def statement(shape: Shape) -> str:
    """The statement of one shape (``$n`` parameters: see :func:`arguments`)."""
    ctes = [
        # every parameter typed, whether or not this shape reads it (never executed)
        "typed AS (SELECT CAST($7 AS bigint), CAST($8 AS text[]), CAST($9 AS text),"
        " CAST($10 AS text), CAST($11 AS text), CAST($12 AS bigint)),",
        "\n    live AS (SELECT 1 FROM workspaces WHERE name = $1 AND deleted_at IS NULL),",
        "\n    inactive AS (SELECT name FROM sessions WHERE workspace_name = $1"
        " AND is_active IS false),",
    ]
    sources = ["SELECT message_id FROM near_ids", "SELECT id FROM aw"]
    if shape.named or shape.report_named:
        ctes.append(
            """
    named AS (
      SELECT name FROM peers
       WHERE workspace_name = $1 AND deleted_at IS NULL
         AND lower(name) = ANY(CAST($8 AS text[]))),"""
        )
    ctes.append(f"near AS MATERIALIZED ({_nearest(shape, '')}),")
    ctes.append(
        """
    near_ids AS (
      SELECT message_id FROM near GROUP BY message_id
       ORDER BY min(distance), message_id LIMIT $4),"""
    )
    if shape.named:
        named_only = (
            " AND m.peer_name = ANY(ARRAY(SELECT name FROM named)) AND EXISTS (SELECT 1 FROM named)"
        )
        ctes.append(f"near_named AS MATERIALIZED ({_nearest(shape, named_only)}),")
        ctes.append(
            """
    near_named_ids AS (
      SELECT message_id FROM near_named GROUP BY message_id
       ORDER BY min(distance), message_id LIMIT $4),"""
        )
        sources.append("SELECT message_id FROM near_named_ids")
    ctes.append(
        f"""
    aw_read AS (
      SELECT m.id, m.created_at FROM messages m
       WHERE {_scope(shape, WORDS_COLLATION)}
         AND to_tsvector('english', m.content) @@ websearch_to_tsquery('english', $5)
         AND {"true" if shape.all_words else "false"}
       LIMIT $12 + 1),
    aw AS (
      SELECT id FROM aw_read WHERE (SELECT count(*) FROM aw_read) <= $12
       ORDER BY created_at DESC, id DESC LIMIT $6),"""
    )
    if shape.substring:
        ctes.append(
            f"""
    sub AS (
      SELECT m.id FROM messages m
       WHERE {_scope(shape, NO_INDEX_COLLATION)} AND m.content ILIKE $11 ESCAPE '\\'
       ORDER BY m.created_at DESC, m.id DESC LIMIT $6),"""
        )
        sources.append("SELECT id FROM sub")
    if shape.words:
        ctes.extend(_word_branch(shape, i) for i in range(shape.words))
        per_word = " UNION ALL ".join(
            f"SELECT id, created_at, count(*) OVER () AS df FROM w{i}" for i in range(shape.words)
        )
        ctes.append(
            f"""
    rare AS (
      SELECT id, min(df) AS df FROM ({per_word}) AS per_word
       WHERE df <= $7 GROUP BY id, created_at
       ORDER BY min(df), created_at DESC, id DESC LIMIT $6),"""
        )
        sources.append("SELECT id FROM rare")
    ctes.append(f"\n    candidates (id) AS ({' UNION '.join(sources)})")
    reported = shape.named or shape.report_named
    named = "ARRAY(SELECT name FROM named)" if reported else "CAST('{}' AS text[])"
    substring = "(SELECT count(*) FROM sub)" if shape.substring else "0"
    in_substring = "m.id IN (SELECT id FROM sub)" if shape.substring else "false"
    rare_df = "(SELECT df FROM rare WHERE rare.id = m.id)" if shape.words else "NULL::bigint"
    per_word = ", ".join(f"(SELECT count(*) FROM w{i})" for i in range(shape.words))
    nodes = ", ".join(
        f"numnode(plainto_tsquery('english', ${_FIXED + 1 + i}))" for i in range(shape.words)
    )
    # the counts and names are the statement's, not a candidate's: one row of them first
    # (decoding them on every candidate's row was 10% of reading the result)
    return f"""
    WITH {"".join(ctes)}
    SELECT NULL AS id, NULL AS public_id, NULL AS workspace_name, NULL AS session_name,
           NULL AS peer_name, NULL AS content, NULL AS token_count, NULL AS metadata,
           NULL AS created_at, NULL AS similarity, NULL AS in_all_words, NULL AS in_substring,
           NULL AS rare_df,
           {named} AS named,
           (SELECT count(*) FROM aw) AS all_words,
           {substring} AS substring,
           CAST(ARRAY[{per_word}] AS bigint[]) AS word_matches,
           (SELECT count(*) FROM aw_read) AS all_words_read,
           CAST(ARRAY[{nodes}] AS integer[]) AS word_nodes
    UNION ALL
    SELECT m.id, m.public_id, m.workspace_name, m.session_name, m.peer_name, m.content,
           m.token_count, m.metadata, m.created_at,
           (SELECT 1 - min(e.embedding <=> CAST($2 AS vector))
              FROM message_embeddings e WHERE e.message_id = m.id),
           m.id IN (SELECT id FROM aw),
           {in_substring},
           {rare_df},
           NULL, NULL, NULL, NULL, NULL, NULL
      FROM messages m WHERE m.id IN (SELECT id FROM candidates)
     ORDER BY id NULLS FIRST"""


def arguments(shape: Shape, q: Query) -> list[Any]:
    k = q.wide * CHUNKS_PER_MESSAGE
    words = list(q.words)
    assert len(q.branch_words) == shape.words
    return [
        q.workspace,
        q.vector,
        k,
        q.wide,
        q.text,
        q.window,
        q.cap,
        words,
        q.session or "",
        q.peer or "",
        q.pattern,
        q.all_words_cap,
        *q.branch_words,
    ]


async def search(
    db: AsyncSession, shape: Shape, q: Query, *, reads: ReadPool | None = None
) -> Found:
    """Every candidate of one hybrid search, in one statement (see the module docstring): on
    ``reads``' search pool when given and ``db`` has no transaction open, else in ``db``'s
    transaction with the settings set for it first."""
    sql, args = statement(shape), arguments(shape, q)
    ef = ef_search(q.wide * CHUNKS_PER_MESSAGE)
    if reads is not None and not db.in_transaction():
        rows = await reads.search(sql, args, ef=ef)
    else:  # in the caller's transaction: its settings first, for this transaction
        await fetch(db, _SETTINGS, str(ef))
        rows = await fetch(db, sql, *args)
    first = rows[0]  # the statement's counts (see :func:`statement`), then the candidates
    matches = first["word_matches"]
    all_common = first["all_words_read"] > q.all_words_cap
    if shape.conjunction and all_common:  # each word matched more: its branch was not read
        matches = [q.cap + 1] * shape.words
    return Found(
        candidates=[
            Candidate(
                row=MessageRow(*r[:_WIDTH]),
                similarity=None if r["similarity"] is None else float(r["similarity"]),
                in_all_words=r["in_all_words"],
                in_substring=r["in_substring"],
                rare_df=r["rare_df"],
            )
            for r in rows[1:]
        ],
        named=set(first["named"]),
        all_words=first["all_words"],
        substring=first["substring"],
        common_words=[w for w, n in zip(q.branch_words, matches, strict=True) if n > q.cap],
        all_words_common=all_common,
        stop_words=[w for w, n in zip(q.branch_words, first["word_nodes"], strict=True) if not n],
    )


# the search pool's settings, for the transaction (``hnsw.ef_search`` is ``$1``)
_SETTINGS = "SELECT set_config('hnsw.ef_search', $1, true), " + ", ".join(
    f"set_config('{name}', '{value}', true)" for name, value in SEARCH_SETTINGS
)
