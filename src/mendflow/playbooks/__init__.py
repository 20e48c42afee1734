"""Playbooks checked against the vendors' schemas: what each field a condition reads may hold, and whether every
comparison accounts for it (`typecheck`), from the vendors' API descriptions packaged as data (`cut`)."""

from mendflow.playbooks.typecheck import TYPE_PROBLEMS, TypeProblem, check_condition
from mendflow.playbooks.vendor_schema import Shape, schemas_for

__all__ = ["TYPE_PROBLEMS", "Shape", "TypeProblem", "check_condition", "schemas_for"]
