"""`genuine review import FILE` and `genuine appeal import FILE`: human decisions in, status, action log
and training labels out. Both go through one path; only the field name and allowed values differ.

Every line ends up somewhere: applied, recorded as not applied (with why), or rejected (with why).
Ids are hashes of content, so importing the same file twice adds nothing.
"""

from __future__ import annotations

import csv
import io
import json
import logging
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Literal

from pyspark.sql import Column, DataFrame, SparkSession, Window
from pyspark.sql import functions as F

from genuine.core.config import Config
from genuine.core.schemas import ACCOUNT_STATUS, ACTION_LOG, DECISIONS, QUARANTINE, RAW_LABELS
from genuine.enforcement._cols import conform, reason_codes, require, strings
from genuine.enforcement.config import EnforcementConfig, enforcement_config
from genuine.enforcement.ids import stable_id
from genuine.enforcement.schemas import (
    IMPORT_RAW,
    RESTRICTED_STATUSES,
    SOURCE_APPEAL,
    SOURCE_MODERATOR,
    SOURCE_POLICY,
    STATUS_CLEARED,
    STATUS_CONFIRMED,
    STATUS_NONE,
    STATUS_RESTORED,
    STATUS_UPHELD,
)

log = logging.getLogger(__name__)

Kind = Literal["review", "appeal"]
REQUIRED_FIELDS = ("account_id", "decision", "moderator_id", "decided_at")
# ISO-8601 with an explicit UTC offset: a decision time without one cannot be placed in time.
_ISO_WITH_OFFSET = r"^\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})$"

# reject reasons (QUARANTINE.reason), in the order they are checked
REJECT_MALFORMED = "malformed_record"
REJECT_MISSING = "missing_field"
REJECT_UNKNOWN_DECISION = "unknown_decision"
REJECT_BAD_TIME = "bad_timestamp"
REJECT_UNKNOWN_ACCOUNT = "unknown_account"
REJECT_CONFLICT = "conflicting_decision"
REJECT_DUPLICATE = "duplicate"
REJECT_NOTHING_TO_APPEAL = "no_action_to_appeal"

# not_applied_reason (the decision is recorded, changes nothing)
NOT_APPLIED_IMPORTED = "already_imported"
NOT_APPLIED_SUPERSEDED_IN_FILE = "superseded_in_file"
NOT_APPLIED_SUPERSEDED = "superseded"
NOT_APPLIED_NO_CHANGE = "no_change"


@dataclass(frozen=True)
class KindSpec:
    kind: Kind
    field: str            # column name in the file: decision / outcome
    values: tuple[str, ...]
    source: str           # decision_source in the action log and status
    entity: str           # QUARANTINE.entity of rejects


def kind_spec(kind: Kind, ecfg: EnforcementConfig) -> KindSpec:
    if kind == "review":
        return KindSpec("review", "decision", tuple(ecfg.imports.review_decisions), SOURCE_MODERATOR,
                        "review_decisions")
    if kind == "appeal":
        return KindSpec("appeal", "outcome", tuple(ecfg.imports.appeal_outcomes), SOURCE_APPEAL, "appeal_outcomes")
    raise ValueError(f"unknown import kind {kind!r}; expected 'review' or 'appeal'")


# --- reading -----------------------------------------------------------------------------------------
def _as_text(value: object) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False)


def parse_decision_text(text: str, fmt: Literal["csv", "jsonl"], decision_field: str) -> list[tuple]:
    """IMPORT_RAW tuples, one per record, every value a string; unreadable records get parse_error."""
    wanted = ("account_id", decision_field, "moderator_id", "note", "decided_at")
    out: list[tuple] = []
    if fmt == "csv":
        reader = csv.DictReader(io.StringIO(text, newline=""))
        for no, row in enumerate(reader, start=1):
            raw = json.dumps({k: v for k, v in row.items() if k is not None}, ensure_ascii=False, sort_keys=True)
            error = "more fields than the header" if None in row else None
            out.append((no, raw, *[row.get(k) for k in wanted], error))
        return out
    for no, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            out.append((no, line, None, None, None, None, None, f"invalid JSON: {exc.msg}"))
            continue
        if not isinstance(obj, dict):
            out.append((no, line, None, None, None, None, None, "a line must be a JSON object"))
            continue
        out.append((no, line, *[_as_text(obj.get(k)) for k in wanted], None))
    return out


def file_format(path: str | Path) -> Literal["csv", "jsonl"]:
    suffix = Path(path).suffix.lower()
    if suffix == ".csv":
        return "csv"
    if suffix in (".jsonl", ".ndjson", ".json"):
        return "jsonl"
    raise ValueError(f"{path}: expected a .csv or .jsonl file of decisions")


def read_decision_file(spark: SparkSession, path: str | Path, kind: Kind,
                       cfg: Config | EnforcementConfig) -> DataFrame:
    """The file as IMPORT_RAW rows. Decision files are small human-made batches: parsed on the driver."""
    spec = kind_spec(kind, enforcement_config(cfg))
    text = Path(path).read_text(encoding="utf-8-sig")
    rows = parse_decision_text(text, file_format(path), spec.field)
    return spark.createDataFrame(rows, IMPORT_RAW)


# --- validation --------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ImportResult:
    decisions: DataFrame        # DECISIONS: every valid line, applied or not (merge-ignore on decision_id)
    action_log: DataFrame       # ACTION_LOG rows of applied decisions (merge-ignore on action_id)
    account_status: DataFrame   # ACCOUNT_STATUS rows to upsert (merge-update on account_id)
    labels: DataFrame           # RAW_LABELS rows for training (merge-ignore on account_id, source, decided_at)
    rejects: DataFrame          # QUARANTINE rows: every rejected line with reason and detail


def _blank_to_null(c: str) -> Column:
    v = F.trim(F.col(c))
    return F.when(v == "", F.lit(None)).otherwise(v)


def _first(conds: list[tuple[Column, str, Column]]) -> tuple[Column, Column]:
    reason: Column = F.lit(None).cast("string")
    detail: Column = F.lit(None).cast("string")
    for cond, why, what in reversed(conds):
        reason = F.when(cond, F.lit(why)).otherwise(reason)
        detail = F.when(cond, what).otherwise(detail)
    return reason, detail


def validate_decisions(raw: DataFrame, accounts: DataFrame, current_status: DataFrame | None,
                       known_decisions: DataFrame | None, kind: Kind, cfg: Config | EnforcementConfig,
                       ) -> DataFrame:
    """IMPORT_RAW -> the same rows with parsed fields, decision_id, prior status and `reject`/`reject_detail`
    (null when the row is valid). Rows already imported (decision_id in `known_decisions`) are never
    rejected: they are marked `already_imported` so a re-import is a no-op."""
    ecfg = enforcement_config(cfg)
    spec = kind_spec(kind, ecfg)
    require(accounts, ["account_id"], "accounts")
    spark = raw.sparkSession
    status = current_status if current_status is not None else spark.createDataFrame([], ACCOUNT_STATUS)
    known = (known_decisions.select("decision_id").distinct() if known_decisions is not None
             else spark.createDataFrame([], "decision_id string"))

    df = raw
    for c in ("account_id", "decision", "moderator_id", "note", "decided_at"):
        df = df.withColumn(c, _blank_to_null(c))
    df = (df.withColumn("decision", F.lower("decision"))
          .withColumn("decided_ts", F.when(F.col("decided_at").rlike(_ISO_WITH_OFFSET),
                                            F.expr("try_cast(decided_at as timestamp)")))
          .withColumn("decision_id", stable_id(spec.kind, F.col("account_id"), F.col("decision"),
                                               F.col("moderator_id"), F.unix_micros("decided_ts"))))
    ids = accounts.select("account_id").distinct().withColumn("_known", F.lit(True))
    prior = status.select("account_id", F.col("status").alias("prior_status"),
                          F.col("active_actions").alias("prior_active_actions"),
                          F.col("since").alias("prior_since"),
                          F.col("last_decision_source").alias("prior_source"))
    df = (df.join(ids, "account_id", "left").join(prior, "account_id", "left")
          .join(known.withColumn("_imported", F.lit(True)), "decision_id", "left")
          .withColumn("prior_status", F.coalesce("prior_status", F.lit(STATUS_NONE)))
          .withColumn("prior_active_actions", F.coalesce("prior_active_actions", strings([]))))

    missing = F.concat_ws(",", *[F.when(F.col(c).isNull(), F.lit(spec.field if c == "decision" else c))
                                 for c in REQUIRED_FIELDS])
    basic = [
        (F.col("parse_error").isNotNull(), REJECT_MALFORMED, F.col("parse_error")),
        (missing != "", REJECT_MISSING, missing),
        (~F.col("decision").isin(*spec.values), REJECT_UNKNOWN_DECISION,
         F.concat(F.lit(f"{spec.field}="), F.col("decision"), F.lit(f"; expected one of {list(spec.values)}"))),
        (F.col("decided_ts").isNull(), REJECT_BAD_TIME,
         F.concat(F.lit("decided_at="), F.col("decided_at"), F.lit("; expected ISO-8601 with a UTC offset"))),
        (F.col("_known").isNull(), REJECT_UNKNOWN_ACCOUNT, F.col("account_id")),
    ]
    pre_reason, pre_detail = _first(basic)
    df = df.withColumn("_pre", pre_reason).withColumn("_pre_detail", pre_detail)

    # Duplicates and conflicts are judged among otherwise valid lines only.
    ok = F.col("_pre").isNull()
    same_time = Window.partitionBy(ok, F.col("account_id"), F.col("decided_ts"))
    same_id = Window.partitionBy(ok, F.col("decision_id")).orderBy("record_no")
    df = (df.withColumn("_n_ids", F.size(F.collect_set("decision_id").over(same_time)))
          .withColumn("_dup_rank", F.row_number().over(same_id))
          .withColumn("_dup_of", F.first("record_no").over(same_id)))
    imported = F.coalesce(F.col("_imported"), F.lit(False))
    later = [
        (F.col("_n_ids") > 1, REJECT_CONFLICT,
         F.lit("different decisions for the same account at the same decided_at")),
        (F.col("_dup_rank") > 1, REJECT_DUPLICATE, F.concat(F.lit("same as record "), F.col("_dup_of"))),
        (F.lit(kind == "appeal") & ~imported & ~F.col("prior_status").isin(*RESTRICTED_STATUSES),
         REJECT_NOTHING_TO_APPEAL, F.concat(F.lit("account status is "), F.col("prior_status"))),
    ]
    later_reason, later_detail = _first(later)
    return (df.withColumn("reject", F.coalesce("_pre", F.when(ok, later_reason)))
            .withColumn("reject_detail", F.when(F.col("_pre").isNotNull(), F.col("_pre_detail"))
                        .otherwise(later_detail))
            .withColumn("already_imported", imported))


def rejects_frame(validated: DataFrame, kind: Kind, cfg: Config | EnforcementConfig, source_file: str,
                  run_id: str, rejected_at: datetime) -> DataFrame:
    """QUARANTINE rows for rejected lines; the id hashes file + line + content (re-import: same ids)."""
    spec = kind_spec(kind, enforcement_config(cfg))
    df = (validated.filter(F.col("reject").isNotNull())
          .withColumn("quarantine_id", stable_id("reject", spec.entity, F.lit(source_file), F.col("record_no"),
                                                 F.col("raw")))
          .withColumn("entity", F.lit(spec.entity))
          .withColumn("source_file", F.lit(source_file))
          .withColumn("reason", F.col("reject"))
          .withColumn("detail", F.col("reject_detail"))
          .withColumn("run_id", F.lit(run_id))
          .withColumn("quarantined_at", F.lit(rejected_at).cast("timestamp")))
    return conform(df, QUARANTINE)


# --- applying --------------------------------------------------------------------------------------
def latest_evidence(review_queue: DataFrame | None, action_log: DataFrame | None) -> DataFrame | None:
    """Score rows a human decision can rest on: queue entries and the policy's own actions, with `at`."""
    cols = ["account_id", "scoring_run_id", "snapshot_date", "score", "band", "model_name", "model_version",
            "model_run_id", "feature_table_version", "reasons", "supporting_families"]
    parts: list[DataFrame] = []
    if review_queue is not None:
        parts.append(review_queue.select(*cols, F.col("enqueued_at").alias("at")))
    if action_log is not None:
        parts.append(action_log.filter(F.col("decision_source") == SOURCE_POLICY)
                     .select(*cols, F.col("decided_at").alias("at")))
    if not parts:
        return None
    out = parts[0]
    for p in parts[1:]:
        out = out.unionByName(p)
    return out


def _attach_evidence(df: DataFrame, evidence: DataFrame | None) -> DataFrame:
    """The newest score row of the account at or before the decision (nulls when there is none)."""
    cols = ["scoring_run_id", "snapshot_date", "score", "band", "model_name", "model_version", "model_run_id",
            "feature_table_version", "reasons", "supporting_families"]
    if evidence is None:
        for c in cols:
            df = df.withColumn(c, F.lit(None).cast(ACTION_LOG[c].dataType))
        return df
    ev = evidence.select("account_id", F.col("at").alias("_ev_at"), *[F.col(c).alias(f"_ev_{c}") for c in cols])
    joined = df.join(ev, (df["account_id"] == ev["account_id"]) & (ev["_ev_at"] <= df["decided_ts"]), "left")
    best = Window.partitionBy(df["decision_id"]).orderBy(F.col("_ev_at").desc_nulls_last(),
                                                         F.col("_ev_scoring_run_id").desc_nulls_last())
    joined = (joined.drop(ev["account_id"]).withColumn("_ev_rn", F.row_number().over(best))
              .filter(F.col("_ev_rn") == 1))
    for c in cols:
        joined = joined.withColumnRenamed(f"_ev_{c}", c)
    return joined.drop("_ev_at", "_ev_rn")


def apply_decisions(validated: DataFrame, kind: Kind, cfg: Config | EnforcementConfig, *, source_file: str,
                    run_id: str, applied_at: datetime, evidence: DataFrame | None = None,
                    ) -> tuple[DataFrame, DataFrame, DataFrame, DataFrame]:
    """Valid lines -> (DECISIONS, ACTION_LOG, ACCOUNT_STATUS, RAW_LABELS).

    Per account only the newest decision of the file applies; a decision older than the account's last
    human decision is superseded (a human decision always overrides an automatic one, whatever its time).
    """
    ecfg = enforcement_config(cfg)
    spec = kind_spec(kind, ecfg)
    imp = ecfg.imports
    at = F.lit(applied_at).cast("timestamp")
    valid = validated.filter(F.col("reject").isNull())

    newest = Window.partitionBy("account_id", "already_imported").orderBy(
        F.col("decided_ts").desc(), F.col("decision_id"))
    d = F.col("decision")
    confirm_set = strings(imp.confirm_actions)
    new_status = (F.when(d == "confirm", F.lit(STATUS_CONFIRMED)).when(d == "clear", F.lit(STATUS_CLEARED))
                  .when(d == "uphold", F.lit(STATUS_UPHELD)).when(d == "restore", F.lit(STATUS_RESTORED)))
    new_active = (F.when(d == "confirm", F.array_sort(F.array_union("prior_active_actions", confirm_set)))
                  .when(d == "uphold", F.col("prior_active_actions"))
                  .otherwise(strings([])))
    added = F.array_except(confirm_set, F.col("prior_active_actions"))
    actions = (F.when(d == "confirm", F.when(F.size(added) > 0, added).otherwise(strings(["confirm"])))
               .otherwise(F.array(d)))
    human_prior = F.col("prior_source").isin(SOURCE_MODERATOR, SOURCE_APPEAL)
    df = (valid.withColumn("_rn", F.row_number().over(newest))
          .withColumn("new_status", new_status)
          .withColumn("new_active", new_active)
          .withColumn("new_actions", actions))
    not_applied = _first([
        (F.col("already_imported"), NOT_APPLIED_IMPORTED, F.lit(None)),
        (F.col("_rn") > 1, NOT_APPLIED_SUPERSEDED_IN_FILE, F.lit(None)),
        (human_prior & (F.col("decided_ts") < F.col("prior_since")), NOT_APPLIED_SUPERSEDED, F.lit(None)),
        ((F.col("new_status") == F.col("prior_status"))
         & (F.array_sort("new_active") == F.array_sort("prior_active_actions")), NOT_APPLIED_NO_CHANGE,
         F.lit(None)),
    ])[0]
    df = (df.withColumn("not_applied_reason", not_applied)
          .withColumn("applied", F.col("not_applied_reason").isNull())
          .withColumn("kind", F.lit(spec.kind))
          .withColumn("source_file", F.lit(source_file))
          .withColumn("import_run_id", F.lit(run_id))
          .withColumn("imported_at", at))
    decisions = conform(df.withColumn("decided_at", F.col("decided_ts")), DECISIONS)

    applied = _attach_evidence(df.filter("applied"), evidence)
    acts = (applied.withColumn("action", F.explode("new_actions"))
            .withColumn("action_id", stable_id("human", F.col("decision_id"), F.col("action")))
            .withColumn("decision_source", F.lit(spec.source))
            .withColumn("decided_by", F.col("moderator_id"))
            .withColumn("decision_ref", F.col("decision_id"))
            .withColumn("route_reason", F.concat(F.lit(f"{spec.kind}:"), F.col("decision")))
            .withColumn("reason_codes", reason_codes())
            .withColumn("job_run_id", F.lit(run_id))
            .withColumn("decided_at", F.col("decided_ts"))
            .withColumn("logged_at", at))
    action_log = conform(acts, ACTION_LOG)

    last = F.element_at("new_actions", -1)
    status = (applied.withColumn("status", F.col("new_status"))
              .withColumn("active_actions", F.col("new_active"))
              .withColumn("since", F.col("decided_ts"))
              .withColumn("last_action", last)
              .withColumn("last_action_id", stable_id("human", F.col("decision_id"), last))
              .withColumn("last_decision_source", F.lit(spec.source))
              .withColumn("last_decided_by", F.col("moderator_id"))
              .withColumn("last_decision_ref", F.col("decision_id"))
              .withColumn("updated_by_run", F.lit(run_id))
              .withColumn("updated_at", at))
    account_status = conform(status, ACCOUNT_STATUS)
    labels = labels_from_decisions(decisions.filter("applied"), ecfg, run_id)
    return decisions, action_log, account_status, labels


def labels_from_decisions(decisions: DataFrame, cfg: Config | EnforcementConfig, run_id: str) -> DataFrame:
    """DECISIONS -> RAW_LABELS (source moderator / appeal), the training labels of the next model."""
    imp = enforcement_config(cfg).imports
    label = F.lit(None).cast("string")
    for decision, value in imp.labels.items():
        label = F.when(F.col("decision") == decision, F.lit(value)).otherwise(label)
    source = (F.when(F.col("kind") == "review", F.lit(imp.label_source["review"]))
              .when(F.col("kind") == "appeal", F.lit(imp.label_source["appeal"])))
    df = (decisions.withColumn("label", label).withColumn("source", source)
          .withColumn("ingest_run_id", F.lit(run_id)))
    return conform(df, RAW_LABELS)


def import_decisions(spark: SparkSession, path: str | Path, kind: Kind, accounts: DataFrame,
                     cfg: Config | EnforcementConfig, *, run_id: str, now: datetime,
                     current_status: DataFrame | None = None, known_decisions: DataFrame | None = None,
                     evidence: DataFrame | None = None) -> ImportResult:
    """The whole import: read, validate, apply. Nothing is written here (the job writes with Lake).
    The validated lines are evaluated once (eager local checkpoint): all outputs are one consistent snapshot."""
    raw = read_decision_file(spark, path, kind, cfg)
    return import_frame(raw, kind, accounts, cfg, source_file=str(path), run_id=run_id, now=now,
                        current_status=current_status, known_decisions=known_decisions, evidence=evidence)


def import_frame(raw: DataFrame, kind: Kind, accounts: DataFrame, cfg: Config | EnforcementConfig, *,
                 source_file: str, run_id: str, now: datetime, current_status: DataFrame | None = None,
                 known_decisions: DataFrame | None = None, evidence: DataFrame | None = None) -> ImportResult:
    # Pinned once: the five outputs come from one reading of the inputs, so writing account_status before
    # the action log (or a retry) cannot turn applied decisions into no-ops halfway through.
    validated = validate_decisions(raw, accounts, current_status, known_decisions, kind, cfg).localCheckpoint(
        eager=True)
    decisions, action_log, status, labels = apply_decisions(
        validated, kind, cfg, source_file=source_file, run_id=run_id, applied_at=now, evidence=evidence)
    rejects = rejects_frame(validated, kind, cfg, source_file, run_id, now)
    return ImportResult(decisions, action_log, status, labels, rejects)


def reject_reasons() -> Iterable[str]:
    return (REJECT_MALFORMED, REJECT_MISSING, REJECT_UNKNOWN_DECISION, REJECT_BAD_TIME, REJECT_UNKNOWN_ACCOUNT,
            REJECT_CONFLICT, REJECT_DUPLICATE, REJECT_NOTHING_TO_APPEAL)
