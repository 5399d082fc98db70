"""Running the bundled PostgreSQL binaries (as the server user for server-side tools)."""

from __future__ import annotations

import os
import pathlib
import shlex
import subprocess
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO

from .accounts import RunAs
from .errors import EmbeddedPostgresError
from .layout import Layout
from .logs import logger, read_from, tail


def clean_env(password: str | None = None) -> dict[str, str]:
    """Environment for child processes: no PG* variables that could redirect them.

    ``password`` goes in ``PGPASSWORD`` (never on a command line, where ``ps`` shows it).
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    env["PGCONNECT_TIMEOUT"] = "10"
    if password is not None:
        env["PGPASSWORD"] = password
    return env


@dataclass(frozen=True)
class Binaries:
    """The bundled tools in ``bin_dir``, run from ``layout.data_dir``.

    ``run_as`` is the server user (None: the current user); ``timeout`` bounds each run.
    """

    layout: Layout
    bin_dir: pathlib.Path
    run_as: RunAs | None
    timeout: float

    def run(
        self,
        tool: str,
        args: Sequence[str],
        *,
        as_server: bool,
        stdin: str | None = None,
        timeout: float | None = None,
        password: str | None = None,
    ) -> tuple[int, str]:
        """Run a bundled binary; return (exit code, combined stdout/stderr).

        ``password``: the database password for a client tool (not with ``as_server``).
        """
        if as_server and password is not None:
            raise ValueError("the server user never gets the password")
        argv = [str(self.bin_dir / tool), *args]
        run_as = self.run_as if as_server else None
        limit = self.timeout if timeout is None else timeout
        log_file = self.layout.log_file
        logger.debug("running %s", shlex.join(argv))
        # A temporary file rather than a pipe: pg_ctl's daemon must never hold our pipe.
        with tempfile.TemporaryFile() as out:
            try:
                proc = subprocess.run(
                    argv,
                    input=None if stdin is None else stdin.encode(),
                    stdin=subprocess.DEVNULL if stdin is None else None,
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    cwd=self.layout.data_dir,
                    env=clean_env(password),
                    timeout=limit + 5,
                    check=False,
                    user=None if run_as is None else run_as.uid,
                    group=None if run_as is None else run_as.gid,
                    extra_groups=None if run_as is None else list(run_as.groups),
                )
            except subprocess.TimeoutExpired:
                raise EmbeddedPostgresError(
                    f"{shlex.join(argv)} timed out after {limit + 5:.0f}s\n"
                    f"{_output(out)}\n--- server log tail ({log_file}) ---\n"
                    f"{tail(read_from(log_file))}"
                ) from None
            except OSError as exc:
                raise EmbeddedPostgresError(f"cannot run {argv[0]}: {exc}") from exc
            returncode: int = proc.returncode
            return returncode, _output(out)


def _output(out: IO[bytes]) -> str:
    out.seek(0)
    return out.read().decode("utf-8", errors="replace")
