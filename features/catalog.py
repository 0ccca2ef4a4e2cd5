"""All registered features across families, the feature table schema derived from them, and the
generator of docs/features.md. Importing the family modules here (not in registry.py) keeps the
registry free of Spark transforms."""

from __future__ import annotations

from pathlib import Path

from pyspark.sql.types import DateType, LongType, MapType, StringType, StructField, StructType, TimestampType

from genuine.features import behaviour, change, content, network, reports
from genuine.features.registry import FAMILIES, Feature

ALL_FEATURES: list[Feature] = [*behaviour.FEATURES, *content.FEATURES, *network.FEATURES, *reports.FEATURES,
                               *change.FEATURES]
FEATURE_NAMES: list[str] = [f.name for f in ALL_FEATURES]
BY_NAME: dict[str, Feature] = {f.name: f for f in ALL_FEATURES}

KEY_COLUMNS = [StructField("account_id", StringType(), True), StructField("snapshot_date", DateType(), True),
               StructField("as_of", TimestampType(), True)]
LINEAGE_COLUMNS = [StructField("input_versions", MapType(StringType(), LongType(), True), True),
                   StructField("run_id", StringType(), True)]
DOCS_PATH = Path("docs") / "features.md"
"""The committed, generated feature reference, relative to the repository root (tests check it equals
render_docs()). Relative on purpose: an installed wheel holds no docs/, so the path is the checkout's."""

# The schema of the `features` table: its entry in genuine.core.catalog (keys, path) names this as its owner.
FEATURE_TABLE = StructType(KEY_COLUMNS + [StructField(f.name, f.dtype, True) for f in ALL_FEATURES]
                           + LINEAGE_COLUMNS)


INCREMENTAL = [
    "## Incremental features", "",
    "Implemented for the **behaviour**, **content** and **change** families and for the **network** family's "
    "co-action pairs (`features/behaviour_partials.py`, `features/content_partials.py`, "
    "`features/change_partials.py`, `features/network_partials.py`; the job side in `features/state.py`), off "
    "by default: `features.incremental: true` makes `genuine features` build those columns from per-day state "
    "tables instead of the whole history; the network graphs and reports are still recomputed from the "
    "accumulated state or the events (below). Behaviour equals the full path within the tolerance stated "
    "here (`tests/features/test_behaviour_partials.py`); content, network and change equal it bit for bit "
    "(`tests/features/test_content_partials.py`, `tests/features/test_network_partials.py`, "
    "`tests/features/test_change_partials.py`; network's PageRank within 1e-12 relative, the same "
    "computation on the same follow edges).", "",
    "### behaviour", "",
    "**Tables** (the first two partitioned by `event_date`, the UTC day; all three written by predicate "
    "overwrite):",
    "- `behaviour_partials`: one row per account and UTC day with events, computed from that day's events "
    "only: event counts (all, posts, automation-client posts, second-0 stamps, one per kind of "
    "`kind_share_*`); the gaps between consecutive events *of the same day*: their sum and sum of squares "
    "in integer microseconds (DECIMAL(38,0): exact, no cancellation), the gap-bin histogram, the gaps "
    "longer than `session_gap_seconds` and the sum of the shorter ones, the consecutive gap pairs and how "
    "many are regular; the first two and last two timestamps of the day; and a 96-bin histogram of the "
    "events' UTC quarter hours. Nothing in it depends on the account's UTC offset.",
    "- `behaviour_replies`: the reply ledger, one row per (account, post) with the account's first comment "
    "on the post and its latency from the post (NULL when the post is unknown or has no time). The first "
    "comment is a minimum over all history and the latency median is not decomposable by day, so the ledger "
    "keeps the exact values: a day adds the first comments of pairs not already in the ledger.",
    "- `behaviour_days`: the manifest, one row per UTC day the two tables hold: the day's posts and "
    "interactions with an author when it was computed, and a hash of the `features.behaviour` settings it "
    "was computed with, and a fingerprint of the raw part files that held the day when it was counted.",
    "- `behaviour_totals`: one row per account with partials and one partition per snapshot day: the sums "
    "the combination below needs over every partial up to that day (counts, gap sums, the histograms, "
    "sessions, pairs, distinct local days), the account's UTC offset in quarter hours they used, and what "
    "the next day continues from (the history's last two timestamps and the local day of its last event).", "",
    "**Job**: the job counts the events of each day up to the snapshot date (one grouped count of the raw "
    "tables' `event_date` column) and compares them with the manifest. Only the days whose part files "
    "changed are counted: the raw tables' Delta logs say which files hold each day at the versions read "
    "(no data file opened), and a day whose files are those the manifest row was counted over, under the "
    "same settings, keeps its count (part files never change, so neither do its rows). The others are "
    "counted by a scan pruned to their partitions (delta-spark; the delta-rs engine reads every file and "
    "filters). A day whose files changed but not its count (a compaction) gets the new fingerprint in the "
    "manifest and nothing else. `tests/features/test_state_files.py` keeps the state of all four families "
    "this way and without fingerprints, through late events and a compaction, and finds them equal. A day "
    "is stale when it has no partials, when its count moved since they were computed (events that arrived late, in a later export), "
    "or when they were computed with other behaviour settings; the job logs each stale day with its reason. "
    "Every day from the first stale one to the snapshot date is rewritten (the ledger of a day depends on "
    "the days before it) in one overwrite commit per table, the manifest last: a run killed before it "
    "leaves those days stale for the retry, which rewrites the same partitions with the same rows. The "
    "manifest forgets the days after the snapshot date from the first stale day on, since the rewritten "
    "ledger may change them. A re-run with nothing stale writes nothing. "
    "`tests/features/test_behaviour_partials.py` checks late events and changed settings against a one-pass "
    "computation, and that the days before a late one keep their files.", "",
    "**Totals**: the snapshot of day D does not combine every partial of the history again. The job adds "
    "the partials of the days after the latest stored totals (day T < D) to those totals and stores them "
    "as D's (`update_behaviour_totals`), so a daily snapshot reads one day of partials and one row per "
    "account, whatever the length of the history. Without earlier totals (the first snapshot, or after a "
    "rewrite) it adds up every partial. Totals are dropped from the first stale day on before the partials "
    "are rewritten, so none outlives the partials it was added up from; an account whose UTC offset "
    "changed since T, or that had no account row then, is added up again from all its partials (its sums "
    "used another offset). Every sum is of integers, and the day after T continues from T's last two "
    "timestamps and last local day exactly as the window below would, so the totals path equals the one-"
    "pass combination (`tests/features/test_behaviour_partials.py` compares both across a busy midnight and "
    "over gaps of several days, through late events, an offset change and a late account row).", "",
    "**Why the combination is exact.** A snapshot as of the end of day D reads the partial rows of days <= "
    "D (far fewer than events: one per active account-day) and the ledger rows with a first comment <= "
    "as_of. Counts and histograms add up. Each day's only gap that its partial cannot know, the one into "
    "its first event, is rebuilt from that event's time and the last timestamp of the account's earlier "
    "history (a window over its partial rows ordered by day); the one before it (the second-to-last "
    "timestamp of that history: the previous day's second-to-last, or the last of the day before when the "
    "previous day had one event) and the day's second timestamp give the two consecutive-gap pairs that "
    "cross the boundary. The same expressions as the full path (`gap_bin`, `regular_pair`, the session "
    "threshold) classify them, so bins, sessions, pairs and regular pairs are exact; ties inside a day are "
    "gaps of 0 either way. Local time comes from the quarter-hour histogram: for an offset of k quarter "
    "hours, UTC quarter q of day d is local quarter (q + k) mod 96 of local day d + floor((q + k) / 96). "
    "That gives the local hour, weekday, night and weekend counts, and the distinct local days (a UTC day "
    "covers one or two local days; two consecutive rows share one when the earlier's last equals the "
    "later's first). It requires every configured UTC offset to be a whole multiple of 15 minutes, which "
    "every real zone is; `BehaviourConfig` rejects others. The population hour profile is the mean of the "
    "combined per-account profiles, as in the full path.", "",
    "**Tolerance.** Counts, histograms and everything computed from them (entropies, shares, active days, "
    "reply median and fast share, per-day rates) are bit-identical to the full path. Gap mean and standard "
    "deviation come from exact integer sums here and from floating-point running statistics there (the "
    "population profile is an exact fixed-point mean on both paths), so `gap_cv`, `burstiness`, "
    "`session_mean_seconds` and `hour_js_distance` agree within 1e-9 relative or 1e-12 absolute, which the "
    "tests assert.", "",
    "### content", "",
    "**Tables** (docs partitioned by `event_date`):",
    "- `content_docs`: one row per post and (with `near_dup.include_comments`) per comment, computed from "
    "that record alone: its author and id (`post_id` or `event_id`), the key of its normalized text (sha2, "
    "NULL for a post whose text normalizes to nothing), the normalized text's length, and for a post with "
    "text its six text statistics. Every record is a row, short and empty ones included: what is comparable "
    "is decided at combine time (`near_dup.min_chars`), as in the full path.",
    "- `content_texts`: one row per distinct normalized text of at least `near_dup.min_chars` characters: "
    "the text and its `near_dup.bands` LSH band keys (MinHash of its shingles). A text's row depends on the "
    "text and the settings alone, so it is computed the first time the text is seen and appended; a retry "
    "appends nothing twice (the new texts are those whose key the table lacks).",
    "- `content_days`: the manifest: per UTC day the posts and comments it held when its docs were "
    "computed, and a hash of the `features.content` settings the rows depend on (every setting except "
    "`ai_text_threshold`, `sketch_lg_k`, `local_checkpoints` and the near-duplicate combine knobs "
    "`max_jaccard_distance`, `min_shared_bands`, `max_bucket_size`, which only the combine reads), and the "
    "fingerprint of the part files counted (as for behaviour: only the days whose files changed are counted "
    "again).", "",
    "**Job**: as for behaviour, the stale days are those without rows, whose count moved (late records) or "
    "computed with other settings. A day's docs depend on its own records only, so only the stale days are "
    "rewritten (partition overwrite), not the days after them. Other settings rewrite every day and the "
    "whole texts table. Order of commits: docs, texts, manifest; a run killed in between leaves the days "
    "stale and the retry rewrites the same partitions and appends only the texts still missing.", "",
    "**Why the combination is exact.** Every stored value is what the full path computes for the same "
    "record or text, and the snapshot runs the full path's own code on them (`combine_content`): text "
    "statistics averaged in value order (`ordered_avg`), template reuse, the HyperLogLog reach, media and "
    "AI-text scores (the last two read `posts` and `post_scores` as the full path does: no text work). The "
    "near-duplicate pairs are drawn again at every snapshot from the stored band keys of all the snapshot's "
    "texts (`near_duplicates_of_bands`), with the 64-bit text ids and their collision check computed on the "
    "snapshot's own texts, as the full path does; only the texts that meet a candidate are shingled again, "
    "for the exact Jaccard check. Pairs are not a sum over days: a band bucket's size decides whether it "
    "emits all its pairs or a star around its representative (the skew cap, `genuine/lib/near_dup.py`), so "
    "a text arriving today can change the pairs of last month's texts. What a snapshot no longer pays is "
    "every text's normalization, statistics, shingles and MinHash; what it still pays is the candidate "
    "pairs, their check and the per-account aggregations. The combine raises if a text of the snapshot's "
    "docs is missing from `content_texts` (a damaged state), rather than silently lose its pairs.", "",
    "### network", "",
    "**Tables** (`network_pairs` partitioned by `event_date`; both written by predicate overwrite):",
    "- `network_pairs`: (window_s, target_post_id, a, b), a < b: two accounts that acted on the post within "
    "`window_s` seconds, for the coordination window and every co-action window (`pair_windows`: 60 and 600 "
    "s shipped), stored under the UTC day of the pair's later window bucket, from the same capped cells as "
    "the full path (`coordination_pairs`).",
    "- `network_days`: the manifest, per UTC day its actions of the coordination kinds when its pairs were "
    "computed, and a hash of what the pairs depend on (the kinds, `max_actors_per_bucket`, the windows). "
    "The thresholds the snapshot applies (`min_co_actions`, the chance model, neighbourhoods, algorithms) "
    "are not in it: changing them rewrites nothing. The fingerprint of the interactions' part files "
    "counted spares counting unchanged days again, as for behaviour.", "",
    "**Job**: stale days as for content (new, count moved by late actions, other settings). A stale day is "
    "rewritten with the day after it, whose first bucket pairs with the stale day's last one; no other day "
    "is touched. When the stale day is the snapshot day itself and an earlier run stored the day after it "
    "(for a later snapshot), that day's manifest row is forgotten, so it is recomputed when a snapshot "
    "needs it. With a co-action window (`window_days`), only its days are counted and paired, as for "
    "change; days that left it stay stored, unread. Order of commits: pairs, then manifest.", "",
    "**Why it is exact.** Window buckets are counted from the epoch and every window must divide a day "
    "(`FeaturesConfig` rejects others when `incremental` is on), so each (post, bucket) cell lies inside "
    "one UTC day: its actors, the K the hash cap keeps, and their first and last times depend on that day's "
    "events alone. A pair comes from one cell or two adjacent ones, so day d's pairs need day d's actions "
    "and the last `window_s` seconds of day d - 1. The snapshot takes the stored rows of the days up to it "
    "(`stored_pairs`; those of the co-action window) and runs the full path's own code from there (`network_features(..., pairs=...)`): "
    "coordination edges count distinct posts per pair, the co-action evidence, components, PageRank, "
    "triangles, the follow, device and prefix graphs and the neighbourhoods are computed as before, on the "
    "accumulated pairs and the events. What a snapshot no longer pays is the cells and their self-joins "
    "over the whole history, once per window.", "",
    "### change", "",
    "**Tables** (the first two partitioned by `event_date`; all three written by predicate overwrite):",
    "- `change_sessions`: one row per account, UTC day, device, network prefix, client bucket (`clients`, "
    "others as `_other`) and hour bin (`rhythm_bin_hours`), with its sessions;",
    "- `change_events`: one row per account and UTC day, with its posts and interactions;",
    "- `change_days`: the manifest: per UTC day the sessions, posts and interactions with an account and a "
    "time it held when its rows were computed, a hash of the settings the rows depend on (`clients`, "
    "`rhythm_bin_hours`; the window's thresholds are read at combine time and rewrite nothing), and the "
    "fingerprint of the part files of the three raw tables counted.", "",
    "**Job**: as for content, only the stale days are rewritten (a day's rows depend on its own records), and "
    "only the days of the window ending on the snapshot day (`window_days`) are counted or computed: a "
    "daily run counts and writes one day. Days that left the window stay stored, unread. Order of commits: "
    "sessions, events, manifest.", "",
    "**Why it is exact.** The rows are the full path's own per-day partials (`change.day_partials`), and "
    "the snapshot runs the full path's combination on the window's rows (`combine_change`): first-seen "
    "days, suffix sums, client and rhythm mixes, the dormancy baseline and the recent prefixes are counts. "
    "The full path itself now puts the window on the raw tables' `event_date` partitions, so it too reads "
    "the window, not the history.", "",
    "### reports: recomputed in full, on purpose", "",
    "Reports are about 0.1 % of the input rows; at 1M accounts "
    "(116k reports, docs/benchmarks.md) the family cost 37.7 of the snapshot's ~7,700 CPU s. Partials would "
    "also save little of it: reporter reliability is point in time and a new label reweighs every old "
    "report of its reporters, so the combine would rejoin every (reporter, account) pair with the labels "
    "anyway. If reports grow: one row per (reporter, reported account) with its first and last report and "
    "per-day counts, rejoined with the labels at combine time.", "",
]


def render_docs() -> str:
    lines = ["# Account features", "",
             "Generated from the registry (`features/catalog.py`): do not edit by hand, regenerate with "
             "`genuine features --docs` (or `make docs`); `tests/features/test_catalog.py` fails when it is stale. "
             "One row per account per snapshot in the `features` table; a snapshot as of date D uses only "
             "events at or before the end of D (UTC) and records the Delta versions of its inputs in "
             "`input_versions`. Null means too little activity to measure; counts are 0, never null.", "",
             "## Computing a snapshot", "",
             "```bash",
             "genuine features [--as-of YYYY-MM-DD] [--truth EXPORT/_truth/accounts.parquet] [--run-id ID]",
             "```", "",
             "- `--as-of` defaults to the UTC day of the latest post or interaction. The cut at the end of that "
             "day is applied once, to every input, in `features/snapshot.py` (`cut_inputs`): events, sessions, "
             "reports, moderator labels (by `decided_at`) and AI-text scores of later posts are all invisible; "
             "accounts created later get no row. `tests/features/test_snapshot_pit.py` checks the whole "
             "snapshot against one computed on inputs cut beforehand.",
             "- The snapshot replaces any earlier snapshot of the same date in one Delta commit that carries "
             "the transaction `(features, run id)`: retrying a run id that already committed writes nothing, "
             "and a re-run with a new run id leaves exactly one row per account.",
             "- Without a registered text detector (`genuine-text-detector@champion` in MLflow) the AI-text "
             "features are null and the job logs a warning.",
             "- The graph algorithms checkpoint into `features.snapshot.checkpoint_dir` (under `lake.root`) "
             "when the Spark session has no checkpoint dir; the job empties it when it ends.",
             "- Cost per family: `genuine bench features --accounts N --days D` (figures in "
             "`docs/benchmarks.md`).", "",
             "## Separation report", "",
             "With `--truth` (the simulator's ground truth: `account_id`, `population`, `strategy`) the job "
             "writes `<features.separation.out_dir>/<date>/separation.md` and one heatmap PNG per population: "
             "for every feature, the AUC of ordinary people (`features.separation.baseline`) against each AI "
             "strategy, each genuine-but-unusual human population, and each population pooled (`all ai`, "
             "`all unusual_human`). AUC = P(group value > ordinary value) + 0.5 P(equal), i.e. sklearn's "
             "`roc_auc_score` with the group as positive; above 0.5 the group's values are higher. It is "
             "computed in Spark from per-value counts (exact integer numerator, one division); only one row "
             "per feature and group reaches the driver. Accounts with a null (or NaN) value are left out of "
             "that feature's AUC and the report prints the coverage next to it. The report also lists, for "
             "each unusual human population, the features that separate it from ordinary people in the same "
             "direction as they separate AI accounts: the ones a model must not lean on alone.", "",
             *INCREMENTAL]
    for family in FAMILIES:
        feats = [f for f in ALL_FEATURES if f.family == family]
        lines += [f"## {family} ({len(feats)})", "", "| feature | unit | type | bot-like when | meaning |",
                  "|---|---|---|---|---|"]
        for f in feats:
            lines.append(f"| `{f.name}` | {f.unit} | {f.dtype.simpleString()} | {f.direction or '-'} | {f.meaning} |")
        lines.append("")
    return "\n".join(lines)


def write_docs(path: Path) -> None:
    path.write_text(render_docs(), encoding="utf-8")
