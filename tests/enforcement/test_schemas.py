from __future__ import annotations

import pytest

from genuine.core import catalog
from genuine.core.schemas import REASON
from genuine.enforcement.config import enforcement_config
from genuine.enforcement.schemas import SCORE_INPUT
from genuine.enforcement.statements import DECISION_ACCOUNTS, DECISION_VISIBILITIES, EEA_COUNTRIES, KEYWORDS
from genuine.models import scoring


def test_score_input_is_the_scorers_schema():
    theirs = {f.name: f.dataType for f in scoring.SCORES.fields}
    for f in SCORE_INPUT.fields:
        assert theirs.get(f.name) == f.dataType, f.name
    assert scoring.REASON == REASON


@pytest.mark.parametrize("table", ["account_status", "action_log", "review_queue", "decisions", "statements"])
def test_tables_are_nullable_and_keys_exist(table):
    schema, keys = catalog.schema(table), catalog.table(table).keys
    assert all(f.nullable for f in schema.fields)
    assert set(keys) <= set(schema.fieldNames())


def test_configured_statement_values_are_schema_values(cfg):
    st = enforcement_config(cfg).statements
    for spec in st.actions.values():
        assert spec.decision_visibility in DECISION_VISIBILITIES | {None}
        assert spec.decision_account in DECISION_ACCOUNTS | {None}
    assert set(st.keywords + st.coordinated_keywords) <= KEYWORDS
    assert set(st.territorial_scope) == EEA_COUNTRIES
