"""``python manage.py sandbox --version 0.16.18``."""

from __future__ import annotations

from sandbox.management.commands.sandbox import Command


def test_version_016_builds_a_jmap_sandbox_and_prints_e_mail_logins():
    command = Command()
    options = vars(command.create_parser("manage.py", "sandbox").parse_args(["--version", "0.16.18", "--enterprise"]))
    sb = command.build_sandbox(options)
    assert (sb.release, sb.generation) == ("0.16.18", "jmap")
    text = command.describe(sb, "127.0.0.1", 8081)
    assert text.startswith("Stalwart sandbox v0.16.18 (Enterprise edition")
    for login in ("admin@example.org", "hannah.becker@example.org", "admin@acme.org", "jane.doe@example.org"):
        assert login in text
    assert "mfaToken" in text and "monitoring" not in text
