"""Table definitions. Import from here so every table is registered on ``Base.metadata``."""

from .base import Base, table, vector_literal
from .conclusion import Conclusion
from .dream_state import DreamState
from .embedding import EmbeddingSpace, MessageEmbedding
from .idempotency_key import IdempotencyKey
from .job import Job
from .message import Message
from .peer import Peer
from .peer_card import PeerCard
from .scope import Scope, ScopeSession
from .session import Session
from .session_peer import SessionPeer
from .summary import Summary
from .webhook import WebhookEndpoint
from .worker import Worker
from .workspace import Workspace

__all__ = [
    "Base",
    "Conclusion",
    "DreamState",
    "EmbeddingSpace",
    "IdempotencyKey",
    "Job",
    "Message",
    "MessageEmbedding",
    "Peer",
    "PeerCard",
    "Scope",
    "ScopeSession",
    "Session",
    "SessionPeer",
    "Summary",
    "WebhookEndpoint",
    "Worker",
    "Workspace",
    "table",
    "vector_literal",
]
