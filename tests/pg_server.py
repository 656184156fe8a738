"""A throwaway PostgreSQL server for tests: Debian's `postgresql` binaries, a data folder in a
temporary directory, a loopback port, and `stop()` at the end.

initdb and postgres refuse to run as root, and CI runs as root, so the server runs as the
`postgres` user (which Debian's package creates) through runuser; as any other user it runs as
that user. The socket goes into the temporary directory (-k), so no system folder is touched and
two servers never share a socket. `.ci/run` installs the package where it is absent; on a
developer's machine without it, `find_binaries` says what is missing and the tests skip.

Used by tests/conftest.py (the `pg_server` fixture) and bench/lake.py:
    python -m tests.pg_server   # starts one and prints its DSN until Ctrl-C
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

RUN_AS = "postgres"  # the user Debian's package creates
START_TIMEOUT_S = 60


class PostgresUnavailable(RuntimeError):
    """The binaries (or a user to run them as) are missing: the caller skips with this reason."""


def find_binaries() -> Path:
    """The folder holding initdb, pg_ctl and postgres: the newest /usr/lib/postgresql/<n>/bin."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=lambda p: int(Path(p).parent.parent.name or 0)
    )
    if found:
        return Path(found[-1]).parent
    pg_ctl = shutil.which("pg_ctl")
    if pg_ctl:
        return Path(pg_ctl).resolve().parent
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found (no /usr/lib/postgresql/*/bin/pg_ctl, no pg_ctl on PATH): "
        "install Debian's `postgresql` package (`apt-get install postgresql`; .ci/run does it)"
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class PgServer:
    bindir: Path
    root: Path  # the temporary directory: data/ and the socket
    port: int
    user: str  # the database superuser (the OS user that runs the server)
    _as_other_user: bool

    host = "127.0.0.1"

    @property
    def data(self) -> Path:
        return self.root / "data"

    def dsn(self, dbname: str = "postgres") -> str:
        """libpq key=value form, as DuckDB's postgres extension and psycopg2 take it."""
        return f"dbname={dbname} user={self.user} host={self.host} port={self.port}"

    def env(self, dbname: str) -> dict[str, str]:
        """The variables deploy/dagster-postgres.yaml reads."""
        return {
            "DAGSTER_PG_HOST": self.host, "DAGSTER_PG_PORT": str(self.port), "DAGSTER_PG_USER": self.user,
            "DAGSTER_PG_PASSWORD": "", "DAGSTER_PG_DB": dbname,
        }

    def _run(self, *args: str, check: bool = True, timeout: float = START_TIMEOUT_S) -> subprocess.CompletedProcess:
        cmd = [str(a) for a in args]
        if self._as_other_user:
            cmd = ["runuser", "-u", self.user, "--", *cmd]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        if check and done.returncode != 0:
            raise RuntimeError(f"{' '.join(cmd)} failed ({done.returncode}): {done.stderr.strip() or done.stdout.strip()}")
        return done

    def create_database(self, name: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self.dsn())
        try:
            conn.autocommit = True
            with conn.cursor() as cur:
                cur.execute(f'create database "{name}"')
        finally:
            conn.close()

    def stop(self) -> None:
        """Stop the server (fast shutdown) and delete its folder; safe to call twice."""
        if (self.data / "postmaster.pid").exists():
            self._run(self.bindir / "pg_ctl", "-D", self.data, "-m", "fast", "-w", "stop", check=False)
        shutil.rmtree(self.root, ignore_errors=True)


def start(bindir: Path | None = None) -> PgServer:
    """initdb in a new temporary directory and start the server on a free loopback port, trusting
    local connections (it listens on 127.0.0.1 only and lives as long as the test)."""
    bindir = bindir or find_binaries()
    as_other = os.geteuid() == 0
    if as_other:
        try:
            pwd.getpwnam(RUN_AS)
        except KeyError as exc:
            raise PostgresUnavailable(f"running as root and there is no {RUN_AS!r} user to run PostgreSQL as") from exc
        if shutil.which("runuser") is None:
            raise PostgresUnavailable("running as root and `runuser` (util-linux) is missing")
        user = RUN_AS
    else:
        user = pwd.getpwuid(os.geteuid()).pw_name
    root = Path(tempfile.mkdtemp(prefix="rotation-pg-"))
    root.chmod(0o755)
    if as_other:
        shutil.chown(root, user=user)
    server = PgServer(bindir, root, _free_port(), user, as_other)
    try:
        server._run(bindir / "initdb", "-D", server.data, "-U", user, "--auth=trust", "-E", "UTF8",
                    "--no-sync", "--locale=C.UTF-8")
        options = f"-p {server.port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200"
        server._run(bindir / "pg_ctl", "-D", server.data, "-o", options, "-l", root / "server.log", "-w",
                    "-t", str(START_TIMEOUT_S), "start")
    except BaseException as exc:
        log = root / "server.log"
        if log.exists():
            exc.add_note(f"server log: {log.read_text(errors='replace')[-2000:]}")
        server.stop()
        raise
    return server


if __name__ == "__main__":
    pg = start()
    print(pg.dsn(), flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        pg.stop()
