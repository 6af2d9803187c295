"""``GET /api/logs?page&limit&filter`` (spec §16): the file tracer's lines, newest first."""

from __future__ import annotations

import re

from .dates import parse_rfc3339, rfc3339
from .errors import ManagementError, ProblemError
from .http import data_response
from .observability import log_path, state
from .routing import api_module

_TIMESTAMP = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")


def parse_line(line: str) -> dict | None:
    """``<rfc3339> <LEVEL> <event> (<event_id>) <details>``, or None when the line does not parse."""
    timestamp, sep, rest = line.partition(" ")
    if not sep or not _TIMESTAMP.match(timestamp):
        return None
    instant = parse_rfc3339(timestamp)
    if instant is None:
        return None
    level, sep, rest = rest.strip().partition(" ")
    if not sep:
        return None
    event, sep, rest = rest.strip().partition(" (")
    if not sep:
        return None
    event_id, sep, details = rest.partition(")")
    if not sep:
        return None
    return {
        "timestamp": rfc3339(instant),
        "level": level,
        "event": event,
        "event_id": event_id,
        "details": details.strip(),
    }


@api_module("logs")
def handle_logs(sb, req):
    """Method first (anything but GET is 404), then permission (spec §1.7)."""
    if req.method != "GET":
        raise ProblemError.not_found()
    req.access.require("logs-view")
    if log_path(sb) is None:
        raise ManagementError.unsupported("Tracer log path not configured")
    obs = state(sb)
    if obs.log_read_error:
        raise ManagementError.other("Failed to read log files", "Permission denied (os error 13)")
    params = req.params
    filter_ = params.get("filter") or ""
    page = params.get_uint("page") or 0
    limit = params.get_uint("limit")
    if limit is None:
        limit = 100
    offset = max(page - 1, 0) * limit

    total = 0
    entries: list[dict] = []
    lines = list(obs.log_lines_newest_first())
    for position, (_, line) in enumerate(lines):
        if filter_ and filter_ not in line:
            continue
        total += 1
        if offset:
            offset -= 1
            continue
        entry = parse_line(line)
        if entry is None:
            continue
        entries.append(entry)
        if len(entries) == limit:
            # The server peeks at the next line of the same file, or else at the next file:
            # anything left, matching or not, adds a whole page to the estimate.
            if position + 1 < len(lines):
                total += limit
            return data_response({"items": entries, "total": total})
    return data_response({"items": entries, "total": total})
