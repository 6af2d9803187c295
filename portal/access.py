"""The access module: the gate every view goes through, the scope rule and the rank rule.

`require(rule, target=..., post=...)` (at the end of this module) signs the person in,
checks the permissions `rule` names (`portal.permissions`: `Access`, `needs`, ...), then
the two rules below, and only then runs the view; refusals are the deny pages of
`portal.responses`. The imports go one way: access -> auth.session, responses,
permissions (none of which imports this module).

Stalwart's permissions say what kind of thing a person may do; these two rules say to
which principal. Both run in Python before any other upstream call about the principal
(see `require(..., target=...)`), and the URL walk test checks them for
every URL that names a principal, as every persona.

- Scope: a principal named in a URL must be one the person may see. On an Enterprise
  server (the only kind with tenants), unless the person was found at sign-in to belong
  to no tenant, the principal is read with the person's own token, which Stalwart
  answers only inside their tenant, and its tenant must be the person's own. Anything else
  answers 404, exactly as for a name that does not exist, so a tenant administrator
  cannot even learn that an account of another tenant exists.
  Some Stalwart endpoints (undelete, purges) do not check tenants themselves: this rule
  is what keeps a tenant administrator inside their tenant there.
- Rank: a person may not change, reset, disable or delete a principal that holds a
  permission they lack (through its own grants or its roles), nor grant anyone a
  permission or a role they do not hold themselves. Group membership confers no
  permissions in Stalwart (api-behaviour §4), so it is not counted. A role the person
  cannot read counts as holding everything: the rule fails closed.

What a principal holds is computed as Stalwart does (api-behaviour §4): the union over
its roles, followed recursively, of each role's enabled minus disabled permissions, plus
its own enabled ones, minus its own disabled ones.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable, Iterable
from typing import Any, Protocol, cast

from django import forms
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.utils.translation import gettext as _

from portal import responses
from portal.audit.recording import recording
from portal.auth import session
from portal.capabilities import unavailable, unavailable_link
from portal.permissions import (
    Access,
    AccessRule,
    PortalUser,
    Target,
    builtin_role_permissions,
    version_permissions,
)
from portal.request import PortalRequest
from portal.stalwart import StalwartClient, backend, errors, generation
from portal.stalwart.types import Principal

MAX_ROLES = 50  # a guard against role cycles and very deep trees


def known_permissions(version: str) -> frozenset[str]:
    """Every permission name the server of that version knows, in its spelling."""
    return frozenset(version_permissions(version))


async def effective_permissions(
    client: StalwartClient,
    roles: Iterable[str],
    enabled: Iterable[str],
    disabled: Iterable[str],
    version: str,
) -> tuple[frozenset[str], list[str]]:
    """Effective permissions, and the roles that could not be read (named, not guessed)."""
    known = known_permissions(version)
    cache: dict[str, frozenset[str]] = {}
    unreadable: list[str] = []

    async def role_set(name: str, trail: tuple[str, ...]) -> frozenset[str]:
        builtin = builtin_role_permissions(name, version)
        if builtin is not None:
            return builtin & known
        if name in cache:
            return cache[name]
        if name in trail or len(cache) >= MAX_ROLES:
            return frozenset()
        try:
            role = await client.principals.get(name)
        except (errors.ItemNotFound, errors.Forbidden):
            unreadable.append(name)
            cache[name] = frozenset()
            return cache[name]
        granted = set(role.enabled_permissions)
        for sub in role.roles:
            granted |= await role_set(sub, (*trail, name))
        cache[name] = frozenset(granted - set(role.disabled_permissions))
        return cache[name]

    granted = set(enabled)
    for name in roles:
        granted |= await role_set(name, ())
    return frozenset((granted - set(disabled)) & known), unreadable


# --- the scope rule -------------------------------------------------------------------
TARGET_ATTRIBUTE = "portal_target"


def cached_target(request: PortalRequest, name: str) -> Principal | None:
    """The principal the scope check read for this request, when it is `name`."""
    principal = getattr(request, TARGET_ATTRIBUTE, None)
    return principal if isinstance(principal, Principal) and principal.name == name else None


async def read_target(request: PortalRequest, name: str) -> Principal:
    """`name` read with the person's own token, once per request."""
    principal = cached_target(request, name)
    if principal is None:
        principal = await request.stalwart.principals.get(name)
        setattr(request, TARGET_ATTRIBUTE, principal)
    return principal


def tenant_allows(user: PortalUser, principal: Principal) -> bool:
    """A principal of another tenant is out of scope (its own tenant is in scope)."""
    if not user.tenant:
        return True
    if principal.type == "tenant":
        return principal.name == user.tenant
    return principal.tenant == user.tenant


async def in_scope(request: PortalRequest, user: PortalUser, name: str) -> bool:
    """May this person see the principal called `name`? (See the module's docstring.)"""
    if not user.enterprise:
        return True  # no tenants without Enterprise: Stalwart's permissions are the whole rule
    if not user.tenant and (user.tenant_known or holds_everything(user)):
        return True  # someone of no tenant (read at sign-in), or an administrator of the whole server
    try:
        principal = await read_target(request, name)
    except (errors.NotFound, errors.ItemNotFound, errors.Forbidden):
        # Stalwart hides principals of other tenants; a person who may not read
        # principals at all cannot show that the one named is theirs to act on.
        return False
    return tenant_allows(user, principal)


async def visible(client: StalwartClient, user: PortalUser, names: Iterable[str]) -> frozenset[str]:
    """Those of `names` in this person's scope (for links to several principals at once)."""
    names = list(dict.fromkeys(names))
    if not user.enterprise:
        return frozenset(names)

    async def one(name: str) -> bool:
        try:
            return tenant_allows(user, await client.principals.get(name))
        except (errors.NotFound, errors.ItemNotFound, errors.Forbidden):
            return False

    found = await asyncio.gather(*(one(name) for name in names))
    return frozenset(name for name, ok in zip(names, found, strict=True) if ok)


# --- the rank rule ----------------------------------------------------------------------
def holds_everything(user: PortalUser) -> bool:
    return user.permissions >= known_permissions(user.version)


async def held_by(request: PortalRequest, user: PortalUser, principal: Principal) -> frozenset[str] | None:
    """What `principal` holds, or None when one of its roles could not be read."""
    held, unreadable = await effective_permissions(
        request.stalwart,
        principal.roles,
        principal.enabled_permissions,
        principal.disabled_permissions,
        user.version,
    )
    return None if unreadable else held


async def outranks(request: PortalRequest, user: PortalUser, principal: Principal) -> bool:
    """Does `principal` hold a permission `user` lacks (or one that cannot be known)?"""
    if holds_everything(user) or principal.name == user.name:
        return False
    held = await held_by(request, user, principal)
    return held is None or not held <= user.permissions


async def beyond(request: PortalRequest, user: PortalUser, roles: Iterable[str], enabled: Iterable[str]) -> list[str]:
    """The roles and permissions among these that `user` may not grant (they hold less)."""
    if holds_everything(user):
        return []
    refused = sorted(set(enabled) - user.permissions)
    for role in roles:
        held, unreadable = await effective_permissions(request.stalwart, (role,), (), (), user.version)
        if unreadable or not held <= user.permissions:
            refused.append(role)
    return refused


NOT_IN_SCOPE = "not-in-scope"
OUTRANKED = "outranked"


async def refusal(request: PortalRequest, user: PortalUser, name: str, *, modifies: bool) -> str | None:
    """The scope rule, then (for changes) the rank rule: why `user` may not act on `name`, or None."""
    if name.strip().lower() == user.name.strip().lower():
        return None  # oneself (Stalwart's own rules apply)
    if not await in_scope(request, user, name):
        return NOT_IN_SCOPE
    if modifies and not holds_everything(user):
        try:
            principal = await read_target(request, name)
        except (errors.NotFound, errors.ItemNotFound):
            return NOT_IN_SCOPE
        except errors.Forbidden:
            return OUTRANKED  # what it holds cannot be read, so it cannot be shown to be less
        if await outranks(request, user, principal):
            return OUTRANKED
    return None


async def guard(request: PortalRequest, user: PortalUser, name: str, *, modifies: bool) -> HttpResponse | None:
    """`refusal` as a page: 404 out of scope, 403 outranked; None to go on."""
    reason = await refusal(request, user, name, modifies=modifies)
    if reason == NOT_IN_SCOPE:
        return responses.not_found(request, not_found_message(name))
    if reason == OUTRANKED:
        return responses.outranked(request, name)
    return None


async def check_field(request: PortalRequest, user: PortalUser, form: forms.Form, field: str) -> bool:
    """For a form field that names an account to act on: the same rules, as a field error."""
    name = form.cleaned_data.get(field)
    if not name:
        return True
    reason = await refusal(request, user, name, modifies=True)
    if reason == NOT_IN_SCOPE:
        form.add_error(field, not_found_message(name))
    elif reason == OUTRANKED:
        form.add_error(
            field,
            _("%(name)s holds permissions that your account does not have, so you cannot act on it.") % {"name": name},
        )
    return reason is None


def not_found_message(name: str) -> str:
    return _("%(name)s was not found, or is not yours to manage.") % {"name": name}

# --- the gate every view goes through ------------------------------------------------
View = Callable[..., Awaitable[HttpResponseBase]]


class GatedView(Protocol):
    """A view wrapped by `require`; the URL walk test reads what it declared."""

    access_rule: AccessRule
    access_target: Target | None
    access_post: Access | None

    async def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase: ...


def require(
    rule: AccessRule, *, target: Target | None = None, post: Access | None = None
) -> Callable[[View], GatedView]:
    """Decorate an async view: sign-in, permission check, scope check, then the view.

    `rule` is an `Access`, or a function of the view's URL keyword arguments
    returning one (for views shared by several principal types). `post` is what a
    POST needs on top of it (a page anyone with `rule` may read, whose form needs
    more). `target` names the URL argument that is a principal (see `Target`). The view gets
    `request.portal_user` and `request.stalwart`, a client acting with the
    person's own token (`portal.request.PortalRequest`).
    """

    def decorator(view: View) -> GatedView:
        @functools.wraps(view)
        async def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
            return await run_authorised(request, view, rule, args, kwargs, target, post)

        gated = cast(GatedView, wrapper)
        gated.access_rule = rule
        gated.access_target = target
        gated.access_post = post
        return gated

    return decorator


async def run_authorised(
    request: HttpRequest,
    view: View,
    rule: AccessRule,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    target: Target | None = None,
    post: Access | None = None,
) -> HttpResponseBase:
    """Sign-in check, permission check, scope check, then the view (see `require`)."""
    signed_in = await session.current(request)
    portal_request = cast(PortalRequest, request)
    if signed_in is None:
        return responses.sign_in_redirect(portal_request, expired=getattr(request, "portal_session_expired", False))
    user, token = signed_in
    portal_request.portal_user = user
    needed = rule if isinstance(rule, Access) else rule(**kwargs)
    if not needed.allows(user):
        return responses.forbidden(portal_request, user, needed)
    if post is not None and request.method == "POST" and not post.allows(user):
        return responses.forbidden(portal_request, user, post)
    match = request.resolver_match
    reason = unavailable(user.capabilities, match.view_name if match else "", kwargs)
    if reason:
        link = unavailable_link(user.capabilities, match.view_name if match else "", kwargs)
        return responses.unavailable(portal_request, reason, link)
    portal_request.stalwart = backend.for_session(user.generation, token)
    with recording(request, user.name, user.tenant):
        return await _run(portal_request, view, args, kwargs, target)


async def _guarded(
    request: PortalRequest,
    view: View,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    target: Target | None,
) -> HttpResponseBase:
    if target is not None:
        refused = await guard(request, request.portal_user, kwargs[target.kwarg], modifies=target.modifies)
        if refused is not None:
            return refused
    return await view(request, *args, **kwargs)


async def _run(
    request: PortalRequest,
    view: View,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
    target: Target | None = None,
) -> HttpResponseBase:
    try:
        return await _guarded(request, view, args, kwargs, target)
    except errors.Unauthorized:
        # The token was refused although the portal thought it valid (revoked,
        # or the clocks disagree). Reading is retried once with a new token;
        # a change is never repeated behind the person's back.
        if request.method in session.SAFE_METHODS:
            new_token = await session.refresh(request)
            if new_token is not None:
                request.stalwart = backend.for_session(request.portal_user.generation, new_token)
                try:
                    return await _guarded(request, view, args, kwargs, target)
                except errors.Unauthorized:
                    pass
        await session.end(request)
        return responses.sign_in_redirect(request, expired=True)
    except (errors.NotFound, errors.UnknownMethod):
        # The server may have been upgraded (or replaced) under this session: 0.16 answers the
        # <= 0.15 routes with 404, an older server knows no x: methods. Then the person signs
        # in again (with the other backend); otherwise the error page explains as usual.
        if await _server_changed(request.portal_user.generation):
            await session.end(request, message=server_changed_message())
            return responses.sign_in_redirect(request)
        raise


def server_changed_message() -> str:
    return _("The mail server was upgraded or replaced since you signed in. Please sign in again.")


async def _server_changed(recorded: str) -> bool:
    try:
        return await generation.detect(fresh=True) != recorded
    except errors.StalwartError:
        return False
