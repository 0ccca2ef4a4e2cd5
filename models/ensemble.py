"""A soft vote of the full model and one expert per feature family.

One model over every feature learns whatever separates the labelled bots best, and for a kind of bot
it was never shown that can be the wrong thing: without engagement-farm labels, trees learned their
coordination evidence from fans (labelled human) and from rings that share network prefixes, so a farm
whose members co-act far past any human but share no prefix scored low (docs/model.md, section 12).
An expert that sees one family alone (behaviour, content, network, reports, change) cannot lean on the
other families' evidence and has to use its own. Averaged with the full model's, their calibrated
probabilities rank a strategy never labelled higher when one family is extreme; the maximum of the votes
let any one expert's false alarms through. The price of the mean alone, with every label, is a
compressed top of the score range: no cut on validation reached the auto band's precision. `full_or_mean`
takes the larger of the full model's probability and the mean, so the full model's confident top stays
as it was (docs/model.md, section 12).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone

FULL_MEMBER = "all"
VoteRule = Literal["mean", "full_or_mean"]


class FamilyVote(ClassifierMixin, BaseEstimator):
    """`estimator` (unfitted, cloned per member) is fitted on every column and on each family's columns;
    `families` maps a column to its family. A family with no column in X has no expert, and with a single
    family the vote is the full model alone (an expert on the same columns would only repeat it)."""

    def __init__(self, estimator: Any, families: Mapping[str, str], rule: VoteRule = "full_or_mean") -> None:
        self.estimator = estimator
        self.families = families
        self.rule = rule

    def member_columns(self, columns: list[str]) -> dict[str, list[str]]:
        groups: dict[str, list[str]] = {FULL_MEMBER: list(columns)}
        by_family: dict[str, list[str]] = {}
        for c in columns:
            if c in self.families:
                by_family.setdefault(str(self.families[c]), []).append(c)
        if len(by_family) > 1:
            groups.update(sorted(by_family.items()))
        return groups

    def fit(self, X: pd.DataFrame, y: Any) -> FamilyVote:
        self.feature_names_in_ = np.asarray(list(X.columns), dtype=object)
        self.members_ = [(name, cols, clone(self.estimator).fit(X[cols], y))
                         for name, cols in self.member_columns(list(X.columns)).items()]
        self.classes_ = self.members_[0][2].classes_
        return self

    def member_proba(self, X: pd.DataFrame) -> pd.DataFrame:
        """Each member's probability of the positive class, a column per member: which family votes how."""
        memo = getattr(self, "_memo", None)
        out = {}
        for name, cols, est in self.members_:
            sub = X[cols]
            if memo is None:
                out[name] = est.predict_proba(sub)[:, 1]
                continue
            key = (name, sub.shape, pd.util.hash_pandas_object(sub, index=False).to_numpy().tobytes())
            if key not in memo:
                memo[key] = est.predict_proba(sub)[:, 1]
            out[name] = memo[key]
        return pd.DataFrame(out, index=X.index)

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state.pop("_memo", None)     # a scope's scratch, never part of a registered model
        return state

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        members = self.member_proba(X).to_numpy(dtype="float64")
        p = members.mean(axis=1)
        if self.rule == "full_or_mean":
            p = np.maximum(p, members[:, 0])
        elif self.rule != "mean":
            raise ValueError(f"unknown vote rule {self.rule!r}")
        return np.column_stack([1.0 - p, p])

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]


@contextmanager
def member_memo(model: Any) -> Iterator[None]:
    """Within the block, a FamilyVote keeps each member's scores by the content of the columns it sees.
    Permutation importance shuffles one column at a time, which changes the input of two members (the full
    model and that column's expert): the other experts' scores are reused instead of recomputed (the vote
    cost six times the full model's importance: 524 s against 213 s for the whole LOSO on 10k accounts).
    Any other model passes through unchanged."""
    if not isinstance(model, FamilyVote):
        yield
        return
    model._memo = {}
    try:
        yield
    finally:
        del model._memo
