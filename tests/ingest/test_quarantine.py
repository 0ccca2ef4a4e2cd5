"""Each kind of broken record lands in quarantine with its own reason; read = accepted + quarantined."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
from datetime import UTC, datetime
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genuine.core.lake import Lake
from genuine.core.ledger import RunLedger
from genuine.ingest import ingest
from genuine.ingest.contract import REASONS
from tests.oracles import read_delta_rs

NOW = datetime(2026, 11, 1, tzinfo=UTC)
T0 = "2026-10-01T08:00:00+08:00"
T1 = "2026-10-02T09:30:00Z"


def acc(i: str, **kw):
    return {"account_id": i, "created_at": "2026-01-01T00:00:00Z", "nickname": f"n{i}", "bio": "hi",
            "verified": False, "declared_ai_assisted": False, "region": "CN", **kw}


def post(i: str, a: str = "a1", **kw):
    return {"post_id": i, "account_id": a, "created_at": T0, "title": "t", "body": "今天天气很好",
            "client": "ios", "topics": ["life"], "media": [{"phash": "0123456789abcdef", "aigc_label": False}],
            "declared_ai": False, **kw}


def ev(i: str, **kw):
    return {"event_id": i, "actor_id": "a2", "kind": "like", "target_account_id": "a1", "target_post_id": "p1",
            "created_at": T1, "body": None, **kw}


# (entity, record or raw line, expected reason or None for valid)
CASES: list[tuple[str, object, str | None]] = [
    ("accounts", acc("a1"), None),
    ("accounts", acc("a2", verified=True), None),
    ("accounts", acc("a3"), None),
    ("accounts", acc("a1"), "duplicate_record"),
    ("accounts", acc("a4", bio="x"), "duplicate_key_conflict"),
    ("accounts", acc("a4", bio="y"), "duplicate_key_conflict"),
    ("accounts", "{not json", "malformed_json"),
    ("accounts", "[1, 2, 3]", "not_an_object"),
    ("accounts", {k: v for k, v in acc("x").items() if k != "account_id"}, "missing_key"),
    ("accounts", acc("   "), "missing_key"),
    ("accounts", acc("a5", created_at=None), "missing_field"),
    ("accounts", acc("a" * 200), "oversize_id"),
    ("accounts", acc("a6", bio="长" * 20001), "oversize_field"),
    ("accounts", acc("a7", verified="yes"), "wrong_type"),
    ("accounts", acc("a8", created_at="yesterday"), "unparseable_timestamp"),
    ("accounts", acc("a9", created_at="2026-10-01T08:00:00"), "unparseable_timestamp"),   # no offset
    ("accounts", acc("a10", created_at="1999-01-01T00:00:00Z"), "impossible_timestamp"),
    ("accounts", acc("a11", created_at="2031-01-01T00:00:00Z"), "impossible_timestamp"),
    ("accounts", acc("a12", created_at=1767225600000), None),                               # epoch ms
    ("posts", post("p1"), None),
    ("posts", post("p2", client="telepathy"), "unknown_enum"),
    ("posts", post("p3", topics="life"), "wrong_type"),
    ("posts", post("p4", media=[{"phash": "xyz", "aigc_label": True}]), "invalid_phash"),
    ("posts", post("p5", media="cat.jpg"), "wrong_type"),
    ("posts", post("p6", a="ghost"), "orphan_account"),
    ("posts", post("p7", created_at="2025-06-01T00:00:00Z"), "before_target"),
    ("interactions", ev("e1"), None),
    ("interactions", ev("e2", kind="follow", target_post_id=None), None),
    ("interactions", ev("e3", target_post_id=None), "missing_target_post"),
    ("interactions", ev("e4", target_post_id="nope"), "orphan_post"),
    ("interactions", ev("e5", target_account_id="a3"), "target_mismatch"),
    # a reply: the post's author (a1) comments on its own post, answering a2 (docs/input-contract.md)
    ("interactions", ev("e9", actor_id="a1", kind="comment", target_account_id="a2", body="thanks!"), None),
    # ... but only a comment by the author is a reply
    ("interactions", ev("e10", actor_id="a1", kind="like", target_account_id="a2"), "target_mismatch"),
    ("interactions", ev("e6", created_at="2026-09-01T00:00:00Z"), "before_target"),
    ("interactions", ev("e7", kind="superlike"), "unknown_enum"),
    ("interactions", ev("e8", actor_id="ghost"), "orphan_account"),
    ("sessions", {"session_id": "s1", "account_id": "a1", "device_id": "dev-1", "ip": "10.1.2.3",
                  "started_at": T0, "client": "android"}, None),
    ("sessions", {"session_id": "s2", "account_id": "a1", "device_id": "dev-1", "ip": "999.1.1.1",
                  "started_at": T0, "client": "android"}, "invalid_ip"),
    ("sessions", {"session_id": "s3", "account_id": "a1", "device_id": "dev-1", "ip": "2001:db8::1::2",
                  "started_at": T0, "client": "android"}, "invalid_ip"),
    ("reports", {"report_id": "r1", "reporter_id": "a2", "reported_account_id": "a1", "reason": "spam",
                 "created_at": T1, "body": "bot"}, None),
    ("reports", {"report_id": "r2", "reporter_id": "a2", "reported_account_id": "a1", "reason": "rude",
                 "created_at": T1, "body": "bot"}, "unknown_enum"),
    ("labels", {"account_id": "a1", "label": "ai_managed", "source": "moderator", "decided_at": T1}, None),
    ("labels", {"account_id": "a1", "label": "robot", "source": "moderator", "decided_at": T1}, "unknown_enum"),
]


def write_export(root: Path) -> None:
    by_entity: dict[str, list[str]] = {}
    for entity, rec, _ in CASES:
        line = rec if isinstance(rec, str) else json.dumps(rec, ensure_ascii=False)
        by_entity.setdefault(entity, []).append(line)
    for entity, lines in by_entity.items():
        (root / entity).mkdir(parents=True, exist_ok=True)
        (root / entity / "part-0.jsonl").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    # invalid UTF-8 bytes inside an otherwise fine record
    (root / "accounts" / "part-1.jsonl").write_bytes(
        json.dumps(acc("a13")).replace("hi", "h\xff").encode("latin-1") + b"\n")
    # a gzip stream cut in half
    blob = gzip.compress(("\n".join(json.dumps(acc(f"z{i}")) for i in range(200)) + "\n").encode())
    (root / "accounts" / "part-2.jsonl.gz").write_bytes(blob[: len(blob) // 2])
    # an unsupported file type
    (root / "accounts" / "notes.txt").write_text("not a data file")
    # a Parquet file with epoch-ms timestamps, one valid record and one with an unknown reason code
    table = pa.table({"report_id": ["r3", "r4"], "reporter_id": ["a3", "a3"], "reported_account_id": ["a1", "a1"],
                      "reason": ["spam", "bogus"], "created_at": pa.array([1759300000000, 1759300000000], pa.int64()),
                      "body": [None, "x"]})
    pq.write_table(table, root / "reports" / "part-1.parquet")
    # ground truth folders are ignored by ingest
    (root / "_truth").mkdir()
    (root / "_truth" / "accounts.parquet").write_bytes(b"ignored")


EXTRA = {"invalid_utf8": 1, "unknown_enum": 1}   # from part-1.jsonl and part-1.parquet
FILE_LEVEL = {"truncated_file": 1, "unreadable_file": 1}


@pytest.fixture(scope="module")
def ingested(spark, cfg_factory, tmp_path_factory):
    export = tmp_path_factory.mktemp("export")
    write_export(export)
    cfg = cfg_factory()
    lake = Lake(spark, cfg)
    with RunLedger(lake, "ingest", {"dir": str(export)}) as run:
        first = ingest(lake, export, run, now=NOW)
    versions = {t: lake.version(t) for t in first.versions}
    with RunLedger(lake, "ingest", {"dir": str(export)}) as run:
        second = ingest(lake, export, run, now=NOW)
    return lake, first, second, versions


def test_every_broken_kind_has_its_own_reason(ingested):
    lake, first, _, _ = ingested
    q = read_delta_rs(lake.uri("quarantine"))
    expected: dict[str, int] = {}
    for _, _, reason in CASES:
        if reason:
            expected[reason] = expected.get(reason, 0) + 1
    for extra in (EXTRA, FILE_LEVEL):
        for reason, n in extra.items():
            expected[reason] = expected.get(reason, 0) + n
    got = q.groupby("reason").size().to_dict()
    assert got == expected
    assert len(expected) >= 20 and set(expected) <= set(REASONS)
    assert q["run_id"].notna().all() and q["source_file"].notna().all()
    assert (q[~q.reason.isin(list(FILE_LEVEL))]["raw"].notna()).all()


def test_read_equals_accepted_plus_quarantined(ingested):
    lake, first, _, _ = ingested
    for entity, c in first.entities.items():
        want_read = sum(1 for e, _, _ in CASES if e == entity) + (1 if entity == "accounts" else 0) \
            + (2 if entity == "reports" else 0)
        want_ok = sum(1 for e, _, r in CASES if e == entity and r is None) + (1 if entity == "reports" else 0)
        assert (c.read, c.accepted, c.quarantined) == (want_read, want_ok, want_read - want_ok), entity
        assert c.new == c.accepted
        assert read_delta_rs(lake.uri(f"raw_{entity}")).shape[0] == want_ok


def test_ip_and_device_never_in_clear(ingested):
    lake, *_ = ingested
    s = read_delta_rs(lake.uri("raw_sessions"))
    assert list(s.columns).count("ip") == 0 and list(s.columns).count("device_id") == 0
    key = bytes.fromhex(Path(lake.cfg.privacy.key_file).read_text().strip())
    assert s.loc[0, "ip_hash"] == hmac.new(key, b"10.1.2.3", hashlib.sha256).hexdigest()
    assert s.loc[0, "device_hash"] == hmac.new(key, b"dev-1", hashlib.sha256).hexdigest()
    assert s.loc[0, "ip_prefix_hash"] == hmac.new(key, b"10.1.2.0/24", hashlib.sha256).hexdigest()
    # neither the address nor its prefix, in any spelling, reaches any column
    cells = [str(v) for col in s.columns for v in s[col].tolist()]
    assert not [c for c in cells if "10.1.2" in c or "dev-1" in c]


def test_second_ingest_changes_no_table(ingested):
    lake, first, second, versions = ingested
    assert {t: lake.version(t) for t in first.versions} == versions
    assert all(v is None for v in second.versions.values())
    for entity, c in second.entities.items():
        assert c.new == 0 and c.accepted == first.entities[entity].accepted


def test_timestamps_are_utc(ingested):
    lake, *_ = ingested
    posts = read_delta_rs(lake.uri("raw_posts"))
    got = posts.loc[posts.post_id == "p1", "created_at"].iloc[0]
    assert got.isoformat().startswith("2026-10-01T00:00:00")   # 08:00+08:00 == 00:00 UTC
