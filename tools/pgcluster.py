"""Start and stop throwaway PostgreSQL clusters for kb's tests, CI and benchmarks.

    python tools/pgcluster.py start DIR [--port N]   # prints the cluster's libpq URL
    python tools/pgcluster.py stop DIR

A cluster lives in DIR (created if missing), listens on 127.0.0.1 only, on a free port,
with its socket in DIR too. initdb refuses to run as root, so as root the cluster belongs
to an unprivileged user (``postgres`` when it exists, else ``kbtest``, created once);
the superuser ``kb`` logs in over TCP with a password (scram), so tests can see a wrong
password refused. ``replica()`` makes a streaming standby of a running cluster with
``pg_basebackup -R``. Tests import this module; nothing in kb does.
"""

from __future__ import annotations

import argparse
import glob
import os
import pwd
import shutil
import socket
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

USER = "kb"
PASSWORD = "kb-test-only"
# The cluster's own owner when kb runs as root (initdb will not run as root).
OWNERS = ("postgres", "kbtest")


def bindir() -> Path | None:
    """Where initdb and pg_ctl are: on PATH, else the newest of Debian's versions."""
    found = shutil.which("initdb")
    if found and shutil.which("pg_ctl"):
        # The real folder: PATH may hold links to a few of its programs only.
        return Path(found).resolve().parent
    versions = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=lambda p: int(Path(p).parts[-3]))
    return Path(versions[-1]).parent if versions else None


def free_port() -> int:
    """A TCP port on loopback that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _owner() -> str | None:
    """The user clusters run as: None when not root (the current user), else an unprivileged one."""
    if os.geteuid() != 0:
        return None
    for name in OWNERS:
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", OWNERS[-1]], check=True)
    return OWNERS[-1]


def _run(args: list[str], owner: str | None, **kwargs) -> subprocess.CompletedProcess:
    """Run a PostgreSQL program as the cluster's owner; RuntimeError with its message when it fails."""
    program = Path(args[0]).name
    if owner is not None:
        args = ["runuser", "-u", owner, "--", *args]
    done = subprocess.run(args, capture_output=True, text=True, **kwargs)
    if done.returncode:
        raise RuntimeError(f"{program} failed: {done.stderr.strip()}")
    return done


def _give(path: Path, owner: str | None) -> None:
    if owner is not None:
        shutil.chown(path, owner, owner)


@dataclass
class Cluster:
    """A running throwaway cluster: its folder, port and owner."""

    folder: Path
    port: int
    owner: str | None

    @property
    def data(self) -> Path:
        return self.folder / "data"

    def url(self, user: str = USER, password: str = PASSWORD, dbname: str = "postgres") -> str:
        return f"postgresql://{user}:{password}@127.0.0.1:{self.port}/{dbname}"

    def ctl(self, *args: str) -> None:
        tools = bindir()
        assert tools is not None
        _run([str(tools / "pg_ctl"), "-D", str(self.data), *args], self.owner)

    def stop(self) -> None:
        """Stop the server at once (its data is thrown away anyway)."""
        if (self.data / "postmaster.pid").exists():
            self.ctl("stop", "-m", "immediate", "-w")


def _options(port: int, folder: Path) -> str:
    return f"-c listen_addresses=127.0.0.1 -c port={port} -c unix_socket_directories={folder} -c fsync=off"


def start(folder: str | os.PathLike[str], port: int | None = None) -> Cluster:
    """Create a cluster in ``folder`` and start it; return it (its URL names the superuser)."""
    tools = bindir()
    if tools is None:
        raise RuntimeError("no PostgreSQL binaries (initdb, pg_ctl) found")
    owner = _owner()
    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)
    _give(root, owner)
    secret = root / "pwfile"
    secret.write_text(PASSWORD + "\n")
    _give(secret, owner)
    cluster = Cluster(root, port or free_port(), owner)
    _run(
        [
            str(tools / "initdb"),
            "-D",
            str(cluster.data),
            "-U",
            USER,
            f"--pwfile={secret}",
            "--auth-host=scram-sha-256",
            "--auth-local=trust",
            "-E",
            "UTF8",
            "--locale=C",
        ],
        owner,
    )
    # Streaming replicas connect as the superuser over loopback (see replica()).
    with open(cluster.data / "pg_hba.conf", "a") as hba:
        hba.write("host replication all 127.0.0.1/32 scram-sha-256\n")
    _launch(cluster)
    return cluster


def _launch(cluster: Cluster) -> None:
    cluster.ctl(
        "start",
        "-w",
        "-t",
        "60",
        "-l",
        str(cluster.folder / "server.log"),
        "-o",
        _options(cluster.port, cluster.folder),
    )


def replica(primary: Cluster, folder: str | os.PathLike[str]) -> Cluster:
    """Copy a running cluster with ``pg_basebackup -R`` into ``folder`` and start it as its standby."""
    tools = bindir()
    assert tools is not None
    root = Path(folder).resolve()
    root.mkdir(parents=True, exist_ok=True)
    _give(root, primary.owner)
    standby = Cluster(root, free_port(), primary.owner)
    env = dict(os.environ, PGPASSWORD=PASSWORD)
    _run(
        [
            str(tools / "pg_basebackup"),
            "-D",
            str(standby.data),
            "-d",
            f"host=127.0.0.1 port={primary.port} user={USER}",
            "-R",
            "-X",
            "stream",
            "-c",
            "fast",
        ],
        primary.owner,
        env=env,
    )
    # -R writes primary_conninfo without the password: the standby reads it from here.
    auto = standby.data / "postgresql.auto.conf"
    with open(auto, "a") as conf:
        conf.write(f"primary_conninfo = 'host=127.0.0.1 port={primary.port} user={USER} password={PASSWORD}'\n")
    _launch(standby)
    return standby


def wait_for_replay(primary_url: str, standby_url: str, timeout: float = 30.0) -> None:
    """Wait until the standby has replayed everything the primary had written when called."""
    import psycopg

    with psycopg.connect(primary_url, autocommit=True) as conn:
        target = conn.execute("SELECT pg_current_wal_lsn()").fetchone()[0]
    deadline = time.monotonic() + timeout
    with psycopg.connect(standby_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            done = conn.execute("SELECT pg_last_wal_replay_lsn() >= %s::pg_lsn", (target,)).fetchone()[0]
            if done:
                return
            time.sleep(0.05)
    raise TimeoutError("the standby did not catch up")


def stop(folder: str | os.PathLike[str]) -> None:
    """Stop the cluster in ``folder`` if one runs there."""
    root = Path(folder).resolve()
    cluster = Cluster(root, 0, _owner() if (root / "data").exists() else None)
    cluster.stop()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("action", choices=("start", "stop"))
    parser.add_argument("folder")
    parser.add_argument("--port", type=int)
    args = parser.parse_args(argv)
    try:
        if args.action == "start":
            print(start(args.folder, args.port).url())
        else:
            stop(args.folder)
    except RuntimeError as exc:
        print(f"pgcluster: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
