"""A throwaway PostgreSQL cluster for the test session, on loopback, in a
temporary directory. Started once; each test gets a database of its own."""

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


def _bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Cluster:
    root: Path
    port: int
    bindir: Path
    run_as: list[str]
    counter: int = 0

    def url(self, db: str) -> str:
        return f"postgresql+asyncpg://postgres@127.0.0.1:{self.port}/{db}"

    def psql(self, sql: str, db: str = "postgres") -> None:
        subprocess.run([str(self.bindir / "psql"), "-h", "127.0.0.1", "-p", str(self.port),
                        "-U", "postgres", "-d", db, "-v", "ON_ERROR_STOP=1", "-qc", sql],
                       check=True, capture_output=True)

    def new_database(self) -> str:
        self.counter += 1
        name = f"csq_test_{os.getpid()}_{self.counter}"
        self.psql(f"CREATE DATABASE {name}")
        return self.url(name)

    def stop(self) -> None:
        subprocess.run(self.run_as + [str(self.bindir / "pg_ctl"), "-D", str(self.root / "data"),
                                      "-m", "immediate", "stop"], capture_output=True)
        shutil.rmtree(self.root, ignore_errors=True)


def start() -> tuple[Cluster | None, str]:
    """The cluster, or None and the reason it could not start."""
    if os.environ.get("CSQ_TEST_PG_URL"):
        return None, "CSQ_TEST_PG_URL is set; external servers are not managed here"
    bindir = _bin_dir()
    if bindir is None:
        return None, "no PostgreSQL binaries (run `make system-deps`)"
    root = Path(tempfile.mkdtemp(prefix="csq-pg-"))
    run_as: list[str] = []
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        try:
            pw = pwd.getpwnam("postgres")
        except KeyError:
            return None, "running as root and there is no 'postgres' user"
        os.chown(root, pw.pw_uid, pw.pw_gid)
        run_as = ["runuser", "-u", "postgres", "--"]
    port = _free_port()
    data = root / "data"
    init = subprocess.run(run_as + [str(bindir / "initdb"), "-D", str(data), "-U", "postgres",
                                    "-A", "trust", "-E", "UTF8", "--no-sync"],
                          capture_output=True, text=True)
    if init.returncode:
        return None, f"initdb failed: {init.stderr.strip()[-300:]}"
    opts = (f"-c listen_addresses=127.0.0.1 -c port={port} -c fsync=off "
            f"-c unix_socket_directories={root} -c max_connections=300 "
            "-c synchronous_commit=off -c full_page_writes=off")
    started = subprocess.run(run_as + [str(bindir / "pg_ctl"), "-D", str(data), "-o", opts,
                                       "-l", str(root / "log"), "-w", "start"],
                             capture_output=True, text=True)
    if started.returncode:
        log = (root / "log").read_text() if (root / "log").exists() else started.stderr
        return None, f"pg_ctl start failed: {log.strip()[-300:]}"
    cluster = Cluster(root, port, bindir, run_as)
    for _ in range(50):
        try:
            cluster.psql("SELECT 1")
            return cluster, ""
        except subprocess.CalledProcessError:
            time.sleep(0.1)
    cluster.stop()
    return None, "PostgreSQL did not answer"
