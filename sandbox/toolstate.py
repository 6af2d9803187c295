"""State of the helpdesk and maintenance areas: troubleshooting streams, the spam filter's
Bayes models, and what the maintenance endpoints were asked to do (spec §10, §12, §13, §14).

``tools_state(sb)`` creates it on first use and registers it with
:meth:`Sandbox.register_state`, so :meth:`Sandbox.reset` puts back the defaults (including the
stream timing knobs tests turn).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field


@dataclass
class StreamRecord:
    """One delivery troubleshooting stream the sandbox served."""

    target: str
    frames_sent: int = 0
    #: the stream sent its last frame (``completed``)
    completed: bool = False
    #: the stream is over: finished, or the client went away (then ``completed`` is False)
    closed: bool = False
    #: the stream stopped sending on purpose (``stall.`` targets, ``stall_after``)
    stalled: bool = False


@dataclass
class ToolsState:
    # --- troubleshooting knobs (tests turn these; reset restores them) ---
    #: seconds between two frames of a delivery stream: uniform in [min, max]
    frame_delay: tuple[float, float] = (0.05, 0.15)
    #: multiplies the waits that stand for network time-outs (``slow.`` targets)
    time_scale: float = 1.0
    #: every stream stops sending (and keeps the connection open) after this many frames
    stall_after: int | None = None
    streams: list[StreamRecord] = field(default_factory=list)

    # --- spam filter ---
    #: message digest -> "spam" | "ham", for the global model and per account id
    bayes_global: dict[str, str] = field(default_factory=dict)
    bayes_accounts: dict[int, dict[str, str]] = field(default_factory=dict)
    #: every training request: (class, account name or None, digest)
    trained: list[tuple[str, str | None, str]] = field(default_factory=list)
    #: v0.15+: uploaded samples waiting for the trainer: (class, account id or None, digest)
    samples: list[tuple[str, int | None, str]] = field(default_factory=list)
    #: v0.15+: sandbox time until which the trainer runs (0: not running)
    trainer_until: int = 0
    #: v0.15+: the classifier model exists in the blob store
    classifier_model: bool = True

    # --- maintenance ---
    #: what the purge, reindex, uids and quota endpoints did, in order (dicts with a "kind")
    actions: list[dict] = field(default_factory=list)
    webadmin_updates: int = 0
    #: make the spam-rule and web-admin downloads fail (PP 500), as without network access
    fail_downloads: bool = False


def tools_state(sb) -> ToolsState:
    state = getattr(sb, "tools", None)
    if state is None:
        state = sb.tools = ToolsState()

        def snapshot() -> ToolsState:
            return copy.deepcopy(sb.tools)

        def restore(saved: ToolsState) -> None:
            sb.tools = saved

        sb.register_state("tools", snapshot, restore)
    return state
