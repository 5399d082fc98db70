from __future__ import annotations

from fastapi import Response


def created_or_ok(response: Response, created: bool) -> None:
    """Get-or-create routes answer 201 when something was created, 200 otherwise."""
    response.status_code = 201 if created else 200
