"""Routing of a 0.16 sandbox: the REST helpers that remain, OAuth, the JMAP session and
``POST /jmap/``. Everything else (the ≤0.15 ``/api/principal``, ``/api/oauth``, ...) is 404."""

from __future__ import annotations

import logging
import traceback

from .. import limits
from ..errors import ProblemError
from ..http import PROBLEM_CONTENT_TYPE, Response, dump_json, empty_response, json_response
from . import auth, methods, schema
from .store import address_of

log = logging.getLogger("sandbox")


def dispatch(sb, req) -> Response:
    try:
        return _route(sb, req)
    except ProblemError as exc:
        headers = list(auth.UNAUTHORIZED_HEADERS) if exc.status == 401 else []
        return Response(exc.status, dump_json(exc.body()), PROBLEM_CONTENT_TYPE, headers)
    except Exception as exc:  # noqa: BLE001 - converted in one place
        log.error("sandbox 0.16 handler crashed:\n%s", "".join(traceback.format_exception(exc)))
        err = ProblemError.internal()
        return Response(err.status, dump_json(err.body()), PROBLEM_CONTENT_TYPE, [])


def _route(sb, req) -> Response:
    el = req.elements
    first = el[0] if el else ""
    second = el[1] if len(el) > 1 else ""
    if first == "api":
        if req.method == "OPTIONS":
            return empty_response(204)
        if second == "auth" and req.method == "POST":
            return auth.handle_login(sb, req)
        if second == "discover":
            if len(el) < 3 or not el[2]:
                raise ProblemError.not_found()
            limits.anonymous_request(sb, req.client_ip)
            return auth.discovery_document(req)
        if second == "account":
            caller = auth.authenticate(sb, req)
            from .permissions import reported_order

            return json_response({"permissions": reported_order(caller.permissions),
                                  "edition": "enterprise" if sb.enterprise else "community",
                                  "locale": "en_US"})
        if second in ("token", "live"):
            from . import live

            return live.handle(sb, req, second, el)
        if second == "schema":
            auth.authenticate(sb, req)
            if len(el) > 2 and el[2] == schema.schema_hash():
                return Response(200, schema.schema_gz(), "application/json",
                                [("content-encoding", "gzip"),
                                 ("cache-control", "public, max-age=31536000, immutable")])
            return Response(302, b"", None, [("location", f"/api/schema/{schema.schema_hash()}")])
        raise ProblemError.not_found()
    if first == "auth" and second == "token":
        return auth.handle_token(sb, req)
    if first == ".well-known":
        if second == "jmap":
            return Response(307, b"", None, [("location", "/jmap/session")])
        if second in ("openid-configuration", "oauth-authorization-server"):
            return auth.discovery_document(req)
        raise ProblemError.not_found()
    if first == "jmap":
        if second == "session" and req.method == "GET":
            return json_response(session(sb, req))
        if second == "" and req.method == "POST":
            caller = auth.authenticate(sb, req)
            return json_response(methods.handle(sb, req, caller))
        if second == "upload" and req.method == "POST" and len(el) > 2:
            from .spam import handle_upload

            return handle_upload(sb, req, auth.authenticate(sb, req), el[2])
        if second == "download" and req.method == "GET":
            from .spam import handle_download

            return handle_download(sb, req, auth.authenticate(sb, req), el)
    raise ProblemError.not_found()


def session(sb, req) -> dict:
    base = req.base_url
    body = {
        "capabilities": {
            "urn:ietf:params:jmap:core": {
                "maxSizeUpload": 50_000_000,
                "maxConcurrentUpload": 4,
                "maxSizeRequest": methods.MAX_REQUEST,
                "maxConcurrentRequests": 4,
                "maxCallsInRequest": methods.MAX_CALLS,
                "maxObjectsInGet": methods.MAX_GET,
                "maxObjectsInSet": methods.MAX_SET,
                "collationAlgorithms": ["i;ascii-numeric", "i;ascii-casemap", "i;unicode-casemap"],
            },
        },
        "accounts": {},
        "primaryAccounts": {},
        "username": "",
        "apiUrl": f"{base}/jmap/",
        "downloadUrl": f"{base}/jmap/download/{{accountId}}/{{blobId}}/{{name}}?accept={{type}}",
        "uploadUrl": f"{base}/jmap/upload/{{accountId}}/",
        "eventSourceUrl": f"{base}/jmap/eventsource/?types={{types}}&closeafter={{closeafter}}&ping={{ping}}",
        "state": methods.session_state(sb),
    }
    if req.header("authorization"):
        caller = auth.authenticate(sb, req)
        account = caller.jmap_id
        body["accounts"][account] = {
            "name": address_of(sb, caller.principal),
            "isPersonal": True,
            "isReadOnly": False,
            "accountCapabilities": {"urn:ietf:params:jmap:core": {}, "urn:stalwart:jmap": {}},
        }
        body["primaryAccounts"] = {"urn:stalwart:jmap": account}
        body["username"] = address_of(sb, caller.principal)
    return body
