"""The password length limit on the self-service forms (docs/security.md): a 5,000-character
password is explained next to its field and never sent to Stalwart, not even to check it."""

import re

from portal.stalwart.secrets import MAX_PASSWORD_LENGTH
from tests.conftest import persona

from .conftest import field_errors, totp_code

OVERLONG = "p" * 5000
TOO_LONG = f"A password can have at most {MAX_PASSWORD_LENGTH} characters."


def basic_calls(sandbox) -> list:
    """Requests made with a typed password (Basic auth): none may carry an overlong one."""
    return [request for request in sandbox.requests if request.auth_scheme == "Basic"]


def test_password_change(signed_in, sandbox):
    client = signed_in("user")
    user = persona("user")
    page = "/account/security/password"
    wrong_current = client.post(
        page, {"password": OVERLONG, "new_password": "Wooden-Lamp-River-42", "confirm_password": "Wooden-Lamp-River-42"}
    )
    assert wrong_current.status_code in (200, 400, 422)
    assert field_errors(wrong_current, "password") == [TOO_LONG]
    new_too_long = client.post(
        page, {"password": user.password, "new_password": OVERLONG, "confirm_password": OVERLONG}
    )
    assert new_too_long.status_code in (200, 400, 422)
    assert field_errors(new_too_long, "new_password") == [TOO_LONG]
    assert OVERLONG not in new_too_long.content.decode()
    assert basic_calls(sandbox) == []


def test_strength_feedback_says_so_while_typing(signed_in, sandbox):
    client = signed_in("user")
    response = client.post("/account/security/password/strength", {"new_password": OVERLONG})
    assert response.status_code == 200 and TOO_LONG in response.content.decode()
    assert sandbox.requests == []


def test_two_factor_enable(signed_in, sandbox):
    client = signed_in("user")
    page = client.get("/account/security/two-factor/enable").content.decode()
    secret = re.search(r'id="totp-secret">([A-Z2-7 ]+)<', page).group(1).replace(" ", "")
    sandbox.requests.clear()
    response = client.post(
        "/account/security/two-factor/enable", {"code": totp_code(sandbox, secret), "password": OVERLONG}
    )
    assert response.status_code in (200, 400, 422)
    assert field_errors(response, "password") == [TOO_LONG]
    assert basic_calls(sandbox) == []


def test_two_factor_disable(signed_in_totp, sandbox):
    client = signed_in_totp()
    response = client.post("/account/security/two-factor/disable", {"password": OVERLONG, "code": totp_code(sandbox)})
    assert response.status_code in (200, 400, 422)
    assert field_errors(response, "password") == [TOO_LONG]
    assert basic_calls(sandbox) == []


def test_encryption_off(signed_in, sandbox):
    client = signed_in("user")
    response = client.post("/account/security/encryption/disable", {"off-password": OVERLONG})
    assert response.status_code in (200, 400, 422)
    assert field_errors(response, "off-password") == [TOO_LONG]
    assert basic_calls(sandbox) == []
