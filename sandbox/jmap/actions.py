"""``x:Action``: one-shot commands run inside ``/set`` create (objects.md §19). The sandbox
accepts the commands without properties (Pause/ResumeMtaQueue stop and start the REST
sandbox's queue, the others do nothing); ``ClassifySpam`` runs the REST sandbox's classifier
and ``TroubleshootDmarc`` its DMARC check, answering with the filled-in result object."""

from __future__ import annotations

from .errors import SetError
from .objects import Kind
from .spam import classify_action
from .tasks import purge_expired_blocks

SIMPLE = ("ReloadSettings", "ReloadTlsCertificates", "ReloadLookupStores", "ReloadBlockedIps", "UpdateApps",
          "InvalidateCaches", "InvalidateNegativeCaches", "PauseMtaQueue", "ResumeMtaQueue")


class ActionKind(Kind):
    name = "Action"
    prefix = "sysAction"
    tenant_scoped = False
    properties = ("@type",)

    def records(self, sb, caller) -> dict:
        return {}  # /get always answers notFound

    queryable = False

    def create(self, sb, caller, obj: dict):
        kind = obj.get("@type")
        if kind in ("TroubleshootDmarc", "ClassifySpam"):
            if not caller.has(f"action{kind}"):
                raise SetError("forbidden", f"You do not have the action{kind} permission.")
            result = classify_action(sb, obj) if kind == "ClassifySpam" else troubleshoot_dmarc(sb, obj)
            sb.action_counter = getattr(sb, "action_counter", 0) + 1
            return sb.action_counter, result
        if kind not in SIMPLE:
            raise SetError.invalid_patch("@type", "Invalid value for property.")
        extra = [k for k in obj if k != "@type"]
        if extra:
            raise SetError.invalid_patch(extra[0], "Invalid property")
        if not caller.has(f"action{kind}"):
            raise SetError("forbidden", f"You do not have the action{kind} permission.")
        if kind in ("PauseMtaQueue", "ResumeMtaQueue"):
            sb.mailflow.queue_running = kind == "ResumeMtaQueue"
        if kind == "ReloadBlockedIps":  # the blocked list is built again: expired entries are deleted
            purge_expired_blocks(sb)
        sb.action_counter = getattr(sb, "action_counter", 0) + 1
        return sb.action_counter, {}


ACTION = ActionKind()


DMARC_PROPERTIES = ("remoteIp", "ehloDomain", "mailFrom", "message", "to", "spfEhloDomain", "spfMailFromDomain")


def _auth_result(result: dict) -> dict:
    kind = result.get("type") or "none"
    name = kind[:1].upper() + kind[1:]
    if name in ("Pass", "None"):
        return {"@type": name}
    return {"@type": name, "details": result.get("details")}


def troubleshoot_dmarc(sb, obj: dict) -> dict:
    """``x:DmarcTroubleshoot``: the REST sandbox's DMARC check with 0.16 names (``message`` for
    ``body``). ``spfEhloDomain``/``spfMailFromDomain`` are required by the v0.16.18 validator
    although they are outputs: any string is accepted and overwritten."""
    import ipaddress

    from ..troubleshoot import dmarc_report

    for key in obj:
        if key != "@type" and key not in DMARC_PROPERTIES:
            raise SetError.invalid_patch(key, "Invalid property")
    missing = [k for k in ("ehloDomain", "mailFrom", "spfEhloDomain", "spfMailFromDomain")
               if not isinstance(obj.get(k), str) or not obj[k]]
    if missing:
        raise SetError.required(*missing)
    try:
        remote = ipaddress.ip_address(obj.get("remoteIp") or "")
    except ValueError:
        raise SetError.invalid_patch("remoteIp", "Invalid value for property.") from None
    message = obj.get("message")
    if message is not None and not isinstance(message, str):
        raise SetError.invalid_patch("message", "Invalid value for property.")
    try:
        report = dmarc_report({"remoteIp": remote, "ehloDomain": obj["ehloDomain"], "mailFrom": obj["mailFrom"],
                               "body": message})
    except Exception:  # noqa: BLE001 - a message that does not parse
        raise SetError.invalid_properties(["message"], "Failed to parse message body") from None
    return {
        "spfEhloDomain": report["spfEhloDomain"], "spfEhloResult": _auth_result(report["spfEhloResult"]),
        "spfMailFromDomain": report["spfMailFromDomain"],
        "spfMailFromResult": _auth_result(report["spfMailFromResult"]),
        "ipRevResult": _auth_result(report["ipRevResult"]), "ipRevPtr": {p: True for p in report["ipRevPtr"]},
        "dkimResults": {str(i): _auth_result(r) for i, r in enumerate(report["dkimResults"])},
        "dkimPass": report["dkimPass"], "dkim2Pass": False, "dkim2Result": {"@type": "None"},
        "arcResult": _auth_result(report["arcResult"]), "dmarcResult": _auth_result(report["dmarcResult"]),
        "dmarcPass": report["dmarcPass"], "dmarcPolicy": report["dmarcPolicy"], "elapsed": report["elapsed"],
    }
