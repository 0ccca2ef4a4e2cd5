"""Every role against every route of the console (genuine.console.app.ROUTES), with Starlette's TestClient
on a real enforced lake: the allowed routes work, the others answer 403, and without a session every
route redirects to the login page. Plus the login itself: CSRF, rate limit, cookie flags, open redirect."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import quote

import pytest

from genuine.console.app import HOME, ROUTES
from genuine.console.users import ROLES
from tests.console.conftest import PASSWORD, csrf_of, login
from tests.oracles import read_delta_rs


@pytest.fixture(scope="module")
def queued(console_lake) -> str:
    """The first open queue item of the enforced lake (what a moderator opens first)."""
    rq = read_delta_rs(console_lake.cfg.table("review_queue"))
    return rq.sort_values("queue_rank").account_id.iloc[0]


@pytest.fixture(scope="module")
def clients(console_lake):
    return {role: console_lake.client(role) for role in ROLES} | {None: console_lake.client(None)}


def _form(path: str, token: str) -> dict[str, str]:
    today = datetime.now(UTC).date()
    forms = {
        "/accounts/{account_id}/decision": {"decision": "confirm", "note": "n", "state": "stale"},
        "/appeals/{account_id}/outcome": {"outcome": "restore", "note": "n", "state": "stale"},
        "/export/statements": {"since": str(today - timedelta(days=3650)), "until": str(today)},
        "/users": {"username": "matrix-user", "role": "auditor", "password": PASSWORD},
        "/users/{username}/active": {"active": "true"},
    }
    return {**forms.get(path, {}), "csrf_token": token}


# What an allowed role gets from each POST of the matrix: the stale form state is refused (409) without
# writing, the unknown user is a 404 page, the export a file, the new user the users page.
ALLOWED_POST = {"/accounts/{account_id}/decision": 409, "/appeals/{account_id}/outcome": 409,
                "/export/statements": 200, "/users": 200, "/users/{username}/active": 404}


def _request(client, method: str, route: str, account: str):
    path = route.replace("{account_id}", quote(account, safe="")).replace("{username}", "nobody")
    if method == "GET":
        return client.get(path)
    return client.post(path, data=_form(route, csrf_of(client.get("/login").text)))


@pytest.mark.parametrize("role", [*ROLES, None], ids=[*ROLES, "anonymous"])
@pytest.mark.parametrize(("method", "route"), sorted(ROUTES), ids=[f"{m} {r}" for m, r in sorted(ROUTES)])
def test_every_role_on_every_route(clients, queued, role, method, route):
    r = _request(clients[role], method, route, queued)
    if role is None:
        assert r.status_code == 303
        assert r.headers["location"].startswith("/login?next=/")
    elif role in ROUTES[(method, route)]:
        assert r.status_code == (200 if method == "GET" else ALLOWED_POST[route]), r.text[:500]
        assert "Traceback" not in r.text
    else:
        assert r.status_code == 403, r.text[:300]
        assert "may not open this page" in r.text


def test_home_sends_each_role_to_its_page(clients):
    expected = {"moderator": "/queue", "appeals_officer": "/appeals", "auditor": "/audit", "admin": "/users"}
    for role, target in expected.items():
        assert clients[role].get("/").headers["location"] == target
    assert clients[None].get("/").headers["location"] == "/login"


def test_session_cookie_is_httponly_and_samesite(console_lake):
    c = console_lake.client(None)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"username": "auditor", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 303
    cookie = r.headers["set-cookie"].lower()
    assert "genuine_console=" in cookie and "httponly" in cookie and "samesite=strict" in cookie


def test_login_without_csrf_token_or_with_a_wrong_password_is_refused(console_lake):
    c = console_lake.client(None)
    c.get("/login")
    r = c.post("/login", data={"username": "admin", "password": PASSWORD})
    assert r.status_code == 403 and "security token" in r.text
    r = login(c, "admin", "not the password")
    assert r.status_code == 401 and "unknown user or wrong password" in r.text
    assert c.get("/users").status_code == 303      # still not logged in


def test_login_attempts_are_rate_limited(console_lake):
    c = console_lake.client(None)
    codes = [login(c, "admin", f"wrong {i}").status_code for i in range(6)]
    assert codes == [401] * 5 + [429]
    assert "too many login attempts" in login(c, "admin", PASSWORD).text     # even the right password, now


def test_login_never_redirects_off_site(console_lake):
    c = console_lake.client(None)
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"username": "moderator", "password": PASSWORD, "csrf_token": token,
                               "next": "//evil.example/x"})
    assert r.headers["location"] == "/queue"


def test_a_disabled_user_is_logged_out_at_the_next_request(console_lake):
    admin, mod = console_lake.client("admin"), console_lake.client(None)
    token = csrf_of(admin.get("/users").text)
    assert admin.post("/users", data={"username": "temp-mod", "role": "moderator", "password": PASSWORD,
                                      "csrf_token": token}).status_code == 200
    assert login(mod, "temp-mod", PASSWORD).headers["location"] == "/queue"
    assert mod.get("/queue").status_code == 200
    r = admin.post("/users/temp-mod/active", data={"active": "false", "csrf_token": token})
    assert r.status_code == 303
    assert mod.get("/queue").status_code == 303


def test_admin_cannot_create_a_user_with_a_short_password_or_a_bad_role(console_lake):
    admin = console_lake.client("admin")
    token = csrf_of(admin.get("/users").text)
    r = admin.post("/users", data={"username": "x-user", "role": "moderator", "password": "short", "csrf_token": token})
    assert r.status_code == 400 and "password: 12 to 1024 characters" in r.text
    r = admin.post("/users", data={"username": "x-user", "role": "root", "password": PASSWORD, "csrf_token": token})
    assert r.status_code == 400 and "role &#39;root&#39;: expected one of" in r.text


def _lake_versions(cfg) -> dict[str, int]:
    from deltalake import DeltaTable

    return {str(p.parent): DeltaTable(str(p.parent)).version() for p in Path(cfg.lake.root).rglob("_delta_log")}


@pytest.mark.parametrize("route", sorted([r for m, r in ROUTES if m == "POST"] + ["/logout"]))
@pytest.mark.parametrize("token", [None, "", "forged"], ids=["no-token", "empty-token", "forged-token"])
def test_every_post_without_a_valid_csrf_token_is_refused_and_writes_nothing(console_lake, clients, queued, route,
                                                                              token):
    role = ROUTES[("POST", route)][0] if ("POST", route) in ROUTES else "moderator"
    client = clients[role]
    before = _lake_versions(console_lake.cfg)
    form = _form(route, token or "")
    if token is None:
        del form["csrf_token"]
    path = route.replace("{account_id}", quote(queued, safe="")).replace("{username}", role)
    r = client.post(path, data=form)
    assert r.status_code == 403 and "security token is missing or expired" in r.text, r.text[:300]
    assert _lake_versions(console_lake.cfg) == before
    assert client.get(HOME[role]).status_code == 200          # still logged in (a refused logout too)
