"""Copy a session (optionally up to a message) in three statements, inside one transaction.

The source row is locked ``FOR SHARE`` by the first: a concurrent DELETE of the source waits
for the copy, and a copy that waited for a committed DELETE finds the source inactive (404).
"""

from __future__ import annotations

from sqlalchemy import BigInteger, bindparam, text
from sqlalchemy.ext.asyncio import AsyncSession

from .sessions import SessionRow

_SESSION = text(
    """
    INSERT INTO sessions (workspace_name, name, is_active, last_seq, message_count, metadata,
                          internal_metadata, configuration)
    SELECT workspace_name, :target, true,
           coalesce((SELECT max(seq_in_session) FROM messages
                     WHERE workspace_name = :workspace AND session_name = :source
                       AND (CAST(:upto AS bigint) IS NULL OR id <= :upto)), 0),
           (SELECT count(*) FROM messages
             WHERE workspace_name = :workspace AND session_name = :source
               AND (CAST(:upto AS bigint) IS NULL OR id <= :upto)),
           metadata, internal_metadata, configuration
    FROM sessions WHERE workspace_name = :workspace AND name = :source AND is_active
    FOR SHARE
    RETURNING id, workspace_name, name, is_active, metadata, configuration, created_at
    """
).bindparams(bindparam("upto", type_=BigInteger))

_MEMBERS = text(
    """
    INSERT INTO session_peers (workspace_name, session_name, peer_name, configuration,
                               joined_at, left_at)
    SELECT workspace_name, :target, peer_name, configuration, joined_at, left_at
    FROM session_peers WHERE workspace_name = :workspace AND session_name = :source
    """
)

# New 21-character public ids from gen_random_uuid() (122 random bits), in the nanoid alphabet;
# token counts, timestamps and metadata are copied as they are.
_MESSAGES = text(
    """
    INSERT INTO messages (public_id, workspace_name, session_name, peer_name, seq_in_session,
                          content, token_count, metadata, internal_metadata, created_at)
    SELECT left(translate(encode(uuid_send(gen_random_uuid()), 'base64'), '+/', '-_'), 21),
           workspace_name, :target, peer_name, seq_in_session, content, token_count,
           metadata, internal_metadata, created_at
    FROM messages
    WHERE workspace_name = :workspace AND session_name = :source
      AND (CAST(:upto AS bigint) IS NULL OR id <= :upto)
    ORDER BY id
    """
).bindparams(bindparam("upto", type_=BigInteger))

_MESSAGE_ID = text(
    "SELECT id FROM messages WHERE public_id = :public_id "
    "AND workspace_name = :workspace AND session_name = :source"
)


class CloneRepository:
    def __init__(self, db: AsyncSession) -> None:
        self.db = db

    async def message_internal_id(self, workspace: str, source: str, public_id: str) -> int | None:
        params = {"workspace": workspace, "source": source, "public_id": public_id}
        found: int | None = (await self.db.execute(_MESSAGE_ID, params)).scalar_one_or_none()
        return found

    async def clone(
        self, workspace: str, source: str, target: str, upto: int | None
    ) -> SessionRow | None:
        """The new session's row, or ``None`` when the source is missing or inactive."""
        params = {"workspace": workspace, "source": source, "target": target, "upto": upto}
        row = (await self.db.execute(_SESSION, params)).first()
        if row is None:
            return None
        await self.db.execute(_MEMBERS, params)
        await self.db.execute(_MESSAGES, params)
        return SessionRow(*row)
