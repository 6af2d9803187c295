"""Sign-in guessing through the portal: the portal throttles it, Stalwart never bans anyone for it.

``python -m loadtest.signin_attack`` starts a sandbox process (Stalwart 0.11.8,
its auth auto-ban at the default 100 failures a day per address and per login) and one portal
process (uvicorn, default throttle settings) on 127.0.0.1, then plays an attacker:

* ``one-account``: ``--attempts`` wrong passwords for one account from one address;
* ``spray``: one wrong password for each of ``--attempts`` account names from one address;
* ``distributed``: ``--attempts`` wrong passwords for one account, each from a new address.

The attacker's address reaches the portal the way a real one does behind a reverse proxy: as
``X-Forwarded-For`` from 127.0.0.1, which uvicorn trusts (``FORWARDED_ALLOW_IPS``, 127.0.0.1 by
default) and turns into the request's client address. Afterwards the real user signs in from
another address. The script reports the portal's answers, what Stalwart banned (read from its
``server.blocked-ip.*`` settings), and exits 1 if the portal let Stalwart ban an address or
answered the attacker with anything but 401 and 429.

Stalwart counts the portal's address (``--stalwart-sees portal``, its default) or the forwarded
client address (``--stalwart-sees client``: ``server.http.use-x-forwarded = true``).

Everything stays on loopback and stops by itself: at most 1,000 attempts, each with a timeout,
and a deadline for the whole run.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import re
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

import httpx

from loadtest.__main__ import PYTHON, ROOT, _stop, free_port, sandbox_process, wait_for

MODES = ("one-account", "spray", "distributed")
MAX_ATTEMPTS = 1000
DEADLINE_SECONDS = 600
ADMIN = ("admin", "Admin-Sandbox-1")
USER = ("jane.doe", "User-Sandbox-1")
ATTACKER_ADDRESS = "198.51.100.66"
USER_ADDRESS = "203.0.113.10"
FORWARDED_SETTING = "server.http.use-x-forwarded"  # the v0.11 name (the sandbox runs 0.11.8)


@dataclass
class Result:
    mode: str
    stalwart_sees: str
    answers: Counter = field(default_factory=Counter)  # portal status code -> attempts
    banned: set[str] = field(default_factory=set)  # addresses Stalwart banned during the run
    stalwart_unreachable: bool = False  # the sandbox dropped our connection: loopback is banned
    user_status: int = 0  # the real user's sign-in afterwards (302: signed in)
    user_page: str = ""
    seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.banned and not self.stalwart_unreachable and set(self.answers) <= {401, 429}

    def lines(self) -> list[str]:
        answers = ", ".join(f"{count} x {status}" for status, count in sorted(self.answers.items()))
        retry = re.search(r"Try again at .*?(minutes?|hours?)\.", self.user_page)
        user = "signed in" if self.user_status == 302 else f"HTTP {self.user_status}"
        if self.user_status != 302 and retry:
            user += f" ({retry.group(0)})"
        return [
            f"{self.mode} (Stalwart counts the {self.stalwart_sees}'s address): {answers} in {self.seconds:.1f} s",
            "  Stalwart banned: "
            + (", ".join(sorted(self.banned)) or ("loopback (unreachable)" if self.stalwart_unreachable else "nobody")),
            f"  the real user from another address: {user}",
        ]


def _loopback_only(url: str) -> None:
    host = urlsplit(url).hostname or ""
    try:
        loopback = host == "localhost" or ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise SystemExit(f"refusing to attack {url}: this script runs on loopback only")


def _csrf(client: httpx.Client) -> str:
    page = client.get("/auth/sign-in")
    match = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text)
    if match is None:
        raise RuntimeError(f"no sign-in form at {client.base_url}: HTTP {page.status_code}")
    return match.group(1)


def _sign_in(client: httpx.Client, token: str, name: str, password: str, address: str) -> httpx.Response:
    return client.post(
        "/auth/sign-in",
        data={"csrfmiddlewaretoken": token, "step": "password", "username": name, "password": password},
        headers={"X-Forwarded-For": address},
    )


def _stalwart(sandbox_url: str) -> httpx.Client:
    return httpx.Client(base_url=sandbox_url, auth=ADMIN, timeout=10)


def _banned(sandbox_url: str) -> set[str]:
    with _stalwart(sandbox_url) as stalwart:
        answer = stalwart.get("/api/settings/keys", params={"prefixes": "server.blocked-ip."})
    answer.raise_for_status()
    return {key.removeprefix("server.blocked-ip.") for key in answer.json()["data"]}


def configure_stalwart(sandbox_url: str, stalwart_sees: str) -> None:
    """The default ban rate, and whether Stalwart takes the address from X-Forwarded-For."""
    values = [
        ["server.auto-ban.auth.rate", "100/1d"],
        [FORWARDED_SETTING, "true" if stalwart_sees == "client" else "false"],
    ]
    with _stalwart(sandbox_url) as stalwart:
        answer = stalwart.post(
            "/api/settings", json=[{"type": "insert", "prefix": None, "values": values, "assert_empty": False}]
        )
    answer.raise_for_status()


def attack(
    portal_url: str,
    sandbox_url: str,
    *,
    attempts: int = 150,
    mode: str = "one-account",
    stalwart_sees: str = "portal",
    victim: str = USER[0],
    user: tuple[str, str] = USER,
) -> Result:
    """Run one attack against a running portal and sandbox; both must be on loopback."""
    _loopback_only(portal_url)
    _loopback_only(sandbox_url)
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}")
    attempts = max(1, min(attempts, MAX_ATTEMPTS))
    configure_stalwart(sandbox_url, stalwart_sees)
    result = Result(mode, stalwart_sees)
    before = _banned(sandbox_url)
    started = time.monotonic()
    with httpx.Client(base_url=portal_url, timeout=10) as attacker:
        token = _csrf(attacker)
        for number in range(attempts):
            if time.monotonic() - started > DEADLINE_SECONDS:
                break
            name = f"guess{number}" if mode == "spray" else victim
            address = str(ipaddress.ip_address("10.66.0.1") + number) if mode == "distributed" else ATTACKER_ADDRESS
            result.answers[_sign_in(attacker, token, name, f"wrong-{number}", address).status_code] += 1
    result.seconds = time.monotonic() - started
    try:
        result.banned = _banned(sandbox_url) - before
    except httpx.TransportError:
        result.stalwart_unreachable = True
    with httpx.Client(base_url=portal_url, timeout=10) as person:
        answer = _sign_in(person, _csrf(person), *user, USER_ADDRESS)
        result.user_status, result.user_page = answer.status_code, answer.text
    return result


@contextmanager
def portal_process(stalwart_url: str, workdir: Path) -> Iterator[str]:
    """One portal process with the default sign-in throttle, behind "a proxy" on 127.0.0.1."""
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("SIGNIN_", "STALWART_AUTH_BAN_RATE", "REDIS_URL"))
    }
    env.update(
        {
            "DJANGO_SETTINGS_MODULE": "portal.settings",
            "SECRET_KEY": "attack-test-only-secret-key-0123456789-abcdefghijklmnop",
            "ALLOWED_HOSTS": "127.0.0.1",
            "STATIC_MANIFEST": "0",
            "SECURE_COOKIES": "0",
            "DEBUG": "0",
            "STALWART_URL": stalwart_url,
            "DATABASE_URL": f"sqlite:///{workdir / 'attack.sqlite3'}",
            "LOG_LEVEL": "ERROR",
            "FORWARDED_ALLOW_IPS": "127.0.0.1",
        }
    )
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    command = [PYTHON, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--no-access-log", "--proxy-headers"]  # fmt: skip
    # Its log would repeat every refused attempt; the report says what happened.
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m loadtest.signin_attack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--attempts", type=int, default=150, help=f"wrong sign-ins per mode (at most {MAX_ATTEMPTS})")
    parser.add_argument("--mode", choices=(*MODES, "all"), default="all")
    parser.add_argument("--stalwart-sees", choices=("portal", "client", "both"), default="both")
    args = parser.parse_args(argv)
    modes = MODES if args.mode == "all" else (args.mode,)
    views = ("portal", "client") if args.stalwart_sees == "both" else (args.stalwart_sees,)
    failed = False
    for view in views:
        for mode in modes:
            # A fresh sandbox and portal for each run: nothing counted carries over.
            with tempfile.TemporaryDirectory(prefix="portal-attack-") as workdir:
                with sandbox_process(0, 0) as sandbox_url, portal_process(sandbox_url, Path(workdir)) as portal_url:
                    result = attack(portal_url, sandbox_url, attempts=args.attempts, mode=mode, stalwart_sees=view)
            print("\n".join(result.lines()), flush=True)
            failed |= not result.ok
    print("FAILED: Stalwart banned an address" if failed else "OK: the portal throttled, Stalwart banned nobody")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
