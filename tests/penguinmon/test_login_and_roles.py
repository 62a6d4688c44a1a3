def test_every_page_redirects_anonymous_users_to_login(client, db):
    for path in ["/", "/admin/", "/dashboard/executive/", "/alerts/", "/reputation/"]:
        resp = client.get(path)
        assert resp.status_code == 302, path
        assert "login" in resp["Location"], path


def test_login_page_logs_a_user_in(client, make_user):
    make_user("operations", username="olga", password="s3cret-pass-word")
    resp = client.post("/accounts/login/", {"username": "olga", "password": "s3cret-pass-word"})
    assert resp.status_code == 302
    assert client.get("/").status_code in (200, 302)


def test_user_without_role_sees_no_pages(client, make_user):
    client.force_login(make_user())
    resp = client.get("/")
    assert resp.status_code == 403
    assert b"no role" in resp.content
