"""Rule evaluation: playbook conditions (CEL) over vendor-shaped resources, producing findings with evidence."""

from mendflow.rules.cel import VARIABLES, Condition, ConditionError, EvaluationError, compile_condition
from mendflow.rules.demand import Demand
from mendflow.rules.engine import CompiledRule, EvaluationResult, RuleError, RuleSet, compile_rules
from mendflow.rules.evidence import FieldPath, format_path, read_paths

__all__ = [
    "VARIABLES",
    "CompiledRule",
    "Condition",
    "ConditionError",
    "Demand",
    "EvaluationError",
    "EvaluationResult",
    "FieldPath",
    "RuleError",
    "RuleSet",
    "compile_condition",
    "compile_rules",
    "format_path",
    "read_paths",
]
