"""0.16 spam training and classification: upload, x:SpamTrainingSample, the training task and
the ClassifySpam / TroubleshootDmarc actions (objects.md §16, §19; jmap-management.md §5)."""

from __future__ import annotations

from sandbox.jmap import ids

SPAM = (b"From: Prize Desk <prizes@lucky.example>\r\nTo: jane.doe@example.org\r\nSubject: You won\r\n"
        b"Date: Mon, 02 Nov 2026 10:00:00 +0000\r\nMessage-ID: <1@lucky.example>\r\n\r\nClaim your reward now.\r\n")


def _upload(v16, who, data=SPAM, account=None):
    headers = {**v16.bearer(who), "Content-Type": "message/rfc822"}
    account = account or ids.encode(v16.sb.by_name[{"admin": "admin", "user": "jane.doe",
                                                     "tenant_admin": "admin@acme.org"}[who]])
    return v16.client.post(f"/jmap/upload/{account}/", content=data, headers=headers)


def _classify(v16, who="admin", message=SPAM.decode()):
    action = {"@type": "ClassifySpam", "message": message, "remoteIp": "192.0.2.1", "ehloDomain": "mx.lucky.example",
              "envFrom": "prizes@lucky.example", "envRcptTo": {"jane.doe@example.org": True}}
    return v16.call(who, "x:Action/set", {"create": {"a1": action}})[1]


def test_upload_then_sample_then_training_task_changes_the_classification(v16):
    up = _upload(v16, "admin")
    assert up.status_code == 201, up.text
    blob = up.json()["blobId"]
    assert up.json()["size"] == len(SPAM) and up.json()["type"] == "message/rfc822"
    before = _classify(v16)["created"]["a1"]
    assert "BAYES_SPAM" not in before["tags"] and before["result"] in ("spam", "ham")
    made = v16.call("admin", "x:SpamTrainingSample/set", {"create": {"s1": {"blobId": blob, "isSpam": True}}})[1]
    sid = made["created"]["s1"]["id"]
    got = v16.call("admin", "x:SpamTrainingSample/get", {"ids": [sid]})[1]["list"][0]
    assert got["from"] == "prizes@lucky.example" and got["subject"] == "You won" and got["isSpam"] is True
    assert got["accountId"] is None  # an administrator with impersonate: a global sample
    task = v16.call("admin", "x:Task/set", {"create": {"t": {"@type": "SpamFilterMaintenance",
                                                             "maintenanceType": "train"}}})[1]
    assert set(task["created"]["t"]) == {"id"}
    after = _classify(v16)["created"]["a1"]  # the task ran before this call
    assert after["tags"]["BAYES_SPAM"] == {"disposition": "score", "score": 5.1}
    assert after["result"] == "spam" and after["score"] > before["score"]
    assert v16.call("admin", "x:Task/get", {"ids": [task["created"]["t"]["id"]]})[1]["notFound"]


def test_samples_for_another_account_need_impersonate(v16):
    jane = ids.encode(v16.sb.by_name["jane.doe"])
    admin = ids.encode(v16.sb.by_name["admin"])
    blob = _upload(v16, "admin").json()["blobId"]
    made = v16.call("admin", "x:SpamTrainingSample/set",
                    {"create": {"s": {"blobId": blob, "isSpam": False, "accountId": jane}}})[1]
    assert v16.call("admin", "x:SpamTrainingSample/get",
                    {"ids": [made["created"]["s"]["id"]]})[1]["list"][0]["accountId"] == jane
    # a tenant admin holds sysSpamTrainingSampleCreate but not impersonate: forced to their own account
    own = _upload(v16, "tenant_admin").json()["blobId"]
    res = v16.call("tenant_admin", "x:SpamTrainingSample/set",
                   {"create": {"s": {"blobId": own, "isSpam": True, "accountId": admin}}})[1]
    tenant_admin = ids.encode(v16.sb.by_name["admin@acme.org"])
    sample = v16.sb._jmap_ops.samples[ids.decode(res["created"]["s"]["id"])]
    assert ids.encode(sample["accountId"]) == tenant_admin
    # someone else's upload is not accessible; the other account's id needs impersonate
    stolen = v16.call("tenant_admin", "x:SpamTrainingSample/set", {"create": {"s": {"blobId": blob}}})[1]
    assert stolen["notCreated"]["s"]["type"] == "invalidProperties"
    assert stolen["notCreated"]["s"]["properties"] == ["blobId"]
    assert _upload(v16, "tenant_admin", account=admin).status_code == 403
    other = v16.jmap("tenant_admin", [["x:SpamTrainingSample/set", {"accountId": admin, "create": {}}, "c"]])
    assert other[0][1]["type"] == "forbidden"


def test_sample_errors_and_no_update(v16):
    bad = _upload(v16, "admin", data=b"not an e-mail at all").json()["blobId"]
    res = v16.call("admin", "x:SpamTrainingSample/set", {"create": {
        "a": {"blobId": bad}, "b": {"isSpam": True}, "c": {"blobId": "nope", "subject": "x"}}})[1]["notCreated"]
    assert res["a"]["properties"] == ["blobId"]
    assert res["b"] == {"type": "validationFailed", "validationErrors": [{"type": "Required", "property": "blobId"}]}
    assert res["c"]["type"] == "invalidPatch" and res["c"]["properties"] == ["subject"]
    assert v16.call("user", "x:SpamTrainingSample/set", {"create": {}})[1]["type"] == "forbidden"


def test_download_of_server_blobs_needs_fetch_any_blob(v16):
    message = next(iter(v16.sb.mailflow.messages.values()))
    blob = v16.call("admin", "x:QueuedMessage/get", {"ids": [ids.encode(message.id)],
                                                     "properties": ["blobId"]})[1]["list"][0]["blobId"]
    admin = ids.encode(v16.sb.by_name["admin"])
    r = v16.client.get(f"/jmap/download/{admin}/{blob}/message.eml", params={"accept": "message/rfc822"},
                       headers=v16.bearer("admin"))
    assert r.status_code == 200 and r.content == v16.sb.mailflow.blobs[message.blob_hash]
    assert r.headers["content-type"] == "message/rfc822"
    jane = ids.encode(v16.sb.by_name["jane.doe"])
    assert v16.client.get(f"/jmap/download/{jane}/{blob}/m.eml", headers=v16.bearer("user")).status_code == 404


def test_classify_and_troubleshoot_dmarc_actions(v16):
    gtube = ("From: a@b.example\r\nSubject: test\r\n\r\n"
             "XJS*C4JDBQADN1.NSBN3*2IDNEN*GTUBE-STANDARD-ANTI-UBE-TEST-EMAIL*C.34X\r\n")
    verdict = _classify(v16, message=gtube)["created"]["a1"]
    assert verdict["result"] == "reject" and verdict["tags"]["GTUBE"]["disposition"] == "reject"
    missing = v16.call("admin", "x:Action/set", {"create": {"a": {"@type": "ClassifySpam", "message": "x"}}})[1]
    assert missing["notCreated"]["a"]["type"] == "validationFailed"
    dmarc = {"@type": "TroubleshootDmarc", "remoteIp": "192.0.2.10", "ehloDomain": "mail.example.org",
             "mailFrom": "jane@example.org", "spfEhloDomain": "-", "spfMailFromDomain": "-",
             "message": "From: jane@example.org\r\nSubject: hi\r\n\r\nhello\r\n"}
    got = v16.call("admin", "x:Action/set", {"create": {"d": dmarc}})[1]["created"]["d"]
    assert got["spfMailFromResult"] == {"@type": "Pass"} and got["dmarcPass"] is True
    assert got["spfMailFromDomain"] == "example.org" and got["dmarcPolicy"] == "reject"
    assert isinstance(got["elapsed"], int)
    no_spf = v16.call("admin", "x:Action/set", {"create": {"d": {**dmarc, "spfEhloDomain": None}}})[1]
    assert no_spf["notCreated"]["d"]["validationErrors"] == [{"type": "Required", "property": "spfEhloDomain"}]
