"""Every error genuine raises on purpose, in one module, grouped by the layer that raises it.

One class per failure kind, so callers (the CLI, a scheduler, tests) catch what they can explain and let
a bug keep its traceback. Builtin bases (ValueError, LookupError, RuntimeError) say the kind of fault.
"""

from __future__ import annotations

# Exit statuses schedulers act on (besides 0, and 1 for an error a command can explain: a missing input).
EXIT_DRIFT = 4
"""`genuine monitor` / jobs/monitor.py: a monitored figure is past its threshold (one log line names the
features). 2 is taken by a bad config, 3 by a missing Java runtime."""
EXIT_NOT_PROMOTED = 5
"""`genuine retrain` / jobs/retrain.py: the run ended without a new champion (the gates refused the
challenger, or the recent holdout was too small to train and compare one); 0 means promoted. `genuine
promote` / `jobs/train.py --promote` too, when the gates refuse the version (0: it is champion after,
promoted, forced - which is logged - or already)."""

# --- core --------------------------------------------------------------------------------------------

class ConfigError(ValueError):
    """A configuration file or override is invalid; the message names the offending key."""


class JavaMissingError(RuntimeError):
    """Spark needs a Java runtime (17+) and none was found."""


class MissingKeyError(RuntimeError):
    """No HMAC key is configured where one is required (cluster mode)."""


class LakeError(RuntimeError):
    """A table operation could not be carried out."""


class TableNotFound(LakeError):
    """The named table does not exist (yet): run the job that writes it first."""


class DuplicateMergeKeys(LakeError):
    """The merge source holds the same key more than once: an upsert would be ambiguous."""


class SchemaMismatch(LakeError):
    """A frame carries a column its table has not got and no declared schema adds: never dropped silently."""


class DeltaSparkUnavailableError(LakeError):
    """lake.engine=delta-spark, but the delta-spark JVM classes neither load nor resolve from Maven."""


class PartitioningMismatch(LakeError):
    """A table exists with other partition columns than its catalog entry declares (a lake made before
    partitioning): Delta cannot change a table's partitioning in place; docs/maintenance.md says what to do."""


class PredicateViolation(LakeError):
    """Rows written with an overwrite predicate do not all satisfy that predicate."""


# --- shared libraries --------------------------------------------------------------------------------

class ConvergenceError(RuntimeError):
    """An iterative algorithm did not converge within its iteration limit."""


class GraphFramesUnavailableError(RuntimeError):
    """graphframes was requested explicitly but its JVM classes are not on the classpath."""


# --- stages: ingest, features, models, enforcement ---------------------------------------------------

class ExportError(ValueError):
    """The export folder itself breaks the contract (not a record: the whole layout)."""


class MissingColumnsError(ValueError):
    """An input frame lacks columns this transform needs (named in the message)."""


class ContentInputError(ValueError):
    """An input DataFrame lacks a column content_features needs."""


class TrainingDataError(ValueError):
    """The labelled data cannot train a model (one class only, several rows per account)."""


class NoChampionError(LookupError):
    """No model version holds the alias scoring needs (nothing trained, or no version passed the gates)."""


class LegacyModelError(RuntimeError):
    """A registered model was pickled by an older genuine under a class path that no longer exists; the
    message names that class and the command that registers a replacement."""


class CorpusError(ValueError):
    """A corpus file cannot be used; the message names file:line."""


class NoDriftReference(LookupError):
    """The champion was registered without a drift reference (by a genuine before `monitor`): retrain."""


class NoScoringRun(LookupError):
    """The scores table holds no (such) scoring run."""


class StatementExportError(RuntimeError):
    """At least one statement breaks the schema's rules; nothing was exported. `.errors`: puid -> messages."""

    def __init__(self, errors: dict[str, list[str]]):
        self.errors = errors
        lines = [f"{puid}: {'; '.join(msgs)}" for puid, msgs in list(errors.items())[:20]]
        more = f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""
        super().__init__(f"{len(errors)} invalid statement(s), nothing exported{more}:\n" + "\n".join(lines))


# --- jobs --------------------------------------------------------------------------------------------

class NoEventsError(ValueError):
    """The raw tables hold no post or interaction, so there is no default snapshot date."""


class TruthError(ValueError):
    """The ground-truth file for the separation report is missing or lacks a column."""


class SnapshotNotFound(LookupError):
    """The requested snapshot date is not in the feature table."""


class VersionNotFound(LookupError):
    """The registry has no such version of the account model."""


class RetentionTooShort(ValueError):
    """`genuine maintain`: a retention (lake.maintenance) is shorter than the audit window; the message
    names the earliest run whose input versions would be deleted. Nothing was changed."""



class DailyError(RuntimeError):
    """A day of `genuine daily` / `genuine backfill` cannot run or did not complete; the message names the
    day and what to do."""
