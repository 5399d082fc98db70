"""honcho-server: a self-hostable server for the Honcho v3 API."""

__version__ = "0.1.0"
