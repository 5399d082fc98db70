"""The served app keeps what startup loaded out of the garbage collector's full passes.

Without it a full collection walks every imported module, route and model (about 260,000
objects, 100 to 180 ms), stalling every request in flight: p99 latency went from a few ms to
over 100 ms under load. Checked in a fresh interpreter, as ``serve`` builds the app, so this
test process's own heap (many apps) plays no part.
"""

from __future__ import annotations

import json
import subprocess
import sys

PROBE = """
import gc, json, time
from honcho_server.app import create_serving_app
from honcho_server.settings import Settings

create_serving_app(Settings(_env_file=None, database_url="postgresql://x@127.0.0.1:1/none"))
scanned = len(gc.get_objects())  # what a full collection walks now
started = time.perf_counter()
gc.collect()
from honcho_server.tokens import encoding
print(json.dumps({"frozen": gc.get_freeze_count(), "scanned": scanned,
                  "vocabulary_loaded": encoding.cache_info().currsize == 1,
                  "full_pass_ms": (time.perf_counter() - started) * 1000}))
"""


def test_a_full_collection_after_serve_startup_walks_a_small_part_of_the_heap() -> None:
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    found = json.loads(out.strip().splitlines()[-1])
    assert found["frozen"] > 100_000, found  # the app's modules, routes and models
    assert found["scanned"] < found["frozen"] // 20, found


def test_the_token_vocabulary_is_loaded_before_the_first_request() -> None:
    """Loading it takes about a second, which the first ingest would otherwise spend on the
    event loop, every other request in flight waiting."""
    out = subprocess.run(
        [sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, timeout=120
    ).stdout
    assert json.loads(out.strip().splitlines()[-1])["vocabulary_loaded"] is True
