"""`manage.py demo`: the Stalwart sandbox and the portal, side by side on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time

import uvicorn
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError


def _wait_for(port: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with socket.socket() as probe:
            probe.settimeout(0.5)
            if probe.connect_ex(("127.0.0.1", port)) == 0:
                return True
        time.sleep(0.1)
    return False


class Command(BaseCommand):
    help = "Start the Stalwart sandbox and the portal for a demonstration."

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8000, help="portal port (default 8000)")
        parser.add_argument("--sandbox-port", type=int, default=8081, help="sandbox port (default 8081)")
        parser.add_argument("--sandbox-args", default="", help="extra arguments for `manage.py sandbox`")

    def handle(self, *args, **options):
        sandbox_url = f"http://127.0.0.1:{options['sandbox_port']}"
        if settings.STALWART_URL != sandbox_url:
            raise CommandError(
                f"STALWART_URL is {settings.STALWART_URL}; the demo runs the sandbox at {sandbox_url}. "
                "Unset STALWART_URL, or use `make serve` to run the portal against your own server."
            )
        command = [sys.executable, "manage.py", "sandbox", "--port", str(options["sandbox_port"])]
        command += options["sandbox_args"].split()
        sandbox = subprocess.Popen(command, env=os.environ.copy())
        try:
            if not _wait_for(options["sandbox_port"], 60):
                raise CommandError("The sandbox did not start; see its output above.")
            self.stdout.write(
                self.style.SUCCESS(f"\nPortal: http://127.0.0.1:{options['port']}  (sandbox at {sandbox_url})\n")
            )
            uvicorn.run("portal.asgi:application", host="127.0.0.1", port=options["port"], log_level="warning")
        finally:
            sandbox.terminate()
            try:
                sandbox.wait(10)
            except subprocess.TimeoutExpired:
                sandbox.kill()
