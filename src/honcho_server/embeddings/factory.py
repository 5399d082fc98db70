"""Build the configured embedder from :class:`~honcho_server.settings.Settings`."""

from __future__ import annotations

from ..settings import Settings
from .protocol import Embedder


def build_embedder(settings: Settings) -> Embedder:
    """The embedder ``settings`` describe. Cheap: the local model loads on first use."""
    if settings.embedding_provider == "local":
        from .local import LocalEmbedder  # imports onnxruntime: only when it is used

        return LocalEmbedder(
            threads=settings.embedding_threads, batch_size=settings.embedding_batch_size
        )
    from .openai_compat import OpenAICompatEmbedder

    key = settings.embedding_api_key
    return OpenAICompatEmbedder(
        model=settings.embedding_model,
        dimensions=settings.embedding_dimensions,
        base_url=settings.embedding_base_url,
        api_key=key.get_secret_value() if key is not None else None,
        send_dimensions=settings.embedding_send_dimensions,
        max_input_tokens=settings.embedding_max_input_tokens,
        batch_size=settings.embedding_batch_size,
    )
