"""State of the 0.16-only operations objects: the task queue (``x:Task``, objects.md §18),
uploaded blobs, spam training samples, blocked IPs and saved settings. Created on first use
and registered with :meth:`Sandbox.register_state`, so ``reset()`` forgets them.

Tasks run lazily like the REST sandbox's queue: a task whose ``due`` has come is executed the
next time any 0.16 object is read or written, and leaves the queue (the server deletes tasks
that succeed). What it did is appended to ``tools_state(sb).actions`` (``{"kind": "task",
...}``), the same list the REST maintenance endpoints write to. A task type listed in
``ops_state(sb).failing`` fails instead and stays with a ``Failed`` status."""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ..toolstate import tools_state
from .store import utc

TASK_RETRY_LIMIT = 3


@dataclass
class OpsState:
    tasks: dict[int, dict] = field(default_factory=dict)
    next_id: int = 1
    #: blob id -> {"account": id, "data": bytes, "type": str}
    uploads: dict[str, dict] = field(default_factory=dict)
    #: sample id -> {"accountId": id | None, "blobId", "isSpam", "deleteAfterUse", "from", "subject", "expiresAt"}
    samples: dict[int, dict] = field(default_factory=dict)
    #: blocked ip id -> {"address", "createdAt", "expiresAt", "reason"}
    blocked: dict[int, dict] = field(default_factory=dict)
    #: object name -> saved singleton values (only what was set; defaults come from the schema)
    singletons: dict[str, dict] = field(default_factory=dict)
    #: object name -> {id: values} of the settings collections created through 0.16
    collections: dict[str, dict[int, dict]] = field(default_factory=dict)
    #: task types that fail when they run (tests)
    failing: dict[str, str] = field(default_factory=dict)
    #: live-endpoint tokens: token -> (grant, account id, expires)
    live_tokens: dict[str, tuple[str, int, int]] = field(default_factory=dict)

    def new_id(self) -> int:
        self.next_id += 1
        return self.next_id


def ops_state(sb) -> OpsState:
    st = getattr(sb, "_jmap_ops", None)
    if st is None:
        st = sb._jmap_ops = OpsState()
        _seed(sb, st)

        def snapshot() -> OpsState:
            return copy.deepcopy(sb._jmap_ops)

        def restore(saved: OpsState) -> None:
            sb._jmap_ops = saved

        sb.register_state("jmap-ops", snapshot, restore)
    return st


def _seed(sb, st: OpsState) -> None:
    """Blocked addresses the auto-ban has collected (demo seed)."""
    if not sb.has_demo_data:
        return
    now = sb.now()
    for address, reason, age in (("203.0.113.66", "authFailure", 3600),
                                 ("198.51.100.23", "rcptToFailure", 86400),
                                 ("2001:db8:bad::7", "portScanning", 7200)):
        number = st.new_id()
        st.blocked[number] = {"address": address, "createdAt": now - age, "expiresAt": None, "reason": reason}


def new_task(sb, values: dict, due: int | None = None) -> int:
    st = ops_state(sb)
    number = st.new_id()
    now = sb.now()
    task = dict(values)
    task.setdefault("status", {"@type": "Pending", "createdAt": utc(now), "due": utc(now if due is None else due)})
    task["_created"] = now
    st.tasks[number] = task
    return number


def task_due(task: dict) -> str | None:
    status = task.get("status") or {}
    return status.get("due") if status.get("@type") in ("Pending", "Retry") else None


def run_due_tasks(sb) -> None:
    """Run every pending task whose time has come (called before each 0.16 method)."""
    st = ops_state(sb)
    now = utc(sb.now())
    for number in sorted(st.tasks):
        task = st.tasks[number]
        due = task_due(task)
        if due is None or due > now:
            continue
        kind = task["@type"]
        if kind in st.failing:
            attempt = (task["status"].get("attemptNumber") or 0) + 1
            if attempt >= TASK_RETRY_LIMIT:
                task["status"] = {"@type": "Failed", "createdAt": task["status"].get("createdAt"),
                                  "failedAt": now, "failedAttemptNumber": attempt,
                                  "failureReason": st.failing[kind]}
            else:
                task["status"] = {"@type": "Retry", "createdAt": task["status"].get("createdAt"),
                                  "attemptNumber": attempt, "due": now, "failureReason": st.failing[kind]}
            continue
        _execute(sb, task)
        del st.tasks[number]


#: What a task type does besides being recorded, registered by the module of its objects
#: (``directory``: ``DkimManagement``), so this module imports none of them.
RUNNERS: dict = {}


def _execute(sb, task: dict) -> None:
    record = {"kind": "task", "type": task["@type"],
              **{k: v for k, v in task.items() if not k.startswith("_") and k not in ("@type", "status")}}
    tools_state(sb).actions.append(record)
    if task["@type"] == "SpamFilterMaintenance":
        run_spam_task(sb, task.get("maintenanceType"))
    runner = RUNNERS.get(task["@type"])
    if runner is not None:
        runner(sb, task)


def run_spam_task(sb, maintenance_type) -> None:
    """``SpamFilterMaintenance``: ``train`` adds the samples not yet used, ``retrain`` rebuilds
    the model from every sample, ``reset`` deletes the model; ``abort``/``updateRules`` only record."""
    tools = tools_state(sb)
    st = ops_state(sb)
    if maintenance_type == "reset":
        tools.bayes_global.clear()
        tools.bayes_accounts.clear()
        tools.classifier_model = False
        return
    if maintenance_type not in ("train", "retrain"):
        return
    if maintenance_type == "retrain":
        tools.bayes_global.clear()
    for number in sorted(st.samples):
        sample = st.samples[number]
        if sample.get("trained") and maintenance_type == "train":
            continue
        tools.bayes_global[sample["digest"]] = "spam" if sample["isSpam"] else "ham"
        sample["trained"] = True
        if sample["deleteAfterUse"]:
            del st.samples[number]
    tools.classifier_model = True
