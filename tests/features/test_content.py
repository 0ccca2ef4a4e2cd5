"""Content features against a brute-force, loop-based Python oracle on small hand-built data.

The oracle re-implements every definition with plain Python (unicodedata instead of Java regexes, sets
instead of MinHash): near-duplicates are found by comparing ALL pairs of texts exactly. The corpus is
built so that every pair is either (near-)identical or clearly unrelated (guarded by a test), so the
seeded LSH must find exactly the oracle's pairs.
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from itertools import combinations

import numpy as np
import pandas as pd
import pytest
from pyspark.ml.feature import HashingTF, MinHashLSH
from pyspark.ml.functions import vector_to_array
from pyspark.ml.linalg import Vectors
from pyspark.sql import functions as F

from genuine.core.errors import ContentInputError
from genuine.core.schemas import RAW_ACCOUNTS, RAW_INTERACTIONS, RAW_POSTS
from genuine.features.content import (
    CONTENT_SCHEMA,
    FEATURES,
    POST_SCORES_SCHEMA,
    ContentConfig,
    content_features,
    near_dup_documents,
    post_texts,
)
from genuine.lib import text_stats as ts
from genuine.lib.near_dup import (
    minhash_bands,
    minhash_signatures,
    near_dup_pairs,
    near_duplicates,
    own_pairs,
    shingle_sets,
    text_ids,
)

CAFE_ZH = "今天去了新开的咖啡店，拿铁的味道非常好，环境也很安静，适合周末一个人看书。☕️😊"
CAFE_EN = "Loved the new coffee shop downtown! The latte was great, and the place is quiet enough to read."
CAFE_EN_NEAR = "Loved the new coffee shop downtown!! The latte was great, and the place is so quiet enough to read 😀"
RUN_3 = "打卡第3天：坚持早起跑步，今天跑了5公里，感觉整个人都精神了！#自律"
RUN_12 = "打卡第12天：坚持早起跑步，今天跑了8公里，感觉整个人都精神了！！#自律"
SERUM_A = ("This serum changed my skin in two weeks, honestly the best purchase this year. Link in bio for "
           "the discount code, do not miss it")
SERUM_B = ("This serum changed my skin in two weeks, honestly the best purchase this year. Link in bio for "
           "the discount code, do not miss out")
SLOGAN = "限时秒杀全场五折起，点击主页链接立即抢购，手慢无！"
MIXED = "buy now buy now buy now 买买买买 真的 太 好用 了 bargain bargain"
HIKE = "周末去爬了香山，红叶正好，人有点多但是风景值得。Autumn hike with friends, legs are sore now."
PHOTO = "随手拍：楼下的猫又来晒太阳了🐱"


def _records() -> tuple[list[dict], list[dict], list[dict], list[dict]]:
    accounts: list[dict] = []
    posts: list[dict] = []
    inter: list[dict] = []
    scores: list[dict] = []
    n = iter(range(1_000_000))

    def acc(aid: str, assisted: bool | None = False) -> None:
        accounts.append({"account_id": aid, "declared_ai_assisted": assisted})

    def post(aid: str, body: str | None, title: str | None = None, media: list | None = None,
             declared: bool | None = False, p_ai: float | None = None) -> str:
        pid = f"p{next(n)}"
        posts.append({"post_id": pid, "account_id": aid, "title": title, "body": body, "media": media,
                      "declared_ai": declared})
        if p_ai is not None or aid == "a_cafe":
            scores.append({"post_id": pid, "account_id": aid, "p_ai": p_ai})
        return pid

    def comment(aid: str, body: str | None) -> None:
        inter.append({"event_id": f"e{next(n)}", "actor_id": aid, "kind": "comment", "body": body})

    def media(*items: tuple[str | None, bool | None]) -> list:
        return [None if it is None else {"phash": it[0], "aigc_label": it[1]} for it in items]

    acc("a_cafe")  # Chinese + English, its Chinese post copied by a_copy and commented by a_farm
    post("a_cafe", CAFE_ZH, title="周末探店", p_ai=0.2)
    post("a_cafe", CAFE_EN, p_ai=None)  # scored row with a NULL p_ai: ignored
    post("a_cafe", RUN_3, media=media(("00ff00ff00ff00ff", False)), p_ai=0.9)
    post("a_cafe", RUN_12, p_ai=0.7)  # equals RUN_3 after normalization: template reuse
    acc("a_copy")
    post("a_copy", CAFE_ZH, title="周末探店", p_ai=0.95)
    post("a_copy", None)  # no text at all
    post("a_copy", "   ", title="")  # blank: no text either
    acc("a_near")  # near copy of a_cafe's English post, and two near-identical serum posts of its own
    post("a_near", CAFE_EN_NEAR, p_ai=0.4)
    post("a_near", SERUM_A, media=media(("ABCDEFABCDEFABCD", True)), p_ai=0.8)
    post("a_near", SERUM_B, media=media(("abcdefabcdefabcd", True), None, (None, True)), p_ai=0.6)
    acc("a_farm")  # comment farm: pastes a_cafe's post as a comment, and spam slogans
    comment("a_farm", CAFE_ZH)
    comment("a_farm", SLOGAN)
    comment("a_farm", "好看")  # too short to compare
    acc("a_short")  # short posts only: template reuse by equality, never near-dup
    post("a_short", "好看！")
    post("a_short", "好看!!")
    post("a_short", "nice")
    acc("a_media")  # shares a phash with a_near (case differs), undeclared AI labels
    post("a_media", PHOTO, media=media(("abcdefabcdefabcd", True), ("1111222233334444", False)))
    post("a_media", HIKE, media=media(("5555666677778888", True)), declared=True)  # declared post
    post("a_media", None, media=media(("1111222233334444", None)))
    acc("a_declared", assisted=True)  # declared AI assistance: its labels are not "undeclared"
    post("a_declared", MIXED, media=media(("5555666677778888", True), ("9999aaaabbbbcccc", True)))
    acc("a_emoji", assisted=None)
    post("a_emoji", "😀😀🎉", title="🎉")  # text, but empty once normalized
    post("a_emoji", "OK", title="Title only?")
    acc("a_none")  # no posts, no comments
    # A slogan blasted by many accounts: one distinct text, no pair explosion, exact HLL union.
    for i in range(40):
        acc(f"a_spam{i:02d}")
        post(f"a_spam{i:02d}", SLOGAN + ("" if i % 2 else " 🔥"))
    comment("ghost", SLOGAN)  # commenter not in accounts: counts as another account, gets no row
    return accounts, posts, inter, scores


# --------------------------------------------------------------------------------------------- oracle
def _is_han(c: str) -> bool:
    return unicodedata.name(c, "").startswith(("CJK UNIFIED IDEOGRAPH", "CJK COMPATIBILITY IDEOGRAPH"))


def _cat(c: str) -> str:
    return unicodedata.category(c)


def _text(title: str | None, body: str | None, fields: list[str]) -> str | None:
    parts = [v for f, v in (("title", title), ("body", body)) if f in fields and v and not v.isspace()]
    joined = "\n".join(parts)
    return joined if joined and not joined.isspace() else None


def _tokens(text: str) -> list[str]:
    out, word = [], ""
    for c in text.lower():
        if _is_han(c):
            if word:
                out.append(word)
                word = ""
            out.append(c)
        elif _cat(c)[0] in "LN":
            word += c
        elif word:
            out.append(word)
            word = ""
    return out + ([word] if word else [])


def _emoji(c: str) -> bool:
    cp = ord(c)
    return any(lo <= cp <= hi for lo, hi in ((0x2300, 0x23FF), (0x2600, 0x27BF), (0x2B00, 0x2BFF),
                                             (0x1F000, 0x1FAFF)))


def _normalize(text: str | None) -> str:
    out, in_digits = [], False
    for c in (text or "").lower():
        if _cat(c) == "Nd":
            if not in_digits:
                out.append("0")
            in_digits = True
            continue
        in_digits = False
        if _cat(c)[0] in "LN":
            out.append(c)
    return "".join(out)


def _shingles(norm: str, k: int) -> set[str]:
    return {norm[i:i + k] for i in range(len(norm) - k + 1)}


def _jaccard(a: str, b: str, k: int) -> float:
    sa, sb = _shingles(a, k), _shingles(b, k)
    return len(sa & sb) / len(sa | sb)


def _repeated(tok: list[str], n: int) -> float | None:
    grams = [tuple(tok[i:i + n]) for i in range(len(tok) - n + 1)]
    return 1 - len(set(grams)) / len(grams) if grams else None


def _mean(values: list) -> float | None:
    vals = [v for v in values if v is not None]
    return sum(vals) / len(vals) if vals else None


def oracle(accounts, posts, inter, scores, cfg: ContentConfig) -> pd.DataFrame:
    nd = cfg.near_dup
    acc_ids = [a["account_id"] for a in accounts]
    assisted = {a["account_id"]: bool(a["declared_ai_assisted"]) for a in accounts}
    by_acc: dict[str, list[dict]] = defaultdict(list)
    for p in posts:
        by_acc[p["account_id"]].append(p)

    # documents for near-duplicates: (account, normalized text)
    docs = [(p["account_id"], _normalize(_text(p["title"], p["body"], cfg.text_fields))) for p in posts]
    if nd.include_comments:
        docs += [(e["actor_id"], _normalize(e["body"])) for e in inter if e["kind"] == "comment"]
    docs = [(a, t) for a, t in docs if len(t) >= nd.min_chars]
    users: dict[str, set[str]] = defaultdict(set)
    for a, t in docs:
        users[t].add(a)
    near: dict[str, set[str]] = defaultdict(set)
    for t, u in combinations(sorted(users), 2):
        if 1 - _jaccard(t, u, nd.shingle_chars) <= nd.max_jaccard_distance:
            near[t].add(u)
            near[u].add(t)
    reach = {t: users[t].union(*[users[u] for u in near[t]]) for t in users}

    p_ai = {s["post_id"]: s["p_ai"] for s in scores}
    media_users: dict[str, set[str]] = defaultdict(set)
    for p in posts:
        for m in p["media"] or []:
            if m is not None and m["phash"] is not None:
                media_users[m["phash"].lower()].add(p["account_id"])

    rows = []
    for aid in acc_ids:
        ps = by_acc.get(aid, [])
        texts = [t for t in (_text(p["title"], p["body"], cfg.text_fields) for p in ps) if t is not None]
        toks = [_tokens(t) for t in texts]
        norms = [_normalize(_text(p["title"], p["body"], cfg.text_fields)) for p in ps]
        norms = [t for t in norms if t]
        reused = []
        for i, t in enumerate(norms):
            others = norms[:i] + norms[i + 1:]
            reused.append(t in others or (len(t) >= nd.min_chars and any(
                len(o) >= nd.min_chars and o != t and 1 - _jaccard(t, o, nd.shingle_chars) <= nd.max_jaccard_distance
                for o in others)))
        my_docs = {t for a, t in docs if a == aid}
        scored = [p_ai[p["post_id"]] for p in ps if p_ai.get(p["post_id"]) is not None]
        items = [(m, p) for p in ps for m in (p["media"] or []) if m is not None]
        hashes = [m["phash"].lower() for m, _ in items if m["phash"] is not None]
        row = {
            "account_id": aid,
            "text_posts": len(texts),
            "text_length_mean": _mean([len(t) for t in texts]),
            "lexical_diversity_mean": _mean([len(set(t)) / len(t) if t else None for t in toks]),
            "repeated_ngram_rate_mean": _mean([_repeated(t, cfg.ngram_tokens) for t in toks]),
            "punctuation_rate_mean": _mean([sum(_cat(c)[0] == "P" for c in t) / len(t) for t in texts]),
            "emoji_rate_mean": _mean([sum(_emoji(c) for c in t) / len(t) for t in texts]),
            "chinese_share_mean": _mean([sum(len(x) == 1 and _is_han(x) for x in t) / len(t) if t else None for t in toks]),
            "template_reuse_share": _mean([float(r) for r in reused]),
            "ai_text_p_mean": _mean(scored),
            "ai_text_high_share": _mean([float(s > cfg.ai_text_threshold) for s in scored]),
            "near_dup_other_accounts": len(set().union(*[reach[t] for t in my_docs]) - {aid}),
            "near_dup_cluster_accounts": max((len(reach[t]) for t in my_docs), default=0),
            "media_phash_reuse_share": _mean([float(len(media_users[h]) >= 2) for h in hashes]),
            "media_phash_other_accounts": len(set().union(*[media_users[h] for h in hashes]) - {aid}),
            "media_undeclared_aigc_share": _mean([float(bool(m["aigc_label"]) and not p["declared_ai"]
                                                        and not assisted[aid]) for m, p in items]),
        }
        rows.append(row)
    return pd.DataFrame(rows, columns=["account_id"] + [f.name for f in FEATURES])


# --------------------------------------------------------------------------------------------- spark
def _frames(spark, accounts, posts, inter, scores):
    def df(schema, recs):
        return spark.createDataFrame([tuple(r.get(f.name) for f in schema.fields) for r in recs], schema)

    return (df(RAW_ACCOUNTS, accounts), df(RAW_POSTS, posts), df(RAW_INTERACTIONS, inter),
            df(POST_SCORES_SCHEMA, scores))


def _compare(got: pd.DataFrame, want: pd.DataFrame) -> None:
    got = got.sort_values("account_id").reset_index(drop=True)
    want = want.sort_values("account_id").reset_index(drop=True)
    assert list(got.columns) == list(want.columns)
    assert got["account_id"].tolist() == want["account_id"].tolist()
    for f in FEATURES:
        g, w = got[f.name], want[f.name]
        if f.is_count:
            assert g.tolist() == w.astype("int64").tolist(), f.name
        else:
            gv, wv = g.astype(float).to_numpy(), w.astype(float).to_numpy()
            assert np.array_equal(np.isnan(gv), np.isnan(wv)), (f.name, gv, wv)
            np.testing.assert_allclose(gv, wv, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=f.name)


@pytest.fixture(scope="module")
def data():
    return _records()


@pytest.fixture(scope="module")
def content_cfg(cfg) -> ContentConfig:
    return ContentConfig.model_validate(cfg.features["content"])


@pytest.fixture(scope="module")
def result(spark, data, content_cfg):
    frames = _frames(spark, *data)
    out = content_features(*frames, content_cfg)
    return out, out.toPandas()


def test_config_block_validates(cfg, content_cfg):
    assert content_cfg.near_dup.max_jaccard_distance == cfg.features["content"]["near_dup"]["max_jaccard_distance"]
    with pytest.raises(ValueError):
        ContentConfig.model_validate({**cfg.features["content"], "typo": 1})
    with pytest.raises(ValueError):
        ContentConfig.model_validate({"near_dup": {"min_chars": 2, "shingle_chars": 3}})
    with pytest.raises(ValueError, match="min_shared_bands"):
        ContentConfig.model_validate({"near_dup": {"bands": 2, "min_shared_bands": 3}})
    assert ContentConfig.model_validate({"near_dup": {"bands": 2, "min_shared_bands": 2}}).near_dup.bands == 2


def test_schema_is_the_registry(result):
    out, _ = result
    assert out.schema == CONTENT_SCHEMA
    assert out.columns == ["account_id"] + [f.name for f in FEATURES]
    assert all(f.family == "content" for f in FEATURES)


def test_corpus_is_unambiguous(data, content_cfg):
    """Guard: every pair of comparable texts is clearly similar or clearly not, so LSH cannot flip it."""
    nd = content_cfg.near_dup
    _, posts, inter, _ = data
    texts = {_normalize(_text(p["title"], p["body"], content_cfg.text_fields)) for p in posts}
    texts |= {_normalize(e["body"]) for e in inter}
    texts = sorted(t for t in texts if len(t) >= nd.min_chars)
    sims = [_jaccard(a, b, nd.shingle_chars) for a, b in combinations(texts, 2)]
    assert all(s >= 0.8 or s <= 0.3 for s in sims), sorted(sims)
    assert sum(s >= 0.8 for s in sims) >= 2  # the corpus does hold near-duplicates (not only exact copies)


def test_matches_oracle(result, data, content_cfg):
    _, got = result
    want = oracle(*data, content_cfg)
    _compare(got, want)


def test_expected_highlights(result):
    """A few values spelled out, so an oracle bug shared with the code cannot hide everything."""
    _, got = result
    g = got.set_index("account_id")
    assert g.loc["a_none"].near_dup_other_accounts == 0 and np.isnan(g.loc["a_none"].text_length_mean)
    assert g.loc["a_cafe"].template_reuse_share == pytest.approx(0.5)
    assert g.loc["a_cafe"].near_dup_other_accounts == 3  # a_copy (post), a_farm (comment), a_near (English)
    assert g.loc["a_near"].template_reuse_share == pytest.approx(2 / 3)
    assert g.loc["a_spam00"].near_dup_other_accounts == 41  # 39 other spammers + a_farm + ghost
    assert g.loc["a_spam00"].near_dup_cluster_accounts == 42
    assert g.loc["a_short"].template_reuse_share == pytest.approx(2 / 3)
    assert g.loc["a_short"].near_dup_cluster_accounts == 0
    assert g.loc["a_media"].media_phash_other_accounts == 2  # a_near (case-insensitive), a_declared
    assert g.loc["a_media"].media_undeclared_aigc_share == pytest.approx(1 / 4)
    assert g.loc["a_declared"].media_undeclared_aigc_share == 0.0
    assert g.loc["a_copy"].text_posts == 1


def test_config_switches_body_only_and_no_comments(spark, data, cfg):
    """text_fields and include_comments reach the texts and the near-dup corpus (sub-steps, to stay fast)."""
    raw = cfg.features["content"]
    alt = ContentConfig.model_validate({**raw, "text_fields": ["body"],
                                        "near_dup": {**raw["near_dup"], "include_comments": False}})
    accounts, posts, inter, scores = data
    _, p, i, _ = _frames(spark, *data)
    texts = post_texts(p, alt)
    got = texts.select("post_id", "text", "norm").toPandas().sort_values("post_id").reset_index(drop=True)
    want = pd.DataFrame([{"post_id": r["post_id"], "text": _text(r["title"], r["body"], ["body"]),
                          "norm": _normalize(_text(r["title"], r["body"], ["body"]))} for r in posts])
    pd.testing.assert_frame_equal(got, want.sort_values("post_id").reset_index(drop=True))
    for conf, with_comments in ((alt, False), (ContentConfig.model_validate(raw), True)):
        docs = sorted(tuple(r) for r in near_dup_documents(post_texts(p, conf), i, conf)
                      .select("account_id", "norm").collect())
        expect = [(r["account_id"], _normalize(_text(r["title"], r["body"], conf.text_fields))) for r in posts]
        if with_comments:
            expect += [(e["actor_id"], _normalize(e["body"])) for e in inter]
        assert docs == sorted(d for d in expect if len(d[1]) >= conf.near_dup.min_chars)


def test_banded_pairs_equal_exact_pairs_and_mllib_join(spark, data, content_cfg):
    """The banded LSH finds exactly the oracle's pairs, as does MLlib's own approxSimilarityJoin."""
    nd = content_cfg.near_dup
    accounts, posts, inter, scores = data
    _, p, _, _ = _frames(spark, accounts, posts, inter, scores)
    texts = (post_texts(p, content_cfg).where(F.char_length("norm") >= nd.min_chars)
             .select("key", "norm").distinct())
    shingles = shingle_sets(texts, nd.lsh)
    bands = minhash_bands(shingles, nd.lsh)
    got = {(r.key_a, r.key_b) for r in near_dup_pairs(bands, shingles, nd.lsh).collect()}
    norm_of = {r.key: r.norm for r in texts.collect()}
    want = {(a, b) for a, b in combinations(sorted(norm_of), 2)
            if 1 - _jaccard(norm_of[a], norm_of[b], nd.shingle_chars) <= nd.max_jaccard_distance}
    assert got == want and len(want) >= 2

    vec = HashingTF(inputCol="shingles", outputCol="v", numFeatures=nd.hash_features, binary=True)
    sv = vec.transform(shingles)
    model = MinHashLSH(inputCol="v", outputCol="h", numHashTables=nd.bands, seed=nd.seed).fit(sv)
    joined = model.approxSimilarityJoin(sv, sv, nd.max_jaccard_distance, "d")
    mllib = {(r.a, r.b) for r in joined.select(F.col("datasetA.key").alias("a"), F.col("datasetB.key").alias("b"))
             .where("a < b").collect()}
    assert mllib == want


def test_minhash_signatures_are_mllibs(spark, content_cfg):
    """NumPy evaluation of the MinHash family == MLlib MinHashLSHModel.transform, value for value.

    Sets of signed 64-bit hashes of all sizes (one element, colliding indices, hundreds), over several
    Arrow batches; MLlib sees the same sets as sparse vectors of their feature indices.
    """
    nd = content_cfg.near_dup.model_copy(update={"bands": 7, "rows_per_band": 3, "hash_features": 1 << 12})
    rng = np.random.default_rng(5)
    sets = [[int(x) for x in rng.integers(-2**63, 2**63 - 1, size=n, dtype=np.int64)]
            for n in [1, 1, 2, 3, 50, 400] + list(rng.integers(1, 80, size=60))]
    sets.append([7, 7 + (1 << 12), -5])            # two hashes on one index; a negative one
    shingles = spark.createDataFrame(list(enumerate(sets)), "key long, shingles array<long>")
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "16")
    try:
        got = {r.key: list(r._h) for r in minhash_signatures(shingles, nd.lsh).collect()}
    finally:
        spark.conf.unset("spark.sql.execution.arrow.maxRecordsPerBatch")
    vectors = spark.createDataFrame(
        [(i, Vectors.sparse(nd.hash_features, sorted({h % nd.hash_features: 1.0 for h in s}.items())))
         for i, s in enumerate(sets)], ["key", "v"])
    model = MinHashLSH(inputCol="v", outputCol="h", numHashTables=nd.bands * nd.rows_per_band,
                       seed=nd.seed).fit(vectors)
    want = {r.key: [int(x) for x in r.h] for r in model.transform(vectors)
            .select("key", F.transform("h", lambda v: vector_to_array(v)[0]).alias("h")).collect()}
    assert got == want and len(want) == len(sets)


def test_oversized_bucket_links_to_representative_only(spark, content_cfg):
    """Above max_bucket_size a bucket emits member->representative pairs, not all pairs (linear cost)."""
    nd = content_cfg.near_dup.model_copy(update={"max_bucket_size": 3})
    keys = [f"k{i}" for i in range(6)]
    same = ["aaa", "bbb", "ccc"]
    shingles = spark.createDataFrame([(k, same) for k in keys] + [("x1", same), ("x2", ["zzz"])],
                                     "key string, shingles array<string>")
    # the same two buckets in two bands (1/2 and 3/4), so every emitted pair shares min_shared_bands = 2
    rows = spark.createDataFrame([(k, b) for b in (1, 3) for k in keys]
                                 + [(k, b) for b in (2, 4) for k in ("x1", "k0", "x2")], "key string, bucket long")
    got = sorted(tuple(r) for r in near_dup_pairs(rows, shingles, nd.lsh).collect())
    # bucket 1 (6 > 3 members): star around k0; bucket 2 (3 members): all pairs, x2 rejected by Jaccard
    assert got == sorted([("k0", k) for k in keys[1:]] + [("k0", "x1")])


def test_candidates_share_min_shared_bands(spark, content_cfg):
    """A pair that meets in one band only is no candidate when min_shared_bands = 2 (identical texts or not)."""
    shingles = spark.createDataFrame([(k, ["aaa", "bbb"]) for k in ("a", "b", "c", "d")],
                                     "key string, shingles array<string>")
    # a-b share buckets 1 and 2; c-d share bucket 3 only; a-c share bucket 4 only
    rows = spark.createDataFrame([("a", 1), ("b", 1), ("a", 2), ("b", 2), ("c", 3), ("d", 3), ("a", 4), ("c", 4)],
                                 "key string, bucket long")
    nd = content_cfg.near_dup
    pairs = {m: sorted(tuple(r) for r in near_dup_pairs(rows, shingles, nd.model_copy(
        update={"min_shared_bands": m})).collect()) for m in (1, 2, 3)}
    assert pairs == {1: [("a", "b"), ("a", "c"), ("c", "d")], 2: [("a", "b")], 3: []}


def test_own_pairs_are_pairs_one_account_posted_both_texts(spark):
    """own_pairs == brute force over accounts, including a text with many posters (expanded from the rarer side)."""
    members = [(f"u{i}", "viral") for i in range(40)] + [("u0", "v2"), ("u1", "v2"), ("u1", "solo"),
                                                         ("u2", "t1"), ("u2", "t2"), ("u3", "t2")]
    pairs = [("viral", "v2"), ("t1", "t2"), ("solo", "t2"), ("nobody", "viral")]
    got = sorted(tuple(r) for r in own_pairs(spark.createDataFrame(members, "account_id string, key string"),
                                             spark.createDataFrame(pairs, "key_a string, key_b string")).collect())
    keys_of: dict[str, set[str]] = defaultdict(set)
    for account, key in members:
        keys_of[account].add(key)
    want = sorted((acc, a, b) for acc, keys in keys_of.items() for a, b in pairs if a in keys and b in keys)
    assert got == want == [("u0", "viral", "v2"), ("u1", "viral", "v2"), ("u2", "t1", "t2")]


def test_text_stat_expressions(spark):
    """Spot values of the per-text expressions, including NULL and too-short inputs."""
    rows = [("Hello, 世界! it's 3x 😀",), ("",), (None,), ("a b a b a b",)]
    df = spark.createDataFrame(rows, "t string").select(
        ts.tokens(F.col("t")).alias("tok"), ts.normalize(F.col("t")).alias("norm"),
        ts.repeated_ngram_rate(ts.tokens(F.col("t")), 2).alias("rep"),
        ts.repeated_ngram_rate(ts.tokens(F.col("t")), 1).alias("rep1"),
        ts.repeated_ngram_rate(ts.tokens(F.col("t")), 7).alias("rep7"),
        ts.han_token_share(F.col("t"), ts.tokens(F.col("t"))).alias("han"),
        ts.lexical_diversity(ts.tokens(F.col("t"))).alias("div"),
        ts.post_text(F.lit(" "), F.col("t")).alias("text"))
    got = df.collect()
    assert got[0].tok == ["hello", "世", "界", "it", "s", "3x"] == _tokens(rows[0][0])
    assert got[0].norm == "hello世界its0x" == _normalize(rows[0][0])
    assert got[1].tok == [] and got[1].div is None and got[1].text is None and got[2].text is None
    assert got[3].rep == pytest.approx(1 - 2 / 5) and got[3].div == pytest.approx(2 / 6)
    assert got[3].rep1 == pytest.approx(1 - 2 / 6) and got[3].rep7 is None and got[1].rep1 is None
    assert got[0].han == pytest.approx(2 / 6) and got[3].han == 0 and got[1].han is None
    for r, text in zip(got, rows, strict=True):
        assert r.rep == _repeated(_tokens(text[0]), 2) if text[0] else r.rep is None


def test_missing_column_is_named(spark, data, content_cfg):
    a, p, i, s = _frames(spark, *data)
    with pytest.raises(ContentInputError, match="declared_ai_assisted"):
        content_features(a.drop("declared_ai_assisted"), p, i, s, content_cfg)


def test_near_duplicate_pairs_do_not_depend_on_partitioning_when_buckets_overflow(spark, content_cfg):
    """An over-full bucket links its members to one representative: the same text whatever the partitions.

    Twelve variants of one sentence share most buckets, over a cap of 3, so the pairs are stars around
    each bucket's representative. The representative used to be the smallest `monotonically_increasing_id`,
    which encodes the partition a text landed in, so a cluster and local mode found different pairs.
    """
    lsh = content_cfg.near_dup.model_copy(update={"max_bucket_size": 3}).lsh
    base = "the quick brown fox jumps over the lazy dog near the river bank every single morning"
    rows = [(f"k{i:02d}", base + f" extra words number {i}") for i in range(12)]
    rng = np.random.default_rng(3)
    rows += [(f"u{i:02d}", "".join(rng.choice(list("abcdefghijklmnopqrstuvwxyz "), size=80))) for i in range(30)]
    df = spark.createDataFrame(rows, "key string, norm string")
    before = spark.conf.get("spark.sql.shuffle.partitions")
    results = []
    try:
        for parts, shuffle in ((1, 1), (7, 5), (3, 4)):
            spark.conf.set("spark.sql.shuffle.partitions", str(shuffle))
            split = df.coalesce(1) if parts == 1 else df.repartition(parts, F.xxhash64("key", F.lit(parts)))
            results.append({frozenset((r.key_a, r.key_b)) for r in near_duplicates(split, lsh).collect()})
    finally:
        spark.conf.set("spark.sql.shuffle.partitions", before)
    assert {k for pair in results[0] for k in pair} == {f"k{i:02d}" for i in range(12)}
    assert len(results[0]) < 12 * 11 // 2          # the cap held: not every pair of the twelve
    assert results[1] == results[0] and results[2] == results[0]


def test_text_ids_hash_again_when_two_texts_share_an_id(spark):
    texts = spark.createDataFrame([(f"k{i}", f"text {i}") for i in range(5)], "key string, norm string")
    # salt 0: every text gets id 0 (all collide); salt 1: distinct ids
    ids = text_ids(texts, id_of=lambda key, salt: F.xxhash64(key) * F.lit(salt))
    got = {r.key: r._id for r in ids.collect()}
    assert got == {r.key: r.h for r in texts.select("key", F.xxhash64("key").alias("h")).collect()}
    with pytest.raises(RuntimeError, match="every one of the 2 salts"):
        text_ids(texts, salts=range(2), id_of=lambda key, salt: F.lit(7).cast("long"))
