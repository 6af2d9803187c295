"""Test settings: the production settings module with test-only environment."""

import os

os.environ.setdefault("SECRET_KEY", "test-only-secret-key-0123456789abcdef")
os.environ.setdefault("ALLOWED_HOSTS", "testserver,127.0.0.1,localhost")
os.environ.setdefault("STATIC_MANIFEST", "0")
os.environ.setdefault("SECURE_COOKIES", "0")
os.environ.pop("DATABASE_URL", None)
os.environ.pop("REDIS_URL", None)

from portal.settings import *  # noqa: E402,F403
