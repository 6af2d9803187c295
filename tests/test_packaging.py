"""Packaging: the health check, the Docker image's files, .env.example, `make help`, `make demo`."""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


# --- /healthz ---------------------------------------------------------------------------
def test_health_answers_whatever_the_host_and_over_plain_http(client, settings):
    """Probes call the portal by an address that is not in ALLOWED_HOSTS, over plain HTTP."""
    settings.ALLOWED_HOSTS = ["portal.example.org"]
    settings.SECURE_SSL_REDIRECT = True
    for host in ("127.0.0.1:8000", "172.17.0.2:8000", "evil.example", "portal.example.org"):
        response = client.get("/healthz", HTTP_HOST=host)
        assert response.status_code == 200, host
        assert response.json() == {"status": "ok"}
        assert response["Cache-Control"] == "no-store" and "Set-Cookie" not in response
        assert response["X-Content-Type-Options"] == "nosniff"
    assert client.head("/healthz", HTTP_HOST="127.0.0.1").status_code == 200
    # Nothing else gets past the host check: other pages, other methods, look-alike paths.
    assert client.get("/auth/sign-in", HTTP_HOST="evil.example").status_code == 400
    assert client.post("/healthz", HTTP_HOST="evil.example").status_code == 400
    assert client.get("/healthz/", HTTP_HOST="evil.example").status_code == 400
    # With an allowed host the HTTPS redirect still applies to every page but the probe.
    assert client.get("/auth/sign-in", HTTP_HOST="portal.example.org").status_code == 301


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text()


def _healthcheck_command() -> str:
    match = re.search(r"^HEALTHCHECK .*?\\\n\s*CMD (.+)$", _dockerfile(), re.MULTILINE)
    assert match, "the image has a HEALTHCHECK"
    return match.group(1)


def _container_command() -> list[str]:
    match = re.search(r"^CMD (\[.+\])$", _dockerfile(), re.MULTILINE)
    assert match
    return json.loads(match.group(1))


def test_the_images_healthcheck_passes_with_the_readme_settings(tmp_path):
    """The image's own CMD and HEALTHCHECK, run here as written, with the README's example
    settings (ALLOWED_HOSTS=portal.example.org) and an HTTPS redirect: healthy."""
    port = _free_port()
    env = {
        "PATH": f"{VENV_BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        "HOME": str(tmp_path),
        "SECRET_KEY": "packaging-test-only-secret-key-0123456789",
        "ALLOWED_HOSTS": "portal.example.org",
        "CSRF_TRUSTED_ORIGINS": "https://portal.example.org",
        "STALWART_URL": "https://mail.example.org",
        "SECURE_SSL_REDIRECT": "1",
        "STATIC_MANIFEST": "0",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "PORTAL_PORT": str(port),
        "FORWARDED_ALLOW_IPS": "127.0.0.1",
    }
    command = _container_command()
    assert command[:2] == ["sh", "-c"] and "--forwarded-allow-ips" in command[2]
    server = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        deadline = time.monotonic() + 60
        while not _listening(port):
            assert server.poll() is None, server.stdout.read().decode()[-2000:]
            assert time.monotonic() < deadline, "the portal did not start"
            time.sleep(0.2)
        probe = subprocess.run(["sh", "-c", _healthcheck_command()], cwd=ROOT, env=env, capture_output=True, timeout=30)
        assert probe.returncode == 0, probe.stderr.decode()[-2000:]
        # The same server still refuses an unknown host for a page.
        assert httpx.get(f"http://127.0.0.1:{port}/auth/sign-in").status_code == 400
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(15)


def test_the_image_keeps_its_database_in_a_volume_and_honours_its_settings():
    dockerfile = _dockerfile()
    assert "WORKDIR /app" in dockerfile
    volume = re.search(r"^VOLUME (.+)$", dockerfile, re.MULTILINE)
    assert volume and json.loads(volume.group(1)) == ["/app/var"]
    # The default SQLite database lives in that directory (BASE_DIR is /app in the image).
    from django.conf import settings

    assert Path(settings.BASE_DIR / "var") == ROOT / "var"
    shell = _container_command()[2]
    assert '--port "${PORTAL_PORT:-8000}"' in shell and '"${FORWARDED_ALLOW_IPS:-127.0.0.1}"' in shell
    assert "PORTAL_PORT" in _healthcheck_command()


def test_dockerignore_keeps_local_state_out_and_what_the_image_copies_in():
    ignored = {
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    }
    assert {".venv", "node_modules", "test-output", "var", ".git", ".env", "staticfiles"} <= ignored
    copied = re.findall(r"^COPY (?!--from)(?:--\S+ )*(\S+) ", _dockerfile(), re.MULTILINE)
    assert "portal" in copied and "requirements.txt" in copied
    for source in copied:
        assert source not in ignored and (ROOT / source).exists(), source


# --- .env.example ---------------------------------------------------------------------------
def _example() -> dict[str, str]:
    names: dict[str, str] = {}
    for number, line in enumerate((ROOT / ".env.example").read_text().splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        # `docker run --env-file` takes everything after `=` literally: no comments, no quotes,
        # no spaces around the value.
        match = re.fullmatch(r"([A-Z][A-Z0-9_]*)=([^\s#'\"]*)", line)
        assert match, f".env.example line {number} is not NAME=value: {line!r}"
        assert match.group(1) not in names, f"{match.group(1)} twice"
        names[match.group(1)] = match.group(2)
    return names


#: Make variables of `make demo`/`make serve` that are development knobs, not settings.
MAKE_ONLY = {"VENV", "SANDBOX_ARGS"}


def _names_the_code_reads() -> set[str]:
    names: set[str] = set()
    reads = re.compile(
        r"""\benv(?:_bool|_float|_list)?\(\s*["']([A-Z][A-Z0-9_]*)["']"""
        r"""|os\.(?:environ\.get\(|environ\[|getenv\()\s*["']([A-Z][A-Z0-9_]*)["']"""
    )
    for path in (ROOT / "portal").rglob("*.py"):
        for match in reads.finditer(path.read_text()):
            names.add(match.group(1) or match.group(2))
    dockerfile = _dockerfile()
    names.update(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", dockerfile))
    names.update(re.findall(r"""os\.environ\.get\(\s*["']([A-Z][A-Z0-9_]*)""", dockerfile))
    makefile = (ROOT / "Makefile").read_text()
    names.update(re.findall(r"\$\$\{([A-Z][A-Z0-9_]*)", makefile))
    overridable = set(re.findall(r"^([A-Z][A-Z0-9_]*) \?=", makefile, re.MULTILINE))
    for target in ("demo", "serve"):
        recipe = re.search(rf"^{target}:.*\n((?:\t.*\n)+)", makefile, re.MULTILINE)
        assert recipe, target
        names.update(set(re.findall(r"\$\(([A-Z][A-Z0-9_]*)\)", recipe.group(1))) & overridable)
    return names - MAKE_ONLY


def test_env_example_lists_exactly_the_settings_the_code_reads():
    example = set(_example())
    read = _names_the_code_reads()
    assert {"PORTAL_PORT", "SANDBOX_PORT", "FORWARDED_ALLOW_IPS", "SIGNIN_THROTTLE_WINDOW", "SECRET_KEY"} <= read
    assert sorted(read - example) == [], "read by the code but missing from .env.example"
    assert sorted(example - read) == [], "in .env.example but read by nothing"


def test_the_settings_load_from_env_example(tmp_path):
    """Every value of the example is one the settings accept, as docker run --env-file passes it."""
    env = {**_example(), "SECRET_KEY": "example-test-only-secret-key-0123456789", "PATH": os.environ.get("PATH", "")}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'portal.sqlite3'}"
    code = (
        "import django, os; os.environ['DJANGO_SETTINGS_MODULE'] = 'portal.settings'; django.setup();"
        "from django.conf import settings as s;"
        "print(s.STALWART_URL, s.ALLOWED_HOSTS, s.SESSION_ENCRYPTION_KEY == '', s.DEBUG, s.SIGNIN_THROTTLE_WINDOW)"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, timeout=60)
    assert result.returncode == 0, result.stderr.decode()[-2000:]
    expected = ["https://mail.example.org", "['portal.example.org']", "True", "False", "900"]
    assert result.stdout.decode().split() == expected


def test_a_session_encryption_key_is_used_when_set(settings):
    """.env.example and the README offer SESSION_ENCRYPTION_KEY; it must seal the tokens."""
    from portal.auth import vault

    settings.SESSION_ENCRYPTION_KEY = "one-key-for-sealing"
    sealed = vault.seal("token")
    settings.SESSION_ENCRYPTION_KEY = ""
    assert vault.unseal(sealed) is None
    settings.SESSION_ENCRYPTION_KEY = "one-key-for-sealing"
    assert vault.unseal(sealed) == "token"


# --- make ------------------------------------------------------------------------------------
def test_make_help_lists_every_target():
    makefile = (ROOT / "Makefile").read_text()
    phony = set(re.search(r"^\.PHONY: (.+)$", makefile, re.MULTILINE).group(1).split())
    output = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, timeout=30).stdout
    listed = {line.split()[1] for line in output.splitlines() if line.startswith("make ")}
    assert sorted(phony - listed) == [] and sorted(listed - phony) == []


# --- make demo ----------------------------------------------------------------------------
@pytest.fixture
def taken_port():
    with socket.socket() as holder:
        holder.bind(("127.0.0.1", 0))
        holder.listen()
        yield holder.getsockname()[1]


def test_demo_stops_with_a_clear_error_when_the_portal_port_is_taken(taken_port, settings):
    sandbox_port = _free_port()
    settings.STALWART_URL = f"http://127.0.0.1:{sandbox_port}"
    with pytest.raises(CommandError, match=rf"Port {taken_port} .*not free for the portal.*PORTAL_PORT"):
        call_command("demo", port=taken_port, sandbox_port=sandbox_port)
    assert not _listening(sandbox_port)  # nothing was started


def test_demo_stops_with_a_clear_error_when_the_sandbox_port_is_taken(taken_port, settings):
    settings.STALWART_URL = f"http://127.0.0.1:{taken_port}"
    with pytest.raises(CommandError, match=rf"Port {taken_port} .*not free for the sandbox.*SANDBOX_PORT"):
        call_command("demo", port=0, sandbox_port=taken_port)


def test_demo_prints_the_address_it_really_serves(tmp_path):
    """`--port 0` takes any free port; the address printed is the one that answers."""
    sandbox_port = _free_port()
    env = {
        **os.environ,
        "DEBUG": "1",
        "STALWART_URL": f"http://127.0.0.1:{sandbox_port}",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'portal.sqlite3'}",
        "DJANGO_SETTINGS_MODULE": "portal.settings",
    }
    command = [sys.executable, "manage.py", "demo", "--port", "0", "--sandbox-port", str(sandbox_port)]
    demo = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        url = None
        deadline = time.monotonic() + 90
        lines = []
        while url is None and time.monotonic() < deadline:
            line = demo.stdout.readline().decode()
            assert line or demo.poll() is None, "".join(lines)[-2000:]
            lines.append(line)
            found = re.search(r"Portal: (http://127\.0\.0\.1:(\d+))", line)
            if found:
                url = found.group(1)
        assert url and not url.endswith(":0"), shlex.join(command)
        deadline = time.monotonic() + 30
        while True:
            try:
                response = httpx.get(f"{url}/healthz", timeout=5)
                break
            except httpx.TransportError:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        assert response.status_code == 200
    finally:
        os.killpg(demo.pid, signal.SIGINT)
        try:
            demo.wait(20)
        except subprocess.TimeoutExpired:
            os.killpg(demo.pid, signal.SIGKILL)
            demo.wait(5)
    assert not _listening(sandbox_port)
