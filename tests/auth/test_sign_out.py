"""Signing out drops Stalwart's tokens from the session store, whichever store is configured.

Stalwart (0.11 to 0.15) offers no way to revoke a token (no revocation endpoint; its tokens
are sealed values it does not keep): what the portal can do is forget them at once.
"""

from __future__ import annotations

import pickle
from importlib import import_module

import pytest
from django.conf import settings as django_settings
from django.contrib.sessions.models import Session
from django.core.cache import cache

from portal.auth.session import IDENTITY_KEY
from portal.auth.vault import unseal
from tests.conftest import sign_in

ENGINES = [
    "django.contrib.sessions.backends.cached_db",  # one process (the default with SQLite)
    "django.contrib.sessions.backends.db",  # several processes, no Redis
    "django.contrib.sessions.backends.cache",  # with REDIS_URL
]


def stored_texts() -> list[str]:
    """Everything the session stores hold now: database rows and cache entries, decoded."""
    texts = [repr(row.get_decoded()) for row in Session.objects.all()]
    for value in cache._cache.values():  # the test cache is local memory
        try:
            texts.append(repr(pickle.loads(value)))
        except Exception:  # noqa: BLE001 - anything else in the cache is not a session
            continue
    return texts


@pytest.mark.parametrize("engine", ENGINES, ids=lambda engine: engine.rsplit(".", 1)[-1])
def test_sign_out_removes_the_sealed_tokens_from_the_store(client, sandbox, settings, engine):
    settings.SESSION_ENGINE = engine
    assert sign_in(client, "admin").status_code == 302
    session_key = client.cookies["portal_session"].value
    identity = client.session[IDENTITY_KEY]
    secrets = [identity["access"], identity["refresh"], unseal(identity["access"]), unseal(identity["refresh"])]
    assert all(secrets)
    assert any(identity["access"] in text for text in stored_texts())  # it was there

    response = client.post("/auth/sign-out")
    assert response.status_code == 302

    store = import_module(django_settings.SESSION_ENGINE).SessionStore
    assert not store().exists(session_key)
    assert not Session.objects.filter(session_key=session_key).exists()
    leftovers = [text for text in stored_texts() if any(secret in text for secret in secrets)]
    assert leftovers == []
    assert client.get("/directory/accounts/").status_code == 302  # signed out for good
