"""Wire model of ``POST /v3/workspaces/import`` (beyond upstream)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field

from ..transfer.format import Counts


class ImportResult(BaseModel):
    workspace_id: str = Field(description="The workspace created (the file's, or the new name)")
    counts: Counts = Field(description="How many records of each kind were imported")
    embeddings: Literal["kept", "queued"] = Field(
        description="'kept': the file's vectors were stored (same embedder and size); "
        "'queued': they were left out and embedding jobs queued for this server's embedder"
    )
    embedding_jobs: int = Field(description="Embedding jobs queued by the import")
