"""A throwaway PostgreSQL server on 127.0.0.1 for tests: found (or installed) here, started here, removed here.

Nothing assumes a server is already running. The binaries are looked up on ``PATH`` and then under
``/usr/lib/postgresql/<version>/bin`` (newest first); when they are missing and we are root on a Debian system,
the ``postgresql`` package is installed with apt-get. Postgres refuses to run as root, so as root the server runs
as the ``postgres`` system user (created when absent) on a data directory under a fresh temporary directory that
belongs to that user. The server listens on 127.0.0.1 only, on a free port, with ``trust`` authentication.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

import psycopg2
from psycopg2 import sql

BINARIES = ("initdb", "pg_ctl", "postgres")
PG_USER = "postgres"  # the database superuser created by initdb (and, as root, the system user running it)
PG_PASSWORD = "postgres"  # set on the superuser; trust authentication does not check it
START_TIMEOUT_S = 30.0
_INSTALL_LOCK = Path(tempfile.gettempdir()) / "mca-pgserver-install.lock"


class PostgresUnavailable(RuntimeError):
    """No usable PostgreSQL binaries, with what was tried."""


@dataclass(frozen=True)
class PgServer:
    host: str
    port: int
    user: str
    password: str
    db: str
    bin_dir: Path
    data_dir: Path

    def connect(self, db: str | None = None) -> psycopg2.extensions.connection:
        return psycopg2.connect(
            host=self.host, port=self.port, user=self.user, password=self.password, dbname=db or self.db
        )

    @property
    def url(self) -> str:
        return f"postgresql://{self.user}:{self.password}@{self.host}:{self.port}/{self.db}"


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.parent.name)) or (0,)


def _candidate_dirs() -> list[Path]:
    dirs: list[Path] = []
    on_path = shutil.which("pg_ctl")
    if on_path:
        dirs.append(Path(on_path).parent)
        dirs.append(Path(on_path).resolve().parent)  # Debian's /usr/local/bin symlinks lead to the versioned dir
    dirs += sorted(Path("/usr/lib/postgresql").glob("*/bin"), key=_version_key, reverse=True)
    return list(dict.fromkeys(dirs))


def find_bin_dir() -> Path | None:
    """The first directory holding all of initdb, pg_ctl and postgres (PATH, then newest /usr/lib/postgresql)."""
    for directory in _candidate_dirs():
        if all(os.access(directory / name, os.X_OK) for name in BINARIES):
            return directory
    return None


def _apt_install(tried: list[str]) -> None:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    install = ["apt-get", "install", "-y", "postgresql"]
    # one installer at a time (parallel pytest workers would otherwise fight over the dpkg lock)
    with open(_INSTALL_LOCK, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if find_bin_dir() is not None:
            return
        tried.append(" ".join(install))
        done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
        if done.returncode != 0:
            tried.append(f"  -> exit {done.returncode}: {done.stderr.strip()[-300:]}")
            tried.append("apt-get update, then " + " ".join(install))
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, text=True, timeout=600)
            done = subprocess.run(install, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                tried.append(f"  -> exit {done.returncode}: {done.stderr.strip()[-300:]}")


def ensure_bin_dir() -> Path:
    """Find the server binaries, installing the Debian ``postgresql`` package when we can; fail loudly otherwise."""
    found = find_bin_dir()
    if found is not None:
        return found
    tried = [f"looked for {', '.join(BINARIES)} on PATH and under /usr/lib/postgresql/*/bin"]
    if os.geteuid() == 0 and shutil.which("apt-get") and Path("/etc/debian_version").exists():
        _apt_install(tried)
        found = find_bin_dir()
        if found is not None:
            return found
    else:
        tried.append("did not install: apt-get install needs root on a Debian system with apt-get")
    raise PostgresUnavailable(
        "PostgreSQL server binaries not found; tried:\n  " + "\n  ".join(tried) + "\n"
        "Install PostgreSQL (Debian: apt-get install postgresql) or put its bin directory on PATH."
    )


def _ensure_system_user() -> pwd.struct_passwd:
    try:
        return pwd.getpwnam(PG_USER)
    except KeyError:
        pass
    import grp

    try:
        grp.getgrnam(PG_USER)
        group_args = ["--gid", PG_USER]
    except KeyError:
        group_args = ["--user-group"]
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", *group_args, PG_USER],
        check=True,
        capture_output=True,
    )
    return pwd.getpwnam(PG_USER)


def _as_server_user(argv: Sequence[str], run_as: pwd.struct_passwd | None) -> list[str]:
    if run_as is None:
        return list(argv)
    if shutil.which("runuser"):
        return ["runuser", "-u", run_as.pw_name, "--", *argv]
    return ["setpriv", f"--reuid={run_as.pw_uid}", f"--regid={run_as.pw_gid}", "--init-groups", "--", *argv]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _run(argv: list[str], cwd: Path, what: str, timeout: float = 120) -> None:
    env = {**os.environ, "LC_ALL": "C", "LANG": "C"}
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"{what} failed (exit {done.returncode}): {' '.join(argv)}\n{done.stdout}\n{done.stderr}")


def _wait_ready(host: str, port: int, log: Path, timeout: float = START_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            psycopg2.connect(host=host, port=port, user=PG_USER, dbname="postgres", connect_timeout=2).close()
            return
        except psycopg2.OperationalError as exc:
            last = exc
            time.sleep(0.1)
    tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
    raise RuntimeError(f"postgres on {host}:{port} did not accept connections within {timeout:.0f} s: {last}\n{tail}")


def _kill_leftover(data_dir: Path) -> None:
    """Last resort when ``pg_ctl stop`` failed: SIGQUIT the postmaster named in postmaster.pid."""
    with contextlib.suppress(OSError, ValueError, IndexError):
        pid = int((data_dir / "postmaster.pid").read_text().splitlines()[0])
        os.kill(pid, signal.SIGQUIT)


def _admin(server: PgServer, statement: sql.Composable) -> None:
    conn = server.connect("postgres")
    try:
        conn.autocommit = True  # CREATE/DROP DATABASE cannot run inside a transaction
        with conn.cursor() as cur:
            cur.execute(statement)
    finally:
        conn.close()


@contextlib.contextmanager
def fresh_database(server: PgServer, name: str) -> Iterator[PgServer]:
    """An empty database on ``server`` for one test; dropped (connections and all) afterwards."""
    _admin(server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield replace(server, db=name)
    finally:
        _admin(server, sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


@contextlib.contextmanager
def running_postgres(db: str = "mca_test", host: str = "127.0.0.1") -> Iterator[PgServer]:
    """Start a fresh cluster, create ``db``, yield the server; stop it and delete every file afterwards."""
    bin_dir = ensure_bin_dir()
    run_as = _ensure_system_user() if os.geteuid() == 0 else None
    # not under pytest's tmp dirs: those are 0700 root-owned and the postgres user could not enter them
    root = Path(tempfile.mkdtemp(prefix="mca-pg-"))
    data_dir, socket_dir, log = root / "data", root / "sock", root / "postgres.log"
    started = False
    try:
        socket_dir.mkdir()
        if run_as is not None:
            for path in (root, socket_dir):
                os.chown(path, run_as.pw_uid, run_as.pw_gid)
        initdb = [str(bin_dir / "initdb"), "-D", str(data_dir), "--auth=trust", "-U", PG_USER]
        _run(_as_server_user([*initdb, "-E", "UTF8", "--locale=C", "--no-sync"], run_as), root, "initdb")
        for attempt in range(3):  # the free port can be taken between picking it and binding it
            port = _free_port()
            options = (
                f"-c listen_addresses={host} -p {port} -k {socket_dir}"
                " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"  # throwaway data
            )
            pg_ctl = [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-l", str(log), "-o", options]
            try:
                _run(_as_server_user([*pg_ctl, "-w", "-t", str(int(START_TIMEOUT_S)), "start"], run_as), root, "start")
                started = True
                _wait_ready(host, port, log)
                break
            except RuntimeError:
                if started:
                    raise
                if attempt == 2:
                    raise
        server = PgServer(host, port, PG_USER, PG_PASSWORD, db, bin_dir, data_dir)
        _admin(server, sql.SQL("ALTER USER {} PASSWORD {}").format(sql.Identifier(PG_USER), sql.Literal(PG_PASSWORD)))
        _admin(server, sql.SQL("CREATE DATABASE {}").format(sql.Identifier(db)))
        yield server
    finally:
        if started:
            stop = [str(bin_dir / "pg_ctl"), "-D", str(data_dir), "-m", "fast", "-w", "-t", "30", "stop"]
            try:
                _run(_as_server_user(stop, run_as), root, "pg_ctl stop", timeout=60)
            except (RuntimeError, subprocess.TimeoutExpired):
                _kill_leftover(data_dir)
        shutil.rmtree(root, ignore_errors=True)
