"""The page that lists the sign-in throttle's counts and clears one."""

import re

from django.test import Client

from portal.models import AuditEntry
from tests.conftest import persona

PAGE = "/auth/throttle/"
ATTACKER = "198.51.100.7"
HOSTILE = '<img src=x onerror="alert(1)">'


def wrong(username, address=ATTACKER):
    return Client().post("/auth/sign-in", {"username": username, "password": "nope"}, REMOTE_ADDR=address)


def entry_ids(page: str) -> list[str]:
    return re.findall(r'name="entry" value="([0-9a-f]+)"', page)


def test_administrators_see_what_is_counted(signed_in, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES = 2
    assert [wrong(HOSTILE).status_code for _ in range(3)] == [401, 401, 429]
    client = signed_in("admin")
    sandbox.requests.clear()
    response = client.get(PAGE)
    assert response.status_code == 200
    assert sandbox.requests == []  # the counts are the portal's own
    page = response.content.decode()
    assert ATTACKER in page and "Refused until" in page
    assert "<img" not in page and "&lt;img" in page  # the typed name is escaped
    assert "2 of 2" in page  # the address and account pair
    assert len(entry_ids(page)) == 3  # pair, address and account; Stalwart's counts cannot be cleared
    assert '<a href="/auth/throttle/" aria-current="page">' in page  # in the menu


def test_nothing_counted(signed_in, sandbox):
    page = signed_in("admin").get(PAGE).content.decode()
    assert "No failed sign-ins" in page


def test_people_who_cannot_change_settings_are_refused(signed_in, sandbox):
    for who in ("helpdesk", "user"):
        client = signed_in(who)
        sandbox.requests.clear()
        assert client.get(PAGE).status_code == 403
        assert client.post(f"{PAGE}clear", {"entry": "0" * 32}).status_code == 403
        assert sandbox.requests == []
        assert 'href="/auth/throttle/"' not in client.get("/account/").content.decode()
        client.post("/auth/sign-out")


def test_clearing_an_address_lets_it_try_again(signed_in, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES = 2
    assert [wrong("jane.doe").status_code for _ in range(3)] == [401, 401, 429]
    client = signed_in("admin")
    page = client.get(PAGE).content.decode()
    address_row = next(row for row in page.split("<tr>") if '<th scope="row">\n        Address\n' in row)
    [address_entry] = entry_ids(address_row)
    response = client.post(f"{PAGE}clear", {"entry": address_entry})
    assert response.status_code == 302 and response.url == PAGE
    assert "Cleared." in client.get(PAGE).content.decode()
    p = persona("user")
    again = Client().post("/auth/sign-in", {"username": p.name, "password": p.password}, REMOTE_ADDR=ATTACKER)
    assert again.status_code == 302  # the address's pairs were cleared with it
    entry = AuditEntry.objects.get(action="portal.sign-in-throttle-clear")
    assert (entry.actor, entry.target) == ("admin", ATTACKER)
    # A second clear of the same entry: gone.
    gone = client.post(f"{PAGE}clear", {"entry": address_entry}, follow=True)
    assert "no longer there" in gone.content.decode()


def test_clearing_does_not_forget_what_stalwart_counted(signed_in, sandbox, settings):
    settings.STALWART_AUTH_BAN_RATE = 4  # the portal stops at 3
    settings.SIGNIN_MAX_FAILURES_PER_DAY = 0  # (as when Stalwart sees the client addresses)
    for number in range(3):
        assert wrong("jane.doe", address=f"192.0.2.{number + 1}").status_code == 401
    client = signed_in("admin")
    for entry in entry_ids(client.get(PAGE).content.decode()):
        client.post(f"{PAGE}clear", {"entry": entry})
    page = client.get(PAGE).content.decode()
    assert "Account, as Stalwart counts it" in page and entry_ids(page) == []
    p = persona("user")
    refused = Client().post("/auth/sign-in", {"username": p.name, "password": p.password}, REMOTE_ADDR="203.0.113.5")
    assert refused.status_code == 429
