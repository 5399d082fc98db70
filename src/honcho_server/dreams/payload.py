"""The ``dream`` job's payload and its work-unit key (defined with every other kind's in
:mod:`honcho_server.queue.payloads`)."""

from __future__ import annotations

from typing import Literal

from ..queue.payloads import DreamPayload as DreamPayload
from ..queue.payloads import DreamType as DreamType
from ..queue.payloads import dream_key as dream_key

DREAM_KIND: Literal["dream"] = "dream"
