"""A wrong current password is a failed authentication at Stalwart: the sign-in budget applies."""

from tests.conftest import persona

from .conftest import field_errors

PAGE = "/account/security/password"
NEW = "Wooden-Lamp-River-42"
ADDRESS = "198.51.100.40"


def change(client, current):
    data = {"password": current, "new_password": NEW, "confirm_password": NEW}
    return client.post(PAGE, data, REMOTE_ADDR=ADDRESS)


def test_wrong_current_passwords_are_throttled_like_sign_ins(signed_in, sandbox, settings):
    settings.SIGNIN_MAX_FAILURES = 2
    client = signed_in("user")
    assert [change(client, "not-it").status_code for _ in range(2)] == [401, 401]
    # Stalwart saw the person's address, not only the portal's.
    assert {r.address for r in sandbox.requests if r.path == "/api/account/auth"} == {ADDRESS}
    sandbox.requests.clear()
    refused = change(client, persona("user").password)
    assert refused.status_code == 429
    assert sandbox.requests == []  # not forwarded, even with the right password
    [error] = field_errors(refused, "password")
    assert error.startswith("Too many failed sign-ins.") and "Try again at" in error
    assert client.get("/account/security/").status_code == 200  # still signed in
    # From another address the person may go on.
    done = client.post(PAGE, {"password": persona("user").password, "new_password": NEW, "confirm_password": NEW})
    assert done.status_code == 302
