"""The table catalog covers exactly the configured tables, and every entry is consistent with its schema."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest
import yaml
from pyspark.sql.types import StructType

from genuine.core import catalog
from genuine.core.config import load_config

BASE = Path(__file__).resolve().parents[2] / "conf" / "base.yml"


def _schema(t: catalog.Table) -> StructType:
    """The declared schema, or the one the owning stage generates."""
    if t.schema is not None:
        return t.schema
    assert t.schema_owner is not None, f"{t.name}: neither a schema nor its owner"
    module, attr = t.schema_owner.split(":")
    schema = getattr(importlib.import_module(module), attr)
    assert isinstance(schema, StructType), t.schema_owner
    return schema


def test_every_configured_table_has_an_entry_and_vice_versa():
    configured = set(yaml.safe_load(BASE.read_text())["lake"]["tables"])
    assert configured == set(catalog.TABLES)


@pytest.mark.parametrize("name", sorted(catalog.TABLES))
def test_keys_and_partition_columns_are_columns_of_the_schema(name):
    t = catalog.table(name)
    columns = set(_schema(t).fieldNames())
    assert t.name == name
    assert t.keys and set(t.keys) <= columns, (name, t.keys)
    assert set(t.partition_by) <= columns, (name, t.partition_by)
    assert all(f.nullable for f in _schema(t).fields), name


def test_the_catalog_resolves_paths_from_config():
    cfg = load_config("test", ["lake.root=/tmp/genuine-lake"])
    t = catalog.table("action_log")
    assert t.path(cfg) == cfg.lake.tables["action_log"]
    assert t.location(cfg) == cfg.table("action_log")


def test_unknown_tables_and_stage_owned_schemas_are_named():
    with pytest.raises(KeyError, match="not in the catalog"):
        catalog.table("no_such_table")
    with pytest.raises(KeyError, match="genuine.features.catalog"):
        catalog.schema("features")
    with pytest.raises(ValueError, match="not written by merge"):
        catalog.table("scores").merge_on()
    assert catalog.table("action_log").merge_on() == (["action_id"], "ignore")
