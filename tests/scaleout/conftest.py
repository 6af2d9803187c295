"""Two portal processes behind one PostgreSQL and one Redis, all throwaway, on 127.0.0.1.

The session fixture `scaleout` installs Debian's `postgresql` and `redis-server` packages when
they are missing, starts a private PostgreSQL cluster (initdb into a temporary directory, as
the `postgres` user when running as root) and a redis-server without persistence, migrates
the database, and starts a sandbox and two portal processes (uvicorn) that share both.
Everything is stopped and removed at the end.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
SECRET_KEY = "scale-out-test-only-secret-key-0123456789-abcdefghij"
#: failed sign-ins per account before the portal refuses by itself (low, for the test)
MAX_FAILURES = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/postgres"), key=lambda p: int(p.split("/")[4]))
    return Path(found[-1]).parent if found else None


def redis_server() -> str | None:
    return shutil.which("redis-server") or (
        "/usr/bin/redis-server" if os.access("/usr/bin/redis-server", os.X_OK) else None
    )


def ensure_packages() -> tuple[Path, str]:
    """The PostgreSQL bin directory and the redis-server binary, installed with apt if missing."""
    missing = []
    if postgres_bindir() is None:
        missing.append("postgresql")
    if redis_server() is None:
        missing.append("redis-server")
    if missing:
        apt = shutil.which("apt-get")
        if apt is None:
            pytest.fail(
                f"The scale-out test needs the Debian packages {' and '.join(missing)}, and apt-get is not "
                "available to install them. Install PostgreSQL (server) and Redis, or deselect with -m 'not scaleout'.",
                pytrace=False,
            )
        sudo = [] if os.geteuid() == 0 else ["sudo", "-n"]
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        for command in (
            [*sudo, apt, "update", "-qq"],
            [*sudo, apt, "install", "-y", "-qq", "--no-install-recommends", *missing],
        ):
            done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=900)
            if done.returncode != 0:
                pytest.fail(
                    f"Installing {' '.join(missing)} failed ({' '.join(command)} -> {done.returncode}):\n"
                    f"{(done.stdout + done.stderr)[-3000:]}",
                    pytrace=False,
                )
    bindir, redis = postgres_bindir(), redis_server()
    if bindir is None or redis is None:
        pytest.fail(f"{' and '.join(missing)} installed, but postgres or redis-server is still missing", pytrace=False)
    return bindir, redis


def wait_until(check, what: str, log: Path | None = None, seconds: float = 60) -> None:
    deadline = time.monotonic() + seconds
    while True:
        try:
            if check():
                return
        except Exception:  # noqa: BLE001 - not up yet
            pass
        if time.monotonic() > deadline:
            tail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} did not come up within {seconds} s\n{tail}")
        time.sleep(0.1)


def answers(url: str) -> bool:
    return httpx.get(url, timeout=2).status_code < 500


@dataclass
class ScaleOut:
    workdir: Path
    database_url: str
    redis_url: str
    sandbox_url: str
    portal_a: str
    portal_b: str
    logs: dict[str, Path] = field(default_factory=dict)

    def log_tails(self) -> str:
        tails = [(name, path.read_text(errors="replace")[-1500:]) for name, path in self.logs.items() if path.exists()]
        return "\n".join(f"--- {name}:\n{tail}" for name, tail in tails)


class _Postgres:
    """A private cluster in `directory`, owned by `postgres` when running as root."""

    def __init__(self, bindir: Path, directory: Path, port: int) -> None:
        self.bindir, self.directory, self.port = bindir, directory, port
        self.data = directory / "data"
        self.log = directory / "postgres.log"
        self.as_user: list[str] = []
        if os.geteuid() == 0:
            try:
                account = pwd.getpwnam("postgres")
            except KeyError:
                pytest.fail("Running as root, but there is no 'postgres' user to run PostgreSQL as.", pytrace=False)
            os.chown(directory, account.pw_uid, account.pw_gid)
            runuser = shutil.which("runuser")
            self.as_user = [runuser, "-u", "postgres", "--"] if runuser else ["su", "postgres", "-s", "/bin/sh", "-c"]

    def _run(self, *args: str) -> None:
        command = [str(self.bindir / args[0]), *args[1:]]
        if self.as_user and self.as_user[0] == "su":
            command = [*self.as_user, " ".join(shlex.quote(part) for part in command)]
        else:
            command = [*self.as_user, *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.directory)
        if done.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {(done.stdout + done.stderr)[-3000:]}")

    def start(self) -> None:
        self._run("initdb", "-D", str(self.data), "-U", "portal", "-A", "trust", "-E", "UTF8", "--locale=C", "-N")
        options = (
            f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.directory} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        )
        self._run("pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start")

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")


def _stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(5)


@pytest.fixture(scope="session")
def scaleout() -> Iterator[ScaleOut]:
    bindir, redis = ensure_packages()
    with contextlib.ExitStack() as stack:
        workdir = Path(tempfile.mkdtemp(prefix="portal-scaleout-"))
        os.chmod(workdir, 0o755)
        stack.callback(shutil.rmtree, workdir, ignore_errors=True)

        pg_dir = workdir / "pg"
        pg_dir.mkdir()
        postgres = _Postgres(bindir, pg_dir, free_port())
        stack.callback(postgres.stop)
        postgres.start()
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={postgres.port} user=portal dbname=postgres", autocommit=True) as db:
            db.execute("CREATE DATABASE portal")
        database_url = f"postgres://portal@127.0.0.1:{postgres.port}/portal"

        def spawn(name: str, command: list[str], env: dict) -> subprocess.Popen:
            log = workdir / f"{name}.log"
            logs[name] = log
            with open(log, "wb") as out:
                process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
            stack.callback(_stop, process)
            return process

        logs: dict[str, Path] = {"postgres": postgres.log}
        redis_port = free_port()
        spawn(
            "redis",
            [redis, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", "", "--appendonly", "no",
             "--dir", str(workdir), "--protected-mode", "yes"],
            dict(os.environ),
        )
        redis_url = f"redis://127.0.0.1:{redis_port}/0"

        import redis as redis_client

        def redis_up() -> bool:
            return bool(redis_client.Redis.from_url(redis_url, socket_timeout=1).ping())

        wait_until(redis_up, "redis-server", logs["redis"])

        env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "SECRET_KEY": SECRET_KEY,
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_MANIFEST": "0",
            "SECURE_COOKIES": "0",
            "DEBUG": "0",
            "DATABASE_URL": database_url,
            "REDIS_URL": redis_url,
            "LOG_LEVEL": "WARNING",
            "SIGNIN_MAX_FAILURES": str(MAX_FAILURES),
        }
        env.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)  # set by the browser tests; never in a real deployment
        migrate = subprocess.run(
            [PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, capture_output=True, text=True
        )
        assert migrate.returncode == 0, migrate.stdout + migrate.stderr

        sandbox_port = free_port()
        sandbox_url = f"http://127.0.0.1:{sandbox_port}"
        spawn("sandbox", [PYTHON, "manage.py", "sandbox", "--port", str(sandbox_port), "--enterprise"], env)
        env["STALWART_URL"] = sandbox_url
        portals = []
        for name in ("portal-a", "portal-b"):
            port = free_port()
            spawn(
                name,
                [PYTHON, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port),
                 "--log-level", "warning", "--no-access-log"],
                env,
            )
            portals.append(f"http://127.0.0.1:{port}")
        wait_until(lambda: answers(f"{sandbox_url}/.well-known/oauth-authorization-server"), "sandbox", logs["sandbox"])
        for name, url in zip(("portal-a", "portal-b"), portals, strict=True):
            wait_until(lambda url=url: answers(f"{url}/healthz"), name, logs[name])

        yield ScaleOut(workdir, database_url, redis_url, sandbox_url, portals[0], portals[1], logs)
