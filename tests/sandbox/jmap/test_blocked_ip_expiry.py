"""A blocked address with an expiry on the 0.16 sandbox, as Stalwart 0.16.18 treats it
(objects.md §23; crates/common/src/network/security.rs): once `expiresAt` has passed the entry
stops applying at once, `/get` and `/query` still list it, and the next build of the blocked
list (`ReloadBlockedIps`) deletes it. Stalwart <= 0.15 keeps no expiry."""

from __future__ import annotations

import pytest

from sandbox.jmap.store import utc

ADDRESS = "192.0.2.50"


@pytest.fixture(autouse=True)
def _forwarded(v16):
    """Clients are told apart by `X-Forwarded-For` (the server trusts the header)."""
    v16.sb.settings["http.use-x-forwarded"] = "true"
    assert v16.sb.rate_limits


def _refused(v16, address: str = ADDRESS) -> bool:
    """Whether a request forwarded for `address` is refused as a blocked client (empty 403)."""
    response = v16.client.get("/jmap/session", headers={"X-Forwarded-For": address})
    return response.status_code == 403 and response.content == b""


def _listed(v16) -> dict[str, dict]:
    ids = v16.call("admin", "x:BlockedIp/query", {"position": 0})[1]["ids"]
    return {item["address"]: item for item in v16.call("admin", "x:BlockedIp/get", {"ids": ids})[1]["list"]}


def _block(v16, address: str, expires: int | None) -> str:
    value: dict = {"address": address}
    if expires is not None:
        value["expiresAt"] = utc(expires)
    made = v16.call("admin", "x:BlockedIp/set", {"create": {"b": value}})[1]
    return made["created"]["b"]["id"]


def _reload(v16) -> None:
    done = v16.call("admin", "x:Action/set", {"create": {"r": {"@type": "ReloadBlockedIps"}}})[1]
    assert "r" in done["created"], done


def test_an_expired_entry_stops_applying_and_is_listed_until_the_next_reload(v16):
    assert not _refused(v16)  # the header is trusted: another client gets in
    entry = _block(v16, ADDRESS, v16.sb.now() + 30)
    assert _refused(v16)
    assert _refused(v16, "192.0.2.51") is False
    v16.sb.advance(60)
    assert not _refused(v16)  # expired: no longer enforced
    listed = _listed(v16)
    assert listed[ADDRESS]["id"] == entry and listed[ADDRESS]["expiresAt"] is not None  # still listed
    assert v16.call("admin", "x:BlockedIp/query", {"filter": {"address": ADDRESS}})[1]["ids"] == [entry]
    _reload(v16)
    assert ADDRESS not in _listed(v16)
    assert v16.call("admin", "x:BlockedIp/get", {"ids": [entry]})[1]["notFound"] == [entry]
    assert not _refused(v16)


def test_a_reload_keeps_what_has_not_expired(v16):
    permanent = _block(v16, "192.0.2.60", None)
    later = _block(v16, "192.0.2.0/28", v16.sb.now() + 3600)
    _reload(v16)
    listed = _listed(v16)
    assert listed["192.0.2.60"]["id"] == permanent and listed["192.0.2.0/28"]["id"] == later
    assert _refused(v16, "192.0.2.60") and _refused(v16, "192.0.2.5")  # the network, until it expires
    v16.sb.advance(3601)
    assert not _refused(v16, "192.0.2.5") and _refused(v16, "192.0.2.60")


def test_an_entry_made_already_expired_never_applies_and_an_update_moves_the_expiry(v16):
    entry = _block(v16, ADDRESS, v16.sb.now() - 10)
    assert not _refused(v16)
    assert ADDRESS in _listed(v16)
    for expires, refused in ((utc(v16.sb.now() + 600), True), (None, True)):
        answer = v16.call("admin", "x:BlockedIp/set", {"update": {entry: {"expiresAt": expires}}})[1]
        assert answer["updated"] == {entry: None}
        assert _refused(v16) is refused
    v16.sb.advance(700)
    assert _refused(v16)  # permanent now


def test_rest_servers_keep_no_expiry():
    """<= 0.15: the value of a `server.blocked-ip.*` key means nothing; the address stays blocked."""
    from sandbox.limits import is_blocked
    from sandbox.state import Sandbox

    sb = Sandbox(version="0.15.5")
    sb.settings[f"server.blocked-ip.{ADDRESS}"] = str(sb.now() - 10)
    assert is_blocked(sb, ADDRESS)
