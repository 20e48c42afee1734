"""Who may approve, operate and suppress: one RBAC config checked by every channel (CLI, Slack, API).

Channels resolve a person to an identity and their groups here; the workflow's update validators then check that
identity against the approvers the campaign was planned with (`user:NAME` / `group:NAME` principals).
"""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ConfigDict, Field

from mendflow.models import Severity


class Person(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    groups: tuple[str, ...] = ()
    slack: str | None = None
    """Slack user id (`U…`) of this person."""


class RbacConfig(BaseModel):
    """The `rbac:` section of mendflow's config."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    people: dict[str, Person] = Field(default_factory=dict)
    default_approvers: tuple[str, ...] = ("group:secops-oncall",)
    approvers_by_severity: dict[Severity, tuple[str, ...]] = Field(default_factory=dict)
    approvers_by_playbook: dict[str, tuple[str, ...]] = Field(default_factory=dict)
    required_by_severity: dict[Severity, int] = Field(default_factory=lambda: {Severity.critical: 2})
    """Distinct approvers needed per risk tier (the playbook may ask for more, never fewer)."""
    suppressors: tuple[str, ...] = ("group:secops-leads",)
    """Who may accept a risk (suppress a finding)."""

    def groups_of(self, identity: str) -> tuple[str, ...]:
        person = self.people.get(identity)
        return person.groups if person else ()

    def identity_for_slack(self, slack_user: str) -> str | None:
        return next((name for name, p in self.people.items() if p.slack == slack_user), None)

    def approvers_for(self, playbook_id: str, severity: Severity, declared: Iterable[str] = ()) -> tuple[str, ...]:
        """The playbook's own approvers, else the config's per playbook, per severity, or default."""
        declared = tuple(declared)
        if declared:
            return declared
        if playbook_id in self.approvers_by_playbook:
            return self.approvers_by_playbook[playbook_id]
        return self.approvers_by_severity.get(severity, self.default_approvers)

    def required_for(self, severity: Severity, declared: int = 1) -> int:
        return max(declared, self.required_by_severity.get(severity, 1))


def is_allowed(identity: str, groups: Iterable[str], principals: Iterable[str]) -> bool:
    """Does `identity` (with `groups`) match any `user:` / `group:` principal?"""
    mine = {f"user:{identity}", *(f"group:{g}" for g in groups)}
    return any(p in mine for p in principals)
