"""Encryption at rest: state, turning it on with a pasted or uploaded key, turning it off."""

import base64

from django.core.files.uploadedfile import SimpleUploadedFile

from tests.conftest import persona
from tests.crypto_fixtures import pgp_key, smime_bundle

from .conftest import field_errors, totp_code

PAGE = "/account/security/encryption"
OFF = "/account/security/encryption/disable"


def crypto_posts(sandbox):
    return [r for r in sandbox.requests if r.method == "POST" and r.path == "/api/account/crypto"]


def turn_on(client, password, **fields):
    data = {"method": "pGP", "algo": "Aes256", "certs": "", "password": password, **fields}
    return client.post(PAGE, data)


def test_off_by_default(signed_in, sandbox):
    content = signed_in("user").get(PAGE).content.decode()
    assert "Messages are stored as they arrive" in content
    assert "Turn off encryption" not in content
    assert 'name="code"' not in content
    assert 'enctype="multipart/form-data"' in content


def test_paste_a_pgp_key(signed_in, sandbox):
    client = signed_in("user")
    response = turn_on(client, persona("user").password, certs=pgp_key())
    assert response.status_code == 302 and response.url == PAGE
    (post,) = crypto_posts(sandbox)
    assert post.auth_scheme == "Basic" and post.status == 200
    content = client.get(PAGE).content.decode()
    assert "Encryption at rest is on" in content and "(1 certificate accepted)" in content
    assert "OpenPGP" in content and "AES-256" in content
    assert "Turn off encryption" in content
    overview = client.get("/account/security/").content.decode()
    assert "stored encrypted with your OpenPGP key (AES-256)" in overview


def test_upload_an_smime_bundle_and_a_der_certificate(signed_in, sandbox):
    client = signed_in("user")
    bundle = SimpleUploadedFile("me.pem", smime_bundle(3).encode(), content_type="application/x-pem-file")
    response = turn_on(client, persona("user").password, method="sMIME", algo="Aes128", certs_file=bundle)
    assert response.status_code == 302
    content = client.get(PAGE).content.decode()
    assert "(3 certificates accepted)" in content and "S/MIME" in content and "AES-128" in content
    # A binary (DER) certificate is wrapped as PEM before it is sent.
    first = smime_bundle(1).split("-----")[2]
    der = SimpleUploadedFile("me.cer", base64.b64decode("".join(first.split())))
    response = turn_on(client, persona("user").password, method="sMIME", certs_file=der)
    assert response.status_code == 302
    assert "(1 certificate accepted)" in client.get(PAGE).content.decode()


def test_unusable_key_is_explained_and_kept(signed_in, sandbox):
    client = signed_in("user")
    response = turn_on(client, persona("user").password, method="sMIME", certs=pgp_key())
    assert response.status_code == 400
    assert field_errors(response, "certs") == [
        "The mail server cannot use this: No valid certificates found for the selected encryption"
    ]
    assert "BEGIN PGP PUBLIC KEY BLOCK" in response.content.decode()  # the pasted key is kept
    assert persona("user").password.encode() not in response.content


def test_nothing_pasted(signed_in, sandbox):
    client = signed_in("user")
    response = turn_on(client, persona("user").password)
    assert response.status_code == 400
    assert field_errors(response, "certs") == ["Paste your public key or certificate, or upload the file."]
    assert crypto_posts(sandbox) == []


def test_wrong_password(signed_in, sandbox):
    client = signed_in("user")
    response = turn_on(client, "wrong", certs=pgp_key())
    assert response.status_code == 401
    assert field_errors(response, "password") == ["This is not your current password. Check it and try again."]
    assert client.get(PAGE).status_code == 200  # still signed in
    assert "Messages are stored as they arrive" in client.get(PAGE).content.decode()


def test_turned_off_by_the_administrator(signed_in, sandbox):
    sandbox.settings["storage.encryption.enable"] = "false"
    client = signed_in("user")
    response = turn_on(client, persona("user").password, certs=pgp_key())
    assert response.status_code == 400
    assert "Encryption at rest is not available on this server" in response.content.decode()
    assert "disabled by the system administrator" in response.content.decode()


def test_turn_off(signed_in, sandbox):
    client = signed_in("user")
    assert turn_on(client, persona("user").password, certs=pgp_key()).status_code == 302
    wrong = client.post(OFF, {"off-password": "wrong"})
    assert wrong.status_code == 401
    assert field_errors(wrong, "off-password") == ["This is not your current password. Check it and try again."]
    done = client.post(OFF, {"off-password": persona("user").password})
    assert done.status_code == 302 and done.url == PAGE
    content = client.get(PAGE).content.decode()
    assert "Encryption at rest is off" in content and "stay encrypted" in content
    assert "Turn off encryption" not in content


def test_two_factor_account(signed_in_totp, sandbox):
    client = signed_in_totp()
    theo = persona("totp_user")
    assert 'name="code"' in client.get(PAGE).content.decode()
    response = turn_on(client, theo.password, certs=pgp_key(), code=totp_code(sandbox), with_code="1")
    assert response.status_code == 302
    # without the code Stalwart answers 402 and the form asks for it
    response = client.post(OFF, {"off-password": theo.password})
    assert response.status_code == 401
    assert "enter the code from your authenticator app as well" in response.content.decode()
    assert 'name="off-code"' in response.content.decode()
    done = client.post(OFF, {"off-password": theo.password, "off-code": totp_code(sandbox), "with_code": "1"})
    assert done.status_code == 302
