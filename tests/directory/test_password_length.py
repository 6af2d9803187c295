"""The password length limit on every directory form that takes a password (docs/security.md).

A 5,000-character password is explained next to its field, what else was typed stays, and
nothing is written to Stalwart; the longest allowed password still works.
"""

import re

import httpx
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from portal.stalwart.secrets import MAX_PASSWORD_LENGTH
from tests.conftest import persona

OVERLONG = "p" * 5000
LONGEST = "Long-Enough-" + "x" * (MAX_PASSWORD_LENGTH - 12)
TOO_LONG = f"A password can have at most {MAX_PASSWORD_LENGTH} characters."
WRITES = {"POST", "PATCH", "PUT", "DELETE"}


def writes(sandbox) -> list:
    return [request for request in sandbox.requests if request.method in WRITES]


def field_error(content: str, field: str) -> str:
    match = re.search(rf'<p class="field-error" id="id_{field}_error">([^<]*)</p>', content)
    return match.group(1) if match else ""


def test_new_account(signed_in, sandbox):
    client = signed_in("admin")
    data = {"name": "long.pass", "description": "Typed by hand", "roles": "user", "password": OVERLONG}
    response = client.post(reverse("directory:create", kwargs={"kind": "accounts"}), data)
    content = response.content.decode()
    assert response.status_code in (200, 422)
    assert field_error(content, "password") == TOO_LONG
    assert 'value="Typed by hand"' in content and OVERLONG not in content
    assert writes(sandbox) == [] and sandbox.get("long.pass") is None
    assert 'maxlength="' not in content.split('id="id_password"')[1].split(">")[0]  # no silent cut


def test_account_edit(signed_in, sandbox):
    client = signed_in("admin")
    name = persona("user").name
    url = reverse("directory:edit", kwargs={"kind": "accounts", "name": name})
    page = client.get(url).content.decode()
    snapshot = re.search(r'name="snapshot" value="([^"]+)"', page).group(1)
    data = {"snapshot": snapshot, "name": name, "description": "Jane Typed", "roles": "user", "password": OVERLONG}
    sandbox.requests.clear()
    response = client.post(url, data)
    content = response.content.decode()
    assert response.status_code in (200, 422)
    assert field_error(content, "password") == TOO_LONG
    assert 'value="Jane Typed"' in content and OVERLONG not in content
    assert writes(sandbox) == []


def test_password_reset(signed_in, sandbox):
    client = signed_in("admin")
    who = persona("user")
    url = reverse("directory:account-password", kwargs={"name": who.name})
    response = client.post(url, {"password": OVERLONG, "confirm": OVERLONG})
    assert response.status_code in (200, 422)
    assert field_error(response.content.decode(), "password") == TOO_LONG
    assert writes(sandbox) == []

    # The longest allowed password is hashed, sent, and signs in.
    assert client.post(url, {"password": LONGEST, "confirm": LONGEST}).status_code == 302
    auth = (who.name, LONGEST)
    assert httpx.get(f"{settings.STALWART_URL}/api/account/auth", auth=auth).status_code == 200


def test_csv_import_rows(signed_in, sandbox):
    client = signed_in("admin")
    data = f"name,password\nlong.one,{OVERLONG}\nlongest.one,{LONGEST}\n"
    response = client.post(reverse("directory:import"), {"file": SimpleUploadedFile("a.csv", data.encode())})
    content = response.content.decode()
    assert response.status_code == 200
    assert "1 to create · 0 to change · 0 unchanged · 1 with errors" in content
    assert f"The password is longer than {MAX_PASSWORD_LENGTH} characters." in content
    assert OVERLONG not in content and LONGEST not in content
    assert writes(sandbox) == []

    plan_id = content.split('name="apply" value="')[1].split('"')[0]
    assert "1 done" in client.post(reverse("directory:import"), {"apply": plan_id}).content.decode()
    assert sandbox.get("long.one") is None
    secrets = sandbox.get("longest.one").secrets
    assert len(secrets) == 1 and secrets[0].startswith("$argon2id$")
    auth = ("longest.one", LONGEST)
    assert httpx.get(f"{settings.STALWART_URL}/api/account/auth", auth=auth).status_code == 200
