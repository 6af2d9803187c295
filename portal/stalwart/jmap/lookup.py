"""Finding accounts by e-mail address on Stalwart 0.16.

An `x:Account` is found by its local part (`/query` filter `name`), then told from the accounts
of the same local part in other domains by its `emailAddress`. A local part can be shared by
more accounts than one `/get` returns (`postmaster` on a host of many domains): the query then
asks for at most `maxObjectsInGet` of them, and when the one wanted is not among those it is
looked up again with its domain's id (`by_domain`, two more requests, only then).

A bare login (no `@`) stands for the one account of that local part, as on <= 0.15.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .client import Call, JmapClient, Results, ref


@dataclass(frozen=True, slots=True)
class Lookup:
    """The calls that look up one name, and their ids."""

    name: str  # lower case
    query_id: str
    get_id: str


def account_calls(
    client: JmapClient, names: Iterable[str], *, limit: int, properties: Sequence[str] = ("emailAddress",)
) -> tuple[list[Call], list[Lookup]]:
    """A query by local part (at most `limit` ids) and a get of what it found, for each name."""
    calls: list[Call] = []
    lookups: list[Lookup] = []
    for name in dict.fromkeys(n.strip().lower() for n in names if n.strip()):
        query_id, get_id = client.next_id(), client.next_id()
        query = {"filter": {"name": name.rsplit("@", 1)[0]}, "limit": limit, "calculateTotal": True}
        wanted = list(dict.fromkeys(["emailAddress", *properties]))
        by_ref = {"#ids": ref(query_id, "x:Account/query"), "properties": wanted}
        calls += [Call("x:Account/query", query, query_id), Call("x:Account/get", by_ref, get_id)]
        lookups.append(Lookup(name, query_id, get_id))
    return calls, lookups


def pick(results: Results, lookup: Lookup) -> tuple[dict[str, Any] | None, bool]:
    """The account `lookup` found, if it did, and whether it should be looked for again with its
    domain (an address whose local part more accounts share than the query returned)."""
    answer = results[lookup.query_id]
    found = [item for item in results[lookup.get_id].get("list") or [] if isinstance(item, dict) and item.get("id")]
    total = answer.get("total")
    cut = isinstance(total, int) and total > len(answer.get("ids") or [])
    if "@" not in lookup.name:
        return (found[0] if len(found) == 1 and not cut else None), False
    exact = [item for item in found if str(item.get("emailAddress") or "").lower() == lookup.name]
    return (exact[0] if exact else None), not exact and cut


async def by_domain(
    client: JmapClient, addresses: Iterable[str], properties: Sequence[str] | None = ("emailAddress",)
) -> dict[str, dict[str, Any]]:
    """address (lower case) -> the account (with `properties`, all of them for None), found by
    local part and domain id: a request for the domains' ids, one for the accounts."""
    wanted = list(dict.fromkeys(a.strip().lower() for a in addresses if "@" in a))
    if not wanted:
        return {}
    domains = sorted({address.rsplit("@", 1)[1] for address in wanted})
    queries = {domain: client.next_id() for domain in domains}
    results = await client.call([Call("x:Domain/query", {"filter": {"name": d}}, i) for d, i in queries.items()])
    domain_ids: dict[str, str] = {}
    for domain, query_id in queries.items():
        ids = results[query_id].get("ids") or []
        if len(ids) == 1:
            domain_ids[domain] = str(ids[0])
    calls: list[Call] = []
    gets: dict[str, str] = {}
    for address in wanted:
        local, domain = address.rsplit("@", 1)
        if domain not in domain_ids:
            continue
        query_id, gets[address] = client.next_id(), client.next_id()
        calls.append(Call("x:Account/query", {"filter": {"name": local, "domainId": domain_ids[domain]}}, query_id))
        by_ref: dict[str, Any] = {"#ids": ref(query_id, "x:Account/query")}
        if properties is not None:
            by_ref["properties"] = list(dict.fromkeys(["emailAddress", *properties]))
        calls.append(Call("x:Account/get", by_ref, gets[address]))
    answers = await client.call(calls) if calls else Results()
    found: dict[str, dict[str, Any]] = {}
    for address, get_id in gets.items():
        for item in answers[get_id].get("list") or []:
            if isinstance(item, dict) and str(item.get("emailAddress") or "").lower() == address:
                found[address] = item
    return found


async def find_accounts(
    client: JmapClient, names: Iterable[str], *, properties: Sequence[str] = ("emailAddress",)
) -> Mapping[str, dict[str, Any]]:
    """name (lower case) -> the account it names, for those found: one request for most."""
    limits = await client.limits()
    calls, lookups = account_calls(client, names, limit=limits.max_get, properties=properties)
    if not calls:
        return {}
    results = await client.call(calls)
    found: dict[str, dict[str, Any]] = {}
    again: list[str] = []
    for lookup in lookups:
        item, retry = pick(results, lookup)
        if item is not None:
            found[lookup.name] = item
        elif retry:
            again.append(lookup.name)
    if again:
        found.update(await by_domain(client, again, properties))
    return found
