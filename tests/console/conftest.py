"""The console's test lake: a copy of the enforced lake of tests/enforcement (real scores, queue, statuses
and statements from the real jobs), with one console user per role; and a logged-in TestClient."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pytest
from deltalake import DeltaTable
from fastapi.testclient import TestClient

from genuine.console.app import create_app
from genuine.console.users import ROLES, Users
from genuine.core.lake import Lake
from tests.oracles import read_delta_rs

PASSWORD = "correct horse battery staple"
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


def csrf_of(html: str) -> str:
    m = _CSRF.search(html)
    assert m, "no CSRF token in the page"
    return m.group(1)


@dataclass
class ConsoleLake:
    cfg: Any
    inputs: Any
    spark: Any

    @property
    def lake(self) -> Lake:
        return Lake(self.spark, self.cfg)

    def client(self, role: str | None = None, **kwargs: Any) -> TestClient:
        """A client of a fresh app on this lake, logged in as the user of `role` (None: not logged in)."""
        c = TestClient(create_app(self.cfg, self.spark), raise_server_exceptions=False, follow_redirects=False,
                       **kwargs)
        if role is not None:
            login(c, role, PASSWORD)
        return c


def login(c: TestClient, username: str, password: str):
    token = csrf_of(c.get("/login").text)
    r = c.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"})
    return r


def make_console_lake(spark, enforced_copy) -> ConsoleLake:
    cfg, inputs = enforced_copy()
    users = Users(Lake(spark, cfg))
    for role in ROLES:
        users.add(role, role, PASSWORD, created_by="test")   # the username is the role
    return ConsoleLake(cfg, inputs, spark)


@pytest.fixture(scope="module")
def console_lake(spark, enforced_copy) -> ConsoleLake:
    """One lake per test module: the decisions of one module never show in another."""
    return make_console_lake(spark, enforced_copy)


def table(cfg, name: str) -> pd.DataFrame:
    return read_delta_rs(cfg.table(name))


def open_queue(cfg) -> pd.DataFrame:
    """The oracle of the open queue: the latest run's items without a review decision recorded after them."""
    rq = table(cfg, "review_queue")
    rq = rq[rq.scoring_run_id == rq.sort_values("enqueued_at").scoring_run_id.iloc[-1]]
    if not DeltaTable.is_deltatable(cfg.table("decisions")):
        return rq.sort_values("queue_rank")
    dec = table(cfg, "decisions")
    dec = dec[dec.kind == "review"]
    closed = rq.merge(dec[["account_id", "imported_at"]], on="account_id")
    closed = set(closed[closed.imported_at >= closed.enqueued_at].queue_id)
    return rq[~rq.queue_id.isin(closed)].sort_values("queue_rank")
