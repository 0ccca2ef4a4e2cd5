"""Each kind of broken record lands in quarantine with its own reason; read = accepted + quarantined; the
quarantine shows each record as it arrived, with its personal identifiers hashed; valid evidence (BOM,
open report reasons, replies) is accepted."""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import re
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from genuine.core.lake import Lake
from genuine.core.ledger import RunLedger
from genuine.ingest import ingest
from genuine.ingest.contract import REASONS
from tests.oracles import read_delta_rs, sorted_frame

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


def sess(i: str, **kw):
    return {"session_id": i, "account_id": "a1", "device_id": "dev-7f3a9c01", "ip": "10.1.2.3", "started_at": T0,
            "client": "android", **kw}


def rep(i: str, reason: str, **kw):
    return {"report_id": i, "reporter_id": "a2", "reported_account_id": "a1", "reason": reason, "created_at": T1,
            "body": "bot", **kw}


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
    ("accounts", acc("a15", verified="true"), "wrong_type"),               # a string "true" for a boolean
    ("accounts", acc("a16", nickname={"zh": "小红"}), "wrong_type"),        # an object for a string
    ("accounts", acc("a17", region=["CN"]), "wrong_type"),                 # a list for a string
    ("accounts", acc("a18", bio=True), "wrong_type"),                      # a boolean for a string
    ("accounts", acc("a19", bio="true", nickname="{not an object}"), None),  # strings that only look odd
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
    ("posts", post("p8", topics=["life", 1]), "wrong_type"),               # a list with an element of another type
    ("posts", post("p9", media={"phash": "0123456789abcdef", "aigc_label": False}), "wrong_type"),  # one object
    ("posts", post("p10", media=[{"phash": "0123456789abcdef", "aigc_label": "yes"}]), "wrong_type"),
    ("posts", post("p11", topics=["2026", "[draft]"]), None),              # suspect-looking strings are fine
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
    ("sessions", sess("s1"), None),
    ("sessions", sess("s2", ip="999.1.1.1", device_id="dev-2b44e1d7"), "invalid_ip"),
    ("sessions", sess("s3", ip="2001:db8::1::2", device_id="dev-3c55f2e8"), "invalid_ip"),
    # broken sessions of every kind carry an address and a device id: none may reach a table in clear
    ("sessions", sess("s4", ip="10.4.4.4", device_id="dev-4d66a3f9", client="fax"), "unknown_enum"),
    ("sessions", sess("s5", ip="10.5.5.5", device_id="dev-5e77b4a0", client=None), "missing_field"),
    ("sessions", sess("s6", ip={"v4": "10.6.6.6"}, device_id="dev-6f88c5b1"), "wrong_type"),
    ("sessions", sess("s7", ip="10.7.7.7", device_id="dev-7a99d6c2", account_id="ghost"), "orphan_account"),
    ("sessions", sess("s8", ip="10.8.8.8", device_id="dev-8baae7d3"), "duplicate_key_conflict"),
    ("sessions", sess("s8", ip="10.8.8.9", device_id="dev-8baae7d3"), "duplicate_key_conflict"),
    ("sessions", sess("s9", ip="10.9.9.9", device_id="dev-9cbbf8e4", started_at="soon"), "unparseable_timestamp"),
    ("sessions", '{"session_id": "s10", "account_id": "a1", "device_id": "dev-0dcc09f5", "ip": "10.10.10.10", "st',
     "malformed_json"),
    # report reasons are an open vocabulary: kept as sent, mapped to a category, never refused
    ("reports", rep("r1", "spam"), None),
    ("reports", rep("r2", "rude"), None),
    ("reports", rep("r5", "  垃圾广告 "), None),
    ("reports", rep("r6", "Impersonation"), None),
    ("labels", {"account_id": "a1", "label": "ai_managed", "source": "moderator", "decided_at": T1}, None),
    ("labels", {"account_id": "a1", "label": "robot", "source": "moderator", "decided_at": T1}, "unknown_enum"),
]


# (report_id, raw reason as stored, category) of every accepted report
REPORT_CATEGORIES = [("r1", "spam", "spam"), ("r2", "rude", "other"), ("r5", "  垃圾广告 ", "spam"),
                     ("r6", "Impersonation", "fake_account"), ("r3", "spam", "spam"), ("r4", "bogus", "other")]
# a Parquet file of sessions: one valid, one orphan (fails after the narrow stage), one with a bad client
PARQUET_SESSIONS = [sess("s20", ip="10.20.20.20", device_id="dev-20aa"),
                    sess("s21", ip="10.21.21.21", device_id="dev-21bb", account_id="ghost"),
                    sess("s22", ip="10.22.22.22", device_id="dev-22cc", client="fax")]
PARQUET_SESSION_REASONS = [None, "orphan_account", "unknown_enum"]


def pii_values() -> set[str]:
    """Every IP address and device id the export holds, as written."""
    out: set[str] = set()
    records = [r for _, r, _ in CASES if isinstance(r, dict)] + PARQUET_SESSIONS
    for r in records:
        for k in ("ip", "device_id"):
            v = r.get(k)
            if isinstance(v, dict):
                out.update(v.values())
            elif v:
                out.add(v)
    out.update(["10.10.10.10", "dev-0dcc09f5"])   # in the cut line
    return out


def write_export(root: Path) -> None:
    by_entity: dict[str, list[str]] = {}
    for entity, rec, _ in CASES:
        line = rec if isinstance(rec, str) else json.dumps(rec, ensure_ascii=False)
        by_entity.setdefault(entity, []).append(line)
    for entity, lines in by_entity.items():
        (root / entity).mkdir(parents=True, exist_ok=True)
        (root / entity / "part-0.jsonl").write_text("\n".join(lines) + "\n\n", encoding="utf-8")
    # a UTF-8 byte-order mark at the start of a file: its first record is valid
    (root / "accounts" / "part-3.jsonl").write_bytes(b"\xef\xbb\xbf" + json.dumps(acc("a14")).encode() + b"\n")
    # a Parquet file whose declared_ai column is text ("true"): wrong_type where a value is present
    pq.write_table(pa.table({"post_id": ["p20", "p21"], "account_id": ["a1", "a1"],
                             "created_at": pa.array([1769300000000, 1769300000000], pa.int64()),
                             "client": ["ios", "ios"], "declared_ai": ["true", None]}),
                   root / "posts" / "part-1.parquet")
    pq.write_table(pa.Table.from_pylist(PARQUET_SESSIONS), root / "sessions" / "part-1.parquet")
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


EXTRA = {"invalid_utf8": 1, "wrong_type": 1, "orphan_account": 1, "unknown_enum": 1}   # the extra files
EXTRA_READ = {"accounts": 2, "posts": 2, "sessions": 3, "reports": 2}
EXTRA_OK = {"accounts": 1, "posts": 1, "sessions": 1, "reports": 2}
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
        want_read = sum(1 for e, _, _ in CASES if e == entity) + EXTRA_READ.get(entity, 0)
        want_ok = sum(1 for e, _, r in CASES if e == entity and r is None) + EXTRA_OK.get(entity, 0)
        assert (c.read, c.accepted, c.quarantined) == (want_read, want_ok, want_read - want_ok), entity
        assert c.new == c.accepted
        assert read_delta_rs(lake.uri(f"raw_{entity}")).shape[0] == want_ok


def test_ip_and_device_never_in_clear(ingested):
    lake, *_ = ingested
    s = read_delta_rs(lake.uri("raw_sessions"))
    assert list(s.columns).count("ip") == 0 and list(s.columns).count("device_id") == 0
    key = bytes.fromhex(Path(lake.cfg.privacy.key_file).read_text().strip())
    s1 = s[s.session_id == "s1"].iloc[0]
    assert s1["ip_hash"] == hmac.new(key, b"10.1.2.3", hashlib.sha256).hexdigest()
    assert s1["device_hash"] == hmac.new(key, b"dev-7f3a9c01", hashlib.sha256).hexdigest()
    assert s1["ip_prefix_hash"] == hmac.new(key, b"10.1.2.0/24", hashlib.sha256).hexdigest()


def delta_tables(root: Path) -> list[Path]:
    return sorted(p.parent for p in root.rglob("_delta_log"))


def test_no_ip_or_device_id_in_any_table(ingested):
    """Every column of every table of the lake (raw, quarantine, run ledger) is free of the export's
    addresses, their /24 prefixes and device ids, after ingesting broken records that carry them."""
    lake, *_ = ingested
    tables = delta_tables(Path(lake.cfg.lake.root))
    assert {t.name for t in tables} >= {"quarantine", "sessions", "runs"}
    secrets = pii_values()
    secrets |= {v.rsplit(".", 1)[0] + "." for v in secrets if re.fullmatch(r"\d+\.\d+\.\d+\.\d+", v)}
    leaks = []
    for t in tables:
        frame = read_delta_rs(str(t))
        for col in frame.columns:
            for cell in frame[col].astype(str):
                leaks += [(t.name, col, x) for x in secrets if x in cell]
    assert leaks == []


def scrubbed(line: str, key: bytes) -> str:
    """The oracle of the quarantine's raw text: the line as written, the value of each ip / device_id
    replaced by the HMAC of the value (plain Python: json + hmac)."""
    def repl(m: re.Match) -> str:
        token = m.group(2)
        if token.startswith('"'):
            text = json.loads(token).strip()
        elif token.startswith(("{", "[")):   # as Spark's parse renders a non-string value: compact JSON
            text = json.dumps(json.loads(token), separators=(",", ":"), ensure_ascii=False)
        else:
            text = token
        return f'{m.group(1)}"{hmac.new(key, text.encode(), hashlib.sha256).hexdigest()}"'
    return re.sub(r'("(?:ip|device_id)"\s*:\s*)("(?:[^"\\]|\\.)*"|\{[^{}]*\}|[^\s,}\]]+)', repl, line)


def test_quarantine_holds_each_record_as_it_arrived(ingested):
    """The JSON Lines part of the quarantine == (entity, reason, raw) of every broken case, raw being the
    written line with its identifiers hashed; the Parquet rows are rendered with theirs hashed too."""
    lake, *_ = ingested
    key = bytes.fromhex(Path(lake.cfg.privacy.key_file).read_text().strip())
    q = read_delta_rs(lake.uri("quarantine"))
    json_part = q[q.source_file.str.endswith("part-0.jsonl")][["entity", "reason", "raw"]]
    want = pd.DataFrame([(e, r, scrubbed(rec if isinstance(rec, str) else json.dumps(rec, ensure_ascii=False), key))
                         for e, rec, r in CASES if r], columns=["entity", "reason", "raw"])
    pd.testing.assert_frame_equal(sorted_frame(json_part, ["entity", "reason", "raw"]),
                                  sorted_frame(want, ["entity", "reason", "raw"]))
    pq_part = q[q.source_file == "sessions/part-1.parquet"].sort_values("record_no")
    want_pq = []
    for i, (rec, reason) in enumerate(zip(PARQUET_SESSIONS, PARQUET_SESSION_REASONS, strict=True)):
        if reason:
            shown = {k: hmac.new(key, v.encode(), hashlib.sha256).hexdigest() if k in ("ip", "device_id") else v
                     for k, v in rec.items()}
            want_pq.append((i, reason, shown))
    got_pq = [(int(r.record_no), r.reason, json.loads(r.raw)) for r in pq_part.itertuples()]
    assert got_pq == want_pq


def test_report_reasons_are_kept_and_categorised(ingested):
    lake, *_ = ingested
    got = read_delta_rs(lake.uri("raw_reports"))[["report_id", "reason", "reason_category"]]
    want = pd.DataFrame(REPORT_CATEGORIES, columns=["report_id", "reason", "reason_category"])
    pd.testing.assert_frame_equal(sorted_frame(got, ["report_id"]), sorted_frame(want, ["report_id"]))


def test_bom_and_wrong_types(ingested):
    """The record after a byte-order mark is accepted; every wrong type names its field."""
    lake, *_ = ingested
    accounts = set(read_delta_rs(lake.uri("raw_accounts")).account_id)
    assert "a14" in accounts and "a19" in accounts
    q = read_delta_rs(lake.uri("quarantine"))
    fields = sorted(d.split(":")[0] for d in q[q.reason == "wrong_type"].detail)
    assert fields == sorted(["verified", "verified", "nickname", "region", "bio", "topics", "topics", "media",
                             "media", "media", "ip", "declared_ai"])


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
