"""Every object kind the 0.16 front-end serves, by name (``x:Account``, ``x:Domain``, ...).

The registry sits above the modules that define the kinds (``objects``, ``directory``,
``selfservice``, ``mailflow``, ...), which import ``objects`` for the base ``Kind`` and never
this module.
"""

from __future__ import annotations

from .actions import ACTION
from .directory import DKIM_SIGNATURE, MAILING_LIST, OAUTH_CLIENT, ROLE, TENANT
from .mailflow import KINDS as MAIL_FLOW_KINDS
from .objects import ACCOUNT, DOMAIN, Kind
from .observe import KINDS as OBSERVE_KINDS
from .selfservice import ACCOUNT_PASSWORD, ACCOUNT_SETTINGS, API_KEY, APP_PASSWORD, PUBLIC_KEY
from .settings import settings_kinds
from .spam import KINDS as SPAM_KINDS
from .tasks import KINDS as TASK_KINDS


def kinds(sb) -> dict[str, Kind]:
    table = {k.name: k for k in (ACCOUNT, DOMAIN, MAILING_LIST, TENANT, ROLE, OAUTH_CLIENT, ACCOUNT_PASSWORD,
                                 API_KEY, APP_PASSWORD, ACTION, *MAIL_FLOW_KINDS, *TASK_KINDS, *SPAM_KINDS,
                                 *OBSERVE_KINDS, ACCOUNT_SETTINGS, PUBLIC_KEY, DKIM_SIGNATURE)}
    for kind in settings_kinds(frozenset(table)):
        table[kind.name] = kind
    return table
