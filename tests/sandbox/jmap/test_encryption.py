"""x:PublicKey and x:AccountSettings on the 0.16 sandbox (objects.md §9, §10)."""

from tests.crypto_fixtures import pgp_key, pgp_signing_only_key, smime_bundle


def settings(v16, who="user"):
    return v16.call(who, "x:AccountSettings/get", {"ids": ["singleton"]})[1]["list"][0]


def test_a_key_then_the_setting_by_creation_id(v16):
    responses = v16.jmap("user", [
        ["x:PublicKey/set", {"create": {"k": {"description": "My key", "key": pgp_key()}}}, "a"],
        ["x:AccountSettings/set", {"update": {"singleton": {"encryptionAtRest": {
            "@type": "Aes256", "publicKey": "#k", "encryptOnAppend": True, "allowSpamTraining": False}}}}, "b"],
    ])
    key_id = responses[0][1]["created"]["k"]["id"]
    assert responses[1][1]["updated"] == {"singleton": None}
    assert settings(v16)["encryptionAtRest"] == {
        "@type": "Aes256", "publicKey": key_id, "encryptOnAppend": True, "allowSpamTraining": False}
    (key,) = v16.call("user", "x:PublicKey/get", {"ids": None})[1]["list"]
    assert key["description"] == "My key" and key["key"].startswith("-----BEGIN PGP PUBLIC KEY BLOCK")
    assert v16.call("admin", "x:PublicKey/get", {"ids": None})[1]["list"][0]["id"] == key_id  # impersonate
    # The key in use cannot go; after turning it off it can.
    refused = v16.call("user", "x:PublicKey/set", {"destroy": [key_id]})[1]["notDestroyed"][key_id]
    assert refused["type"] == "objectIsLinked"
    v16.call("user", "x:AccountSettings/set", {"update": {"singleton": {"encryptionAtRest": {"@type": "Disabled"}}}})
    assert v16.call("user", "x:PublicKey/set", {"destroy": [key_id]})[1]["destroyed"] == [key_id]


def test_keys_the_server_cannot_use(v16):
    created = v16.call("user", "x:PublicKey/set", {"create": {
        "a": {"description": "x", "key": "hello"},
        "b": {"description": "x", "key": pgp_signing_only_key()},
        "c": {"description": "x", "key": pgp_key() + smime_bundle(1)},
        "d": {"key": pgp_key()},
    }})[1]
    errors = created["notCreated"]
    assert errors["a"] == {
        "type": "invalidProperties", "properties": ["key"], "description": "No valid public key found."}
    assert errors["b"]["description"] == "Could not find any suitable keys in OpenPGP public key"
    assert errors["c"]["description"] == "Cannot mix OpenPGP and S/MIME certificates"
    assert errors["d"]["type"] == "validationFailed"


def test_aead_ciphers_are_for_smime_only(v16):
    keys = v16.call("user", "x:PublicKey/set", {"create": {
        "p": {"description": "pgp", "key": pgp_key()}, "s": {"description": "smime", "key": smime_bundle(1)}}})[1]
    pgp, smime = keys["created"]["p"]["id"], keys["created"]["s"]["id"]
    refused = v16.call("user", "x:AccountSettings/set", {"update": {"singleton": {
        "encryptionAtRest": {"@type": "Aes256Gcm", "publicKey": pgp}}}})[1]["notUpdated"]["singleton"]
    assert refused["type"] == "invalidProperties" and refused["properties"] == ["encryptionAtRest"]
    assert settings(v16)["encryptionAtRest"] == {"@type": "Disabled"}
    done = v16.call("user", "x:AccountSettings/set", {"update": {"singleton": {
        "encryptionAtRest": {"@type": "ChaCha20Poly1305", "publicKey": smime}}}})[1]
    assert done["updated"] == {"singleton": None}
    unknown = v16.call("user", "x:AccountSettings/set", {"update": {"singleton": {
        "encryptionAtRest": {"@type": "Aes128", "publicKey": "zzzz"}}}})[1]["notUpdated"]["singleton"]
    assert unknown["type"] == "invalidForeignKey"
    other = v16.call("user", "x:AccountSettings/set", {"update": {"singleton": {"name": "x"}}})[1]
    assert other["notUpdated"]["singleton"] == {"type": "invalidProperties", "properties": ["name"]}


def test_five_keys_at_most_and_own_keys_only(v16):
    create = {str(i): {"description": f"k{i}", "key": pgp_key()} for i in range(6)}
    answer = v16.call("user", "x:PublicKey/set", {"create": create})[1]
    assert len(answer["created"]) == 5 and answer["notCreated"]["5"]["type"] == "overQuota"
    assert v16.call("totp_user", "x:PublicKey/get", {"ids": None})[1]["list"] == []
