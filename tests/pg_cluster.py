"""A throwaway PostgreSQL cluster for tests: Debian's `postgresql` package (initdb, pg_ctl).

The cluster lives in a private temp folder, listens on a unix socket there and on a free
loopback port, and is stopped and removed at the end. initdb refuses to run as root, so under
root (CI) the server runs as an unprivileged account (`postgres`, which Debian's package creates,
else `nobody`) through `runuser`; otherwise as the test user. Local socket logins are trusted (the
tests' own set-up), loopback TCP logins need a SCRAM password (what caseflags uses).
"""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

ADMIN = "cf_admin"
ADMIN_PASSWORD = "admin-secret-for-tests"


def postgres_bin() -> Path | None:
    """The newest installed server binaries (/usr/lib/postgresql/<version>/bin), or None."""
    found = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name) if Path(p).parent.parent.name.isdigit() else 0,
    )
    if found:
        return Path(found[-1]).parent
    on_path = shutil.which("initdb")
    return Path(on_path).parent if on_path and shutil.which("pg_ctl") else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_account() -> str | None:
    """None: run as ourselves; otherwise the account root runs the server as."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "nobody"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    raise RuntimeError("running as root and no unprivileged account (postgres, nobody) to run PostgreSQL as")


@dataclass
class Cluster:
    bin_dir: Path
    root: Path
    port: int
    account: str | None

    @property
    def socket_dir(self) -> Path:
        return self.root / "socket"

    def _as_server(self, *args: str) -> subprocess.CompletedProcess:
        command = [str(a) for a in args]
        if self.account is not None:
            command = ["runuser", "-u", self.account, "--", *command]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.root)

    def start(self) -> None:
        data = self.root / "data"
        pwfile = self.root / "pwfile"
        pwfile.write_text(ADMIN_PASSWORD + "\n")
        self.socket_dir.mkdir()
        if self.account is not None:
            user = pwd.getpwnam(self.account)
            for path in (self.root, self.socket_dir, pwfile):
                os.chown(path, user.pw_uid, user.pw_gid)
        done = self._as_server(
            self.bin_dir / "initdb",
            "-D",
            data,
            "-U",
            ADMIN,
            f"--pwfile={pwfile}",
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        if done.returncode != 0:
            raise RuntimeError(f"initdb failed: {done.stderr.strip()[-500:]}")
        options = f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        done = self._as_server(
            self.bin_dir / "pg_ctl",
            "-D",
            data,
            "-o",
            options,
            "-l",
            self.root / "server.log",
            "-w",
            "-t",
            "60",
            "start",
        )
        if done.returncode != 0:
            log = (self.root / "server.log").read_text() if (self.root / "server.log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {done.stderr.strip()[-300:]} {log[-500:]}")

    def stop(self) -> None:
        self._as_server(self.bin_dir / "pg_ctl", "-D", self.root / "data", "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)

    def admin(self, dbname: str = "postgres", autocommit: bool = True):
        """A psycopg connection as the cluster's admin over the (trusted) unix socket."""
        import psycopg

        return psycopg.connect(
            host=str(self.socket_dir), port=self.port, user=ADMIN, dbname=dbname, autocommit=autocommit
        )


def start_cluster() -> Cluster:
    bin_dir = postgres_bin()
    if bin_dir is None:
        raise FileNotFoundError("PostgreSQL server binaries (initdb, pg_ctl) not installed")
    # Not under pytest's tmp_path: its parents are private to root, the server account must reach it.
    root = Path(tempfile.mkdtemp(prefix="caseflags-pg-"))
    cluster = Cluster(bin_dir, root, _free_port(), _server_account())
    try:
        cluster.start()
    except Exception:
        shutil.rmtree(root, ignore_errors=True)
        raise
    return cluster
