"""The family vote (models/ensemble.py): members, what each sees, and the vote against hand-fitted members."""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.calibration import CalibratedClassifierCV

from genuine.models.config import ModelConfig
from genuine.models.ensemble import FULL_MEMBER, FamilyVote
from genuine.models.pyfunc import load_pyfunc
from genuine.models.training import build_calibrated, feature_families, train_account_model
from tests.models.model_synth import FAST, FEATURES, NAMES, make_synthetic

CFG = ModelConfig.model_validate({"hgb": {"max_iter": 30}, "novelty": {"n_estimators": 20}, "family_vote": "mean"})


def _data() -> tuple[pd.DataFrame, np.ndarray]:
    df = make_synthetic(800, seed=3).train_df()
    return df[NAMES], (df["label"] == CFG.positive_label).astype("int64").to_numpy()


def test_vote_is_the_mean_of_members_fitted_by_hand_on_their_own_columns():
    X, y = _data()
    families = feature_families(FEATURES)
    vote = build_calibrated("hgb", CFG, len(y), families)
    assert isinstance(vote, FamilyVote)
    vote.fit(X, y)

    expected_groups = {FULL_MEMBER: NAMES,
                       "behaviour": ["gap_cv", "share_second_zero", "noise"], "content": ["template_reuse"],
                       "network": ["coord_degree"], "reports": ["reports_received"]}
    assert {name: cols for name, cols, _ in vote.members_} == expected_groups
    assert list(vote.classes_) == [0, 1]

    by_hand = {name: clone(vote.estimator).fit(X[cols], y).predict_proba(X[cols])[:, 1]
               for name, cols in expected_groups.items()}
    members = vote.member_proba(X)
    pd.testing.assert_frame_equal(members, pd.DataFrame(by_hand, index=X.index), rtol=0, atol=1e-12)
    mean = np.mean(list(by_hand.values()), axis=0)
    np.testing.assert_allclose(vote.predict_proba(X)[:, 1], mean, rtol=0, atol=1e-12)
    vote.set_params(rule="full_or_mean")
    np.testing.assert_allclose(vote.predict_proba(X)[:, 1], np.maximum(by_hand[FULL_MEMBER], mean), rtol=0, atol=1e-12)
    np.testing.assert_allclose(vote.predict_proba(X).sum(axis=1), 1.0, rtol=0, atol=1e-12)
    np.testing.assert_array_equal(vote.predict(X), (vote.predict_proba(X)[:, 1] > 0.5).astype("int64"))


def test_one_family_or_none_is_the_full_model_alone_and_the_switch_turns_it_off():
    X, y = _data()
    one = FamilyVote(build_calibrated("hgb", CFG, len(y)), {n: "behaviour" for n in NAMES}).fit(X, y)
    assert [(name, cols) for name, cols, _ in one.members_] == [(FULL_MEMBER, NAMES)]
    # a column without a family is seen by the full model only
    partial = FamilyVote(build_calibrated("hgb", CFG, len(y)), {"gap_cv": "behaviour", "coord_degree": "network"})
    assert partial.member_columns(NAMES) == {FULL_MEMBER: NAMES, "behaviour": ["gap_cv"], "network": ["coord_degree"]}

    # YAML reads an unquoted `off` as false, in conf files and in --set alike
    assert ModelConfig.model_validate({"family_vote": False}).family_vote == "off"
    default = ModelConfig()
    assert isinstance(build_calibrated("hgb", default, len(y), feature_families(FEATURES)), CalibratedClassifierCV)
    assert isinstance(build_calibrated("hgb", CFG, len(y)), CalibratedClassifierCV)   # no families given


def test_a_family_vote_registers_and_the_registered_model_scores_like_it(cfg_factory, synthetic):
    """Training with `model.family_vote` logs a FamilyVote (LOSO included) that MLflow loads back and
    scores exactly as the fitted object does."""
    cfg = cfg_factory(*FAST, "model.family_vote=full_or_mean")
    mcfg = cfg.section("model", ModelConfig)
    result = train_account_model(synthetic.train_df(), FEATURES, mcfg, truth=synthetic.truth, mlflow_cfg=cfg.mlflow)
    model = load_pyfunc(result.model_uri)
    inner = model.unwrap_python_model()._model
    assert isinstance(inner, FamilyVote) and inner.rule == "full_or_mean"
    assert [name for name, _, _ in inner.members_] == [FULL_MEMBER, "behaviour", "content", "network", "reports"]
    X = result.holdout[NAMES]
    np.testing.assert_allclose(model.predict(X), inner.predict_proba(X)[:, 1], rtol=0, atol=1e-12)
    assert {k for k in result.metrics if k.startswith("loso.") and k.endswith(".pr_auc")} == \
        {f"loso.{s}.pr_auc" for s in ("engagement_farm", "fixed_interval", "humanized", "jittered_scheduler")}


class _Counting:
    """Counts a member's predictions (a real fitted estimator underneath)."""

    def __init__(self, est) -> None:
        self.est, self.calls = est, 0

    def predict_proba(self, X):
        self.calls += 1
        return self.est.predict_proba(X)


def test_the_memo_gives_the_same_importance_and_recomputes_only_the_members_a_column_feeds():
    from sklearn.inspection import permutation_importance

    from genuine.models.ensemble import member_memo

    X, y = _data()
    vote = build_calibrated("hgb", CFG, len(y), feature_families(FEATURES)).fit(X, y)
    plain = permutation_importance(vote, X, y, scoring="average_precision", n_repeats=2, random_state=0)
    counted = [(name, cols, _Counting(est)) for name, cols, est in vote.members_]
    vote.members_ = counted
    with member_memo(vote):
        memo = permutation_importance(vote, X, y, scoring="average_precision", n_repeats=2, random_state=0)
    assert not hasattr(vote, "_memo")
    np.testing.assert_array_equal(memo.importances, plain.importances)
    # the unshuffled baseline once per member, then one call per shuffle of a column the member sees
    calls = {name: c.calls for name, _, c in counted}
    assert calls == {name: 1 + 2 * len(cols) for name, cols, _ in counted}
    pickled = __import__("pickle").dumps(FamilyVote(vote.estimator, vote.families))
    assert b"_memo" not in pickled
