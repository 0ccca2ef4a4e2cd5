"""`genuine console add-user` (password from stdin, never an argument; refusals before Spark starts), the
console's config checks, and the pieces without a lake: the activity chart and the redirect guard."""

from __future__ import annotations

import re
from datetime import date

import pytest
from typer.testing import CliRunner

from genuine.cli.app import app
from genuine.console.app import _safe_next
from genuine.console.chart import activity_svg
from genuine.console.config import console_config
from genuine.console.data import Profile
from genuine.console.users import Users
from genuine.core.config import load_config
from genuine.core.errors import ConfigError
from genuine.core.lake import Lake
from tests.console.conftest import PASSWORD


def _cli(cfg, *args: str, stdin: str = ""):
    sets = [f"lake.root={cfg.lake.root}", f"lake.engine={cfg.lake.engine}", f"privacy.key_file={cfg.privacy.key_file}"]
    opts = ["--env", "test", *[x for s in sets for x in ("--set", s)]]
    return CliRunner().invoke(app, [*args, *opts], input=stdin, catch_exceptions=False)


def test_add_user_reads_the_password_from_stdin_and_refuses_bad_input(spark, cfg_factory):
    cfg = cfg_factory()
    r = _cli(cfg, "console", "add-user", "first-admin", "--role", "admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert r.exit_code == 0, r.output
    assert "console user first-admin (admin) created" in r.output
    users = Users(Lake(spark, cfg))
    assert users.authenticate("first-admin", PASSWORD).role == "admin"
    assert users.authenticate("first-admin", PASSWORD + "x") is None
    stored = users._rows("first-admin")[0]["password_hash"]
    assert stored.startswith("$argon2id$") and PASSWORD not in stored

    for args, stdin, message in [
        (("first-admin", "--role", "admin"), PASSWORD, "already exists"),
        (("second", "--role", "admin"), "", "password: 12 to 1024 characters"),
        (("second", "--role", "superuser"), PASSWORD, "role 'superuser'"),
        (("Bad Name", "--role", "admin"), PASSWORD, "username 'Bad Name'"),
    ]:
        r = _cli(cfg, "console", "add-user", *args, "--password-stdin", stdin=stdin + "\n")
        assert r.exit_code == 2 and message in r.output, r.output
    assert [u.username for u in users.all()] == ["first-admin"]


def test_console_config_is_checked(tmp_path, monkeypatch):
    with pytest.raises(ConfigError, match="login_rate_limit"):
        console_config(load_config("test", ["console.login_rate_limit=lots"]))
    with pytest.raises(ConfigError, match="console.nope"):
        console_config(load_config("test", ["console.nope=1"]))
    c = console_config(load_config("local"))
    assert (c.host, c.port) == ("127.0.0.1", 8450)
    assert console_config(load_config("cluster")).create_key_if_missing is False


def test_activity_chart_draws_the_account_against_the_humans():
    mine = Profile([1.0 if h == 3 else 0.0 for h in range(24)], [(date(2026, 10, 1), 5.0)], 5)
    humans = Profile([1 / 24] * 24, [(date(2026, 10, 1), 2.0), (date(2026, 10, 2), 1.0)], 100)
    by_hour, by_day = activity_svg({"account": mine, "humans": humans})
    assert by_hour.count('class="acct"') == 24 and by_hour.count('class="human"') == 1
    heights = [float(h) for h in re.findall(r'class="acct" x="[^"]+" y="[^"]+" width="[^"]+" height="([^"]+)"', by_hour)]
    assert heights[3] == max(heights) and sum(1 for h in heights if h > 0) == 1
    assert by_day.count('class="acct"') == 2           # both days of the union, the account's second is 0
    assert activity_svg(None) == ("", "")
    assert "<script" not in by_hour + by_day


@pytest.mark.parametrize(("target", "safe"), [("/queue", "/queue"), ("//evil.example", "/"),
                                              ("https://evil.example", "/"), ("/\\evil", "/"), ("", "/")])
def test_login_redirects_only_inside_the_site(target, safe):
    assert _safe_next(target) == safe
