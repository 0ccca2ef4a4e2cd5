"""Retraining's shared recent holdout: the accounts the challenger and the champion are compared on.

The gates only mean something on accounts neither model trained on. Every model version records when
the last of the accounts it trained on was first labelled (tag LABELS_CUTOFF_TAG); the holdout of a
retraining is the accounts first labelled in the `holdout_days` up to the newest label AND after the
champion's cutoff, so the champion never saw them, and the challenger is trained on every other account
(docs/decisions.md "Retraining"). An account keeps its first label time when it is relabelled (an appeal),
so an account a model trained on never enters a later holdout.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import pandas as pd
from mlflow.tracking import MlflowClient

from genuine.models.config import ModelConfig
from genuine.models.labels import require_columns

log = logging.getLogger(__name__)

LABELS_CUTOFF = "accounts_first_labelled_until"
"""Lineage key (tagged `lineage.accounts_first_labelled_until` on run and version): the latest first-label
time among the accounts a model trained on."""
LABELS_CUTOFF_TAG = f"lineage.{LABELS_CUTOFF}"


@dataclass(frozen=True)
class RecentHoldout:
    start: pd.Timestamp | None          # first decision time in the holdout window (inclusive)
    end: pd.Timestamp | None            # the newest label
    champion_version: str | None
    champion_cutoff: pd.Timestamp | None
    account_ids: tuple[str, ...]
    n_positive: int
    n_negative: int
    enough: bool                        # both labels at least min_holdout_per_label times

    def describe(self) -> str:
        since = "" if self.champion_cutoff is None else f", after champion v{self.champion_version}'s " \
                                                       f"training accounts (first labelled until {self.champion_cutoff})"
        return (f"holdout: {len(self.account_ids)} accounts first labelled from {self.start} to {self.end}{since} "
                f"({self.n_positive} positive, {self.n_negative} negative)")


def labels_cutoff(frame: pd.DataFrame) -> str | None:
    """The latest first-label time among the accounts of a training frame, as the tag stores it (UTC, ISO)."""
    ts = pd.to_datetime(frame["first_decided_at"]).dropna()
    return None if ts.empty else _naive_utc(ts.max()).isoformat()


def version_cutoff(client: MlflowClient, name: str, version: str | None) -> pd.Timestamp | None:
    """A version's LABELS_CUTOFF; None for no version, or one trained before the tag existed
    (then the window alone bounds the holdout, and the champion may have seen some of it: logged)."""
    if version is None:
        return None
    tag = client.get_model_version(name, version).tags.get(LABELS_CUTOFF_TAG)
    if not tag:
        log.warning("%s v%s carries no %s tag: the holdout is bounded by its window only, and the champion "
                    "may have trained on part of it", name, version, LABELS_CUTOFF_TAG)
        return None
    return _naive_utc(pd.Timestamp(tag))


def recent_holdout(frame: pd.DataFrame, cfg: ModelConfig, champion_version: str | None = None,
                   champion_cutoff: pd.Timestamp | None = None) -> RecentHoldout:
    """Which accounts of the training frame (labelled_accounts, pandas) form the shared holdout: usable
    labels (a snapshot, a known label) of accounts whose first label lies in the window and after the
    champion's cutoff. Decision times are naive UTC, as Spark's toPandas gives them in a UTC session."""
    require_columns(frame.columns, ["account_id", "label", "decided_at", "first_decided_at", "snapshot_date"],
                    "training frame")
    usable = frame[frame["snapshot_date"].notna() & frame["label"].isin([cfg.positive_label, cfg.negative_label])]
    decided = pd.to_datetime(usable["decided_at"])
    if decided.empty:
        return RecentHoldout(None, None, champion_version, champion_cutoff, (), 0, 0, False)
    end = _naive_utc(decided.max())
    start = end - pd.Timedelta(days=cfg.retrain.holdout_days)
    first = pd.to_datetime(usable["first_decided_at"]).map(_naive_utc)
    chosen = first >= start
    if champion_cutoff is not None:
        chosen &= first > champion_cutoff
    hold = usable[chosen.to_numpy()]
    n_pos = int((hold["label"] == cfg.positive_label).sum())
    n_neg = len(hold) - n_pos
    need = cfg.retrain.min_holdout_per_label
    return RecentHoldout(start, end, champion_version, champion_cutoff,
                         tuple(sorted(hold["account_id"].astype(str))), n_pos, n_neg, n_pos >= need and n_neg >= need)


def _naive_utc(ts: pd.Timestamp) -> pd.Timestamp:
    ts = pd.Timestamp(ts)
    return ts.tz_convert("UTC").tz_localize(None) if ts.tzinfo is not None else ts


__all__ = ["LABELS_CUTOFF", "LABELS_CUTOFF_TAG", "RecentHoldout", "labels_cutoff", "recent_holdout", "version_cutoff"]
