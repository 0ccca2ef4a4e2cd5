"""The committed feature reference is generated from the registry and must not go stale."""

from __future__ import annotations

from pathlib import Path

from genuine.features.catalog import ALL_FEATURES, DOCS_PATH, FEATURE_NAMES, FEATURE_TABLE, render_docs
from genuine.features.registry import FAMILIES

REPO = Path(__file__).resolve().parents[2]


def test_committed_docs_equal_render_docs():
    docs = REPO / DOCS_PATH
    assert docs.exists(), "docs/features.md missing: run `genuine features --docs` (or `make docs`)"
    assert docs.read_text(encoding="utf-8") == render_docs(), \
        "docs/features.md is stale: run `genuine features --docs` (or `make docs`) and commit it"


def test_docs_list_every_feature_once_per_family():
    text = render_docs()
    for f in ALL_FEATURES:
        assert text.count(f"| `{f.name}` |") == 1, f.name
    for family in FAMILIES:
        n = sum(f.family == family for f in ALL_FEATURES)
        assert f"## {family} ({n})" in text


def test_table_schema_follows_registry():
    names = FEATURE_TABLE.fieldNames()
    assert names[:3] == ["account_id", "snapshot_date", "as_of"]
    assert names[3:-2] == FEATURE_NAMES
    assert names[-2:] == ["input_versions", "run_id"]
    assert len(set(FEATURE_NAMES)) == len(FEATURE_NAMES)
    assert [FEATURE_TABLE[f.name].dataType for f in ALL_FEATURES] == [f.dtype for f in ALL_FEATURES]
