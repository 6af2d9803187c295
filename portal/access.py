"""What a principal will actually hold after its roles (api-behaviour §4)."""

from __future__ import annotations

from collections.abc import Iterable

from portal.permissions import PERMISSIONS, builtin_role_permissions
from portal.stalwart import StalwartClient, errors
from portal.stalwart.oauth import parse_version

MAX_ROLES = 50  # a guard against role cycles and very deep trees


def known_permissions(version: str) -> frozenset[str]:
    parsed = parse_version(version) or (0, 11)
    newest = 222 if parsed[:2] >= (0, 12) else 180
    return frozenset(name for name, permission in PERMISSIONS.items() if permission.id <= newest)


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
        builtin = builtin_role_permissions(name)
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
