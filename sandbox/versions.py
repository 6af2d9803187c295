"""The Stalwart releases the sandbox emulates (sandbox/VERSIONS.md says what differs).

The REST front-end (``/api``) serves ``VERSIONS``; the JMAP front-end (``sandbox.jmap``)
serves ``JMAP_VERSIONS``. One state model (``sandbox.state``) stands behind both.
"""

VERSIONS = ("0.11.8", "0.12.4", "0.13.4", "0.14.1", "0.15.5")
#: Releases the 0.16 front-end emulates.
JMAP_VERSIONS = ("0.16.18",)
