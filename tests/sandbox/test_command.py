"""``python manage.py sandbox`` (argument parsing and the persona printout)."""

from __future__ import annotations

from sandbox.management.commands.sandbox import Command


def _options(*argv):
    parser = Command().create_parser("manage.py", "sandbox")
    return vars(parser.parse_args(argv))


def test_defaults():
    options = _options()
    assert options["port"] == 8081 and options["host"] == "127.0.0.1"
    assert options["stalwart_version"] == "0.11.8" and options["enterprise"] is False
    assert options["token_lifetime"] == 3600 and options["seed"] == "demo" and options["scale"] == 0


def test_options_build_the_sandbox_and_print_personas():
    options = _options(
        "--port", "9000", "--version", "0.12.4", "--enterprise", "--token-lifetime", "60", "--scale", "25"
    )
    command = Command()
    sb = command.build_sandbox(options)
    assert (sb.version, sb.enterprise, sb.access_token_lifetime, sb.scale) == ("0.12.4", True, 60, 25)
    assert sb.get("user000025@scale.example") is not None
    text = command.describe(sb, "127.0.0.1", 9000)
    assert "http://127.0.0.1:9000" in text
    for login in ("admin", "hannah.becker", "admin@acme.org", "jane.doe", "theo.martin", "nina.kiosk"):
        assert login in text
    assert "Admin-Sandbox-1" in text and "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP" in text
    community = command.build_sandbox(_options("--no-enterprise", "--seed", "empty"))
    assert community.principals == {} and "admin@acme.org" not in command.describe(community, "h", 1)


def test_every_emulated_version_can_be_chosen():
    from sandbox.state import VERSIONS

    assert {"0.11.8", "0.12.4", "0.13.4", "0.14.1", "0.15.5"} <= set(VERSIONS)
    command = Command()
    for version in ("0.11.8", "0.12.4", "0.13.4", "0.14.1", "0.15.5"):
        sb = command.build_sandbox(_options("--version", version, "--enterprise", "--seed", "empty"))
        assert sb.version == version and sb.enterprise
        assert f"v{version}" in command.describe(sb, "127.0.0.1", 8081)
