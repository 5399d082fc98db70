"""One client per feature, built from the settings when first needed."""

from __future__ import annotations

import asyncio
import importlib
import logging

from ..settings import Settings
from .config import (
    NO_LLM,
    Feature,
    FeatureStatus,
    LLMConfig,
    is_configured,
    llm_status,
    resolve_llm_config,
)
from .endpoints import ENDPOINTS, EndpointMemory
from .protocol import LLMClient

log = logging.getLogger(__name__)


def build_llm_client(config: LLMConfig, *, memory: EndpointMemory = ENDPOINTS) -> LLMClient:
    """The client for ``config`` (every supported endpoint speaks the OpenAI chat API)."""
    from .client import OpenAICompatClient  # here: importing openai costs every start

    return OpenAICompatClient(config, memory=memory)


class LLMRegistry:
    """The process's LLM clients. Create one at startup, share it, :meth:`aclose` at exit.

    :meth:`client` raises :class:`~honcho_server.llm.LLMNotConfigured` (without touching the
    network) for a feature that has no model: the job should wait, not fail.
    """

    def __init__(self, settings: Settings, *, memory: EndpointMemory = ENDPOINTS) -> None:
        self._settings = settings
        self._memory = memory
        self._clients: dict[Feature, LLMClient] = {}

    async def load(self) -> None:
        """With a model configured, import the client's module (``openai``: a third of a
        second) now, in a thread: at startup, before the process freezes what it loaded
        (``heap.freeze_startup_objects``), so the first job neither stalls the event loop for
        it nor leaves its objects to every full collection."""
        if is_configured(self._settings):
            await asyncio.to_thread(importlib.import_module, f"{__package__}.client")

    def client(self, feature: Feature) -> LLMClient:
        if feature not in self._clients:
            config = resolve_llm_config(self._settings, feature)
            self._clients[feature] = build_llm_client(config, memory=self._memory)
        return self._clients[feature]

    def status(self) -> list[FeatureStatus]:
        return llm_status(self._settings)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()


def log_llm_configuration(settings: Settings, logger: logging.Logger = log) -> None:
    """One line per feature at startup; a plain warning when no LLM is configured at all."""
    statuses = llm_status(settings)
    if not any(status.configured for status in statuses):
        logger.warning(NO_LLM)
        return
    for status in statuses:
        if status.configured:
            logger.info("LLM for %s", status.describe())
        else:
            logger.warning("%s (its jobs wait)", status.describe())
