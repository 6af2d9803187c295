"""``python manage.py sandbox``: run the Stalwart management-API emulator."""

from __future__ import annotations

from django.core.management.base import BaseCommand, CommandError

from sandbox.faults import parse_spec
from sandbox.jmap import JMAP_VERSIONS
from sandbox.seed import SCALE_PASSWORD, TOTP_SECRET, personas_for
from sandbox.state import SEEDS, VERSIONS, Sandbox

#: What differs for a persona on 0.16 (sign-in with the e-mail address, TOTP as ``mfaToken``).
JMAP_PERSONA_NOTES = {
    "totp_user": {"description": "User with two-factor TOTP enabled: send the code as mfaToken to /api/auth; "
                  "app password 'App-Sandbox-1' bypasses TOTP"},
    "no_oauth": {"description": "Plain user (0.16 has no authenticate-oauth permission: can sign in)"},
}


class Command(BaseCommand):
    help = "Run the in-memory Stalwart management API sandbox."
    requires_system_checks = []

    def add_base_argument(self, parser, *args, **kwargs):
        # --version selects the emulated Stalwart version here, not Django's version.
        if "--version" in args:
            return
        super().add_base_argument(parser, *args, **kwargs)

    def add_arguments(self, parser):
        parser.add_argument("--port", type=int, default=8081)
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--version", dest="stalwart_version", choices=VERSIONS + JMAP_VERSIONS, default="0.11.8")
        parser.add_argument("--enterprise", action="store_true", default=False, help="Enterprise licence")
        parser.add_argument("--no-enterprise", dest="enterprise", action="store_false", help="Community (default)")
        parser.add_argument("--token-lifetime", type=int, default=3600, metavar="SECONDS")
        parser.add_argument("--seed", choices=SEEDS, default="demo")
        parser.add_argument("--scale", type=int, default=0, metavar="N")
        parser.add_argument(
            "--latency-ms", type=float, default=0, metavar="N", help="add N ms to every answer (sandbox.faults)"
        )
        parser.add_argument(
            "--fault",
            action="append",
            default=[],
            metavar="KIND[:PREFIX]",
            help="inject a fault on every request under PREFIX (default /): error, error503, ratelimit "
            "(429 as Stalwart sends it; ratelimit30 adds Retry-After: 30), malformed, reset, truncate-sse, "
            "expire-tokens",
        )

    def build_sandbox(self, options) -> Sandbox:
        if options["scale"] < 0:
            raise CommandError("--scale must not be negative")
        if options["token_lifetime"] <= 0:
            raise CommandError("--token-lifetime must be positive")
        if options.get("latency_ms", 0) < 0:
            raise CommandError("--latency-ms must not be negative")
        try:
            faults = [parse_spec(spec) for spec in options.get("fault", [])]
        except ValueError as exc:
            raise CommandError(f"--fault: {exc}") from exc
        sb = Sandbox(
            version=options["stalwart_version"],
            enterprise=options["enterprise"],
            access_token_lifetime=options["token_lifetime"],
            seed=options["seed"],
            scale=options["scale"],
        )
        if options.get("latency_ms"):
            sb.faults.latency(options["latency_ms"])
        for kind, scope in faults:
            sb.faults.add(kind, **scope)
        if sb.faults.rules:
            sb.mark_pristine()  # the faults survive a reset
        return sb

    def describe(self, sb: Sandbox, host: str, port: int) -> str:
        lines = [
            f"Stalwart sandbox v{sb.release} "
            f"({'Enterprise' if sb.enterprise else 'Community'} edition, seed {sb.seed!r}, "
            f"{len(sb.principals)} principals) on http://{host}:{port}",
        ]
        personas = personas_for(sb)
        if personas:
            lines.append("Personas (login / password):")
            if sb.generation == "jmap":  # 0.16 signs in with the e-mail address
                from sandbox.jmap.store import address_of

                personas = {k: dict(p, login=address_of(sb, sb.get(p["name"])), **JMAP_PERSONA_NOTES.get(k, {}))
                            for k, p in personas.items()
                            if sb.get(p["name"]) is not None and sb.get(p["name"]).type == "individual"}
            width = max(len(p["login"]) for p in personas.values())
            for key, p in personas.items():
                lines.append(f"  {p['login']:<{width}}  {p['password']:<20}  {key}: {p['description']}")
            if "totp_user" in personas:
                login = personas["totp_user"]["login"]
                lines.append(f"  TOTP secret of {login}: {TOTP_SECRET}")
        if sb.scale:
            lines.append(f"  {sb.scale} generated accounts userNNNNNN@scale.example / {SCALE_PASSWORD}")
        for fault in sb.faults.describe():
            lines.append(f"  Fault: {fault}")
        return "\n".join(lines)

    def handle(self, *args, **options):
        from sandbox.server import serve

        sb = self.build_sandbox(options)
        self.stdout.write(self.describe(sb, options["host"], options["port"]))
        serve(sb, options["host"], options["port"])
