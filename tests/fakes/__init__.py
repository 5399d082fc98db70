"""Test doubles that are real code: a fake OpenAI-compatible HTTP server (see ``fixtures``)."""
