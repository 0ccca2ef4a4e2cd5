"""Text detector: corpus contract, features against hand-worked values, evaluation tables, MLflow round trip
(pyfunc == in-memory pipeline), Spark scoring == pandas."""

from __future__ import annotations

import json
import math
import random
import zlib
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from pyspark.sql import functions as F

from genuine.core import tracking
from genuine.core.errors import CorpusError
from genuine.devtools.bench.text_detector import bench_text_detector
from genuine.jobs import train_text_detector as job
from genuine.models import text_features
from genuine.models.config import TextDetectorConfig
from genuine.models.pyfunc import pickled_classes
from genuine.models.text_corpus import read_corpus
from genuine.models.text_detector import (
    StackedBlend,
    StackedLinear,
    TextDetectorModel,
    build_pipeline,
    score_posts,
)
from genuine.models.text_features import (
    PREDICTABILITY_NAMES,
    PredictabilityFeatures,
    predictability_vector,
    shape,
)
from genuine.models.text_training import fpr_tables, length_buckets, source_weights, train_text_detector
from tests.oracles import read_delta_rs

SHARED_CORPUS = Path(__file__).resolve().parents[3] / "shared" / "data" / "ai-text"

_HUMAN_ZH = ["今天", "去了", "楼下", "那家", "咖啡", "店", "哈哈", "真的", "绝了", "有点", "贵", "下次", "还来"]
_AI_ZH = ["首先", "其次", "总之", "此外", "该", "产品", "具有", "显著", "优势", "值得", "推荐", "综合", "来看"]
_HUMAN_EN = ["lol", "tried", "the", "new", "place", "kinda", "pricey", "but", "tbh", "worth", "it", "gonna"]
_AI_EN = ["In", "conclusion", "Additionally", "this", "product", "offers", "excellent", "value", "overall",
          "it", "is", "important", "to", "note"]


def _synthetic_rows(n: int, seed: int) -> list[dict]:
    """Two separable-but-noisy styles in zh and en (words leak across classes so scores are not 0/1)."""
    rng = random.Random(seed)
    rows = []
    for i in range(n):
        label = "ai" if i % 2 else "human"
        zh = i % 4 < 2
        own = (_AI_ZH if label == "ai" else _HUMAN_ZH) if zh else (_AI_EN if label == "ai" else _HUMAN_EN)
        other = (_HUMAN_ZH if label == "ai" else _AI_ZH) if zh else (_HUMAN_EN if label == "ai" else _AI_EN)
        words = [rng.choice(own if rng.random() < 0.75 else other) for _ in range(rng.randint(4, 14))]
        text = ("" if zh else " ").join(words) + ("。" if label == "ai" and zh else
                                                     "." if label == "ai" else rng.choice(["", "!", "~"]))
        rows.append({"text": text, "label": label, "lang": "zh" if zh else "en"})
    return rows


def _write(path: Path, rows: list[dict], extra: str = "") -> Path:
    path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows) + extra, encoding="utf-8")
    return path


FAST = TextDetectorConfig(char_ngram_max=3, inner_folds=2, max_iter=500, cv_folds=2)


@pytest.fixture(scope="module")
def trained(tmp_path_factory, cfg_factory):
    tmp = tmp_path_factory.mktemp("corpus")
    rows = _synthetic_rows(240, seed=1)
    files = [_write(tmp / "syn_a.jsonl", rows[:160]), _write(tmp / "syn_b.jsonl", rows[160:])]
    cfg = cfg_factory()
    result = train_text_detector(files, cfg, params=FAST)
    return cfg, result


def test_corpus_errors_name_file_and_line(tmp_path):
    good = {"text": "你好", "label": "human"}
    cases = {
        "not json": "{oops",
        "label": json.dumps({"text": "x", "label": "bot"}),
        "text": json.dumps({"text": "", "label": "ai"}),
        "object": json.dumps(["x", "ai"]),
    }
    for what, bad in cases.items():
        path = _write(tmp_path / "c.jsonl", [good, good], extra=bad + "\n")
        with pytest.raises(CorpusError, match=rf"c\.jsonl:3: .*{'JSON object' if what == 'object' else ''}"):
            read_corpus([path])
    (tmp_path / "bin.jsonl").write_bytes(b'{"text": "a", "label": "ai"}\n\xff\xfe\n')
    with pytest.raises(CorpusError, match=r"bin\.jsonl:2: not valid UTF-8"):
        read_corpus([tmp_path / "bin.jsonl"])
    with pytest.raises(CorpusError, match="both 'human' and 'ai'"):
        read_corpus([_write(tmp_path / "one.jsonl", [good, good])])


def test_shape_is_the_sequence_of_character_kinds():
    assert shape("在 1963 年成立，Windows 中。") == "\x02C_0_C，Aa_C。\x03"      # ChatGPT's spacing
    assert shape("在1963年成立，Windows中。") == "\x02C0C，AaC。\x03"          # most people's
    assert shape("HBO to air .\nIt's 2015") == "\x02A_a_a_.¶Aa'a_0\x03"
    assert shape("café ひらがな") == "\x02ax_x\x03"                       # other scripts are x, runs collapse
    assert shape("") == "\x02\x03"


def test_predictability_vector_matches_a_hand_computation():
    ranks = {"the": 0, "cat": 50, "sat": 500, "的": 0, "猫": 5000}
    top_n = 20000                                  # an unlisted word ranks as the list's end
    text = "The cat sat on the 猫的猫"
    got = dict(zip(PREDICTABILITY_NAMES, predictability_vector(text, ranks, top_n), strict=True))
    # tokens: Chinese characters first (猫 的 猫), then Latin words (the cat sat on the); "on" is unlisted
    r = [5000, 0, 5000, 0, 50, 500, 20000, 0]
    lr = [math.log10(x + 1) for x in r]
    mean = sum(lr) / 8
    assert got["rank_lt_10"] == pytest.approx(3 / 8)
    assert got["rank_lt_100"] == pytest.approx(4 / 8)
    assert got["rank_lt_1000"] == pytest.approx(5 / 8)
    assert got["rank_lt_10000"] == pytest.approx(7 / 8)
    assert got["unlisted_share"] == pytest.approx(1 / 8)
    assert got["log_rank_mean"] == pytest.approx(mean)
    assert got["log_rank_std"] == pytest.approx(math.sqrt(sum((x - mean) ** 2 for x in lr) / 8))
    assert got["log_rank_median"] == pytest.approx((math.log10(51) + math.log10(501)) / 2)
    assert got["token_type_ratio"] == pytest.approx(6 / 8)
    assert got["log_tokens"] == pytest.approx(math.log(9))
    raw = text.encode("utf-8")
    assert got["zlib_ratio"] == pytest.approx(len(zlib.compress(raw, 9)) / (len(raw) + 1))
    assert got["utf8_bytes_per_char"] == pytest.approx(len(raw) / (len(text) + 1))
    assert predictability_vector("!!", ranks, top_n)[:-2] == [0.0] * (len(PREDICTABILITY_NAMES) - 2)


def test_predictability_features_carry_their_table(monkeypatch):
    fitted = PredictabilityFeatures(top_n=1000).fit(["ignored"])
    assert fitted.ranks_["the"] == 0 and fitted.ranks_["的"] == 0 and len(fitted.ranks_) <= 2000
    before = fitted.transform(["the cat", "我的猫"])
    monkeypatch.setattr(text_features.wordfreq, "top_n_list", lambda *a, **k: pytest.fail("looked up at scoring"))
    np.testing.assert_array_equal(fitted.transform(["the cat", "我的猫"]), before)
    assert before.shape == (2, len(PREDICTABILITY_NAMES))


def test_source_weights_give_every_file_the_same_total():
    w = source_weights(np.array(["a"] * 6 + ["b"] * 2))
    assert w.mean() == pytest.approx(1.0)
    assert w[:6].sum() == pytest.approx(w[6:].sum())


def test_fpr_tables_by_language_and_length_by_hand():
    texts = ["短" * 10, "短" * 60, "long " * 50, "x" * 10, "机" * 30, "ai " * 30]
    frame = pd.DataFrame({"text": texts, "label": [0, 0, 0, 0, 1, 1], "lang": ["zh", "zh", "en", None, "zh", "en"]})
    keys, order = length_buckets(frame["text"], [50, 200])
    assert order == ["lt50", "50_199", "ge200"] and keys.tolist() == ["lt50", "50_199", "ge200", "lt50", "lt50",
                                                                       "50_199"]
    scores = {"detector": np.array([0.9, 0.1, 0.6, 0.2, 0.95, 0.4])}
    out = fpr_tables(frame, scores, human_share=0.25, edges=[50, 200])
    # humans score 0.9, 0.1, 0.6, 0.2: the score that flags a quarter of them is 0.9
    assert out["thresholds"]["detector"] == {"human_share": 0.9, "p05": 0.5}
    assert out["ai_recall"]["detector"] == {"human_share": 0.5, "p05": 0.5}
    lang, length = out["groups"]["lang"], out["groups"]["length"]
    assert lang["zh"] == {"humans": 2, "detector_human_share": 0.5, "detector_p05": 0.5}
    assert lang["en"] == {"humans": 2, "detector_human_share": 0.0, "detector_p05": 0.5}   # "x"*10 guessed en
    assert length["lt50"] == {"humans": 2, "detector_human_share": 0.5, "detector_p05": 0.5}
    assert length["ge200"]["detector_p05"] == 1.0 and length["50_199"]["detector_p05"] == 0.0


def test_dense_view_choice_and_sample_weights():
    rows = _synthetic_rows(120, seed=5)
    texts, y = [r["text"] for r in rows], np.array([r["label"] == "ai" for r in rows], dtype=int)
    for dense, cls in (("hgb", StackedBlend), ("logreg", StackedLinear)):
        pipe = build_pipeline(FAST.model_copy(update={"dense_model": dense}))
        pipe.fit(texts, y, clf__sample_weight=source_weights(np.array(["a", "b", "b"] * 40)))
        assert type(pipe.named_steps["clf"]) is cls
        p = pipe.predict_proba(texts[:10])[:, 1]
        np.testing.assert_array_equal(p, [pipe.predict_proba([t])[0, 1] for t in texts[:10]])


def test_registered_pyfunc_equals_pipeline(trained):
    cfg, result = trained
    assert set(result.metrics) >= {"heldout_auroc_syn_a", "heldout_auroc_syn_b", "heldout_auroc_all"}
    # the benchmark's figures are logged too: K-fold and leave-one-file-out AUROC, speed, FPR tables
    evaluation = {"cv_auroc_detector_syn_a", "cv_auroc_baseline_syn_b", "cv_auroc_gain_syn_a",
                  "lofo_auroc_detector_syn_a", "lofo_auroc_baseline_syn_b", "predict_posts_per_cpu_s_detector",
                  "fpr_p05_detector_lang_zh", "fpr_human_share_baseline_lang_en",
                  "fpr_human_share_detector_length_lt50", "ai_recall_human_share_detector"}
    assert set(result.metrics) >= evaluation
    logged = tracking.client(cfg.mlflow).get_run(result.run_id).data.metrics
    assert {k: logged[k] for k in evaluation} == pytest.approx({k: result.metrics[k] for k in evaluation})
    assert result.metrics["heldout_auroc_all"] > 0.8            # the synthetic styles are learnable
    mv = tracking.configure(cfg.mlflow).get_model_version_by_alias(cfg.mlflow.text_model, "champion")
    assert str(mv.version) == result.version and mv.run_id == result.run_id
    model = mlflow.pyfunc.load_model(f"models:/{cfg.mlflow.text_model}@champion")
    texts = ["首先该产品具有显著优势。", "lol tried the new place", "总之 worth it", None, "", "   ",
             "In conclusion this product offers excellent value."]
    got = model.predict(pd.DataFrame({"text": texts}))
    got = np.asarray(got, dtype=np.float64)
    assert got.dtype == np.float64 and got.shape == (len(texts),)
    valid = [0, 1, 2, 6]
    expected = np.full(len(texts), np.nan)
    expected[valid] = result.pipeline.predict_proba([texts[i] for i in valid])[:, 1]
    np.testing.assert_array_equal(got, expected)                  # exact, NaN where there is no text
    assert ((got[valid] > 0) & (got[valid] < 1)).all()
    # A post's score does not depend on the batch it is scored in (Spark partitions, audit replays).
    one_by_one = [float(np.asarray(model.predict(pd.DataFrame({"text": [t]})))[0]) for t in texts]
    np.testing.assert_array_equal(np.asarray(one_by_one), got)


def test_pyfunc_is_pickled_under_its_module_path(trained, tmp_path):
    cfg, result = trained
    tracking.configure(cfg.mlflow)
    local = Path(mlflow.artifacts.download_artifacts(artifact_uri=result.registered_uri, dst_path=str(tmp_path)))
    assert ("genuine.models.text_detector", "TextDetectorModel") in pickled_classes(
        (local / "python_model.pkl").read_bytes())
    assert TextDetectorModel.__module__ == "genuine.models.text_detector"


def test_train_job_records_the_registered_version_in_the_ledger(spark, cfg_factory, tmp_path):
    rows = _synthetic_rows(120, seed=2)
    files = [_write(tmp_path / "syn_a.jsonl", rows[:80]), _write(tmp_path / "syn_b.jsonl", rows[80:])]
    cfg = cfg_factory(*[f"text_detector.{k}={v}" for k, v in FAST.model_dump(exclude_defaults=True).items()])
    result = job.run(cfg, files, alias="candidate", spark=spark)
    mv = tracking.client(cfg.mlflow).get_model_version_by_alias(cfg.mlflow.text_model, "candidate")
    assert (str(mv.version), mv.run_id) == (result.version, result.run_id)
    runs = read_delta_rs(cfg.table("runs"))
    assert len(runs) == 1
    row = runs.iloc[0]
    assert (row["job"], row["status"], row["error"]) == ("train-text-detector", "succeeded", None)
    assert dict(row["outputs"]) == {f"models:/{cfg.mlflow.text_model}": int(result.version)}
    assert json.loads(row["params"]) == {"alias": "candidate", "corpus": [str(f) for f in files]}
    assert dict(row["row_counts"]) == {"corpus_rows": 120}


def test_score_posts_spark_equals_pandas(trained, spark):
    cfg, result = trained
    tracking.configure(cfg.mlflow)      # the models:/ URI resolves in the process's store
    uri = f"models:/{cfg.mlflow.text_model}@champion"
    rows = [(f"p{i}", f"a{i % 3}", r["text"]) for i, r in enumerate(_synthetic_rows(40, seed=7))]
    rows += [("p_null", "a0", None), ("p_empty", "a1", ""), ("p_blank", "a2", " \n")]
    posts = spark.createDataFrame(rows, "post_id string, account_id string, body string")
    scored = score_posts(posts, uri, text_col="body")
    assert scored.columns == ["post_id", "account_id", "body", "p_ai"]
    assert dict(scored.dtypes)["p_ai"] == "double"
    # One Spark job; the flags say whether Spark holds null or NaN (pandas would show both as NaN).
    got = (scored.withColumn("_null", F.col("p_ai").isNull()).withColumn("_nan", F.isnan("p_ai"))
           .toPandas().set_index("post_id").sort_index())          # test-sized data only

    frame = pd.DataFrame(rows, columns=["post_id", "account_id", "body"]).set_index("post_id").sort_index()
    expected = np.asarray(mlflow.pyfunc.load_model(uri).predict(frame.rename(columns={"body": "text"})),
                          dtype=np.float64)
    pd.testing.assert_frame_equal(got[["account_id", "body"]], frame)
    np.testing.assert_array_equal(got["p_ai"].to_numpy(dtype=np.float64), expected)
    # Missing text is a SQL null in Spark (avg() skips it), never NaN; every real text is scored.
    missing = got.index.isin(["p_null", "p_empty", "p_blank"])
    assert got["_null"].tolist() == missing.tolist()
    assert not got["_nan"].fillna(False).astype(bool).any()


def test_score_posts_rejects_bad_input(trained, spark):
    cfg, _ = trained
    posts = spark.createDataFrame([("p1", "x", 0.1)], "post_id string, text string, p_ai double")
    with pytest.raises(ValueError, match="already has a 'p_ai'"):
        score_posts(posts, f"models:/{cfg.mlflow.text_model}@champion")
    with pytest.raises(KeyError, match="no column 'body'"):
        score_posts(posts.drop("p_ai"), f"models:/{cfg.mlflow.text_model}@champion", text_col="body")


@pytest.mark.slow
@pytest.mark.skipif(not (SHARED_CORPUS / "zh_qa.jsonl").exists(),
                    reason=f"HC3 Plus development split not present at {SHARED_CORPUS}")
def test_bench_beats_baseline_on_zh_qa(tmp_path):
    """Cheap corpus check: the smallest file alone, 2 folds; the full table is in docs/text-detector.md."""
    (tmp_path / "zh_qa.jsonl").symlink_to(SHARED_CORPUS / "zh_qa.jsonl")
    out = bench_text_detector(tmp_path, folds=2, seed=0)
    zh = out["files"]["zh_qa"]
    assert zh["rows"] == 690
    assert zh["detector"] > zh["baseline"]
    assert out["throughput_posts_per_s"]["detector"] > 100
