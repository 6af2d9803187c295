import asyncio
import csv
import io

from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from tests.conftest import persona


def read_stream(response) -> str:
    async def collect():
        return b"".join([chunk async for chunk in response.streaming_content])

    return asyncio.run(collect()).decode()


def test_export_pages_through_stalwart(signed_in, sandbox, monkeypatch):
    from portal.directory import csv_io

    monkeypatch.setattr(csv_io, "EXPORT_PAGE", 10)
    client = signed_in("admin")
    response = client.get(reverse("directory:export", kwargs={"kind": "accounts"}))
    assert response["Content-Disposition"] == 'attachment; filename="accounts.csv"'
    rows = list(csv.reader(io.StringIO(read_stream(response))))
    assert rows[0][:4] == ["name", "description", "email", "aliases"]
    assert len(rows) - 1 == sandbox.type_counts["individual"]
    calls = [r for r in sandbox.requests if r.path == "/api/principal"]
    assert len(calls) == -(-sandbox.type_counts["individual"] // 10)
    assert all("limit=10" in r.query for r in calls)


def test_export_filtered_and_formula_safe(signed_in, sandbox):
    import httpx
    from django.conf import settings

    admin = persona("admin")
    httpx.post(
        f"{settings.STALWART_URL}/api/principal",
        auth=(admin.name, admin.password),
        json={"type": "group", "name": "formula-group", "description": '=HYPERLINK("http://x")'},
    )
    client = signed_in("admin")
    response = client.get(reverse("directory:export", kwargs={"kind": "groups"}), {"q": "formula"})
    rows = list(csv.reader(io.StringIO(read_stream(response))))
    assert rows[1][0] == "formula-group" and rows[1][1].startswith("'=")


def test_export_is_gated(signed_in, sandbox):
    client = signed_in("user")
    assert client.get(reverse("directory:export", kwargs={"kind": "accounts"})).status_code == 403
    assert sandbox.requests == []


CSV_FILE = """name,description,email,aliases,password,quota,groups,lists,roles
anna.berg,Anna Berg,anna.berg@example.org,anna@example.org,Long-Initial-Pass-1,2GiB,sales,all-staff,user
{user},,,,,,support,,
bad row,,not-an-email,,short,lots,,,
ghost,Ghost,ghost@nowhere-domain.test,,,,,,
"""


def test_import_preview_then_apply(signed_in, sandbox):
    client = signed_in("admin")
    user = persona("user").name
    upload = SimpleUploadedFile("accounts.csv", CSV_FILE.format(user=user).encode(), content_type="text/csv")
    preview = client.post(reverse("directory:import"), {"file": upload})
    content = preview.content.decode()
    assert preview.status_code == 200
    assert "1 to create" not in content  # anna and ghost both look creatable
    assert "2 to create · 1 to change · 0 unchanged · 1 with errors" in content
    assert "is not an e-mail address" in content and "is not a size" in content
    assert sandbox.get("anna.berg") is None  # nothing happened yet
    assert "Long-Initial-Pass-1" not in content
    plan_id = content.split('name="apply" value="')[1].split('"')[0]
    applied = client.post(reverse("directory:import"), {"apply": plan_id})
    content = applied.content.decode()
    assert "2 done, 1 failed" in content  # ghost's domain does not exist
    anna = sandbox.get("anna.berg")
    assert anna is not None and "anna@example.org" in anna.emails
    import httpx
    from django.conf import settings

    ok = httpx.get(f"{settings.STALWART_URL}/api/principal/anna.berg", auth=("anna.berg", "Long-Initial-Pass-1"))
    assert ok.status_code != 401
    page = client.get(reverse("directory:detail", kwargs={"kind": "accounts", "name": user})).content.decode()
    assert "support" in page


def test_import_with_a_password_ends_that_accounts_sessions(signed_in, sandbox):
    from django.test import Client

    from tests.conftest import sign_in

    client = signed_in("admin")
    user, helpdesk = persona("user").name, persona("helpdesk").name
    target, untouched = Client(), Client()
    assert sign_in(target, "user").status_code == 302
    assert sign_in(untouched, "helpdesk").status_code == 302
    data = f"name,password,description\n{user},Long-Imported-Pass-1,\n{helpdesk},,Helpdesk agent\n"
    preview = client.post(reverse("directory:import"), {"file": SimpleUploadedFile("a.csv", data.encode())})
    plan_id = preview.content.decode().split('name="apply" value="')[1].split('"')[0]
    assert "2 done" in client.post(reverse("directory:import"), {"apply": plan_id}).content.decode()
    assert target.get("/account/security/").status_code == 302  # its password changed
    assert untouched.get("/account/security/").status_code == 200  # only its description did
    assert client.get(reverse("directory:import")).status_code == 200  # the admin stays


def test_import_plan_cannot_be_replayed_or_borrowed(signed_in, sandbox):
    client = signed_in("admin")
    response = client.post(reverse("directory:import"), {"apply": "made-up"})
    assert response.status_code == 302


def test_import_rejects_bad_files(signed_in, sandbox):
    client = signed_in("admin")
    for data, message in [
        (b"\xff\xfe\x00garbage", "not UTF-8"),
        (b"email\nx@example.org\n", "must be"),
        (b"name,colour\nx,red\n", "Unknown column"),
    ]:
        response = client.post(reverse("directory:import"), {"file": SimpleUploadedFile("a.csv", data)})
        assert response.status_code == 422 and message in response.content.decode()


def test_export_sends_one_chunk_per_page(signed_in, sandbox, monkeypatch):
    from portal.directory import csv_io

    monkeypatch.setattr(csv_io, "EXPORT_PAGE", 10)
    client = signed_in("admin")
    response = client.get(reverse("directory:export", kwargs={"kind": "accounts"}))
    assert response.is_async  # an async iterator: Django never reads it whole before sending

    async def chunks():
        return [chunk async for chunk in response.streaming_content]

    pages = -(-sandbox.type_counts["individual"] // 10)
    assert len(asyncio.run(chunks())) == 1 + pages  # the header, then one chunk per page of Stalwart's
