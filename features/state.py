"""The stored state of the incremental feature path, brought up to date before a snapshot reads it.

Four families keep per-day state (docs/features.md, "Incremental features"): behaviour
(features/behaviour_partials.py), content (features/content_partials.py), network's co-action pairs
(features/network_partials.py) and change (features/change_partials.py). Each has a manifest of the UTC days it holds, with the day's record count and
the hash of the settings used, so a day is rewritten when it is new, when late records moved its count, or
when the settings changed; a run killed before its manifest commit leaves those days stale for the retry,
which rewrites the same partitions with the same rows.

Finding the stale days must not cost a scan of the whole history each day: the manifest also keeps a
fingerprint of the raw part files each day's count was taken over (`day_files`, read from the Delta logs).
A day whose files are the ones counted keeps its count; only the other days are counted, by a scan pruned
to their partitions.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, timedelta
from typing import NamedTuple

from deltalake.exceptions import DeltaError
from pyspark.sql import DataFrame
from pyspark.sql import functions as F
from pyspark.sql.types import StructType

from genuine.core import catalog
from genuine.core.lake import Lake
from genuine.core.ledger import RunLedger
from genuine.core.schemas import RAW_TABLE
from genuine.features.behaviour import BehaviourConfig
from genuine.features.behaviour_partials import (
    DAYS_SCHEMA,
    PARTIALS_SCHEMA,
    REPLIES_SCHEMA,
    TOTALS_SCHEMA,
    behaviour_day_partials,
    behaviour_totals,
    reply_ledger_rows,
    settings_hash,
)
from genuine.features.change import ChangeConfig
from genuine.features.change_partials import DAYS_SCHEMA as CHANGE_DAYS_SCHEMA
from genuine.features.change_partials import (
    EVENTS_SCHEMA,
    SESSIONS_SCHEMA,
    day_change_partials,
    day_record_counts,
)
from genuine.features.change_partials import settings_hash as change_settings_hash
from genuine.features.content import ContentConfig
from genuine.features.content_partials import DAYS_SCHEMA as CONTENT_DAYS_SCHEMA
from genuine.features.content_partials import (
    DOCS_SCHEMA,
    TEXTS_SCHEMA,
    day_document_counts,
    day_documents,
    text_rows,
)
from genuine.features.content_partials import settings_hash as content_settings_hash
from genuine.features.network import NetworkConfig
from genuine.features.network_partials import DAYS_SCHEMA as NETWORK_DAYS_SCHEMA
from genuine.features.network_partials import PAIRS_SCHEMA, day_action_counts, day_pairs, days_to_compute
from genuine.features.network_partials import settings_hash as network_settings_hash
from genuine.features.snapshot import cut, end_of_day
from genuine.lib.checkpoint import materialize

log = logging.getLogger(__name__)


class ManifestDay(NamedTuple):
    """One manifest row: the day's count when computed, the settings hash, the fingerprint of its files."""

    count: int
    config_hash: str
    files: str | None = None


def stale_days(events: Mapping[date, int], manifest: Mapping[date, tuple[int, str] | ManifestDay],
               config_hash: str, family: str = "behaviour", unit: str = "events") -> dict[date, str]:
    """The event days whose partials are missing or out of date, in order, each with the reason (every
    family's manifest keeps a day's count of `unit` and its settings hash)."""
    out: dict[date, str] = {}
    for day in sorted(events):
        had = manifest.get(day)
        if had is None:
            out[day] = "no partials"
        elif had[1] != config_hash:
            out[day] = f"computed with other {family} settings"
        elif had[0] != events[day]:
            out[day] = f"{had[0]} {unit} when computed, {events[day]} now (late events)"
    return out


def day_lines(table: str, files: Iterable[tuple[str, Mapping[str, str | None]]]) -> dict[date, list[str]]:
    """Each UTC day's part files of `table`, one line each, from the listing of its log (`arrow.live_files`)."""
    lines: dict[date, list[str]] = {}
    for identity, parts in files:
        value = parts.get(catalog.EVENT_DATE)
        if value is None:   # rows without a day: no count holds them (`day_counts` skips them too)
            continue
        lines.setdefault(date.fromisoformat(value), []).append(f"{table}\t{identity}")
    return lines


def _day_lines(lake: Lake, versions: Mapping[str, int], table: str) -> dict[date, list[str]]:
    return day_lines(table, lake.live_files(table, versions[table])) if versions.get(table) is not None else {}


def fingerprints(lines: Mapping[str, Mapping[date, list[str]]], tables: Sequence[str]) -> dict[date, str]:
    """Per UTC day, the fingerprint of the part files of `tables` that hold it (`day_lines` of each table)."""
    merged: dict[date, list[str]] = {}
    for table in tables:
        for d, x in lines[table].items():
            merged.setdefault(d, []).extend(x)
    return {d: hashlib.sha256("\n".join(sorted(x)).encode()).hexdigest()[:32] for d, x in merged.items()}


def day_files(lake: Lake, versions: Mapping[str, int], tables: Sequence[str]) -> dict[date, str]:
    """A fingerprint of the part files that hold each UTC day of `tables` at `versions`, read from their
    Delta logs (no data file opened). Part files are immutable, so a day with the same fingerprint holds
    the same rows. A table without a version (absent) holds no day."""
    return fingerprints({t: _day_lines(lake, versions, t) for t in tables}, tables)


def listed_day_files(lake: Lake, versions: Mapping[str, int],
                     groups: Mapping[str, Sequence[str]]) -> dict[str, dict[date, str] | None]:
    """`day_files` of each group of tables, each table's log listed once. None for every group (every day
    is counted, as before fingerprints) when the logs cannot be listed with delta-rs here, e.g. a store it
    has no credentials for that the JVM connector reads: a cheaper count must not stop the job."""
    tables = sorted({t for g in groups.values() for t in g})
    try:
        lines = {t: _day_lines(lake, versions, t) for t in tables}
    except (DeltaError, OSError) as exc:
        log.warning("the part files of %s could not be listed (%s: %s); every day is counted",
                    ", ".join(tables), type(exc).__name__, exc)
        return dict.fromkeys(groups)
    return {name: fingerprints(lines, g) for name, g in groups.items()}


def day_counts(counts: DataFrame, through: date, manifest: Mapping[date, ManifestDay], config_hash: str,
               files: Mapping[date, str] | None, family: str) -> dict[date, int]:
    """Each day's count up to `through` from `counts` (event_date, n). With `files` (`day_files`), a day
    whose manifest row was counted over the same files under the same settings keeps that count (the
    count depends on the settings, e.g. which kinds are actions), and only the other days are counted:
    the filter on the grouping column reaches the scan as a partition filter."""
    day = F.col(catalog.EVENT_DATE)
    known: dict[date, int] = {}
    wanted = counts.where(day <= F.lit(through))
    if files is not None:
        known = {d: m.count for d, m in manifest.items()
                 if d <= through and m.files is not None and m.config_hash == config_hash and files.get(d) == m.files}
        fresh = sorted(d for d in files if d <= through and d not in known)
        log.info("%s counts: %d day(s) as counted before, %d counted now", family, len(known), len(fresh))
        if not fresh:
            return known
        wanted = counts.where(day.isin(fresh))
    return {**known, **{r[0]: int(r[1]) for r in wanted.collect() if r[0] is not None}}


def refingerprinted(events: Mapping[date, int], manifest: Mapping[date, ManifestDay], config_hash: str,
                    files: Mapping[date, str] | None, written: set[date]) -> list[date]:
    """Days not rewritten whose manifest row is current but names other files (compacted, or late rows the
    count leaves out): their rows get the new fingerprint, so the next run need not count them again."""
    if files is None:
        return []
    return sorted(d for d, n in events.items()
                  if d not in written and d in manifest and manifest[d].config_hash == config_hash
                  and manifest[d].count == n and manifest[d].files != files.get(d))


def stale_summary(stale: Mapping[date, str]) -> str:
    """The first stale days and why, for one log line."""
    return "; ".join(f"{d}: {why}" for d, why in list(stale.items())[:3]) + ("; ..." if len(stale) > 3 else "")


def _manifest(lake: Lake, table: str, count: str) -> dict[date, ManifestDay]:
    if not lake.exists(table):
        return {}
    df = lake.read(table)
    files = F.col("files") if "files" in df.columns else F.lit(None).cast("string")   # a manifest from before
    return {r[0]: ManifestDay(r[1], r[2], r[3])
            for r in df.select(catalog.EVENT_DATE, count, "config_hash", files).collect()}


def _manifest_rows(lake: Lake, days: Sequence[date], counts: Mapping[date, int], config_hash: str,
                   files: Mapping[date, str] | None, schema: StructType) -> DataFrame:
    return lake.spark.createDataFrame([(d, counts[d], config_hash, files.get(d) if files is not None else None)
                                       for d in days], schema)


def _window(counts: DataFrame, files: Mapping[date, str] | None, through: date,
            window_days: int | None) -> tuple[DataFrame, Mapping[date, str] | None]:
    """The day counts and fingerprints of the `window_days` days ending on `through` (all of them without a
    window): a family whose snapshot reads only those days neither counts nor computes the others."""
    if window_days is None:
        return counts, files
    since = through - timedelta(days=window_days - 1)
    return (counts.where(F.col(catalog.EVENT_DATE) >= F.lit(since)),
            {d: f for d, f in files.items() if d >= since} if files is not None else None)


def _days_predicate(days: list[date]) -> str:
    dates = ", ".join(f"DATE'{d.isoformat()}'" for d in days)
    return f"{catalog.EVENT_DATE} IN ({dates})"


class _Write(NamedTuple):
    """One commit of a state update: an overwrite of the partitions `where` names (None: the whole table), or
    an append."""
    table: str
    rows: DataFrame
    schema: StructType
    where: str | None = None
    append: bool = False


def _commit(lake: Lake, writes: Sequence[_Write], ledger: RunLedger | None) -> None:
    """Commit the writes in their order (a family's manifest last, so a kill before it leaves its days stale
    for the retry) and enter each in the run ledger."""
    for w in writes:
        partition_by = catalog.table(w.table).partition_by
        result = (lake.append(w.table, w.rows, schema=w.schema, partition_by=partition_by) if w.append else
                  lake.overwrite(w.table, w.rows, predicate=w.where, schema=w.schema, partition_by=partition_by))
        if ledger is not None:
            ledger.wrote(w.table, result)


def _refingerprint(lake: Lake, table: str, days: list[date], counts: Mapping[date, int], config_hash: str,
                   files: Mapping[date, str] | None, schema: StructType, ledger: RunLedger | None) -> None:
    if not days:
        return
    log.info("%s: %d day(s) hold other part files with the same count; fingerprints updated", table, len(days))
    _commit(lake, [_Write(table, _manifest_rows(lake, days, counts, config_hash, files, schema), schema,
                          _days_predicate(days))], ledger)


PARTIALS, REPLIES, DAYS, TOTALS = "behaviour_partials", "behaviour_replies", "behaviour_days", "behaviour_totals"


def update_behaviour_state(lake: Lake, posts: DataFrame, interactions: DataFrame, through: date,
                           bcfg: BehaviourConfig, ledger: RunLedger | None = None,
                           files: Mapping[date, str] | None = None) -> tuple[DataFrame, DataFrame]:
    """Bring the behaviour partials and reply ledger up to date for the event days up to `through`, and return
    both tables. A day is rewritten when it has no partials, when its event count moved since they were
    computed (late events) or when they were computed with other settings (`stale_days`, from the
    `behaviour_days` manifest). From the first such day on, every day is rewritten (partition overwrite, so a
    retry replaces rather than adds), as the ledger of a day depends on the days before it; the manifest is
    written last, so a run killed before it leaves those days stale, and it forgets the days after `through`,
    which the rewritten ledger may have changed. A re-run with nothing stale writes nothing. `files`
    (`day_files` of both tables at the versions read) spares counting the days whose files are unchanged."""
    day = F.col(catalog.EVENT_DATE)
    active = (posts.where(F.col("account_id").isNotNull()).select(day)
              .union(interactions.where(F.col("actor_id").isNotNull()).select(day)))
    manifest = _manifest(lake, DAYS, "events")
    config_hash = settings_hash(bcfg)
    events = day_counts(active.groupBy(day).count(), through, manifest, config_hash, files, "behaviour")
    stale = stale_days(events, manifest, config_hash)
    first_stale = next(iter(stale), None)
    _refingerprint(lake, DAYS, refingerprinted(events, manifest, config_hash, files,
                                               {d for d in events if first_stale is not None and d >= first_stale}),
                   events, config_hash, files, DAYS_SCHEMA, ledger)
    if stale:
        first = next(iter(stale))
        log.info("behaviour partials: %d stale day(s) up to %s (%s); rewriting %s..%s", len(stale), through,
                 stale_summary(stale), first, through)
        sel = (day >= F.lit(first)) & (day <= F.lit(through))
        pred = f"{catalog.EVENT_DATE} >= DATE'{first.isoformat()}' AND {catalog.EVENT_DATE} <= DATE'{through.isoformat()}'"
        earlier = lake.read(REPLIES).where(day < F.lit(first)) if lake.exists(REPLIES) else None
        # materialized before the write: the new rows are computed from the table being written
        rows = reply_ledger_rows(posts, interactions.where(sel), earlier).localCheckpoint()
        parts = behaviour_day_partials(posts.where(sel), interactions.where(sel), bcfg)
        days = _manifest_rows(lake, [d for d in sorted(events) if d >= first], events, config_hash, files, DAYS_SCHEMA)
        # totals through the first rewritten day or later added up partials that are about to change: gone
        # first, so a run killed after the partials' rewrite cannot leave them standing
        since = f"{catalog.EVENT_DATE} >= DATE'{first.isoformat()}'"
        drop_totals = lake.exists(TOTALS) and bool(lake.read(TOTALS).where(day >= F.lit(first)).limit(1).count())
        _commit(lake, ([_Write(TOTALS, lake.spark.createDataFrame([], TOTALS_SCHEMA), TOTALS_SCHEMA, since)]
                       if drop_totals else [])
                + [_Write(PARTIALS, parts, PARTIALS_SCHEMA, pred), _Write(REPLIES, rows, REPLIES_SCHEMA, pred),
                   _Write(DAYS, days, DAYS_SCHEMA, since)], ledger)
    return lake.read_or_empty(PARTIALS, PARTIALS_SCHEMA), lake.read_or_empty(REPLIES, REPLIES_SCHEMA)


def update_behaviour_totals(lake: Lake, accounts: DataFrame, partials: DataFrame, through: date,
                            bcfg: BehaviourConfig, ledger: RunLedger | None = None) -> DataFrame:
    """Bring `behaviour_totals` up to `through` and return its rows of that day; `partials` is the table as
    update_behaviour_state returned it (its Delta log loaded once per run).

    The totals of the latest earlier day still stored (update_behaviour_state drops those its rewrite made
    stale) plus the partials of the days after it, so a daily snapshot reads one day of partials and one
    row per account instead of every partial of the history; without an earlier day, all the partials.
    Totals already stored for `through` are returned as they are (a re-run writes nothing).
    """
    day = F.col(catalog.EVENT_DATE)
    stored = lake.read(TOTALS) if lake.exists(TOTALS) else None
    latest = stored.where(day <= F.lit(through)).agg(F.max(day)).first()[0] if stored is not None else None
    if latest != through:
        as_of = end_of_day(through)
        base = stored.where(day == F.lit(latest)) if stored is not None and latest is not None else None
        log.info("behaviour totals through %s: %s", through,
                 f"the totals through {latest} + the partials after it" if base is not None else "every partial")
        # materialized before the write: the base is read from the table being written
        totals = materialize(behaviour_totals(cut(accounts, "created_at", as_of, keep_null=True), partials, as_of,
                                              bcfg, base, base_day=latest), local_checkpoints=True)
        _commit(lake, [_Write(TOTALS, totals, TOTALS_SCHEMA, _days_predicate([through]))], ledger)
    return lake.read(TOTALS).where(day == F.lit(through))


DOCS, TEXTS, CONTENT_DAYS = "content_docs", "content_texts", "content_days"


def update_content_state(lake: Lake, posts: DataFrame, interactions: DataFrame, through: date,
                         ccfg: ContentConfig, ledger: RunLedger | None = None,
                         files: Mapping[date, str] | None = None) -> tuple[DataFrame, DataFrame]:
    """Bring `content_docs` and `content_texts` up to date for the UTC days up to `through`, and return both.

    A day's documents depend on its own records only, so only the stale days are rewritten (partition
    overwrite); the texts they bring that the table lacks are MinHashed and appended (a text's row depends on
    the text and the settings alone, so a retry appends nothing twice). Other settings make every day stale
    and rewrite the texts table whole. The manifest is written last. `files`: as update_behaviour_state's.
    """
    day = F.col(catalog.EVENT_DATE)
    manifest = _manifest(lake, CONTENT_DAYS, "docs")
    config_hash = content_settings_hash(ccfg)
    counts = day_counts(day_document_counts(posts, interactions, ccfg), through, manifest, config_hash, files,
                        "content")
    rebuild = any(m.config_hash != config_hash for m in manifest.values())
    stale = stale_days(counts, {} if rebuild else manifest, config_hash, family="content", unit="records")
    _refingerprint(lake, CONTENT_DAYS, refingerprinted(counts, manifest, config_hash, files, set(stale)),
                   counts, config_hash, files, CONTENT_DAYS_SCHEMA, ledger)
    if stale:
        days = list(stale)
        log.info("content partials: %d stale day(s) up to %s (%s)%s", len(days), through, stale_summary(stale),
                 ": other settings, rewriting every day and every text" if rebuild else "")
        sel = day.isin(days)
        docs = materialize(day_documents(posts.where(sel), interactions.where(sel), ccfg), local_checkpoints=True)
        known = lake.read(TEXTS).select("key") if lake.exists(TEXTS) and not rebuild else None
        new_docs = docs if known is None else docs.join(known, "key", "left_anti")
        # materialized before the write: the new rows are computed against the table being appended to
        texts = materialize(text_rows(new_docs, ccfg), local_checkpoints=True)
        where = None if rebuild else _days_predicate(days)
        manifest_rows = _manifest_rows(lake, days, counts, config_hash, files, CONTENT_DAYS_SCHEMA)
        # texts are appended as first seen; only other settings rewrite the table
        _commit(lake, [_Write(DOCS, docs.drop("norm"), DOCS_SCHEMA, where),
                       _Write(TEXTS, texts, TEXTS_SCHEMA, append=not rebuild),
                       _Write(CONTENT_DAYS, manifest_rows, CONTENT_DAYS_SCHEMA, where)], ledger)
    return lake.read_or_empty(DOCS, DOCS_SCHEMA), lake.read_or_empty(TEXTS, TEXTS_SCHEMA)


PAIRS, NETWORK_DAYS = "network_pairs", "network_days"
CHANGE_SESSIONS, CHANGE_EVENTS, CHANGE_DAYS = "change_sessions", "change_events", "change_days"
# Each family's state tables, its manifest last.
STATE_TABLES = {"behaviour": (PARTIALS, REPLIES, TOTALS, DAYS), "content": (DOCS, TEXTS, CONTENT_DAYS),
                "network": (PAIRS, NETWORK_DAYS), "change": (CHANGE_SESSIONS, CHANGE_EVENTS, CHANGE_DAYS)}
# Each manifest and the raw tables whose part files its fingerprints name (the records its counts are of).
FINGERPRINTED: dict[str, tuple[str, ...]] = {
    DAYS: (RAW_TABLE["posts"], RAW_TABLE["interactions"]),
    CONTENT_DAYS: (RAW_TABLE["posts"], RAW_TABLE["interactions"]),
    NETWORK_DAYS: (RAW_TABLE["interactions"],),
    CHANGE_DAYS: (RAW_TABLE["posts"], RAW_TABLE["interactions"], RAW_TABLE["sessions"]),
}


def update_network_state(lake: Lake, interactions: DataFrame, through: date, ncfg: NetworkConfig,
                         ledger: RunLedger | None = None, files: Mapping[date, str] | None = None) -> DataFrame:
    """Bring `network_pairs` up to date for the UTC days up to `through`, and return it.

    A day's pairs depend on its own actions and the last window of the day before, so a stale day (new,
    late actions, other settings) is rewritten with the day after it (partition overwrite: a retry
    replaces rather than adds). The manifest is written last; it forgets the day after a stale `through`
    (computed by an earlier run for a later snapshot), whose pairs across midnight may have changed.
    With a co-action window (`window_days`), only its days are counted and computed, as the change
    family's. `files`: as update_behaviour_state's (of the interactions alone).
    """
    manifest = _manifest(lake, NETWORK_DAYS, "actions")
    config_hash = network_settings_hash(ncfg)
    counts, files = _window(day_action_counts(interactions, ncfg), files, through, ncfg.window_days)
    actions = day_counts(counts, through, manifest, config_hash, files, "network")
    stale = stale_days(actions, manifest, config_hash, family="network", unit="actions")
    days = days_to_compute(stale, actions)
    _refingerprint(lake, NETWORK_DAYS, refingerprinted(actions, manifest, config_hash, files, set(days)),
                   actions, config_hash, files, NETWORK_DAYS_SCHEMA, ledger)
    if stale:
        log.info("network pairs: %d stale day(s) up to %s (%s); rewriting %d day(s)", len(stale), through,
                 stale_summary(stale), len(days))
        forget = sorted({d + timedelta(days=1) for d in stale} - set(days))
        pairs = day_pairs(interactions, days, ncfg)
        manifest_rows = _manifest_rows(lake, days, actions, config_hash, files, NETWORK_DAYS_SCHEMA)
        _commit(lake, [_Write(PAIRS, pairs, PAIRS_SCHEMA, _days_predicate(days)),
                       _Write(NETWORK_DAYS, manifest_rows, NETWORK_DAYS_SCHEMA, _days_predicate(days + forget))], ledger)
    return lake.read_or_empty(PAIRS, PAIRS_SCHEMA)


def update_change_state(lake: Lake, posts: DataFrame, interactions: DataFrame, sessions: DataFrame, through: date,
                        ccfg: ChangeConfig, ledger: RunLedger | None = None,
                        files: Mapping[date, str] | None = None) -> tuple[DataFrame, DataFrame]:
    """Bring `change_sessions` and `change_events` up to date for the days of the window ending on `through`
    (the only days its snapshot reads), and return both.

    A day's rows depend on its own records only, so only the stale days (new, count moved by late records,
    other settings) are rewritten, by partition overwrite; the manifest is written last. Days before the
    window are neither counted nor computed. `files`: as update_behaviour_state's (of the three raw tables).
    """
    day = F.col(catalog.EVENT_DATE)
    manifest = _manifest(lake, CHANGE_DAYS, "records")
    config_hash = change_settings_hash(ccfg)
    records, window_files = _window(day_record_counts(posts, interactions, sessions), files, through,
                                    ccfg.window_days)
    counts = day_counts(records, through, manifest, config_hash, window_files, "change")
    stale = stale_days(counts, manifest, config_hash, family="change", unit="records")
    _refingerprint(lake, CHANGE_DAYS, refingerprinted(counts, manifest, config_hash, window_files, set(stale)),
                   counts, config_hash, window_files, CHANGE_DAYS_SCHEMA, ledger)
    if stale:
        days = list(stale)
        log.info("change partials: %d stale day(s) up to %s (%s)", len(days), through, stale_summary(stale))
        sel = day.isin(days)
        s_rows, ev_rows = day_change_partials(posts.where(sel), interactions.where(sel), sessions.where(sel), ccfg)
        manifest_rows = _manifest_rows(lake, days, counts, config_hash, window_files, CHANGE_DAYS_SCHEMA)
        where = _days_predicate(days)
        _commit(lake, [_Write(CHANGE_SESSIONS, s_rows, SESSIONS_SCHEMA, where),
                       _Write(CHANGE_EVENTS, ev_rows, EVENTS_SCHEMA, where),
                       _Write(CHANGE_DAYS, manifest_rows, CHANGE_DAYS_SCHEMA, where)], ledger)
    return lake.read_or_empty(CHANGE_SESSIONS, SESSIONS_SCHEMA), lake.read_or_empty(CHANGE_EVENTS, EVENTS_SCHEMA)
