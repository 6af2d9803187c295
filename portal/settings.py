"""Settings for the Stalwart admin portal, driven by environment variables.

Every setting a deployment may change is read here, once. `DEBUG` is off unless
asked for, and outside DEBUG a real SECRET_KEY and ALLOWED_HOSTS are required.
"""

from __future__ import annotations

import os
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str | None = None) -> str | None:
    """Read a setting; `NAME_FILE` (a path) wins over `NAME`, for secrets."""
    path = os.environ.get(f"{name}_FILE")
    if path:
        try:
            return Path(path).read_text().strip()
        except OSError as exc:
            raise ImproperlyConfigured(f"{name}_FILE: cannot read {path}: {exc}") from exc
    return os.environ.get(name, default)


def env_bool(name: str, default: bool) -> bool:
    value = env(name)
    if value is None or value == "":
        return default
    lowered = value.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), not {value!r}")


def env_float(name: str, default: float) -> float:
    value = env(name)
    if value is None or value == "":
        return default
    try:
        result = float(value)
    except ValueError as exc:
        raise ImproperlyConfigured(f"{name} must be a number, not {value!r}") from exc
    if result <= 0:
        raise ImproperlyConfigured(f"{name} must be positive, not {value!r}")
    return result


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in (env(name, default) or "").split(",") if item.strip()]


DEBUG = env_bool("DEBUG", False)

SECRET_KEY = env("SECRET_KEY") or ""
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("Set SECRET_KEY (or SECRET_KEY_FILE), or DEBUG=1 for local use.")
    SECRET_KEY = "insecure-local-development-key-do-not-deploy"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if DEBUG else "")
if not ALLOWED_HOSTS and not DEBUG:
    raise ImproperlyConfigured("Set ALLOWED_HOSTS, a comma-separated list of host names.")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

# --- Stalwart --------------------------------------------------------------
# The management API this portal administers. Every call carries the signed-in
# person's own OAuth access token.
STALWART_URL = (env("STALWART_URL", "http://127.0.0.1:8081") or "").rstrip("/")
STALWART_CONNECT_TIMEOUT = env_float("STALWART_CONNECT_TIMEOUT", 3.0)
STALWART_TIMEOUT = env_float("STALWART_TIMEOUT", 15.0)
# Event streams (delivery checks, live tracing, live metrics) open at once per portal process;
# they have their own connections, so API calls never wait behind them.
STALWART_MAX_STREAMS = int(env_float("STALWART_MAX_STREAMS", 2000))
# A live delivery check that sends nothing for this long is shown as stalled and stopped.
TROUBLESHOOT_STALL_SECONDS = env_float("TROUBLESHOOT_STALL_SECONDS", 30.0)
STALWART_VERIFY_TLS = env_bool("STALWART_VERIFY_TLS", True)
# Sent to POST /api/oauth and /auth/token. Stalwart limits client ids to 20
# characters and refuses redirect URIs that start with http://.
STALWART_OAUTH_CLIENT_ID = env("STALWART_OAUTH_CLIENT_ID", "stalwart-portal") or ""
STALWART_OAUTH_REDIRECT_URI = env("STALWART_OAUTH_REDIRECT_URI", "stalwart://portal") or ""
# Which API the server speaks: "auto" asks it at sign-in (GET /api/discover/<probe>: 200 on
# Stalwart 0.16 and later, 401 before), "rest" (<= 0.15) or "jmap" (0.16+) force it.
STALWART_API = (env("STALWART_API", "auto") or "auto").strip().lower()
if STALWART_API not in {"auto", "rest", "jmap"}:
    raise ImproperlyConfigured(f"STALWART_API must be auto, rest or jmap, not {STALWART_API!r}")
# How long the detected generation of a server URL is reused (seconds).
STALWART_API_CACHE_SECONDS = int(env_float("STALWART_API_CACHE_SECONDS", 300))
# Stalwart 0.16+: also offer signing in on the server's own page (/login, the authorization
# endpoint of its discovery document), for accounts that sign in through an external OIDC
# directory (SSO). The server redirects back to the portal's /auth/sso/callback.
STALWART_SSO = env_bool("STALWART_SSO", False)
# The server's address as browsers reach it (for /login), when it differs from STALWART_URL.
STALWART_PUBLIC_URL = (env("STALWART_PUBLIC_URL", "") or "").rstrip("/")
# Refresh the access token when it has less than this many seconds left.
STALWART_TOKEN_REFRESH_MARGIN = env_float("STALWART_TOKEN_REFRESH_MARGIN", 60.0)
# How passwords the portal sets are hashed (docs/security.md): Argon2id, or SHA-512 crypt
# (what the official web admin sends) with PASSWORD_HASH_ROUNDS rounds (Stalwart's own default is 5,000).
PASSWORD_HASH_SCHEME = (env("PASSWORD_HASH_SCHEME", "argon2id") or "argon2id").strip().lower()
if PASSWORD_HASH_SCHEME not in {"argon2id", "sha512-crypt"}:
    raise ImproperlyConfigured(f"PASSWORD_HASH_SCHEME must be argon2id or sha512-crypt, not {PASSWORD_HASH_SCHEME!r}")
PASSWORD_HASH_ROUNDS = int(env_float("PASSWORD_HASH_ROUNDS", 100_000))
# Argon2id cost: Stalwart pays it again at every password sign-in (IMAP, SMTP, JMAP).
PASSWORD_ARGON2_TIME_COST = int(env_float("PASSWORD_ARGON2_TIME_COST", 2))
PASSWORD_ARGON2_MEMORY_KIB = int(env_float("PASSWORD_ARGON2_MEMORY_KIB", 19_456))
PASSWORD_ARGON2_PARALLELISM = int(env_float("PASSWORD_ARGON2_PARALLELISM", 1))
# Threads that hash passwords (their own pool, never the request path's shared thread).
PASSWORD_HASH_THREADS = int(env_float("PASSWORD_HASH_THREADS", 2))
# How long fetched incoming reports are reused when lists are paged (0: never).
# Incoming reports never change once received: their details are kept by id (the "reports"
# cache below) for this long, or not at all with 0; at most REPORT_CACHE_ENTRIES per process
# without Redis.
REPORT_CACHE_SECONDS = int(env_float("REPORT_CACHE_SECONDS", 86400)) if env("REPORT_CACHE_SECONDS") != "0" else 0
REPORT_CACHE_ENTRIES = int(env_float("REPORT_CACHE_ENTRIES", 5000))
# How long the audit trail keeps entries (`manage.py prune_audit`, e.g. daily from cron).
AUDIT_RETENTION_DAYS = int(env_float("AUDIT_RETENTION_DAYS", 365))
# Sign-in throttling (portal/auth/throttle.py, docs/security.md): failed sign-ins the portal
# forwards per client address and account name in a window (then a pause that doubles), per
# address and per account in 24 hours, and in all; each stays under Stalwart's
# server.auto-ban.auth.rate (STALWART_AUTH_BAN_RATE failures a day; 0 if the server has none).
SIGNIN_THROTTLE_WINDOW = int(env_float("SIGNIN_THROTTLE_WINDOW", 900))
SIGNIN_MAX_FAILURES = int(env_float("SIGNIN_MAX_FAILURES", 20))
SIGNIN_MAX_FAILURES_PER_IP_PER_DAY = int(env_float("SIGNIN_MAX_FAILURES_PER_IP_PER_DAY", 50))
SIGNIN_MAX_FAILURES_PER_ACCOUNT_PER_DAY = int(env_float("SIGNIN_MAX_FAILURES_PER_ACCOUNT_PER_DAY", 50))
SIGNIN_FRESH_ADDRESS_FAILURES = int(env_float("SIGNIN_FRESH_ADDRESS_FAILURES", 3))
SIGNIN_MAX_FAILURES_PER_DAY = int(env_float("SIGNIN_MAX_FAILURES_PER_DAY", 90))
STALWART_AUTH_BAN_RATE = int(env_float("STALWART_AUTH_BAN_RATE", 100))
# A session ends after this long without a request, and in any case after SESSION_MAX_AGE.
SESSION_IDLE_TIMEOUT = int(env_float("SESSION_IDLE_TIMEOUT", 2 * 3600))
# How long the sign-in form waits for the two-factor code before starting over.
SIGNIN_TOTP_STEP_SECONDS = 300

if len(STALWART_OAUTH_CLIENT_ID) > 20:
    raise ImproperlyConfigured("STALWART_OAUTH_CLIENT_ID must be at most 20 characters.")
if STALWART_OAUTH_REDIRECT_URI.startswith("http://"):
    raise ImproperlyConfigured("STALWART_OAUTH_REDIRECT_URI must not start with http://")

# --- Django ------------------------------------------------------------------
INSTALLED_APPS = [
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_htmx",
    "portal",
    # The Stalwart sandbox: provides `manage.py sandbox`. The portal never
    # imports it; it talks to it over HTTP like to a real server.
    "sandbox",
]

MIDDLEWARE = [
    # Django's own middleware, with hooks run in the event loop (portal/middleware.py).
    "portal.middleware.SecurityMiddleware",
    # GET /healthz, answered before host validation (probes use an IP; exempt from the HTTPS
    # redirect below), with the security headers above.
    "portal.middleware.health_check",
    "portal.middleware.StaticFilesMiddleware",  # WhiteNoise, async-capable
    "portal.middleware.SessionMiddleware",
    "portal.middleware.session_preload",
    "portal.middleware.no_store_when_signed_in",
    "portal.middleware.CommonMiddleware",
    "portal.middleware.CsrfViewMiddleware",
    "portal.middleware.MessageMiddleware",
    "portal.middleware.XFrameOptionsMiddleware",
    "portal.middleware.ContentSecurityPolicyMiddleware",
    "portal.middleware.htmx_navigation",  # request.htmx (portal.request.PortalHtmx)
    "portal.middleware.UpstreamErrorMiddleware",
]

# Django's deploy checks look for its middleware by dotted path; the portal installs
# subclasses (portal/middleware.py), checked instead by portal/checks.py.
SILENCED_SYSTEM_CHECKS = ["security.W001", "security.W002", "security.W003"]

ROOT_URLCONF = "portal.urls"
ASGI_APPLICATION = "portal.asgi.application"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.messages.context_processors.messages",
                "portal.context_processors.portal",
            ],
        },
    }
]

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL") or f"sqlite:///{BASE_DIR / 'var' / 'portal.sqlite3'}",
        conn_max_age=60,
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    Path(DATABASES["default"]["NAME"]).parent.mkdir(parents=True, exist_ok=True)

REDIS_URL = env("REDIS_URL")
if REDIS_URL:
    CACHES = {"default": {"BACKEND": "portal.cache.RedisCache", "LOCATION": REDIS_URL}}
    SESSION_ENGINE = "django.contrib.sessions.backends.cache"
else:
    CACHES = {"default": {"BACKEND": "portal.cache.LocMemCache"}}
    # One process (SQLite): sessions are stored in the database and read from memory.
    # Several processes without Redis must not keep sessions in per-process memory.
    if DATABASES["default"]["ENGINE"].endswith("sqlite3"):
        SESSION_ENGINE = "django.contrib.sessions.backends.cached_db"
    else:
        SESSION_ENGINE = "django.contrib.sessions.backends.db"
# Report details (portal/stalwart/reports.py): shared through Redis when there is one, else
# a bounded cache of their own, so that many reports never push sessions out of memory.
if REDIS_URL:
    CACHES["reports"] = {
        "BACKEND": "portal.cache.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "reports",
        "TIMEOUT": REPORT_CACHE_SECONDS,
    }
else:
    CACHES["reports"] = {
        "BACKEND": "portal.cache.LocMemCache",
        "LOCATION": "reports",
        "TIMEOUT": REPORT_CACHE_SECONDS,
        "OPTIONS": {"MAX_ENTRIES": REPORT_CACHE_ENTRIES},
    }
# The last reports parsed, in each process as they are: a warm list page neither unpickles
# nor parses them again (portal/stalwart/reports.py).
CACHES["parsed_reports"] = {
    "BACKEND": "portal.cache.AsIsCache",
    "LOCATION": "parsed-reports",
    "TIMEOUT": REPORT_CACHE_SECONDS,
    "OPTIONS": {"MAX_ENTRIES": 128},
}
# Rendered page fragments ({% cache %} in templates/base.html and directory/list.html): the
# same in every process, so each keeps its own copy instead of asking Redis on every page.
CACHES["template_fragments"] = {
    "BACKEND": "portal.cache.FragmentCache",
    "LOCATION": "template-fragments",
    "OPTIONS": {"MAX_ENTRIES": 5000},
}
# Whole list pages around their rows (portal/skeleton.py), one per person, address and
# language: a page is some 8 kB without its rows, so at most 500 of them (about 4 MB) per process.
CACHES["page_skeletons"] = {
    "BACKEND": "portal.cache.FragmentCache",
    "LOCATION": "page-skeletons",
    "TIMEOUT": 3600,
    "OPTIONS": {"MAX_ENTRIES": 500},
}

# Sessions hold OAuth tokens (sealed, see portal/auth/vault.py): server-side
# only, never the signed-cookie backend.
SESSION_COOKIE_NAME = "portal_session"
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SAMESITE = "Lax"
SESSION_COOKIE_SECURE = not DEBUG and env_bool("SECURE_COOKIES", True)
SESSION_COOKIE_AGE = int(env_float("SESSION_MAX_AGE", 12 * 3600))
# The key that seals tokens in the session store (portal/auth/vault.py); SECRET_KEY when unset.
SESSION_ENCRYPTION_KEY = env("SESSION_ENCRYPTION_KEY") or ""
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
CSRF_COOKIE_HTTPONLY = True
CSRF_COOKIE_SAMESITE = "Lax"
MESSAGE_STORAGE = "django.contrib.messages.storage.session.SessionStorage"

# Behind a TLS-terminating proxy set SECURE_PROXY_SSL_HEADER_NAME=HTTP_X_FORWARDED_PROTO.
if env("SECURE_PROXY_SSL_HEADER_NAME"):
    SECURE_PROXY_SSL_HEADER = (env("SECURE_PROXY_SSL_HEADER_NAME"), "https")
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Health probes (the image's HEALTHCHECK, load balancers) speak plain HTTP to the process.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# HSTS goes on every answer to an HTTPS request (request.is_secure(): behind a proxy, through
# SECURE_PROXY_SSL_HEADER_NAME), whether or not the portal redirects plain HTTP itself (the
# proxy may do that). Never on plain HTTP. SECURE_HSTS_SECONDS=0 turns it off; off under DEBUG.
SECURE_HSTS_SECONDS = (
    int(env_float("SECURE_HSTS_SECONDS", 0 if DEBUG else 31536000)) if env("SECURE_HSTS_SECONDS") != "0" else 0
)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", not DEBUG)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", not DEBUG)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "form-action": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
}

LANGUAGE_CODE = "en"
TIME_ZONE = env("TIME_ZONE", "UTC") or "UTC"
USE_I18N = True
# English is the shipped locale: locale/en/LC_MESSAGES/django.po and djangojs.po
# (`make messages` refreshes them; the .mo files are compiled from them).
LOCALE_PATHS = [BASE_DIR / "locale"]
USE_TZ = True

STATIC_URL = "/static/"
STATIC_ROOT = BASE_DIR / "staticfiles"
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if env_bool("STATIC_MANIFEST", not DEBUG)
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    "loggers": {"httpx": {"level": "WARNING"}, "httpcore": {"level": "WARNING"}},
}
