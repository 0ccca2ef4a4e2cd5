"""Enforcement: policy and circuit breaker, review queue, human decisions and appeals, statements of
reasons, audit. Transforms of DataFrames the jobs read at pinned versions; the jobs write the results
(genuine.jobs.io). Read-only exceptions: the audit trail (trail.py) and the registry look-ups
(model_registry.py), which the jobs hand a lake or a client."""

from genuine.core.errors import StatementExportError
from genuine.enforcement.config import EnforcementConfig, enforcement_config
from genuine.enforcement.decisions import ImportResult, import_decisions, import_frame, labels_from_decisions
from genuine.enforcement.enforce import EnforcementPlan, plan_enforcement
from genuine.enforcement.policy import (
    BreakerState,
    action_log_from_policy,
    breaker_check,
    decide,
    status_from_policy,
)
from genuine.enforcement.review import review_queue
from genuine.enforcement.statements import (
    export_statements,
    statement_for,
    statements_frame,
    validate_statement,
)

__all__ = [
    "EnforcementConfig", "enforcement_config", "ImportResult", "import_decisions", "import_frame",
    "labels_from_decisions", "EnforcementPlan", "plan_enforcement", "BreakerState",
    "action_log_from_policy", "breaker_check", "decide", "status_from_policy", "review_queue",
    "StatementExportError", "export_statements", "statement_for", "statements_frame", "validate_statement",
]
