"""The built wheel serves on its own: no checkout, no working-directory files.

Builds the wheel from a copy of what `pip install .` reads (pyproject.toml, README.md, LICENSE,
src/), installs it with `pipx install` (a fresh virtualenv, its dependencies from the package
index, so a warm pip cache makes this ~30 s), then runs that venv's `honcho-server serve` from
an unrelated directory on a fresh embedded database: /health, a workspace, a message, its
embedding (the bundled tokenizer), and `honcho-server status` from the same venv. Real
processes, real sockets.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from servers import free_port, stop_server, wait_healthy

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "src" / "honcho_server"
# Everything `pip install .` (and the Dockerfile's build stage) needs from the checkout.
BUILD_INPUTS = ("pyproject.toml", "README.md", "LICENSE", "src")
# Nothing that needs an LLM: the queue drains, so `status` is OK and exits 0.
NO_LLM_FEATURES = {
    "DERIVER_ENABLED": "false",
    "SUMMARY_ENABLED": "false",
    "PEER_CARD_ENABLED": "false",
    "DREAM_ENABLED": "false",
}


@dataclass
class Installed:
    wheel: Path
    bin: Path
    timings: dict[str, float]


def _run(cmd: list[str | Path], **kwargs: object) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(c) for c in cmd],
        capture_output=True,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )
    assert result.returncode == 0, (
        f"{cmd} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    )
    return result


def _pip_env() -> dict[str, str]:
    """This environment (pip's index settings, proxies) without anything pointing at .venv."""
    env = dict(os.environ)
    for name in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME"):
        env.pop(name, None)
    return env


def _build_wheel(workdir: Path) -> Path:
    source = workdir / "source"
    source.mkdir()
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in BUILD_INPUTS:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        else:
            shutil.copy2(path, source / name)
    dist = workdir / "dist"
    _run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--wheel-dir", dist, source],
        env=_pip_env(),
        timeout=300,
    )
    (wheel,) = dist.glob("honcho_server-*.whl")
    return wheel


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Installed]:
    workdir = tmp_path_factory.mktemp("packaging")
    timings: dict[str, float] = {}
    started = time.monotonic()
    wheel = _build_wheel(workdir)
    timings["build"] = time.monotonic() - started

    # `pipx install` of the wheel, as a user would: pipx makes the venv (from the base
    # interpreter) and installs the wheel's dependencies from the package index.
    started = time.monotonic()
    home = workdir / "pipx"
    env = {**_pip_env(), "PIPX_HOME": str(home), "PIPX_BIN_DIR": str(workdir / "bin")}
    _run([sys.executable, "-m", "pipx", "install", wheel], env=env, timeout=900)
    target = home / "venvs" / "honcho-server"
    bin_dir = target / ("Scripts" if os.name == "nt" else "bin")
    assert (workdir / "bin" / "honcho-server").exists()  # the command pipx put on PATH
    timings["install"] = time.monotonic() - started
    yield Installed(wheel=wheel, bin=bin_dir, timings=timings)
    shutil.rmtree(workdir, ignore_errors=True)


def _tracked_data_files() -> set[str]:
    """Non-code files and migration scripts the package opens at run time, as wheel paths."""
    wanted: set[str] = set()
    for path in (PACKAGE / "migrations").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix in {".py", ".mako"}:
            wanted.add(path.relative_to(PACKAGE.parent).as_posix())
    for path in (PACKAGE / "embeddings" / "data").iterdir():
        wanted.add(path.relative_to(PACKAGE.parent).as_posix())
    wanted.add("honcho_server/py.typed")
    return wanted


def test_wheel_contents(installed: Installed) -> None:
    with zipfile.ZipFile(installed.wheel) as archive:
        names = set(archive.namelist())
    missing = _tracked_data_files() - names
    assert missing == set(), f"the wheel lacks {sorted(missing)}: add them to package-data"
    assert "honcho_server/migrations/env.py" in names
    assert any(n.startswith("honcho_server/migrations/versions/0001_") for n in names)
    assert not any(n.startswith(("migrations/", "tests/")) for n in names)
    assert any(".dist-info/" in n and n.endswith("/LICENSE") for n in names), "no LICENSE"


def _served_env(home: Path, data_dir: Path, bin_dir: Path) -> dict[str, str]:
    """A clean environment: no PYTHONPATH, no DATABASE_URL, nothing from this checkout."""
    return {
        "PATH": f"{bin_dir}{os.pathsep}/usr/bin:/bin",
        "HOME": str(home),
        "LANG": "C.UTF-8",
        "HONCHO_DATA_DIR": str(data_dir),
        "LOG_LEVEL": "INFO",
        **NO_LLM_FEATURES,
    }


def _drained(base_url: str) -> dict[str, object]:
    deadline = time.monotonic() + 60
    while True:
        report = httpx.get(f"{base_url}/status", timeout=10).json()
        queue = report["queue"]
        if queue["pending"] == 0 and queue["running"] == 0 and queue["succeeded"] >= 1:
            return dict(report)
        assert time.monotonic() < deadline, f"the queue did not drain: {report}"
        time.sleep(0.25)


def test_installed_wheel_serves_from_an_unrelated_directory(
    installed: Installed, tmp_path: Path, server_dir: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = _served_env(tmp_path, server_dir / "data", installed.bin)
    python = installed.bin / "python"

    where = _run(
        [python, "-c", "import honcho_server.db.migrate as m; print(m.migrations_dir())"],
        env=env,
        cwd=elsewhere,
    ).stdout.strip()
    assert Path(where).is_relative_to(installed.bin.parent), f"not the installed copy: {where}"

    port = free_port()
    log_path = tmp_path / "serve.log"
    started = time.monotonic()
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [installed.bin / "honcho-server", "serve", "--port", str(port)],
            env=env,
            cwd=elsewhere,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    base_url = f"http://127.0.0.1:{port}"
    try:
        try:
            wait_healthy(base_url, process, timeout=120)
        except RuntimeError as exc:
            raise AssertionError(f"{exc}\n{log_path.read_text(errors='replace')[-4000:]}") from exc
        installed.timings["serve"] = time.monotonic() - started

        workspace = httpx.post(f"{base_url}/v3/workspaces", json={"id": "from-a-wheel"})
        assert workspace.status_code == 201, workspace.text
        messages = httpx.post(
            f"{base_url}/v3/workspaces/from-a-wheel/sessions/s1/messages",
            json={"messages": [{"peer_id": "alice", "content": "installed with pip"}]},
        )
        assert messages.status_code == 201, messages.text
        listed = httpx.post(
            f"{base_url}/v3/workspaces/from-a-wheel/sessions/s1/messages/list", json={}
        ).json()
        assert [m["content"] for m in listed["items"]] == ["installed with pip"]
        # the message's embedding job ran: the local model and the bundled tokenizer load
        report = _drained(base_url)
        assert report["status"] == "ok", report

        status = subprocess.run(
            [installed.bin / "honcho-server", "status", "--json"],
            env=env,
            cwd=elsewhere,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert status.returncode == 0, f"{status.stdout}\n{status.stderr}"
        seen = json.loads(status.stdout)
        assert seen["status"] == "ok" and seen["database"]["ok"] is True, seen
        assert any(worker["alive"] for worker in seen["workers"]), seen
        assert seen["queue"]["failed"] == 0 and seen["queue"]["succeeded"] >= 1, seen
    finally:
        code = stop_server(process)
    log = log_path.read_text(errors="replace")
    assert code == 0, log[-4000:]
    assert "Traceback" not in log and "MigrationError" not in log, log[-4000:]
    assert "Running upgrade  -> 0001" in log, "serve did not migrate the fresh database"
    assert not any(elsewhere.iterdir()), "serve wrote into its working directory"
    print(
        "wheel test timings: " + ", ".join(f"{k} {v:.1f}s" for k, v in installed.timings.items()),
        file=sys.stderr,
    )


# ---- dev.py installs only when it has to ---------------------------------------------------


@pytest.fixture
def dev(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[object, list[str]]]:
    """dev.py on a copy of pyproject.toml and a fake .venv; records the pip installs it runs."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("dev_under_test", ROOT / "dev.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    shutil.copy2(ROOT / "pyproject.toml", tmp_path / "pyproject.toml")
    fake_venv = tmp_path / ".venv"
    (fake_venv / "bin").mkdir(parents=True)
    (fake_venv / "bin" / "python").touch()
    installs: list[str] = []

    def fake_run(*cmd: str | Path, **kwargs: object) -> None:
        assert [str(c) for c in cmd[1:4]] == ["-m", "pip", "install"], cmd
        installs.append(str(cmd[-1]))

    monkeypatch.setattr(module, "ROOT", tmp_path)
    monkeypatch.setattr(module, "VENV", fake_venv)
    monkeypatch.setattr(module, "PY", fake_venv / "bin" / "python")
    monkeypatch.setattr(module, "STAMP", fake_venv / ".honcho-stamp")
    monkeypatch.setattr(module, "_run", fake_run)
    yield module, installs


def test_dev_py_reinstalls_only_when_dependencies_change(
    dev: tuple[object, list[str]], tmp_path: Path
) -> None:
    module, installs = dev
    ensure_env = module.ensure_env  # type: ignore[attr-defined]
    ensure_env(set())  # serve on a venv with no record: install
    ensure_env(set())  # serve again: nothing
    assert installs == ["."]
    ensure_env({"dev"})  # test: adds the dev extra once
    ensure_env({"dev"})
    ensure_env(set())  # serve after test: the superset serves as it is
    assert installs == [".", ".[dev]"]

    pyproject = tmp_path / "pyproject.toml"
    text = pyproject.read_text()
    pyproject.write_text(text + "\n[tool.example]\nsetting = 1\n")
    ensure_env(set())  # a tool setting is not a dependency
    assert installs == [".", ".[dev]"]
    assert text.count("\ndependencies = [\n") == 1
    pyproject.write_text(text.replace("\ndependencies = [\n", '\ndependencies = [\n    "six",\n'))
    ensure_env(set())  # a dependency changed: reinstall, keeping the dev extra
    ensure_env({"dev"})
    assert installs == [".", ".[dev]", ".[dev]"]

    (tmp_path / ".venv" / ".honcho-stamp").write_text("0" * 64)  # the old stamp format
    ensure_env({"dev"})
    assert installs[-1] == ".[dev]" and len(installs) == 4
