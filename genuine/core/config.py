"""Configuration: conf/base.yml overlaid by one environment file, then --set overrides, validated once.

Every threshold, path and table name lives here so that jobs hold no literals; pydantic with
extra="forbid" turns a typo in a key into an error that names the key.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from genuine.core.errors import ConfigError

# conf/ ships inside the package (genuine/conf links to the top-level conf/), so a wheel finds it too.
CONF_DIR = Path(os.environ.get("GENUINE_CONF_DIR", Path(__file__).resolve().parents[1] / "conf"))


class Strict(BaseModel):
    """The base of every config section: an unknown key is an error that names it, values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class JvmPackages(Strict):
    """Maven coordinates Spark resolves itself (`spark.jars.packages`); null: not requested (a cluster that
    ships the jar, or a machine that cannot reach a Maven registry)."""

    delta: str | None = None
    graphframes: str | None = None


class SparkConfig(Strict):
    app_name: str = "genuine"
    master: str | None = None
    shuffle_partitions: int | None = None
    driver_memory: str | None = None
    packages: JvmPackages = Field(default_factory=JvmPackages)
    conf: dict[str, str] = Field(default_factory=dict)

    @field_validator("conf", mode="before")
    @classmethod
    def _as_strings(cls, value: Any) -> Any:
        """Spark settings are strings; YAML may have read `8` or `true`."""
        if isinstance(value, dict):
            return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in value.items()}
        return value


class MaintenanceConfig(Strict):
    """`genuine maintain`: how long Delta keeps what time travel needs (docs/maintenance.md). Neither may be
    shorter than the audit window (`enforcement.audit.replay_window_days`): the job refuses."""

    data_retention_hours: int = Field(default=768, ge=0)   # VACUUM: files removed longer ago than this go
    log_retention_hours: int = Field(default=768, ge=0)    # delta.logRetentionDuration: commits older than this go


class LakeConfig(Strict):
    root: str = "./lakehouse"
    engine: Literal["auto", "delta-spark", "delta-rs"] = "auto"
    tables: dict[str, str]
    maintenance: MaintenanceConfig = Field(default_factory=MaintenanceConfig)


class MlflowConfig(Strict):
    tracking_uri: str = "sqlite:///mlflow.db"
    registry_uri: str | None = None
    experiment: str = "genuine"
    account_model: str = "genuine-account-model"
    text_model: str = "genuine-text-detector"


class PrivacyConfig(Strict):
    key_env: str = "GENUINE_HMAC_KEY"
    key_file: str = ".genuine/hmac.key"
    create_key_if_missing: bool = False


class IngestConfig(Strict):
    max_text_chars: int = 20000
    max_id_chars: int = 128
    min_timestamp: str = "2009-01-01T00:00:00Z"
    max_future_skew_hours: int = 24
    post_clients: list[str]
    interaction_kinds: list[str]
    post_target_kinds: list[str]
    # Report reasons are an open vocabulary: the raw reason is kept, and mapped (trimmed, case-insensitive)
    # to a category by this table (category -> the reasons it covers); any other wording maps to the fallback.
    report_reason_categories: dict[str, list[str]]
    report_reason_fallback: str = "other"
    label_values: list[str]
    session_clients: list[str]
    # Side tables of the later checks (known accounts and posts; the records those checks changed: late
    # failures, rows already ingested) are joined by broadcast up to this many rows, by a shuffle above.
    broadcast_max_rows: int = 500_000

    @model_validator(mode="after")
    def _one_category_per_reason(self) -> IngestConfig:
        seen: dict[str, str] = {}
        for category, reasons in self.report_reason_categories.items():
            for reason in reasons:
                key = reason.strip().lower()
                if key in seen and seen[key] != category:
                    raise ValueError(f"ingest.report_reason_categories: reason {reason!r} is in both "
                                     f"{seen[key]!r} and {category!r}")
                seen[key] = category
        return self

    def report_reason_map(self) -> dict[str, str]:
        """Normalised raw reason (trimmed, lower case) -> category."""
        return {r.strip().lower(): c for c, reasons in self.report_reason_categories.items() for r in reasons}


class ShiftConfig(Strict):
    """A platform whose AI strategies shift mid-window (devtools/simulator params.Shift); off by default."""

    enabled: bool = False
    at_day: float = Field(7.0, gt=0)            # days after start_date
    new_strategy: str | None = "llm_persona"    # has no activity before the shift
    retimed_strategy: str | None = "fixed_interval"   # a ticker strategy that changes its timing ...
    retimed_as: str = "jittered_scheduler"      # ... to this ticker's (interval, jitter, quiet window)
    new_spread_days: float = Field(1.0, ge=0)   # the new strategy's accounts start within this after the shift
    new_share: float | None = Field(None, gt=0, lt=1)   # the new strategy's share of accounts (None: default)
    labelled_before_share: float = Field(0.5, ge=0, le=1)   # labels of accounts seen before the shift decided before it


class SimulateConfig(Strict):
    start_date: str = "2026-10-01"
    label_fraction: float = 0.3
    shift: ShiftConfig = Field(default_factory=ShiftConfig)


class DemoConfig(Strict):
    """The embedded demo's platform and schedule (`genuine demo` options override the first four)."""

    accounts: int = Field(3000, ge=1)
    days: int = Field(14, ge=1)
    seed: int = 7
    out: str = "out/export"
    # A small platform needs a larger labelled share than simulate.label_fraction for the validation split
    # to hold enough AI accounts to set a 0.995-precision threshold on (model.min_flagged).
    label_fraction: float = Field(0.5, gt=0, le=1)
    # Earlier daily snapshots, as days after simulate.start_date: labels join the latest snapshot taken
    # before their decision (point in time), so training needs snapshots from before the last day.
    training_snapshot_days: list[int] = [7, 10]
    # One simulated round of moderator work on the top of the review queue and appeals (devtools/demo.py).
    moderator_round: int = Field(40, ge=0)
    moderator_error_rate: float = Field(0.1, ge=0, le=1)
    moderator_id: str = "demo-moderator"
    appeals_filed: int = Field(2, ge=0)
    appeals_decided: int = Field(1, ge=0)
    appeals_officer_id: str = "demo-appeals"


class ReportsConfig(Strict):
    """Where human-readable run reports (Markdown + PNG) go; relative paths resolve from the working dir."""

    root: str = "./reports"

    def path(self, *parts: str) -> Path:
        return Path(self.root, *parts)


class Config(Strict):
    """The validated configuration of one environment."""

    env: str = "local"
    spark: SparkConfig = Field(default_factory=SparkConfig)
    lake: LakeConfig
    mlflow: MlflowConfig = Field(default_factory=MlflowConfig)
    privacy: PrivacyConfig = Field(default_factory=PrivacyConfig)
    ingest: IngestConfig
    simulate: SimulateConfig = Field(default_factory=SimulateConfig)
    reports: ReportsConfig = Field(default_factory=ReportsConfig)
    demo: DemoConfig = Field(default_factory=DemoConfig)
    # Sections owned by later stages (features, model, enforcement) register themselves here as
    # free-form mappings validated by their own models; see `section()`.
    features: dict[str, Any] = Field(default_factory=dict)
    model: dict[str, Any] = Field(default_factory=dict)
    enforcement: dict[str, Any] = Field(default_factory=dict)
    text_detector: dict[str, Any] = Field(default_factory=dict)
    console: dict[str, Any] = Field(default_factory=dict)

    def table(self, name: str) -> str:
        """Absolute location of a named table (raises KeyError listing the known names)."""
        try:
            rel = self.lake.tables[name]
        except KeyError:
            raise KeyError(f"unknown table {name!r}; known: {sorted(self.lake.tables)}") from None
        return under_root(self.lake.root, rel)

    def fingerprint(self) -> str:
        """Stable hash of the effective configuration, recorded by every job run."""
        blob = json.dumps(self.model_dump(mode="json"), sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    def section(self, name: str, model: type[BaseModel]) -> Any:
        """Validate a stage's own section (features / model / enforcement / text_detector / console) with its model."""
        raw = getattr(self, name)
        try:
            return model.model_validate(raw)
        except ValidationError as exc:
            raise ConfigError(_explain(exc, prefix=name)) from None


def under_root(root: str, rel: str) -> str:
    """`rel` under a lake root: URI roots join with '/', local roots resolve to an absolute path."""
    if "://" in root:
        return root.rstrip("/") + "/" + rel
    return str((Path(root) / rel).resolve())


def _deep_merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out


def _read_yaml(path: Path) -> dict[str, Any]:
    if not path.exists():
        raise ConfigError(f"config file not found: {path}")
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    if not isinstance(data, dict):
        raise ConfigError(f"{path}: top level must be a mapping")
    return data


def parse_override(item: str) -> tuple[list[str], Any]:
    """`a.b.c=value` -> (["a","b","c"], value parsed as YAML so numbers and booleans keep their type)."""
    if "=" not in item:
        raise ConfigError(f"--set expects dotted.key=value, got {item!r}")
    key, raw = item.split("=", 1)
    parts = [p for p in key.strip().split(".") if p]
    if not parts:
        raise ConfigError(f"--set has an empty key: {item!r}")
    return parts, yaml.safe_load(raw) if raw != "" else ""


FREE_FORM_MAPS = (("spark", "conf"),)
"""Sections whose keys contain dots themselves (spark.sql.shuffle.partitions): the rest of the path is one key."""


def _apply_override(data: dict[str, Any], parts: list[str], value: Any) -> None:
    for prefix in FREE_FORM_MAPS:
        if tuple(parts[:len(prefix)]) == prefix and len(parts) > len(prefix) + 1:
            parts = [*prefix, ".".join(parts[len(prefix):])]
    node = data
    for part in parts[:-1]:
        child = node.get(part)
        if child is None:
            child = node[part] = {}
        if not isinstance(child, dict):
            raise ConfigError(f"--set {'.'.join(parts)}: {part!r} is not a section")
        node = child
    node[parts[-1]] = value


def _explain(exc: ValidationError, prefix: str = "") -> str:
    lines = []
    for err in exc.errors():
        loc = ".".join(str(p) for p in ((prefix,) if prefix else ()) + tuple(err["loc"]))
        if err["type"] == "extra_forbidden":
            lines.append(f"unknown config key '{loc}'")
        else:
            lines.append(f"config key '{loc}': {err['msg']} (got {err.get('input')!r})")
    return "; ".join(lines)


def apply_overrides(cfg: Config, overrides: list[str]) -> Config:
    """`cfg` with `--set`-style overrides applied, validated as a loaded config is."""
    return _validated(cfg.model_dump(), overrides)


def _validated(data: dict[str, Any], overrides: list[str]) -> Config:
    for item in overrides:
        parts, value = parse_override(item)
        _apply_override(data, parts, value)
    try:
        return Config.model_validate(data)
    except ValidationError as exc:
        raise ConfigError(_explain(exc)) from None


def load_config(env: str | None = None, overrides: list[str] | None = None,
                conf_dir: Path | None = None) -> Config:
    """Load base + environment + overrides. `env` defaults to $GENUINE_ENV, then 'local'."""
    env = env or os.environ.get("GENUINE_ENV", "local")
    conf_dir = conf_dir or CONF_DIR
    data = _deep_merge(_read_yaml(conf_dir / "base.yml"), _read_yaml(conf_dir / f"{env}.yml"))
    data["env"] = env
    return _validated(data, overrides or [])
