"""``x:Action``: one-shot commands run inside ``/set`` create (objects.md §19). The sandbox
accepts the commands without properties and does nothing for them; TroubleshootDmarc and
ClassifySpam are not emulated yet."""

from __future__ import annotations

from .errors import SetError
from .objects import Kind

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
            raise SetError("forbidden", "Not supported by the sandbox.")
        if kind not in SIMPLE:
            raise SetError.invalid_patch("@type", "Invalid value for property.")
        extra = [k for k in obj if k != "@type"]
        if extra:
            raise SetError.invalid_patch(extra[0], "Invalid property")
        if not caller.has(f"action{kind}"):
            raise SetError("forbidden", f"You do not have the action{kind} permission.")
        sb.action_counter = getattr(sb, "action_counter", 0) + 1
        return sb.action_counter, {}


ACTION = ActionKind()
