"""Report features against a loop-based oracle, and their point-in-time correctness."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from genuine.core.schemas import RAW_ACCOUNTS, RAW_LABELS, RAW_REPORTS
from genuine.features.reports import (
    FEATURES,
    RELIABILITY_SCHEMA,
    REPORTS_SCHEMA,
    ReportsConfig,
    report_features,
    reporter_reliability,
)

AS_OF = datetime(2026, 10, 20, tzinfo=UTC)
BEFORE = AS_OF - timedelta(days=3)
AFTER = AS_OF + timedelta(hours=1)


def _rows(schema, records: list[dict]) -> list[tuple]:
    return [tuple(r.get(f.name) for f in schema.fields) for r in records]


def _data() -> tuple[list[dict], list[dict], list[dict]]:
    accounts = [{"account_id": a} for a in ["t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "r1", "r2", "r3",
                                             "r4", "r5", "quiet"]]
    labels = [
        {"account_id": "t1", "label": "ai_managed", "source": "moderator", "decided_at": BEFORE},
        {"account_id": "t2", "label": "human", "source": "moderator", "decided_at": BEFORE},
        {"account_id": "t3", "label": "ai_managed", "source": "moderator", "decided_at": BEFORE - timedelta(days=2)},
        {"account_id": "t3", "label": "human", "source": "appeal", "decided_at": BEFORE},  # latest wins
        {"account_id": "t4", "label": "ai_managed", "source": "moderator", "decided_at": AFTER},  # not yet known
        {"account_id": "t5", "label": "ai_managed", "source": "moderator", "decided_at": BEFORE},
        {"account_id": "t5", "label": "human", "source": "moderator", "decided_at": BEFORE},  # tie: human
        {"account_id": "t7", "label": "ai_managed", "source": "import", "decided_at": BEFORE},
        {"account_id": "t8", "label": "ai_managed", "source": "moderator", "decided_at": AS_OF},  # at as_of: known
        {"account_id": "r2", "label": "human", "source": "moderator", "decided_at": BEFORE},
    ]
    reports: list[dict] = []

    def rep(reporter: str | None, target: str, ts: datetime = BEFORE - timedelta(days=10)) -> None:
        reports.append({"report_id": f"x{len(reports)}", "reporter_id": reporter, "reported_account_id": target,
                        "reason": "ai_generated", "created_at": ts})

    for t in ["t1", "t1", "t3", "t8", "t6", "t7"]:
        rep("r1", t)
    for t in ["t2", "t5", "t1", "r2"]:
        rep("r2", t)
    rep("r3", "t6")  # a new reporter: nothing decided yet
    rep("r4", "t4")
    rep("r4", "t1")
    rep("r4", "t2", AFTER)  # filed after the snapshot: ignored
    rep(None, "t6")  # anonymous: counted, but no reporter to weigh
    rep("r5", "t8", AS_OF)
    rep("r5", "ghost")  # not an account of the snapshot
    rep("t1", "t1")  # self-report
    return accounts, reports, labels


# --- the oracle ----------------------------------------------------------------------------------------

def _verdicts(labels: list[dict], cfg: ReportsConfig) -> dict[str, str]:
    best: dict[str, tuple] = {}
    for lab in labels:
        if lab["decided_at"] > AS_OF or lab["label"] not in (cfg.upheld_label, cfg.rejected_label):
            continue
        if cfg.decision_sources is not None and lab["source"] not in cfg.decision_sources:
            continue
        key = (lab["decided_at"], lab["label"] == cfg.rejected_label)  # later wins; on a tie, the rejection
        if lab["account_id"] not in best or key > best[lab["account_id"]][0]:
            best[lab["account_id"]] = (key, lab["label"])
    return {a: v for a, (_, v) in best.items()}


def _oracle_pairs(reports: list[dict], labels: list[dict], cfg: ReportsConfig) -> dict[tuple[str, str], tuple]:
    verdict = _verdicts(labels, cfg)
    pairs = {(r["reporter_id"], r["reported_account_id"]) for r in reports
             if r["created_at"] <= AS_OF and r["reporter_id"] is not None}
    return {p: (int(p[1] in verdict), int(verdict.get(p[1]) == cfg.upheld_label)) for p in pairs}


def _oracle_reliability(reports, labels, cfg: ReportsConfig) -> pd.DataFrame:
    pairs = _oracle_pairs(reports, labels, cfg)
    rows = []
    for reporter in sorted({r for r, _ in pairs}):
        dec = sum(d for (r, _), (d, _u) in pairs.items() if r == reporter)
        up = sum(u for (r, _), (_d, u) in pairs.items() if r == reporter)
        rows.append({"reporter_id": reporter, "reports_decided": dec, "reports_upheld": up,
                     "reliability": (up + cfg.prior_upheld) / (dec + cfg.prior_upheld + cfg.prior_rejected)})
    return pd.DataFrame(rows)


def _oracle(accounts, reports, labels, cfg: ReportsConfig) -> pd.DataFrame:
    pairs = _oracle_pairs(reports, labels, cfg)
    rows = []
    for a in accounts:
        aid = a["account_id"]
        mine = [r for r in reports if r["reported_account_id"] == aid and r["created_at"] <= AS_OF]
        reporters = sorted({r["reporter_id"] for r in mine if r["reporter_id"] is not None})
        rel = []
        for reporter in reporters:
            dec = up = 0
            for (r, target), (d, u) in pairs.items():
                if r == reporter and not (cfg.leave_target_out and target == aid):
                    dec, up = dec + d, up + u
            rel.append((up + cfg.prior_upheld) / (dec + cfg.prior_upheld + cfg.prior_rejected))
        rows.append({"account_id": aid, "reports_received": len(mine), "reporters_distinct": len(reporters),
                     "report_score": float(sum(rel)), "reporter_reliability_mean": float(np.mean(rel)) if rel else None})
    out = pd.DataFrame(rows)
    out["reporter_reliability_mean"] = out["reporter_reliability_mean"].astype("float64")
    return out.sort_values("account_id").reset_index(drop=True)


# --- tests ---------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def data():
    return _data()


def _frames(spark, accounts, reports, labels):
    return (spark.createDataFrame(_rows(RAW_ACCOUNTS, accounts), RAW_ACCOUNTS),
            spark.createDataFrame(_rows(RAW_REPORTS, reports), RAW_REPORTS),
            spark.createDataFrame(_rows(RAW_LABELS, labels), RAW_LABELS))


def _run(spark, data, rcfg: ReportsConfig) -> pd.DataFrame:
    out = report_features(*_frames(spark, *data), AS_OF, rcfg)
    assert out.columns == ["account_id"] + [f.name for f in FEATURES]
    assert out.schema == REPORTS_SCHEMA
    assert [f.dataType for f in out.schema.fields[1:]] == [f.dtype for f in FEATURES]
    return out.toPandas().sort_values("account_id").reset_index(drop=True)


def _base(cfg) -> ReportsConfig:
    return ReportsConfig.model_validate(cfg.features["reports"])


@pytest.fixture(scope="module")
def with_defaults(spark, data, cfg) -> pd.DataFrame:
    return _run(spark, data, _base(cfg))


VARIANTS = {
    "no-leave-out": {"leave_target_out": False, "prior_upheld": 2.0, "prior_rejected": 3.0},
    "moderator-only": {"decision_sources": ["moderator"], "prior_upheld": 0.5, "prior_rejected": 0.5},
}


def test_matches_oracle_with_shipped_config(with_defaults, data, cfg):
    pd.testing.assert_frame_equal(with_defaults, _oracle(*data, _base(cfg)), check_exact=False, rtol=1e-12)


@pytest.mark.parametrize("variant", list(VARIANTS))
def test_matches_oracle_with_variants(spark, data, cfg, variant):
    rcfg = _base(cfg).model_copy(update=VARIANTS[variant])
    pd.testing.assert_frame_equal(_run(spark, data, rcfg), _oracle(*data, rcfg), check_exact=False, rtol=1e-12)


def test_reporter_reliability_matches_oracle(spark, data, cfg):
    accounts, reports, labels = data
    _, rep_df, lab_df = _frames(spark, *data)
    out = reporter_reliability(rep_df, lab_df, AS_OF, _base(cfg))
    assert out.schema == RELIABILITY_SCHEMA
    got = out.toPandas().sort_values("reporter_id").reset_index(drop=True)
    pd.testing.assert_frame_equal(got, _oracle_reliability(reports, labels, _base(cfg)), check_exact=False,
                                  rtol=1e-12)


def test_known_values(with_defaults):
    got = with_defaults.set_index("account_id")
    # t6: reported by r1, r3 and one anonymous reporter. r1's other decided reports: t1 upheld (reported
    # twice, counted once), t3 rejected (latest decision), t7 upheld, t8 upheld (decided exactly at as_of)
    # -> (3+1)/(4+2); r3 is new -> the prior mean 1/2.
    assert got.loc["t6", "reports_received"] == 3 and got.loc["t6", "reporters_distinct"] == 2
    assert got.loc["t6", "report_score"] == pytest.approx(4 / 6 + 0.5)
    assert got.loc["t6", "reporter_reliability_mean"] == pytest.approx((4 / 6 + 0.5) / 2)
    assert got.loc["quiet", "reports_received"] == 0 and got.loc["quiet", "report_score"] == 0.0
    assert np.isnan(got.loc["quiet", "reporter_reliability_mean"])
    assert "ghost" not in got.index


def test_point_in_time(spark, data, with_defaults, cfg):
    """A decision or a report after as_of changes nothing; the same decision before as_of does."""
    accounts, reports, labels = data
    late_label = {"account_id": "t6", "label": "ai_managed", "source": "moderator", "decided_at": AFTER}
    late_report = {"report_id": "late", "reporter_id": "r3", "reported_account_id": "t2", "reason": "spam",
                   "created_at": AFTER}
    later = _run(spark, (accounts, reports + [late_report], labels + [late_label]), _base(cfg))
    pd.testing.assert_frame_equal(later, with_defaults)

    early_label = dict(late_label, decided_at=BEFORE)
    earlier = _run(spark, (accounts, reports, labels + [early_label]), _base(cfg)).set_index("account_id")
    # r1 now has t6 upheld too; t1 is reported by r1, whose reliability rises from 3/5 to 4/6
    assert earlier.loc["t1", "report_score"] != pytest.approx(with_defaults.set_index("account_id").loc["t1",
                                                                                                          "report_score"])


def test_config_rejects_bad_values():
    with pytest.raises(ValueError):
        ReportsConfig(prior_upheld=0)
    with pytest.raises(ValueError):
        ReportsConfig(typo=1)
