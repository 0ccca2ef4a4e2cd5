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

from collections.abc import Mapping
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
        return pd.DataFrame({name: est.predict_proba(X[cols])[:, 1] for name, cols, est in self.members_},
                            index=X.index)

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
