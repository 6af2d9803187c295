"""Deterministic seed data: the "demo" organisation, or an empty server, plus ``scale``
generated accounts.

``PERSONAS`` lists the accounts the tests and the demo printout use; every entry has
``login`` (also as ``name``), ``password`` and ``description``; the tenant admin has
``enterprise_only`` and the TOTP user ``totp_secret``.
"""

from __future__ import annotations

import base64
import hashlib

from .model import Principal
from .passwords import sha512_crypt_hash
from .permissions import BUILTIN_ROLE_IDS
from .state import Sandbox

GIB = 1024**3
MIB = 1024**2

#: base32 TOTP seed of the ``totp_user`` persona (compute codes with ``pyotp.TOTP(...)``).
TOTP_SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
TOTP_URL = f"otpauth://totp/Stalwart:theo.martin?secret={TOTP_SECRET}&issuer=Stalwart&algorithm=SHA1&digits=6&period=30"
#: An app password of the ``totp_user`` persona (app passwords bypass TOTP).
TOTP_APP_PASSWORD = "App-Sandbox-1"
#: Password of every generated ``--scale`` account.
SCALE_PASSWORD = "Scale-Sandbox-1"
SCALE_DOMAIN = "scale.example"

PERSONAS: dict[str, dict] = {
    "admin": {
        "login": "admin",
        "name": "admin",
        "password": "Admin-Sandbox-1",
        "description": "Server administrator (role admin): every permission",
    },
    "helpdesk": {
        "login": "hannah.becker",
        "name": "hannah.becker",
        "password": "Helpdesk-Sandbox-1",
        "description": "Helpdesk agent (role helpdesk): reads the directory, edits accounts, manages the queue",
    },
    "tenant_admin": {
        "login": "admin@acme.org",
        "name": "admin@acme.org",
        "password": "Tenant-Sandbox-1",
        "description": "Administrator of tenant acme (role tenant-admin); Enterprise only",
        "enterprise_only": True,
    },
    "user": {
        "login": "jane.doe",
        "name": "jane.doe",
        "password": "User-Sandbox-1",
        "description": "Plain mailbox user (role user)",
    },
    "totp_user": {
        "login": "theo.martin",
        "name": "theo.martin",
        "password": "Totp-Sandbox-1",
        "description": "User with two-factor TOTP enabled: log in with 'password$<code>'; "
        f"app password {TOTP_APP_PASSWORD!r} bypasses TOTP",
        "totp_secret": TOTP_SECRET,
    },
    "no_oauth": {
        "login": "nina.kiosk",
        "name": "nina.kiosk",
        "password": "Kiosk-Sandbox-1",
        "description": "Can authenticate but lacks authenticate-oauth (cannot log in to the portal)",
    },
    "api_key": {
        "login": "monitoring",
        "name": "monitoring",
        "password": "ApiKey-Sandbox-1",
        "description": "API key (use as 'Bearer api_<base64(login:password)>'): lists and reads accounts",
    },
}


def personas_for(sandbox: Sandbox) -> dict[str, dict]:
    """The personas that exist in this sandbox (no tenant admin without Enterprise)."""
    if not sandbox.has_demo_data:
        return {
            "admin": dict(
                PERSONAS["admin"], description="Fallback administrator (configuration only, not in the directory)"
            )
        }
    return {key: value for key, value in PERSONAS.items() if sandbox.enterprise or not value.get("enterprise_only")}


HELPDESK_PERMISSIONS = [
    "individual-list",
    "individual-get",
    "individual-update",
    "group-list",
    "group-get",
    "mailing-list-list",
    "mailing-list-get",
    "domain-list",
    "domain-get",
    "message-queue-list",
    "message-queue-get",
    "message-queue-update",
    "outgoing-report-list",
    "outgoing-report-get",
    "incoming-report-list",
    "incoming-report-get",
    "troubleshoot",
    "undelete",
    "purge-account",
]

# (login, full name, description suffix, domain, quota, extra aliases)
_PEOPLE_FIRST = [
    "alice",
    "bruno",
    "carla",
    "daniel",
    "elena",
    "felix",
    "greta",
    "hugo",
    "irene",
    "jonas",
    "karin",
    "lukas",
    "marta",
    "nils",
    "olga",
    "paul",
    "quentin",
    "rosa",
    "stefan",
    "tanja",
    "ulrich",
    "vera",
    "walter",
    "xenia",
    "yusuf",
    "zoe",
    "amir",
    "bianca",
    "carlos",
    "dana",
    "emil",
    "fatima",
    "georg",
    "helen",
    "ivan",
    "julia",
    "kofi",
    "laura",
    "mateo",
    "noemi",
]
_PEOPLE_LAST = [
    "schmidt",
    "rossi",
    "garcia",
    "novak",
    "jensen",
    "weber",
    "costa",
    "dubois",
    "keller",
    "lindqvist",
    "moreau",
    "nowak",
    "okafor",
    "petrov",
    "quinn",
    "ramos",
    "silva",
    "tanaka",
    "ueda",
    "varga",
    "wagner",
    "young",
    "zimmer",
    "adams",
    "bauer",
    "chen",
    "diaz",
    "evans",
    "fischer",
    "gomez",
    "hansen",
    "ito",
    "jovanovic",
    "kowalski",
    "larsen",
    "meyer",
    "nielsen",
    "olsen",
    "park",
    "richter",
]
_TITLES = [
    "Sales",
    "Support",
    "Engineering",
    "Marketing",
    "Finance",
    "Operations",
    "Legal",
    "HR",
]
_DOMAINS = ["example.org", "example.com", "example.net"]


def _h(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


class _Builder:
    def __init__(self, sb: Sandbox):
        self.sb = sb
        self.hash_cache: dict[str, str] = {}

    def pw(self, password: str) -> str:
        if password not in self.hash_cache:
            salt = base64.b64encode(hashlib.sha256(password.encode()).digest()).decode()
            salt = "".join(c for c in salt if c.isalnum())[:16]
            self.hash_cache[password] = sha512_crypt_hash(password, salt)
        return self.hash_cache[password]

    def add(
        self,
        typ: str,
        name: str,
        *,
        description: str | None = None,
        secrets: list[str] | None = None,
        emails: list[str] | None = None,
        quota=None,
        used_quota: int = 0,
        roles: list[str] | None = None,
        member_of: list[str] | None = None,
        enabled: list[str] | None = None,
        disabled: list[str] | None = None,
        urls: list[str] | None = None,
        external: list[str] | None = None,
        tenant: str | None = None,
        picture: str | None = None,
    ) -> Principal:
        sb = self.sb
        p = Principal(sb.allocate_id(), typ, name.lower())
        p.description = description
        p.secrets = list(secrets or [])
        p.emails = [e.lower() for e in emails or []]
        p.quota = quota
        p.used_quota = used_quota
        p.urls = list(urls or [])
        p.external_members = list(external or [])
        p.picture = picture
        p.enabled_permissions = [sb.perms.ids[n] for n in enabled or []]
        p.disabled_permissions = [sb.perms.ids[n] for n in disabled or []]
        if tenant is not None:
            p.tenant = sb.by_name[tenant]
        ids = []
        for role in roles or []:
            ids.append(BUILTIN_ROLE_IDS[role] if role in BUILTIN_ROLE_IDS else sb.by_name[role])
        for group in member_of or []:
            ids.append(sb.by_name[group])
        p.member_of = sorted(set(ids))
        sb.insert(p)
        if tenant is not None and used_quota:
            sb.principals[p.tenant].used_quota += used_quota
        return p


def build_seed(sb: Sandbox) -> None:
    """Populate a freshly cleared sandbox according to ``sb.seed`` and ``sb.scale``."""
    sb.settings.update(
        {
            "server.hostname": "mail.example.org",
            "lookup.default.hostname": "mail.example.org",
            "lookup.default.domain": "example.org",
            "storage.directory": "internal",
        }
    )
    b = _Builder(sb)
    if sb.has_demo_data:
        _demo(sb, b)
    else:
        # A fresh install: nothing in the directory, only the fallback administrator.
        sb.settings["authentication.fallback-admin.user"] = PERSONAS["admin"]["login"]
        sb.settings["authentication.fallback-admin.secret"] = b.pw(PERSONAS["admin"]["password"])
    if sb.scale > 0:
        _scale(sb, b, sb.scale)
    from .dkim import seed as seed_dkim_and_dns

    seed_dkim_and_dns(sb)
    from .config_seed import seed as seed_configuration

    seed_configuration(sb)
    from .mailflow import install as install_mail_flow

    install_mail_flow(sb)
    if sb.has_demo_data:
        from .mailflow_seed import seed_mail_flow

        seed_mail_flow(sb, sb.mailflow)
    if sb.seed == "hostile":
        from .hostile_seed import apply as add_hostile_content

        add_hostile_content(sb)


def _demo(sb: Sandbox, b: _Builder) -> None:
    # Domains
    for domain, description in zip(_DOMAINS, ["Primary domain", "Sales and marketing", "Legacy domain"], strict=True):
        b.add("domain", domain, description=description)
    sb.settings["report.domain"] = "example.org"

    # Roles
    b.add(
        "role",
        "helpdesk",
        description="First-level support: account maintenance and queue handling",
        enabled=HELPDESK_PERMISSIONS,
        roles=["user"],
    )
    b.add(
        "role",
        "auditor",
        description="Read-only access to reports and logs",
        enabled=[
            "incoming-report-list",
            "incoming-report-get",
            "outgoing-report-list",
            "outgoing-report-get",
            "logs-view",
        ],
        roles=["user"],
    )

    # Groups (shared mailboxes) and mailing lists; members are added below.
    groups = {
        "sales": ("Sales team", ["sales@example.org", "sales@example.com"], 10 * GIB, 3 * GIB),
        "support": ("Customer support", ["support@example.org", "help@example.org"], 10 * GIB, 7 * GIB + 123 * MIB),
        "engineering": ("Engineering", ["engineering@example.org"], 0, 512 * MIB),
        "finance": ("Finance and accounting", ["finance@example.org"], 5 * GIB, 0),
    }
    for name, (description, emails, quota, used) in groups.items():
        b.add(
            "group",
            name,
            description=description,
            emails=emails,
            quota=quota,
            used_quota=used,
            enabled=["email-send", "email-receive"],
        )
    b.add(
        "list",
        "all-staff",
        description="Everyone at Example Org",
        emails=["all@example.org", "staff@example.org"],
    )
    b.add(
        "list",
        "newsletter",
        description="Customer newsletter",
        emails=["newsletter@example.com"],
        external=["partner@fabrikam.com", "press@contoso.net"],
    )
    b.add(
        "list",
        "engineering-announce",
        description="Engineering announcements",
        emails="eng-announce@example.org".split(),
    )

    # Personas
    personas = PERSONAS
    b.add(
        "individual",
        personas["admin"]["login"],
        description="System Administrator",
        secrets=[b.pw(personas["admin"]["password"])],
        emails=["admin@example.org", "postmaster@example.org"],
        roles=["admin"],
    )
    b.add(
        "individual",
        personas["helpdesk"]["login"],
        description="Hannah Becker (Helpdesk)",
        secrets=[b.pw(personas["helpdesk"]["password"])],
        emails=["hannah.becker@example.org"],
        quota=2 * GIB,
        used_quota=345 * MIB,
        roles=["helpdesk"],
        member_of=["support", "all-staff"],
    )
    b.add(
        "individual",
        personas["user"]["login"],
        description="Jane Doe",
        secrets=[b.pw(personas["user"]["password"])],
        emails=["jane.doe@example.org", "jane@example.org"],
        quota=5 * GIB,
        used_quota=1234 * MIB,
        roles=["user"],
        member_of=["sales", "all-staff", "newsletter"],
    )
    app_name = base64.b64encode(b"Phone mail app$2025-01-15T09:30:00Z").decode()
    b.add(
        "individual",
        personas["totp_user"]["login"],
        description="Theo Martin",
        secrets=[
            TOTP_URL,
            b.pw(personas["totp_user"]["password"]),
            f"$app${app_name}${b.pw(TOTP_APP_PASSWORD)}",
        ],
        emails=["theo.martin@example.org"],
        quota=5 * GIB,
        used_quota=2 * GIB + 17 * MIB,
        roles=["user"],
        member_of=["engineering", "all-staff", "engineering-announce"],
    )
    b.add(
        "individual",
        personas["no_oauth"]["login"],
        description="Nina Kiosk (front desk terminal)",
        secrets=[b.pw(personas["no_oauth"]["password"])],
        emails=["nina.kiosk@example.org"],
        roles=["user"],
        disabled=["authenticate-oauth"],
    )

    # The rest of the staff
    for i in range(44):
        first = _PEOPLE_FIRST[i % len(_PEOPLE_FIRST)]
        last = _PEOPLE_LAST[(i * 7 + 3 + (i // len(_PEOPLE_FIRST)) * 11) % len(_PEOPLE_LAST)]
        login = f"{first}.{last}"
        if login in sb.by_name:
            login = f"{first}.{last}{i}"
        domain = _DOMAINS[0] if i % 5 else _DOMAINS[1 + (i // 5) % 2]
        title = _TITLES[i % len(_TITLES)]
        emails = [f"{login}@{domain}"]
        if i % 3 == 0:
            emails.append(
                f"{first}@{domain}" if f"{first}@{domain}" not in sb.emails else f"{first[0]}.{last}@{domain}"
            )
        if i % 7 == 0:
            emails.append(f"{first}.{last}@example.net")
        emails = [e for j, e in enumerate(emails) if e not in emails[:j] and e not in sb.emails]
        quota = [0, 1 * GIB, 2 * GIB, 5 * GIB, 10 * GIB][i % 5]
        used = (_h(login) % max(quota or 3 * GIB, 1)) // MIB * MIB if i % 4 else 0
        groups = [
            g
            for g, key in (
                ("sales", "Sales"),
                ("support", "Support"),
                ("engineering", "Engineering"),
                ("finance", "Finance"),
            )
            if key == title
        ]
        lists = ["all-staff"]
        if title == "Engineering":
            lists.append("engineering-announce")
        b.add(
            "individual",
            login,
            description=f"{first.capitalize()} {last.capitalize()} ({title})",
            secrets=[b.pw(f"Staff-{first}-1")],
            emails=emails,
            quota=quota or None,
            used_quota=used,
            roles=["user"],
            member_of=groups + lists,
        )

    # Resources and locations
    b.add("location", "hq-berlin", description="Headquarters, Berlin")
    b.add(
        "resource",
        "room-atlas",
        description="Meeting room Atlas (12 seats)",
        emails=["room-atlas@example.org"],
        member_of=["hq-berlin"],
    )

    # API key and OAuth client
    b.add(
        "apiKey",
        personas["api_key"]["login"],
        description="Monitoring system (read-only directory access)",
        secrets=[personas["api_key"]["password"]],
        enabled=["authenticate", "individual-list", "individual-get", "domain-list"],
    )
    b.add(
        "oauthClient",
        "webmail",
        description="Webmail single sign-on",
        urls=["https://webmail.example.org/oauth/callback"],
        emails=["it@example.org"],
    )

    # Enterprise: tenant acme with its own domain, admin and accounts
    if sb.enterprise:
        b.add(
            "tenant",
            "acme",
            description="Acme Corporation",
            roles=["tenant-admin", "user"],
            quota=[50 * GIB, 20, 5, 5, 5, 0, 5, 5, 3, 0, 5, 5, 0],
        )
        b.add("domain", "acme.org", description="Acme Corporation mail", tenant="acme")
        b.add(
            "individual",
            personas["tenant_admin"]["login"],
            description="Acme administrator",
            secrets=[b.pw(personas["tenant_admin"]["password"])],
            emails=["admin@acme.org"],
            roles=["tenant-admin"],
            tenant="acme",
        )
        b.add(
            "group",
            "ops@acme.org",
            description="Acme operations",
            emails=["ops@acme.org"],
            tenant="acme",
            enabled=["email-send", "email-receive"],
        )
        for login, full, quota, used in (
            ("wile.coyote@acme.org", "Wile E. Coyote", 2 * GIB, 1500 * MIB),
            ("road.runner@acme.org", "Road Runner", 2 * GIB, 12 * MIB),
            ("daisy.duck@acme.org", "Daisy Duck", 1 * GIB, 0),
        ):
            b.add(
                "individual",
                login,
                description=full,
                secrets=[b.pw("Acme-Sandbox-1")],
                emails=[login],
                quota=quota,
                used_quota=used,
                roles=["user"],
                member_of=["ops@acme.org"] if "coyote" in login else [],
                tenant="acme",
            )


def _scale(sb: Sandbox, b: _Builder, count: int) -> None:
    """Add ``count`` generated accounts ``userNNNNNN@scale.example`` quickly."""
    if SCALE_DOMAIN not in sb.by_name:
        b.add("domain", SCALE_DOMAIN, description="Generated accounts")
    secret = b.pw(SCALE_PASSWORD)
    width = max(6, len(str(count)))
    principals = sb.principals
    emails = sb.emails
    by_name = sb.by_name
    members_user = sb.members.setdefault(BUILTIN_ROLE_IDS["user"], set())
    role_user = BUILTIN_ROLE_IDS["user"]
    v012 = sb.at_least((0, 12))
    word_index = sb.word_index
    for n in range(1, count + 1):
        name = f"user{n:0{width}d}@{SCALE_DOMAIN}"
        p = Principal(sb.allocate_id(), "individual", name)
        p.description = f"Generated user {n}"
        p.secrets = [secret]
        p.emails = [name]
        p.member_of = [role_user]
        principals[p.id] = p
        by_name[name] = p.id
        emails[name] = p.id
        members_user.add(p.id)
        if v012:
            # same words as directory.index_words(p), without the tokenizer's cost
            words = {f"user{n:0{width}d}", "scale", "example", "generated", "user", str(n)}
            sb.principal_words[p.id] = words
            for word in words:
                word_index.setdefault(word, set()).add(p.id)
    sb.type_counts["individual"] = sb.type_counts.get("individual", 0) + count
    sb.sorted_names = sorted(by_name)
    sb.revision += 1
