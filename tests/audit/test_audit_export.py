"""The audit CSV export streams: an async iterator, the database read in batches, in threads
and database connections of the export's own."""

import csv
import io
from datetime import timedelta

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from portal.audit import views
from portal.models import AuditEntry

#: The export reads through connections of its own, which see committed rows only.
pytestmark = pytest.mark.django_db(transaction=True)


def read_stream(response) -> tuple[list[bytes], str]:
    async def collect():
        return [chunk async for chunk in response.streaming_content]

    # Through async_to_sync, as the portal's server runs it: this thread is the shared one.
    chunks = async_to_sync(collect)()
    return chunks, b"".join(chunks).decode()


def make_entries(count: int, actor: str = "bulk.actor") -> None:
    now = timezone.now()
    AuditEntry.objects.bulk_create(
        AuditEntry(actor=actor, action="principal.update", target=f"t{n}", method="PATCH", path="/p", outcome="success")
        for n in range(count)
    )
    # Several entries share each instant, so the paging must order by id within one.
    for n, pk in enumerate(AuditEntry.objects.filter(actor=actor).order_by("id").values_list("id", flat=True)):
        AuditEntry.objects.filter(id=pk).update(at=now - timedelta(seconds=n // 3))


def test_export_streams_every_row_in_batches(signed_in, sandbox, monkeypatch):
    monkeypatch.setattr(views, "EXPORT_BATCH", 7)
    client = signed_in("admin")
    AuditEntry.objects.all().delete()
    make_entries(50)
    response = client.get(reverse("audit:csv"), {"actor": "bulk"})
    assert response.is_async  # served without reading everything first
    assert response["Content-Disposition"] == 'attachment; filename="portal-audit.csv"'
    with CaptureQueriesContext(connection) as shared:
        chunks, body = read_stream(response)
    # none of the batches was read in the shared thread (pages would queue behind them)
    assert not [query for query in shared.captured_queries if "portal_auditentry" in query["sql"]]
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0] == list(views.CSV_FIELDS)
    expected = list(AuditEntry.objects.order_by("-at", "-id").values_list("target", flat=True))
    assert [row[5] for row in rows[1:]] == expected  # all 50, newest first, none twice
    assert len(chunks) == 1 + -(-50 // 7)  # the header, then one chunk per batch


def test_export_keeps_formulas_as_text_and_params(signed_in, sandbox):
    client = signed_in("admin")
    AuditEntry.objects.create(
        actor="admin",
        action="principal.update",
        target='=HYPERLINK("http://x")',
        method="PATCH",
        path="/x",
        outcome="failure",
        error="-1+2",
        params={"field": "description"},
    )
    _, body = read_stream(client.get(reverse("audit:csv"), {"action": "principal.update"}))
    row = list(csv.reader(io.StringIO(body)))[1]
    assert row[5] == '\'=HYPERLINK("http://x")' and row[10] == "'-1+2"
    assert row[11] == "{'field': 'description'}"


def test_export_shows_only_what_the_person_may_see(signed_in, sandbox):
    make_entries(5, actor="someone.else")
    AuditEntry.objects.create(
        actor="jane.doe", action="account.auth.create", method="POST", path="/y", outcome="success"
    )
    client = signed_in("user")
    _, body = read_stream(client.get(reverse("audit:csv")))
    assert "someone.else" not in body and "account.auth.create" in body


def test_export_needs_a_session(client, sandbox):
    response = client.get(reverse("audit:csv"))
    assert response.status_code == 302 and "/auth/sign-in" in response["Location"]
    assert sandbox.requests == []
