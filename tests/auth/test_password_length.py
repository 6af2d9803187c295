"""An overlong sign-in password is a form error, never forwarded to Stalwart (docs/security.md)."""

import re

from portal.stalwart.secrets import MAX_PASSWORD_LENGTH
from tests.conftest import persona


def test_an_overlong_password_is_refused_before_stalwart(client, sandbox):
    user = persona("user")
    response = client.post("/auth/sign-in", {"step": "password", "username": user.name, "password": "p" * 5000})
    content = response.content.decode()
    assert response.status_code in (200, 400, 422)
    errors = re.findall(r'<p class="field-error" id="id_password_error">([^<]*)</p>', content)
    assert errors == [f"A password can have at most {MAX_PASSWORD_LENGTH} characters."]
    assert f'value="{user.name}"' in content and "p" * 5000 not in content
    assert sandbox.requests == []


def test_the_longest_password_signs_in(client, sandbox):
    user = persona("user")
    longest = "Long-Enough-" + "x" * (MAX_PASSWORD_LENGTH - 12)
    sandbox.get(user.name).secrets[:] = [longest]  # a plain-text secret, as Stalwart accepts
    response = client.post("/auth/sign-in", {"step": "password", "username": user.name, "password": longest})
    assert response.status_code == 302
