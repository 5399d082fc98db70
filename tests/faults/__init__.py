"""The fault suite: real ``serve`` and ``worker`` processes, real signals, real outages.

Scenarios live in :mod:`.scenarios` (shared with ``bench/soak.py``, which runs them with large
numbers), their machinery in :mod:`.harness`. Sizes are environment variables ``FAULT_*``
(see ``scenarios.Sizes``); ``FAULT_REAL_STALE=1`` waits the server's real 60 s stale timeout
instead of ageing a killed worker's heartbeats.
"""
