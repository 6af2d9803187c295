"""The side menu: what each person sees, and which entry is the current page."""

from __future__ import annotations

import re


def menu(html: str) -> str:
    match = re.search(r'<nav class="sidebar".*?</nav>', html, re.S)
    assert match, "no menu on the page"
    return match.group(0)


def links(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)"', menu(html))


def current(html: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" aria-current="page">', menu(html))


def test_the_current_page_is_marked_once(signed_in):
    client = signed_in("admin")
    accounts = client.get("/directory/accounts/").content.decode()
    groups = client.get("/directory/groups/").content.decode()
    assert current(accounts) == ["/directory/accounts/"]
    assert current(groups) == ["/directory/groups/"]
    # The same menu otherwise: only the marker moved.
    assert links(accounts) == links(groups)


def test_a_page_outside_the_menu_marks_nothing(signed_in):
    client = signed_in("admin")
    page = client.get("/directory/accounts/jane.doe/").content.decode()
    assert current(page) == []


def test_each_person_sees_only_their_entries(signed_in):
    admin = links(signed_in("admin").get("/account/").content.decode())
    user = links(signed_in("user").get("/account/").content.decode())
    assert "/directory/accounts/" in admin and "/tools/maintenance/" in admin
    assert "/directory/accounts/" not in user and "/tools/maintenance/" not in user
    assert "/account/" in user and set(user) < set(admin)
    # Rendered after the administrator's menu, the user's is still their own.
    admin_again = links(signed_in("admin").get("/account/").content.decode())
    assert admin_again == admin
