"""Views of a simulated export shared by the signal tests (read from the export alone, as a detector would)."""

from __future__ import annotations

import re

import numpy as np
import pandas as pd

UTC_OFFSET_H = {"CN": 8, "HK": 8, "TW": 8, "SG": 8, "MY": 8, "US": -5, "GB": 0, "AU": 10, "JP": 9}
CONNECTORS = ("首先", "其次", "此外", "另外", "总之", "综上所述", "总的来说", "总而言之", "值得一提的是",
              "Firstly", "Moreover", "Furthermore", "In conclusion", "Overall", "Additionally")
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")
HOUR_MS, DAY_MS = 3_600_000, 86_400_000


def local_ms(accounts: pd.DataFrame, account_id: pd.Series, t: pd.Series) -> pd.Series:
    """Local wall-clock time (epoch ms shifted by the account's region offset)."""
    offset = accounts.set_index("account_id").region.map(UTC_OFFSET_H)
    return t + account_id.map(offset).to_numpy() * HOUR_MS


def night_share(acts: pd.DataFrame, strategy: str) -> float:
    h = acts.loc[acts.strategy == strategy, "local_hour"]
    return float(((h >= 1) & (h < 6)).mean())


def network(ip: pd.Series) -> pd.Series:
    """The /24 prefix of dotted IPv4 addresses."""
    return ip.str.rsplit(".", n=1).str[0]


def replies(export, strategy_of: pd.Series) -> pd.DataFrame:
    """Every reply (a comment by the post's author) with the comment it answers: the commenter's latest
    comment on that post before the reply. Columns: actor_id, strategy, created_at, answered_at,
    latency_s, local_hour, weekday (0 = Monday, local)."""
    inter, posts = export["interactions"], export["posts"]
    c = inter[inter.kind == "comment"].merge(posts[["post_id", "account_id"]], left_on="target_post_id",
                                             right_on="post_id")
    is_reply = c.actor_id == c.account_id
    rep, com = c[is_reply], c[~is_reply]
    m = rep[["event_id", "actor_id", "target_post_id", "target_account_id", "created_at"]].merge(
        com[["target_post_id", "actor_id", "created_at"]].rename(columns={"actor_id": "target_account_id",
                                                                          "created_at": "answered_at"}),
        on=["target_post_id", "target_account_id"])
    m = m[m.answered_at < m.created_at].sort_values("answered_at").groupby("event_id").last().reset_index()
    m["latency_s"] = (m.created_at - m.answered_at) / 1000
    m["strategy"] = m.actor_id.map(strategy_of)
    local = local_ms(export["accounts"], m.actor_id, m.created_at)
    m["local_hour"] = (local // HOUR_MS) % 24
    m["weekday"] = (local // DAY_MS + 3) % 7
    return m


def sessions_by_account(export, strategy_of: pd.Series) -> pd.DataFrame:
    s = export["sessions"].assign(strategy=lambda d: d.account_id.map(strategy_of),
                                  net=lambda d: network(d.ip))
    return s.sort_values(["account_id", "started_at"], kind="stable")


def gap_cv(t: pd.Series, by: pd.Series) -> pd.Series:
    gaps = t.groupby(by).diff()
    g = gaps.groupby(by)
    return (g.std() / g.mean()).replace([np.inf], np.nan).dropna()
