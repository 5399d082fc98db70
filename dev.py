#!/usr/bin/env python3
"""Bootstrap and run honcho-server from a fresh checkout, with nothing but Python 3.11+.

    python3 dev.py serve [--host H] [--port P]   # the server, on the embedded database
    python3 dev.py test [pytest args]            # the whole test suite
    python3 dev.py check                         # ruff + mypy (what CI runs before the tests)

Each command creates a virtualenv in .venv with what it needs first, and installs again only
when pyproject.toml's dependencies change (or `test`/`check` need the dev extra `serve` did not
install); `serve` uses a venv that `test` set up as it is.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
PY = BIN / "python"
STAMP = VENV / ".honcho-stamp"


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
    started = time.monotonic()
    _say("creating .venv")
    try:
        import ensurepip  # noqa: F401

        _run(sys.executable, "-m", "venv", VENV)
    except (ImportError, subprocess.CalledProcessError):
        shutil.rmtree(VENV, ignore_errors=True)
        _run(sys.executable, "-m", "venv", "--without-pip", VENV)
        _bootstrap_pip()
    _run(PY, "-m", "pip", "install", "--quiet", "--upgrade", "pip")
    _say(f"created .venv ({time.monotonic() - started:.1f} s)")


def dependency_hash() -> str:
    """What an install depends on: dependencies, extras, build requirements and entry points
    from pyproject.toml (not tool settings: the install is editable, code changes need none)."""
    import tomllib  # 3.11+, checked before this runs

    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    project = pyproject.get("project", {})
    relevant = {
        "build": pyproject.get("build-system", {}),
        "dependencies": project.get("dependencies", []),
        "optional": project.get("optional-dependencies", {}),
        "scripts": project.get("scripts", {}),
        "python": sys.version_info[:2],
    }
    return hashlib.sha256(json.dumps(relevant, sort_keys=True).encode()).hexdigest()


def _read_stamp() -> tuple[str, set[str]]:
    """(dependency hash, extras installed) of the last successful install; ("", ∅) if none."""
    try:
        stamp = json.loads(STAMP.read_text())
        return str(stamp["dependencies"]), set(stamp["extras"])
    except (OSError, ValueError, KeyError, TypeError):
        return "", set()


def ensure_env(extras: set[str]) -> None:
    """Create .venv and install the project (editable) with at least ``extras``.

    Installs only when pyproject.toml's dependencies changed or an extra is missing; a venv
    with more extras than asked for (``test`` installed ``dev``) serves ``serve`` as it is.
    """
    if sys.version_info < (3, 11):  # noqa: UP036 (dev.py may be run by an older python3)
        sys.exit(f"honcho-server needs Python 3.11 or newer (this is {sys.version.split()[0]})")
    want = dependency_hash()
    installed_hash, installed_extras = _read_stamp()
    if PY.exists() and installed_hash == want and extras <= installed_extras:
        return
    if not PY.exists():
        _create_venv()
    extras |= installed_extras  # keep what was there: serve after test keeps the test tools
    target = f".[{','.join(sorted(extras))}]" if extras else "."
    if not installed_hash:
        why = "no record of an install"
    elif installed_hash != want:
        why = "pyproject.toml's dependencies changed"
    else:
        why = "adding the " + ", ".join(sorted(extras - installed_extras)) + " extra"
    _say(
        f"installing honcho-server{target[1:]} into .venv ({why}); pip's output follows "
        "(a first install downloads a few hundred MB and takes a minute or two)"
    )
    STAMP.unlink(missing_ok=True)
    started = time.monotonic()
    _run(PY, "-m", "pip", "install", "-e", target, cwd=ROOT)
    STAMP.write_text(json.dumps({"dependencies": want, "extras": sorted(extras)}))
    _say(f"installed in {time.monotonic() - started:.1f} s; next runs skip this step")


def _ensure_chromium() -> None:
    """tests/browser drive Debian's Chromium (Playwright never downloads a browser): install
    it when it is missing and this user can (root with apt-get); else those tests say why."""
    if Path("/usr/bin/chromium").exists() or os.environ.get("CHROMIUM"):
        return
    if not hasattr(os, "geteuid") or os.geteuid() != 0 or shutil.which("apt-get") is None:
        _say("no /usr/bin/chromium: the browser tests need it (sudo apt-get install chromium)")
        return
    _say("installing Debian's chromium for the browser tests (apt-get, once)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    subprocess.run(["apt-get", "update", "-qq"], check=False, env=env)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=False, env=env)


def main(argv: list[str]) -> int:
    if not argv or argv[0] not in {"serve", "test", "check"}:
        print(__doc__, file=sys.stderr)
        return 2
    command, rest = argv[0], argv[1:]
    os.chdir(ROOT)
    if command == "serve":
        ensure_env(set())
        # exec, so Ctrl-C and SIGTERM reach the server itself (which stops its database)
        os.execv(BIN / "honcho-server", ["honcho-server", "serve", *rest])
    ensure_env({"dev"})
    if command == "test":
        _ensure_chromium()
        os.execv(PY, [str(PY), "-m", "pytest", *rest])
    code = subprocess.call([str(BIN / "ruff"), "check", "."], cwd=ROOT)
    code |= subprocess.call([str(BIN / "ruff"), "format", "--check", "."], cwd=ROOT)
    return code | subprocess.call([str(BIN / "mypy")], cwd=ROOT)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
