"""Workspace export and import in one versioned JSON Lines format (README "Export and import").

- :mod:`.format`: the records, the header and the trailer (the format's one definition).
- :mod:`.export`: a workspace as a stream of lines, from one read-only snapshot.
- :mod:`.importer` and :mod:`.writer`: lines into this database, all or nothing.
"""

from __future__ import annotations

from .export import export_lines
from .format import FORMAT, VERSION, Embedder
from .importer import Outcome, Target, import_lines
from .lines import file_chunks, split_lines

__all__ = [
    "FORMAT",
    "VERSION",
    "Embedder",
    "Outcome",
    "Target",
    "export_lines",
    "file_chunks",
    "import_lines",
    "split_lines",
]
