"""Training data: labels joined point in time to feature snapshots, and who counts as protected.

The label join runs in Spark over the whole label and feature history; its result (one row per labelled
account) is small, so the rest of training works on pandas on the driver.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import pandas as pd
from pyspark.sql import DataFrame, Window
from pyspark.sql import functions as F

from genuine.core.errors import MissingColumnsError, TrainingDataError
from genuine.models.config import ModelConfig

log = logging.getLogger(__name__)


def require_columns(df_columns: Sequence[str], needed: Sequence[str], what: str) -> None:
    """Name every missing column at once instead of failing on the first one deep inside a transform."""
    missing = [c for c in needed if c not in set(df_columns)]
    if missing:
        raise MissingColumnsError(f"{what} lacks columns {missing}")


LABEL_COLUMNS = ("account_id", "label", "source", "decided_at")


def label_history(*parts: DataFrame | None) -> DataFrame:
    """Every label so far from the tables that hold some (raw_labels; human decisions turned into labels).
    A decision stored in two of them (an import writes its labels to raw_labels too) counts once."""
    frames = [p.select(*LABEL_COLUMNS) for p in parts if p is not None]
    if not frames:
        raise ValueError("label_history needs at least one table of labels")
    out = frames[0]
    for f in frames[1:]:
        out = out.unionByName(f)
    return out.dropDuplicates()


def latest_labels(labels: DataFrame, positive_label: str = "ai_managed", prefer: Sequence[str] = ()) -> DataFrame:
    """One label per account, the latest decision: a review that clears an account overrides an older
    import that flagged it, an appeal that restores it overrides the review. Same-instant conflicts go to
    the source listed first in `prefer` (an appeal is the last word of the process), then to the negative
    label, so that a contested account never teaches the model that it is a bot."""
    rank = F.lit(len(prefer))
    for i, source in reversed(list(enumerate(prefer))):
        rank = F.when(F.col("source") == F.lit(source), F.lit(i)).otherwise(rank)
    w = Window.partitionBy("account_id").orderBy(
        F.col("decided_at").desc_nulls_last(),
        *([rank.asc()] if prefer and "source" in labels.columns else []),
        F.when(F.col("label") == F.lit(positive_label), 1).otherwise(0).asc(),
        *[F.col(c).asc_nulls_last() for c in labels.columns if c not in ("account_id", "decided_at", "label")],
    )
    return labels.withColumn("_rn", F.row_number().over(w)).where(F.col("_rn") == 1).drop("_rn")


def point_in_time_join(labels: DataFrame, features: DataFrame) -> DataFrame:
    """Attach to each label the latest feature snapshot with as_of <= decided_at (no leakage from
    after the decision). Labels without such a snapshot are kept with null snapshot columns so the
    caller counts them instead of losing them; identical label rows count as one decision."""
    require_columns(labels.columns, ["account_id", "decided_at"], "labels")
    require_columns(features.columns, ["account_id", "snapshot_date", "as_of"], "features")
    clash = (set(features.columns) - {"account_id"}) & set(labels.columns)
    if clash:
        raise ValueError(f"labels and features share columns {sorted(clash)}")
    lab = labels.dropDuplicates()
    key = list(lab.columns)
    feat = features.withColumnRenamed("account_id", "_f_account_id")
    joined = lab.join(feat, (lab["account_id"] == feat["_f_account_id"]) & (feat["as_of"] <= lab["decided_at"]),
                      "left")
    w = Window.partitionBy(*key).orderBy(F.col("as_of").desc_nulls_last(), F.col("snapshot_date").desc_nulls_last())
    return (joined.withColumn("_rn", F.row_number().over(w)).where(F.col("_rn") == 1)
            .drop("_rn", "_f_account_id"))


def training_frame(labels: DataFrame, features: DataFrame, positive_label: str = "ai_managed",
                   prefer: Sequence[str] = ()) -> DataFrame:
    """Latest label per account joined point-in-time to its snapshot: the (small) training matrix."""
    return latest_labels(labels, positive_label, prefer).transform(point_in_time_join, features)


def labelled_accounts(labels: DataFrame, features: DataFrame, accounts: DataFrame | None,
                      names: Sequence[str], positive_label: str, prefer: Sequence[str] = ()) -> DataFrame:
    """The training matrix of the train and retrain jobs: latest label per account joined point in time to
    its snapshot's feature columns, `first_decided_at` (the account's earliest label: retraining's holdout
    takes only accounts no earlier model can have seen), plus `verified` from the raw accounts (a
    protected population)."""
    labels = labels.select(*LABEL_COLUMNS)
    frame = training_frame(labels, features.select("account_id", "snapshot_date", "as_of", *names), positive_label,
                           prefer)
    first = labels.groupBy("account_id").agg(F.min("decided_at").alias("first_decided_at"))
    frame = frame.join(first, "account_id", "left")
    if accounts is None:
        return frame
    verified = accounts.select("account_id", F.coalesce("verified", F.lit(False)).alias("verified")) \
        .dropDuplicates(["account_id"])
    return frame.join(verified, "account_id", "left")


def read_truth(path: Path, protected: list[str]) -> pd.DataFrame:
    """Simulator ground truth (file or parquet folder); a protected strategy that never occurs in it is
    named, since its FPR would silently be missing from the gates."""
    if not Path(path).exists():
        raise FileNotFoundError(f"truth file not found: {path}")
    truth = pd.read_parquet(path)
    absent = sorted(set(protected) - set(truth.get("strategy", pd.Series(dtype=object)).dropna().unique()))
    if absent:
        log.warning("protected strategies %s do not occur in the truth %s: no FPR gate for them", absent, path)
    return truth


def protected_groups(frame: pd.DataFrame, cfg: ModelConfig) -> pd.Series:
    """Which protected population each account belongs to (None: not protected): genuine-but-unusual
    strategies first, then verified accounts."""
    group = pd.Series([None] * len(frame), index=frame.index, dtype=object)
    if cfg.protect_verified and "verified" in frame:
        group[frame["verified"].eq(True).to_numpy()] = "verified"
    if "strategy" in frame:
        strat = frame["strategy"]
        mask = strat.isin(cfg.protected_strategies).to_numpy()
        group[mask] = strat[mask]
    return group


def prepare_training_data(train_df: pd.DataFrame, names: list[str], truth: pd.DataFrame | None,
                          cfg: ModelConfig) -> tuple[pd.DataFrame, dict[str, float]]:
    """The usable labelled rows with y (1 = positive label), truth columns and protected group, and the
    counts of what was left out and why (logged as data.* metrics)."""
    require_columns(train_df.columns, ["account_id", "label", *names], "training frame")
    counts: dict[str, float] = {"labels_in": float(len(train_df))}
    # Rows come in the order of Spark's partitions, which differs between local mode and a cluster; the fit
    # and the splits depend on row order, so the same labels must always reach them in the same order.
    df = train_df.sort_values("account_id", kind="stable").reset_index(drop=True)
    if df["account_id"].duplicated().any():
        raise TrainingDataError("training frame has several rows per account: apply latest_labels first")
    if "snapshot_date" in df:
        no_snap = df["snapshot_date"].isna()
        counts["labels_without_snapshot"] = float(no_snap.sum())
        if no_snap.any():
            log.warning("%d labels have no feature snapshot at or before their decision: not trained on",
                        int(no_snap.sum()))
        df = df[~no_snap]
    known = df["label"].isin([cfg.positive_label, cfg.negative_label])
    counts["labels_unknown_value"] = float((~known).sum())
    if (~known).any():
        log.warning("%d labels are neither %r nor %r: not trained on", int((~known).sum()),
                    cfg.positive_label, cfg.negative_label)
    df = df[known].copy()
    df["y"] = (df["label"] == cfg.positive_label).astype("int64")
    if truth is not None:
        require_columns(truth.columns, ["account_id", "population", "strategy"], "truth")
        extra = [c for c in ("population", "strategy", "cluster_id", "verified") if c in truth]
        df = df.drop(columns=[c for c in extra if c in df]).merge(truth[["account_id", *extra]],
                                                                   on="account_id", how="left")
    for c in ("population", "strategy"):
        if c not in df:
            df[c] = None
    df["protected_group"] = protected_groups(df, cfg)
    df[names] = df[names].astype("float64")
    counts["labels_used"] = float(len(df))
    if df["y"].nunique() < 2:
        raise TrainingDataError("training needs both labels among labelled accounts with a feature snapshot; got "
                                f"{df['label'].unique().tolist()} ({len(df)} usable labels)")
    return df.reset_index(drop=True), counts

