"""honcho-server: a self-hostable server for the Honcho v3 API."""

__version__ = "0.1.0"

HONCHO_API_VERSION = "3.2.1"
"""The upstream Honcho release whose API this server implements, reported as the OpenAPI
document's ``info.version``: clients that sniff it (community dashboards) turn features on by
it (3.1: scopes, workspace chat; 3.1.2: ``/deriver/metrics``; 3.2: chat evidence, conclusion
provenance — ``source_ids``, ``times_derived``, ``GET conclusions/{id}``). Our own package
version (:data:`__version__`) is in ``/health``, ``/status`` and the
``X-Honcho-Server-Version`` header of every response."""
