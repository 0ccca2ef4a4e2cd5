"""Vectorized synthetic text: posts, comments, names, bios and report notes in Chinese and English.

Each text is assembled slot by slot from the phrase banks in `banks.py` with Arrow compute kernels
(take + element-wise join), so a million posts cost a few C-level passes instead of a million Python
string operations. Styles mirror what the detector has to learn (see docs/simulator.md): human text is
short and informal; AI text is long, formal and connector-driven; LLM text is fluent and varied, with few
connectors; templates repeat within an account; farms repeat each other; loose rings paraphrase one
talking point; fans write short emoji-heavy cheers.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from genuine.devtools.simulator import banks as B
from genuine.devtools.simulator.encode import digits

STYLES: tuple[str, ...] = ("human", "brand", "template", "ai", "ai_varied", "farm", "spun", "default", "llm",
                           "paraphrase", "fan")
STYLE = {name: code for code, name in enumerate(STYLES)}

FARM_TITLE_EN = ("Must-have {t}", "{t} haul", "My {t} favourites")
FARM_POST_EN = ("Best {t} find ever! Highly recommend", "My go-to {t} pick, bought it three times",
                "Cannot live without this {t} gem")


@cache
def _bank(strings: tuple[str, ...]) -> pa.StringArray:
    return pa.array(list(strings), type=pa.string())


@cache
def _split_slot(strings: tuple[str, ...]) -> tuple[pa.StringArray, pa.StringArray, np.ndarray]:
    """Split each entry at its (single) {t} slot: (before, after, has_slot)."""
    pre, post, has = [], [], []
    for s in strings:
        head, sep, tail = s.partition("{t}")
        pre.append(head)
        post.append(tail)
        has.append(bool(sep))
    return _bank(tuple(pre)), _bank(tuple(post)), np.array(has)


def _pick(rng: np.random.Generator, bank: Sequence[str], n: int, p: float = 1.0) -> pa.Array:
    """A random entry of `bank` per row; null (skipped when joined) with probability 1 - p."""
    idx = rng.integers(0, len(bank), size=n)
    if p >= 1.0:
        return _bank(tuple(bank)).take(pa.array(idx))
    return _bank(tuple(bank)).take(pa.array(idx, mask=rng.random(n) >= p))


def _fill(rng: np.random.Generator, bank: Sequence[str], topic: pa.Array, p: float = 1.0) -> pa.Array:
    """Pick from a bank whose entries may hold one {t} slot, filled with each row's topic."""
    n = len(topic)
    pre, post, has = _split_slot(tuple(bank))
    idx = rng.integers(0, len(bank), size=n)
    absent = rng.random(n) >= p if p < 1.0 else np.zeros(n, dtype=bool)
    t = pc.if_else(pa.array(has[idx]), topic, pa.scalar(""))
    out = pc.binary_join_element_wise(pre.take(pa.array(idx)), t, post.take(pa.array(idx)), "")
    return pc.if_else(pa.array(absent), pa.scalar(None, pa.string()), out) if absent.any() else out


def _join(parts: Sequence[pa.Array | str], sep: str = "") -> pa.Array:
    """Concatenate row-wise, skipping null parts (and their separators).

    Built on null_handling="replace": pyarrow 23's "skip" mode drops rows whose parts are all null.
    """
    args = [pa.scalar(p) if isinstance(p, str) else p for p in parts]
    if sep:
        head = pa.scalar(sep)
        args = args[:1] + [pc.binary_join_element_wise(head, a, "") for a in args[1:]]
    out = pc.binary_join_element_wise(*args, "", null_handling="replace", null_replacement="")
    return pc.utf8_ltrim(out, characters=sep) if sep else out


def _with(part: pa.Array, suffix: pa.Array | str) -> pa.Array:
    """part + suffix, null when part is null (so an absent slot takes its separator with it)."""
    suffix = pa.scalar(suffix) if isinstance(suffix, str) else suffix
    return pc.binary_join_element_wise(part, suffix, "")


def _spaced(part: pa.Array) -> pa.Array:
    """" " + part, null when part is null."""
    return pc.binary_join_element_wise(pa.scalar(" "), part, "")


def _emoji(rng: np.random.Generator, n: int, p: float, max_repeat: int = 3) -> pa.Array:
    e = _pick(rng, B.EMOJI, n, p)
    return pc.binary_repeat(e, pa.array(rng.integers(1, max_repeat + 1, size=n)))


def by_group(groups: np.ndarray, build: Callable[[int, np.ndarray], pa.Array]) -> pa.Array:
    """Build texts per group of rows (style x language) and put them back in row order."""
    pieces, order = [], []
    for g in np.unique(groups):
        idx = np.flatnonzero(groups == g)
        pieces.append(build(int(g), idx))
        order.append(idx)
    if not pieces:
        return pa.array([], type=pa.string())
    perm = np.concatenate(order)
    inverse = np.empty_like(perm)
    inverse[perm] = np.arange(perm.size)
    return pa.concat_arrays([p.cast(pa.string()) for p in pieces]).take(pa.array(inverse))


# --- posts -----------------------------------------------------------------------------------------------


def _human_body(rng: np.random.Generator, n: int, zh: bool) -> pa.Array:
    if zh:
        sep = _pick(rng, B.H_ZH_SEP, n)
        clause2 = _join([_with(_pick(rng, B.H_ZH_SCENE, n, 0.3), "，"), _with(_pick(rng, B.H_ZH_DETAIL, n, 0.3), "，")])
        return _join([_with(_pick(rng, B.H_ZH_OPENER, n, 0.5), sep), _pick(rng, B.H_ZH_SCENE, n), "，",
                      _with(_pick(rng, B.H_ZH_DETAIL, n, 0.5), "，"), clause2, _pick(rng, B.H_ZH_REACTION, n),
                      _pick(rng, B.H_ZH_TAIL, n), _emoji(rng, n, 0.6)])
    return _join([_join([_pick(rng, B.H_EN_OPENER, n, 0.5), _pick(rng, B.H_EN_SCENE, n),
                         _pick(rng, B.H_EN_DETAIL, n, 0.5), _pick(rng, B.H_EN_REACTION, n)], " "),
                  _pick(rng, B.H_EN_TAIL, n), _spaced(_emoji(rng, n, 0.5))])


def _human_title(rng: np.random.Generator, n: int, zh: bool) -> pa.Array:
    if zh:
        return _join([_pick(rng, B.H_ZH_TITLE_PREFIX, n), _pick(rng, B.H_ZH_TITLE, n), _emoji(rng, n, 0.4, 2)])
    return _join([_pick(rng, B.H_EN_TITLE, n), _emoji(rng, n, 0.4, 2)], " ")


def _ai_sentences(rng: np.random.Generator, topic: pa.Array, zh: bool, k_range: tuple[int, int],
                  varied: bool) -> pa.Array:
    """Connector-driven paragraphs: 首先…其次…总之 / Firstly… Moreover… In conclusion."""
    n = len(topic)
    k = rng.integers(k_range[0], k_range[1] + 1, size=n)
    row = np.repeat(np.arange(n), k)
    pos = np.arange(row.size) - np.repeat(np.cumsum(k) - k, k)
    m = row.size
    first_bank, mid_bank, last_bank = ((B.AI_ZH_FIRST, B.AI_ZH_MID, B.AI_ZH_LAST) if zh
                                       else (B.AI_EN_FIRST, B.AI_EN_MID, B.AI_EN_LAST))
    conn_bank = first_bank + mid_bank + last_bank
    nf, nm, nl = len(first_bank), len(mid_bank), len(last_bank)
    is_first, is_last = pos == 0, (pos == k[row] - 1) & (k[row] > 1)
    conn = np.where(is_first, rng.integers(0, nf, m),
                    np.where(is_last, nf + nm + rng.integers(0, nl, m), nf + rng.integers(0, nm, m)))
    keep = rng.random(m) < (0.5 if varied else 0.85)
    keep |= is_last & (not varied)
    conn_arr = _bank(conn_bank).take(pa.array(conn, mask=~keep))
    flat_topic = topic.take(pa.array(row))
    if zh:
        lead = _fill(rng, ("在{t}方面，", "对于{t}爱好者来说，", "说到{t}，"), flat_topic, 0.3)
        parts = [conn_arr, lead, _pick(rng, B.AI_ZH_SUBJECT, m), _pick(rng, B.AI_ZH_PREDICATE, m)]
        if varied:   # a second clause: more varied, still formal
            parts.append(pc.binary_join_element_wise(pa.scalar("，"), _pick(rng, B.AI_VARIED_ZH_EXTRA, m, 0.6), ""))
        sentence = _join(parts + [_pick(rng, B.AI_ZH_END, m)])
        joiner = ""
    else:
        subj_bank = B.AI_EN_SUBJECT + tuple(s[0].upper() + s[1:] for s in B.AI_EN_SUBJECT)
        has_conn = np.asarray(pc.is_valid(conn_arr))
        subj_idx = rng.integers(0, len(B.AI_EN_SUBJECT), m) + np.where(has_conn, 0, len(B.AI_EN_SUBJECT))
        pred = _pick(rng, B.AI_EN_PREDICATE, m)
        if varied:
            extra = pc.binary_join_element_wise(pa.scalar(", and "), _pick(rng, B.AI_VARIED_EN_EXTRA, m, 0.5), "")
            pred = _join([pred, extra])
        body = _join([conn_arr, _bank(subj_bank).take(pa.array(subj_idx)), pred], " ")
        sentence = _join([body, _pick(rng, B.AI_EN_END, m)])
        joiner = " "
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(k, out=offsets[1:])
    return pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), sentence), joiner)


def _ai_title(rng: np.random.Generator, topic: pa.Array, zh: bool) -> pa.Array:
    return _fill(rng, B.AI_ZH_TITLE if zh else B.AI_EN_TITLE, topic)


def _template_parts(rng: np.random.Generator, templates: tuple[tuple[str, ...], ...], which: np.ndarray,
                    topic: pa.Array) -> pa.Array:
    """Fill each row's account template: the skeleton repeats, only topic and number change."""
    which = which % len(templates)

    def build(k: int, idx: np.ndarray) -> pa.Array:
        t = topic.take(pa.array(idx))
        num = pc.cast(pa.array(rng.integers(2, 31, size=idx.size)), pa.string())
        parts = [t if p == "{t}" else num if p == "{n}" else p for p in templates[k]]
        return _join(parts)

    return by_group(which, build)


def _brand_body(rng: np.random.Generator, n: int, zh: bool) -> pa.Array:
    if zh:
        return _join([_pick(rng, B.BRAND_ZH_OPENER, n), _pick(rng, B.BRAND_ZH_PRODUCT, n), "，",
                      _pick(rng, B.BRAND_ZH_PITCH, n), _with(_pick(rng, ("，", "！", " "), n, 0.5),
                                                              _pick(rng, B.BRAND_ZH_PITCH, n)),
                      _pick(rng, B.BRAND_ZH_END, n), _emoji(rng, n, 0.5, 2)])
    return _join([_join([_pick(rng, B.BRAND_EN_OPENER, n), _pick(rng, B.BRAND_EN_PRODUCT, n), "-",
                         _pick(rng, B.BRAND_EN_PITCH, n)], " "), _emoji(rng, n, 0.5, 2)])


def _farm_body(rng: np.random.Generator, topic: pa.Array, zh: bool) -> pa.Array:
    n = len(topic)
    if zh:
        return _join([_pick(rng, B.FARM_POST_ZH, n), _fill(rng, B.FARM_POST_ZH_BODY, topic),
                      _pick(rng, B.FARM_COMMENT_SUFFIX, n)])
    return _join([_fill(rng, FARM_POST_EN, topic), _pick(rng, B.FARM_COMMENT_SUFFIX, n)])


def _spun_body(rng: np.random.Generator, n: int, zh: bool) -> pa.Array:
    """Ring content: human openers around machine-spun claims."""
    if zh:
        return _join([_with(_pick(rng, B.H_ZH_OPENER, n, 0.6), "，"), _pick(rng, B.AI_ZH_SUBJECT, n),
                      _pick(rng, B.AI_ZH_PREDICATE, n), "，", _pick(rng, B.H_ZH_REACTION, n),
                      _pick(rng, B.H_ZH_TAIL, n), _emoji(rng, n, 0.5)])
    return _join([_join([_pick(rng, B.H_EN_OPENER, n, 0.6), _pick(rng, B.AI_EN_SUBJECT, n),
                         _pick(rng, B.AI_EN_PREDICATE, n), _pick(rng, B.H_EN_REACTION, n)], " "),
                  _spaced(_emoji(rng, n, 0.5))])


def _llm_body(rng: np.random.Generator, topic: pa.Array, zh: bool) -> pa.Array:
    """Fluent generated text: a framing sentence, 2-4 polished sentences, a question or a sign-off."""
    n = len(topic)
    k = rng.integers(2, 5, size=n)
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(k, out=offsets[1:])
    bank = B.LLM_ZH_BODY if zh else B.LLM_EN_BODY
    distinct = np.argsort(rng.random((n, len(bank))), axis=1)   # no sentence twice in one post
    body = _bank(bank).take(pa.array(distinct[:, :4][np.arange(4)[None, :] < k[:, None]]))
    joiner = "" if zh else " "
    middle = pc.binary_join(pa.ListArray.from_arrays(pa.array(offsets), body), joiner)
    tag = pc.binary_join_element_wise(pa.scalar(" #"), topic, "")
    tag = pc.if_else(pa.array(rng.random(n) >= 0.3), pa.scalar(None, pa.string()), tag)
    return _join([_fill(rng, B.LLM_ZH_OPEN if zh else B.LLM_EN_OPEN, topic), middle,
                  _pick(rng, B.LLM_ZH_CLOSE if zh else B.LLM_EN_CLOSE, n, 0.8), _emoji(rng, n, 0.25, 1), tag],
                 joiner)


def post_texts(rng: np.random.Generator, style: np.ndarray, zh: np.ndarray, topic: pa.Array,
               template: np.ndarray) -> tuple[pa.Array, pa.Array]:
    """(title, body) per post, by style code (STYLES) and language."""
    groups = style.astype(np.int64) * 2 + zh.astype(np.int64)

    def title(g: int, idx: np.ndarray) -> pa.Array:
        s, z, n = STYLES[g // 2], bool(g % 2), idx.size
        t = topic.take(pa.array(idx))
        if s in ("ai", "ai_varied"):
            return _ai_title(rng, t, z)
        if s == "llm":
            return _fill(rng, B.LLM_ZH_TITLE if z else B.LLM_EN_TITLE, t)
        if s == "template":
            return _fill(rng, B.TEMPLATE_TITLE_ZH if z else B.TEMPLATE_TITLE_EN, t)
        if s == "brand":
            return _join([_pick(rng, B.BRAND_ZH_OPENER if z else B.BRAND_EN_OPENER, n),
                          _pick(rng, B.BRAND_ZH_PRODUCT if z else B.BRAND_EN_PRODUCT, n)], "" if z else " ")
        if s == "farm":
            return _join([_pick(rng, B.FARM_POST_ZH, n), t]) if z else _fill(rng, FARM_TITLE_EN, t)
        return _human_title(rng, n, z)

    def body(g: int, idx: np.ndarray) -> pa.Array:
        s, z, n = STYLES[g // 2], bool(g % 2), idx.size
        t = topic.take(pa.array(idx))
        if s == "ai":
            return _ai_sentences(rng, t, z, (3, 6), varied=False)
        if s == "ai_varied":
            return _ai_sentences(rng, t, z, (2, 5), varied=True)
        if s == "llm":
            return _llm_body(rng, t, z)
        if s == "template":
            return _template_parts(rng, B.TEMPLATE_ZH if z else B.TEMPLATE_EN, template[idx], t)
        if s == "brand":
            return _brand_body(rng, n, z)
        if s == "farm":
            return _farm_body(rng, t, z)
        if s == "spun":
            return _spun_body(rng, n, z)
        return _human_body(rng, n, z)

    return by_group(groups, title), by_group(groups, body)


# --- comments ---------------------------------------------------------------------------------------------


def _paraphrase(rng: np.random.Generator, base: np.ndarray, zh: bool) -> pa.Array:
    """The campaign's talking point (base) in a random wording, sometimes with a second point."""
    n = base.size
    points = B.PARAPHRASE_ZH if zh else B.PARAPHRASE_EN
    width = len(points[0])
    flat = tuple(p for group in points for p in group)
    point = np.where(base >= 0, base, rng.integers(0, 1 << 30, size=n)) % len(points)
    first = _bank(flat).take(pa.array(point * width + rng.integers(0, width, size=n)))
    other = (point + 1 + rng.integers(0, len(points) - 1, size=n)) % len(points)
    second = _bank(flat).take(pa.array(other * width + rng.integers(0, width, size=n), mask=rng.random(n) >= 0.35))
    sep = "，" if zh else ", "
    opener = _pick(rng, B.PARAPHRASE_ZH_OPEN if zh else B.PARAPHRASE_EN_OPEN, n, 0.5)
    return _join([_with(opener, "，" if zh else " "), first, pc.binary_join_element_wise(pa.scalar(sep), second, ""),
                  _pick(rng, B.PARAPHRASE_TAIL, n)])


def comment_texts(rng: np.random.Generator, style: np.ndarray, zh: np.ndarray, topic: pa.Array,
                  base: np.ndarray) -> pa.Array:
    """Comment bodies. Rows with base >= 0 share that base text: near-duplicates for farms, the campaign's
    talking point (paraphrased) for loose rings."""
    groups = style.astype(np.int64) * 2 + zh.astype(np.int64)

    def build(g: int, idx: np.ndarray) -> pa.Array:
        s, z, n = STYLES[g // 2], bool(g % 2), idx.size
        t = topic.take(pa.array(idx))
        if s == "llm":
            if z:
                return _join([_pick(rng, B.LLMC_ZH_OPEN, n), _fill(rng, B.LLMC_ZH_BODY, t), _pick(rng, B.LLMC_ZH_END, n)])
            return _join([_pick(rng, B.LLMC_EN_OPEN, n), _fill(rng, B.LLMC_EN_BODY, t), _pick(rng, B.LLMC_EN_END, n)],
                         " ")
        if s == "paraphrase":
            return _paraphrase(rng, base[idx], z)
        if s == "fan":
            bank = B.FAN_ZH if z else B.FAN_EN
            cheer = _join([_pick(rng, bank, n), _pick(rng, bank, n, 0.3)], "" if z else " ")
            run = pc.binary_repeat(_pick(rng, B.FAN_EMOJI, n, 0.85), pa.array(rng.integers(1, 6, size=n)))
            return _join([cheer, run])
        if s in ("ai", "ai_varied"):
            if z:
                return _join([_pick(rng, B.AIC_ZH_OPENER, n), _fill(rng, B.AIC_ZH_MIDDLE, t), _pick(rng, B.AIC_ZH_END, n)])
            return _join([_pick(rng, B.AIC_EN_OPENER, n), _fill(rng, B.AIC_EN_MIDDLE, t), _pick(rng, B.AIC_EN_END, n)],
                         " ")
        if s == "template":
            return _fill(rng, B.TEMPLATE_COMMENT_ZH if z else B.TEMPLATE_COMMENT_EN, t)
        if s == "brand":
            return _join([_pick(rng, B.BRAND_REPLY_ZH if z else B.BRAND_REPLY_EN, n), _emoji(rng, n, 0.3, 1)])
        if s == "farm":
            bank = B.FARM_COMMENT_ZH if z else B.FARM_COMMENT_EN
            b = base[idx]
            b = np.where(b >= 0, b, rng.integers(0, 1 << 30, size=n)) % len(bank)
            prefix = _pick(rng, B.FARM_COMMENT_PREFIX, n) if z else pa.scalar("")
            return _join([prefix, _bank(bank).take(pa.array(b)), _pick(rng, B.FARM_COMMENT_SUFFIX, n)])
        if z:
            return _join([_pick(rng, B.HC_ZH, n), _pick(rng, B.HC_ZH_EXTRA, n), _emoji(rng, n, 0.4)])
        return _join([_pick(rng, B.HC_EN, n), _pick(rng, B.HC_EN_EXTRA, n), _emoji(rng, n, 0.3)])

    return by_group(groups, build)


# --- accounts and reports -----------------------------------------------------------------------------------


def nicknames(rng: np.random.Generator, style: np.ndarray, zh: np.ndarray) -> pa.Array:
    groups = style.astype(np.int64) * 2 + zh.astype(np.int64)

    def build(g: int, idx: np.ndarray) -> pa.Array:
        s, z, n = STYLES[g // 2], bool(g % 2), idx.size
        if s == "default":   # never changed the name the platform assigned
            return _join(["用户" if z else "user", digits(rng.integers(0, 10**10, n), 10 if z else 8)])
        if s == "brand":
            if z:
                return _join([_pick(rng, B.BRAND_NAME_ZH, n), _pick(rng, ("官方旗舰店", "官方", "生活馆"), n)])
            return _join([_pick(rng, B.BRAND_NAME_EN, n), _pick(rng, (" Official", "", " Store"), n)])
        if s == "farm":
            return _join([_pick(rng, B.NICK_ZH_CORE if z else B.NICK_EN_CORE, n), digits(rng.integers(0, 10**4, n), 4)])
        if z:
            return _join([_pick(rng, B.NICK_ZH_PREFIX, n), _pick(rng, B.NICK_ZH_CORE, n), _pick(rng, B.NICK_ZH_SUFFIX, n)])
        number = pc.cast(pa.array(rng.integers(1, 10_000, n), mask=rng.random(n) < 0.4), pa.string())
        return _join([_pick(rng, B.NICK_EN_CORE, n), _with(_pick(rng, B.NICK_EN_SEP, n), number)])

    return by_group(groups, build)


def bios(rng: np.random.Generator, style: np.ndarray, zh: np.ndarray, topic: pa.Array) -> pa.Array:
    groups = style.astype(np.int64) * 2 + zh.astype(np.int64)

    def build(g: int, idx: np.ndarray) -> pa.Array:
        s, z, n = STYLES[g // 2], bool(g % 2), idx.size
        t = topic.take(pa.array(idx))
        if s == "brand":
            return _pick(rng, B.BIO_BRAND_ZH if z else B.BIO_BRAND_EN, n)
        if s in ("default", "template", "farm"):
            return _fill(rng, B.BIO_BOT_ZH if z else B.BIO_BOT_EN, t)
        if s in ("ai", "ai_varied", "llm"):
            return _fill(rng, B.BIO_HUMANIZED_ZH if z else B.BIO_HUMANIZED_EN, t)
        return _pick(rng, B.BIO_HUMAN_ZH if z else B.BIO_HUMAN_EN, n)

    return by_group(groups, build)


def report_bodies(rng: np.random.Generator, reason: np.ndarray, zh: np.ndarray, reasons: Sequence[str]) -> pa.Array:
    groups = reason.astype(np.int64) * 2 + zh.astype(np.int64)

    def build(g: int, idx: np.ndarray) -> pa.Array:
        r, z = reasons[g // 2], bool(g % 2)
        return _pick(rng, (B.REPORT_ZH if z else B.REPORT_EN)[r], idx.size)

    return by_group(groups, build)


def topic_names(topic_idx: np.ndarray, zh: np.ndarray) -> pa.Array:
    """Topic index -> its name in the row's language."""
    names = _bank(B.TOPICS_ZH + B.TOPICS_EN)
    return names.take(pa.array(topic_idx + np.where(zh, 0, len(B.TOPICS_ZH))))


N_TOPICS = len(B.TOPICS_ZH)
