from tests.conftest import sign_in


def test_admin_signs_in_and_lists_accounts(client, sandbox):
    response = sign_in(client, "admin")
    assert response.status_code == 302, response.content[:2000]
    sandbox.requests.clear()
    page = client.get("/directory/accounts/")
    print([ (r.method, r.path) for r in sandbox.requests])
    assert page.status_code == 200, page.content[:3000]
    assert b"alice.novak@example.com" in page.content
