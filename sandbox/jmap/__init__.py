"""The Stalwart 0.16 front-end of the sandbox (``Sandbox(version="0.16.18")``).

One state, two protocol front-ends: the directory seeded for the REST front-end
(``sandbox.state.Sandbox``) is shown here as the 0.16 management objects (``x:Account``,
``x:Domain``, ...), reached through ``POST /api/auth``, ``/auth/token`` and ``POST /jmap/``.
See ``sandbox/jmap/README.md`` for what is emulated.
"""

from __future__ import annotations

from ..versions import JMAP_VERSIONS  # noqa: F401  (releases this package emulates)
