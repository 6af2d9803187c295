"""Stalwart sandbox: an in-memory emulator of the Stalwart Mail Server management API.

Typical use::

    from sandbox import Sandbox, run_in_thread

    sb = Sandbox(version="0.11.8", enterprise=True)
    with run_in_thread(sb) as base_url:
        ...

This package imports nothing from the portal.
"""

from .seed import build_seed
from .state import Sandbox

# The state model knows nothing of its contents: a new Sandbox is filled by the seed.
Sandbox.populate = build_seed

__all__ = ["Sandbox", "run_in_thread", "create_app", "serve"]


def __getattr__(name):
    if name in ("run_in_thread", "serve"):
        from . import server

        return getattr(server, name)
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(name)
