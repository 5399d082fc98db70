#!/usr/bin/env python3
"""Bootstrap and run honcho-server from a fresh checkout, with nothing but Python 3.11+.

    python3 dev.py serve [--host H] [--port P]   # the server, on the embedded database
    python3 dev.py test [pytest args]            # the whole test suite
    python3 dev.py check                         # ruff + mypy (what CI runs before the tests)

Each command creates (or refreshes) a virtualenv in .venv with what it needs first.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"


def _say(message: str) -> None:
    print(f"[dev] {message}", file=sys.stderr, flush=True)


def _run(*cmd: str | Path, **kwargs: object) -> None:
    subprocess.run([str(c) for c in cmd], check=True, **kwargs)  # type: ignore[call-overload]


def _bootstrap_pip() -> None:
    """For Pythons without ensurepip (e.g. Debian without python3-venv): fetch pip's wheel."""
    _say("this Python has no ensurepip; installing pip into .venv from PyPI")
    with urllib.request.urlopen("https://pypi.org/pypi/pip/json", timeout=60) as r:
        info = json.load(r)
    wheel = next(u for u in info["urls"] if u["filename"].endswith(".whl"))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / wheel["filename"]
        with urllib.request.urlopen(wheel["url"], timeout=120) as r:
            path.write_bytes(r.read())
        _run(PY, f"{path}/pip", "install", "--quiet", str(path))


def _create_venv() -> None:
    _say("creating .venv")
    try:
        import ensurepip  # noqa: F401

        _run(sys.executable, "-m", "venv", VENV)
    except (ImportError, subprocess.CalledProcessError):
        shutil.rmtree(VENV, ignore_errors=True)
        _run(sys.executable, "-m", "venv", "--without-pip", VENV)
        _bootstrap_pip()


def ensure_env(extras: str) -> None:
    """Create .venv and install the project (editable) with ``extras``, once per change."""
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may be run by an older python3)
        sys.exit(f"honcho-server needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    stamp = VENV / ".honcho-stamp"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + extras.encode()).hexdigest()
    if stamp.exists() and stamp.read_text() == want and PY.exists():
        return
    if not PY.exists():
        _create_venv()
    _say(f"installing honcho-server{extras} into .venv (first run takes a minute)")
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _run(PY, "-m", "pip", "install", "--quiet", "-e", f".{extras}", cwd=ROOT)
    stamp.write_text(want)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "check"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if command == "serve":
        ensure_env("")
        # exec, so Ctrl-C and SIGTERM reach the server itself (which stops its database)
        os.execv(BIN / "honcho-server", ["honcho-server", "serve", *rest])
    ensure_env("[dev]")
    if command == "test":
        os.execv(PY, [str(PY), "-m", "pytest", *rest])
    code = subprocess.call([str(BIN / "ruff"), "check", "."], cwd=ROOT)
    code |= subprocess.call([str(BIN / "ruff"), "format", "--check", "."], cwd=ROOT)
    return code | subprocess.call([str(BIN / "mypy")], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
