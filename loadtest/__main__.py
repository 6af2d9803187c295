"""Load test: many signed-in people, and many live event streams, through one portal process.

Everything runs on 127.0.0.1 and stops by itself:

1. Browsing. A sandbox process (``--scale`` extra accounts, ``--latency-ms`` added to every
   answer, like a real server across a network) and one portal process (uvicorn, one
   worker). ``--users`` people sign in, each with their own session, then browse the account
   list and account pages for ``--duration`` seconds. Reported: throughput, p50/p95/p99
   latency and errors (any answer but 200, or no answer).
2. Live streams. ``--streams`` delivery checks (``/tools/delivery/events``, the portal's
   server-side relay of Stalwart's event stream) run at once through a fresh portal process,
   started evenly over a few seconds, each watched on its own connection like a browser's
   EventSource (loadtest/watcher.py).
   The sandbox (loadtest/streams_sandbox.py, its own process) notes when it sends each frame;
   set against the moment the relayed event arrives (one system-wide monotonic clock), that
   is the relay latency. The portal's memory (RSS from /proc) is sampled before, during and
   after. Then a tenth as many checks are started and their watchers leave after the first
   step: Stalwart's streams behind them must all be closed.

``python -m loadtest`` (or ``make loadtest``) prints the results and writes them into the
"Load test" section of BENCHMARKS.md, after the ``<!-- notes -->`` marker that ``make bench``
keeps.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import random
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from loadtest.streams_sandbox import TimedSandbox, timed_sandbox
from loadtest.watcher import watch

ROOT = Path(__file__).resolve().parents[1]
PYTHON = sys.executable
ADMIN = ("admin", "Admin-Sandbox-1")
SECTION = "## Load test"
MARKER = "<!-- notes -->"
STREAM_PATH = "/tools/delivery/events"


# --- processes -------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(url: str, seconds: float = 120) -> float:
    """Wait until `url` answers; how long that took, in seconds."""
    started = time.monotonic()
    while time.monotonic() - started < seconds:
        try:
            httpx.get(url, timeout=1)
            return time.monotonic() - started
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError(f"{url} did not answer within {seconds} s")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def _stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@contextmanager
def sandbox_process(scale: int, latency_ms: float) -> Iterator[str]:
    port = free_port()
    command = [PYTHON, "manage.py", "sandbox", "--port", str(port), "--enterprise", "--scale", str(scale)]
    if latency_ms:
        command += ["--latency-ms", str(latency_ms)]
    env = {**os.environ, "DEBUG": "1", "DJANGO_SETTINGS_MODULE": "portal.settings"}
    process = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(f"http://127.0.0.1:{port}/.well-known/oauth-authorization-server", 300)
        yield f"http://127.0.0.1:{port}"
    finally:
        _stop(process)


@contextmanager
def portal_process(stalwart_url: str, workdir: Path) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "portal.settings",
        "SECRET_KEY": "load-test-only-secret-key-0123456789-abcdefghijklmnop",
        "ALLOWED_HOSTS": "127.0.0.1",
        "STATIC_MANIFEST": "0",
        "SECURE_COOKIES": "0",
        "DEBUG": "0",
        "STALWART_URL": stalwart_url,
        "DATABASE_URL": f"sqlite:///{workdir / 'loadtest.sqlite3'}",
        "LOG_LEVEL": "WARNING",
        "SIGNIN_MAX_FAILURES_PER_IP_PER_DAY": "100000",
    }
    env.pop("REDIS_URL", None)
    subprocess.run([PYTHON, "manage.py", "migrate", "--noinput", "-v", "0"], cwd=ROOT, env=env, check=True)
    command = [PYTHON, "-m", "uvicorn", "portal.asgi:application", "--host", "127.0.0.1", "--port", str(port),
               "--log-level", "warning", "--no-access-log"]  # fmt: skip
    process = subprocess.Popen(command, cwd=ROOT, env=env)
    try:
        wait_for(f"http://127.0.0.1:{port}/healthz")
        yield f"http://127.0.0.1:{port}", process.pid
    finally:
        _stop(process)


# --- measuring -------------------------------------------------------------------------------
def pct(samples: list[float], p: float) -> float:
    """Nearest-rank percentile, in milliseconds."""
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(p / 100 * len(ordered) + 0.5) - 1))] * 1000


@dataclass
class Samples:
    label: str
    latencies: list[float] = field(default_factory=list)
    errors: int = 0

    def row(self, elapsed: float) -> str:
        count = len(self.latencies) + self.errors
        rate = len(self.latencies) / elapsed if elapsed else 0.0
        return (
            f"| {self.label} | {count} | {rate:.1f} | {pct(self.latencies, 50):.1f} | {pct(self.latencies, 95):.1f} | "
            f"{pct(self.latencies, 99):.1f} | {self.errors} |"
        )


async def sign_in(client: httpx.AsyncClient) -> None:
    page = await client.get("/auth/sign-in")
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', page.text).group(1)
    response = await client.post(
        "/auth/sign-in",
        data={"csrfmiddlewaretoken": token, "step": "password", "username": ADMIN[0], "password": ADMIN[1]},
    )
    if response.status_code != 302:
        raise RuntimeError(f"sign-in failed: {response.status_code} {response.text[:300]}")


ACCOUNT_LINK = re.compile(r'href="/directory/accounts/([^/"?]+)/"')


async def browse(portal_url: str, users: int, duration: float, scale: int) -> tuple[list[Samples], float]:
    """`users` people, each with a session of their own, browse list and detail pages."""
    lists, details = Samples("account list (50 rows)"), Samples("account page")
    limits = httpx.Limits(max_connections=4, max_keepalive_connections=4)
    clients = [httpx.AsyncClient(base_url=portal_url, timeout=30, limits=limits) for _ in range(users)]
    pages = max(1, (scale + 50) // 50)
    try:
        await asyncio.gather(*(sign_in(client) for client in clients))
        started = time.perf_counter()
        deadline = started + duration

        async def timed(client: httpx.AsyncClient, samples: Samples, url: str, expect: str) -> str:
            began = time.perf_counter()
            try:
                response = await client.get(url)
            except httpx.HTTPError:
                samples.errors += 1
                return ""
            if response.status_code != 200 or expect not in response.text:
                samples.errors += 1
                return ""
            samples.latencies.append(time.perf_counter() - began)
            return response.text

        async def person(client: httpx.AsyncClient, seed: int) -> None:
            rng = random.Random(seed)
            while time.perf_counter() < deadline:
                page = f"/directory/accounts/?size=50&page={rng.randint(1, pages)}"
                html = await timed(client, lists, page, "<table")
                names = ACCOUNT_LINK.findall(html)
                if names and time.perf_counter() < deadline:
                    await timed(client, details, f"/directory/accounts/{rng.choice(names)}/", "<h1")

        await asyncio.gather(*(person(client, seed) for seed, client in enumerate(clients)))
        elapsed = time.perf_counter() - started
    finally:
        await asyncio.gather(*(client.aclose() for client in clients))
    combined = Samples("all pages", lists.latencies + details.latencies, lists.errors + details.errors)
    return [combined, lists, details], elapsed


@dataclass
class StreamResult:
    streams: int
    completed: int = 0
    errors: int = 0
    events: int = 0
    relay: list[float] = field(default_factory=list)
    rss_idle: float = 0.0
    rss_peak: float = 0.0
    rss_after: float = 0.0
    seconds: float = 0.0
    ramp: float = 0.0
    peak_open: int = 0
    arrivals: dict[str, dict[int, float]] = field(default_factory=dict)
    reasons: dict[str, int] = field(default_factory=dict)
    #: when the last stream opened and the first one closed: between the two, all were open
    last_opened: float = 0.0
    first_closed: float = float("inf")
    #: relay delays of the events that arrived while every stream was open
    relay_all_open: list[float] = field(default_factory=list)
    #: frames the sandbox sent, each relayed as one step
    frames_sent: int = 0
    #: checks whose watcher left early, and Stalwart streams of theirs still open afterwards
    left: int = 0
    left_open: int = 0
    note: str = ""

    def fail(self, reason: str) -> None:
        self.errors += 1
        self.reasons[reason] = self.reasons.get(reason, 0) + 1

    def settle(self, sent: dict[str, list[float]]) -> StreamResult:
        """Relay delays: each event's arrival against the moment the sandbox sent its frame."""
        for target, arrived in self.arrivals.items():
            frames = sent.get(target, [])
            for number, at in arrived.items():
                if number <= len(frames):
                    self.relay.append(at - frames[number - 1])
                    if self.last_opened <= at <= self.first_closed:
                        self.relay_all_open.append(at - frames[number - 1])
        return self


async def live_streams(portal_url: str, pid: int, count: int, ramp: float = 0.0) -> StreamResult:
    """`count` delivery checks through the portal, started evenly over `ramp` seconds (people
    do not all press the button in the same millisecond), all open together once started if
    each stream outlasts the ramp (`peak_open` says how many were). Call `settle()` with the
    sandbox's frame times for the relay delays."""
    result = StreamResult(count, ramp=ramp)
    open_now = 0
    async with httpx.AsyncClient(base_url=portal_url, timeout=60) as client:
        await sign_in(client)
        probe = await client.get(STREAM_PATH, params={"target": "probe@example.org"}, headers={"Last-Event-ID": "1"})
        if probe.status_code == 404:
            result.note = f"not measured: the portal has no {STREAM_PATH} relay"
            return result
        await asyncio.sleep(0.5)
        result.rss_idle = rss_mb(pid)
        peak = result.rss_idle
        running = True

        async def sample() -> None:
            nonlocal peak
            while running:
                peak = max(peak, rss_mb(pid))
                await asyncio.sleep(0.05)

        # Each stream is its own connection, read by loadtest/watcher.py: through httpx the
        # load generator used as much CPU as the portal, on the same two cores.
        async def one(index: int) -> None:
            nonlocal open_now
            await asyncio.sleep(ramp * index / count)
            target = f"check{index}@site{index}.example.org"
            open_now += 1
            result.peak_open = max(result.peak_open, open_now)
            result.last_opened = max(result.last_opened, time.perf_counter())
            try:
                watched = await watch(portal_url, STREAM_PATH, {"target": target}, client.cookies)
            finally:
                open_now -= 1
                result.first_closed = min(result.first_closed, time.perf_counter())
            result.arrivals[target] = watched.arrivals
            if watched.error:
                result.fail(watched.error)
                return
            if not watched.finished:
                result.fail("ended without its last event")
                return
            result.completed += 1
            result.events += len(watched.arrivals)

        sampler = asyncio.ensure_future(sample())
        started = time.perf_counter()
        await asyncio.gather(*(one(index) for index in range(count)))
        result.seconds = time.perf_counter() - started
        running = False
        await sampler
        result.rss_peak = peak
    await asyncio.sleep(1.0)
    result.rss_after = rss_mb(pid)
    return result


# --- reporting -------------------------------------------------------------------------------
def report(args, command: str, browsing: list[Samples], elapsed: float, streams: StreamResult | None) -> str:
    lines = [
        SECTION,
        "",
        f"Produced by {command} on {time.strftime('%Y-%m-%d')}: {platform.machine()} machine with "
        f"{os.cpu_count()} CPU cores, Python {platform.python_version()}. Everything runs on 127.0.0.1 and shares "
        "the cores: the sandbox, one portal process (uvicorn, one worker) and the load generator.",
        "",
        f"### Browsing: {args.users} signed-in people, one portal process",
        "",
        f"Each person has their own session and browses the account list (50 rows, a random page of "
        f"{args.scale:,} extra accounts) and account pages for {elapsed:.0f} s, as fast as the portal answers. "
        f"The sandbox adds {args.latency_ms:g} ms to every answer. Errors: any answer but 200, or none.",
        "",
        "| Pages | Requests | Pages/s | p50 ms | p95 ms | p99 ms | Errors |",
        "|---|---|---|---|---|---|---|",
        *(samples.row(elapsed) for samples in browsing),
        "",
        f"### Live event streams: {args.streams} delivery checks relayed at once",
        "",
    ]
    if streams is None or streams.note:
        lines.append(f"Live streams: {streams.note if streams else 'not measured (--streams 0)'}.")
    else:
        per_stream = (streams.rss_peak - streams.rss_idle) * 1024 / max(1, streams.streams)
        lines += [
            f"`{STREAM_PATH}` through one fresh portal process: each stream is a delivery check the portal "
            "relays from Stalwart's event stream, rendering every stage as an HTML fragment. Relay latency: from "
            "the sandbox handing a frame to its socket to the relayed event reaching the client (same clock). "
            f"The streams were started evenly over {streams.ramp:g} s and {streams.peak_open} were open at the same "
            f"time at the peak; all {streams.streams} ran within {streams.seconds:.1f} s.",
            "",
            "| Streams | Completed | Errors | Events relayed | Relay p50 / p95 / p99 ms | "
            "Portal RSS idle / peak / after MB | Peak RSS per stream KB |",
            "|---|---|---|---|---|---|---|",
            f"| {streams.streams} | {streams.completed} | {streams.errors} | {streams.events} | "
            f"{pct(streams.relay, 50):.1f} / {pct(streams.relay, 95):.1f} / {pct(streams.relay, 99):.1f} | "
            f"{streams.rss_idle:.0f} / {streams.rss_peak:.0f} / {streams.rss_after:.0f} | {per_stream:.0f} |",
            "",
            f"Frames sent by the sandbox: {streams.frames_sent}, relayed: {streams.events}. "
            f"{streams.left} more checks whose watchers left after the first step: {streams.left_open} of "
            "the sandbox's streams behind them were still open afterwards."
            + (f" Errors: {streams.reasons}." if streams.reasons else ""),
        ]
    return "\n".join(lines) + "\n"


STREAM_FRAME_DELAY = (0.4, 0.6)  # seconds between frames (30 frames: a check lasts about 15 s)


def measure_streams(count: int, workdir: Path) -> StreamResult:
    """`count` delivery checks through one fresh portal process, started over a few seconds;
    then `count // 10` more whose watchers leave after the first step."""
    ramp = min(10.0, count / 100)  # 100 new streams a second, at most 10 s: a check lasts about 15 s
    with (
        timed_sandbox(STREAM_FRAME_DELAY, free_port(), wait_for) as sandbox,
        portal_process(sandbox.url, workdir) as (portal_url, pid),
    ):
        result = run(live_streams(portal_url, pid, count, ramp))
        result.settle(sandbox.sent())
        result.frames_sent = sum(len(times) for times in sandbox.sent().values())
        result.left, result.left_open = run(walk_away(portal_url, sandbox, max(1, count // 10)))
        return result


async def walk_away(portal_url: str, sandbox: TimedSandbox, count: int) -> tuple[int, int]:
    """`count` people start a check and close the page after its first step: how many of
    Stalwart's streams are still open a few seconds later (none, when the portal closes them)."""
    async with httpx.AsyncClient(base_url=portal_url, timeout=60) as client:
        await sign_in(client)
    await asyncio.gather(
        *(
            watch(portal_url, STREAM_PATH, {"target": f"leave{i}@site{i}.example.org"}, client.cookies, leave_after_first_step=True)
            for i in range(count)
        )
    )
    deadline = time.monotonic() + 10
    while (still_open := sandbox.open_streams()) and time.monotonic() < deadline:  # noqa: ASYNC110 - another process
        await asyncio.sleep(0.2)
    return count, still_open


def run(coroutine):
    """asyncio.run, on uvloop when it is installed (as the portal's uvicorn uses it)."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coroutine)
    return asyncio.run(coroutine, loop_factory=uvloop.new_event_loop)


def write_section(path: Path, section: str) -> None:
    """Replace (or add) the Load test section after the notes marker; keep everything else."""
    text = path.read_text() if path.exists() else "# Benchmarks\n"
    if MARKER not in text:
        text = text.rstrip("\n") + f"\n\n{MARKER}\n"
    head, notes = text.split(MARKER, 1)
    start = notes.find(SECTION + "\n")
    if start >= 0:
        following = re.search(r"^## (?!#)", notes[start + len(SECTION) :], re.MULTILINE)
        end = start + len(SECTION) + following.start() if following else len(notes)
        notes = notes[:start] + section + ("\n" + notes[end:] if following else "")
    else:
        notes = notes.rstrip("\n") + "\n\n" + section
    path.write_text(head + MARKER + notes)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20, help="concurrent signed-in people (default 20)")
    parser.add_argument("--duration", type=float, default=20, help="seconds of browsing (default 20)")
    parser.add_argument("--scale", type=int, default=1000, help="extra accounts in the sandbox (default 1000)")
    parser.add_argument("--latency-ms", type=float, default=20, help="added to every sandbox answer (default 20)")
    parser.add_argument("--streams", type=int, default=50, help="concurrent live streams (default 50; 0: skip)")
    parser.add_argument("--output", default=str(ROOT / "BENCHMARKS.md"), help="file to write the section into")
    parser.add_argument("--no-write", action="store_true", help="only print the results")
    args = parser.parse_args()
    if not 1 <= args.users <= 40:
        parser.error("--users must be between 1 and 40 (the sandbox allows 100 token requests a minute per address)")
    command = (
        f"python -m loadtest --users {args.users} --duration {args.duration:g} --scale {args.scale} "
        f"--latency-ms {args.latency_ms:g} --streams {args.streams}"
    )
    command = f"`make loadtest` (`{command}`)" if os.environ.get("MAKELEVEL") else f"`{command}`"

    workdir = Path(tempfile.mkdtemp(prefix="portal-loadtest-"))
    try:
        print(f"browsing: {args.users} people for {args.duration:g} s ...", flush=True)
        with (
            sandbox_process(args.scale, args.latency_ms) as stalwart_url,
            portal_process(stalwart_url, workdir) as (
                portal_url,
                _,
            ),
        ):
            browsing, elapsed = asyncio.run(browse(portal_url, args.users, args.duration, args.scale))
        streams = None
        if args.streams > 0:
            print(f"live streams: {args.streams} at once ...", flush=True)
            streams = measure_streams(args.streams, workdir)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    section = report(args, command, browsing, elapsed, streams)
    print("\n" + section)
    if not args.no_write:
        write_section(Path(args.output), section)
        print(f"wrote the {SECTION[3:]!r} section of {args.output}")


if __name__ == "__main__":
    main()
