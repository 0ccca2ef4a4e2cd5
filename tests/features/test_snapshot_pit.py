"""Point in time, over all four families at once: a snapshot as of D computed on inputs that contain
later events, reports, labels and post scores equals the snapshot computed on the same inputs cut to
<= D beforehand (by pyarrow, not by the code under test). The inputs carry adversarial rows one
microsecond after the end of D (and rows exactly at it, which both sides must keep)."""

from __future__ import annotations

from datetime import date, timedelta

import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from genuine.core.lake.arrow import read_arrow
from genuine.core.schemas import RAW_SCHEMAS, RAW_TABLE
from genuine.features.catalog import FEATURE_TABLE
from genuine.features.snapshot import FamilyConfigs, FeaturesConfig, Inputs, build_snapshot, end_of_day

TS = {"accounts": "created_at", "posts": "created_at", "interactions": "created_at", "sessions": "started_at",
      "reports": "created_at", "labels": "decided_at"}
ONE_US = timedelta(microseconds=1)


def _arrow(uri: str) -> pa.Table:
    return read_arrow(uri)


def _shifted(t: pa.Table, n: int, id_col: str, suffix: str, ts_col: str, ts) -> pa.Table:  # noqa: ANN001
    """n rows of `t` as new records (fresh ids) stamped at `ts`."""
    part = t.slice(0, n)
    part = part.set_column(part.schema.get_field_index(id_col), id_col,
                           pc.binary_join_element_wise(part[id_col], pa.scalar(suffix), ""))
    stamp = pa.array([ts] * len(part), type=part.schema.field(ts_col).type)
    return part.set_column(part.schema.get_field_index(ts_col), ts_col, stamp)


def _scores(posts: pa.Table) -> pa.Table:
    """A deterministic p_ai for every post, future posts included (stands in for the text detector)."""
    ids = posts["post_id"].to_pylist()
    return pa.table({"post_id": ids, "account_id": posts["account_id"],
                     "p_ai": [(sum(map(ord, i)) % 97) / 96 for i in ids]})


def _frame(spark, table: pa.Table, schema, path):  # noqa: ANN001
    pq.write_table(table, path)
    return spark.read.schema(schema).parquet(str(path))


@pytest.mark.slow
def test_snapshot_as_of_d_ignores_everything_after_d(spark, tiny_lake, tmp_path):
    cfg = tiny_lake.cfg
    start = date.fromisoformat(cfg.simulate.start_date)
    day = start + timedelta(days=3)
    as_of = end_of_day(day)
    after = as_of + ONE_US

    full = {e: _arrow(cfg.table(RAW_TABLE[e])) for e in RAW_SCHEMAS}
    # adversarial rows: at the boundary (kept) and one microsecond later (must be ignored)
    full["interactions"] = pa.concat_tables([
        full["interactions"], _shifted(full["interactions"], 40, "event_id", "-eq", "created_at", as_of),
        _shifted(full["interactions"], 40, "event_id", "-late", "created_at", after)])
    full["posts"] = pa.concat_tables([full["posts"], _shifted(full["posts"], 20, "post_id", "-late", "created_at", after)])
    full["reports"] = pa.concat_tables([full["reports"],
                                        _shifted(full["reports"], 30, "report_id", "-late", "created_at", after)])
    flipped = full["labels"].set_column(
        full["labels"].schema.get_field_index("label"), "label",
        pc.if_else(pc.equal(full["labels"]["label"], "human"), "ai_managed", "human"))
    full["labels"] = pa.concat_tables([full["labels"], _shifted(flipped, len(flipped), "account_id", "", "decided_at",
                                                                after)])
    full["sessions"] = pa.concat_tables([full["sessions"],
                                         _shifted(full["sessions"], 20, "session_id", "-late", "started_at", after)])

    def keep(e: str, t: pa.Table) -> pa.Table:
        ok = pc.less_equal(t[TS[e]], pa.scalar(as_of, type=t.schema.field(TS[e]).type))
        if e == "accounts":
            ok = pc.or_kleene(ok, pc.is_null(t[TS[e]]))
        return t.filter(ok)

    pre = {e: keep(e, t) for e, t in full.items()}
    # the comparison is not vacuous: every input holds rows after D that the cut must drop
    for e in ("posts", "interactions", "sessions", "reports", "labels"):
        assert pre[e].num_rows < full[e].num_rows, e

    def inputs(tables: dict[str, pa.Table], tag: str) -> Inputs:
        frames = {e: _frame(spark, t, RAW_SCHEMAS[e], tmp_path / f"{tag}_{e}.parquet") for e, t in tables.items()}
        scores = _frame(spark, _scores(tables["posts"]), "post_id string, account_id string, p_ai double",
                        tmp_path / f"{tag}_scores.parquet")
        return Inputs(frames["accounts"], frames["posts"], frames["interactions"], frames["sessions"],
                      frames["reports"], frames["labels"], scores)

    cfgs = FamilyConfigs.of(cfg.section("features", FeaturesConfig))
    versions = {"raw_posts": 1}
    got = build_snapshot(inputs(full, "full"), day, cfgs, versions, "pit").toPandas()
    want = build_snapshot(inputs(pre, "pre"), day, cfgs, versions, "pit").toPandas()

    key = "account_id"
    got = got.sort_values(key).reset_index(drop=True)
    want = want.sort_values(key).reset_index(drop=True)
    assert list(got.columns) == FEATURE_TABLE.fieldNames()
    assert len(got) == pre["accounts"].num_rows
    pd.testing.assert_frame_equal(got, want, check_exact=False, rtol=1e-9, atol=1e-12)

    # an independent count of what D allows: events (posts + interactions, boundary rows included)
    ev = pd.concat([pre["posts"].select(["account_id"]).to_pandas(),
                    pre["interactions"].select(["actor_id"]).to_pandas().rename(columns={"actor_id": "account_id"})])
    counts = ev.groupby("account_id").size()
    assert got.set_index(key).events_total.to_dict() == {a: int(counts.get(a, 0)) for a in got[key]}
    # ...and the AI-text mean uses only posts up to D
    s = _scores(pre["posts"]).to_pandas().groupby("account_id").p_ai.mean()
    mean = got.set_index(key).ai_text_p_mean.dropna()
    pd.testing.assert_series_equal(mean.sort_index(), s.reindex(mean.index).sort_index(), check_names=False,
                                   rtol=1e-12)
    assert len(mean) == len(s)
