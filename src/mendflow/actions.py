"""The catalogue of remediation actions: names, the resource type each acts on, accepted parameters.

This is what playbooks are checked against; the implementations live with each connector
(`mendflow.providers.github.actions`, `mendflow.providers.okta.actions`). An action is reversible when its
`restore` can put back the captured prior state exactly; only reversible actions may run in `auto` mode.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from mendflow.models import Frozen

Toggle = Literal["enabled", "disabled"]


class ActionParams(BaseModel):
    """Base for action parameters: unknown keys are refused, unset keys are left alone."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    def as_body(self) -> dict[str, object]:
        """The fields the playbook set, in the vendor's JSON shape."""
        return self.model_dump(exclude_none=True, mode="json")


class HookConfigParams(ActionParams):
    """Fields of a webhook's `config` (`PATCH …/hooks/{id}/config`). The secret is not writable here:
    it reads back masked, so a change to it could never be restored."""

    insecure_ssl: Literal["0", "1"] | None = None
    content_type: Literal["json", "form"] | None = None


class RepoSecurityParams(ActionParams):
    """`security_and_analysis` switches of a repository (`PATCH /repos/{owner}/{repo}`)."""

    secret_scanning: Toggle | None = None
    secret_scanning_push_protection: Toggle | None = None


class OrgSettingsParams(ActionParams):
    """Organization settings (`PATCH /orgs/{org}`)."""

    default_repository_permission: Literal["read", "write", "admin", "none"] | None = None
    members_can_create_public_repositories: bool | None = None
    members_can_create_private_repositories: bool | None = None


class UserStatusParams(ActionParams):
    """An Okta user's lifecycle status, changed through `POST /api/v1/users/{id}/lifecycle/suspend|unsuspend`."""

    status: Literal["SUSPENDED", "ACTIVE"] | None = None


class PolicyRuleParams(ActionParams):
    """Settings of an Okta policy rule, written by replacing the rule (`PUT …/rules/{ruleId}`) with its current
    body changed only here. Sign-on rules: `actions.signon.session.*`; app sign-on rules: `factorMode`."""

    max_session_lifetime_minutes: int | None = Field(default=None, ge=0)
    max_session_idle_minutes: int | None = Field(default=None, ge=1)
    use_persistent_cookie: bool | None = None
    factor_mode: Literal["1FA", "2FA"] | None = None


class PasswordPolicyParams(ActionParams):
    """Settings of an Okta PASSWORD policy (`settings.password.*`), written with `PUT /api/v1/policies/{id}`."""

    min_length: int | None = Field(default=None, ge=4, le=30)
    min_lower_case: int | None = Field(default=None, ge=0, le=1)
    min_upper_case: int | None = Field(default=None, ge=0, le=1)
    min_number: int | None = Field(default=None, ge=0, le=1)
    min_symbol: int | None = Field(default=None, ge=0, le=1)
    exclude_common: bool | None = None
    history_count: int | None = Field(default=None, ge=0, le=30)
    max_age_days: int | None = Field(default=None, ge=0)
    min_age_minutes: int | None = Field(default=None, ge=0)
    max_attempts: int | None = Field(default=None, ge=0)


class RevokeParams(ActionParams):
    """Revoke a credential (`state: revoked`). Cannot be undone: the secret cannot be issued again."""

    state: Literal["revoked"] | None = None


class SessionsParams(ActionParams):
    """End every sign-in session of an Okta user (`DELETE /api/v1/users/{id}/sessions`). Cannot be undone."""

    sessions: Literal["cleared"] | None = None


class GrantsParams(ActionParams):
    """Revoke every OAuth consent grant and refresh token an Okta user holds. Cannot be undone."""

    oauth: Literal["revoked"] | None = None


class MembershipParams(ActionParams):
    """Whether a user is a member of an Okta group (resource `/api/v1/groups/{groupId}/users/{userId}`)."""

    membership: Literal["absent", "present"] | None = None


class RoleAssignmentParams(ActionParams):
    """Unassign an admin role (resource `/api/v1/users/{userId}/roles/{roleAssignmentId}`); the restore assigns
    the captured role type again, under a new assignment id."""

    role: Literal["unassigned"] | None = None


class AppStatusParams(ActionParams):
    """An Okta app's lifecycle status, changed through `POST /api/v1/apps/{id}/lifecycle/activate|deactivate`."""

    status: Literal["ACTIVE", "INACTIVE"] | None = None


class RepoVisibilityParams(ActionParams):
    """A repository's `visibility` (`PATCH /repos/{owner}/{repo}`). Public → private cannot be undone: GitHub erases
    stars and watchers and detaches forks, so the action is irreversible and never runs unattended."""

    visibility: Literal["private", "internal"] | None = None


class HookActiveParams(ActionParams):
    """Whether a GitHub webhook delivers (`active`, written with a PATCH of the hook; its config is untouched)."""

    active: bool | None = None


class HookSecretParams(ActionParams):
    """Rotate a GitHub webhook's secret to the one at a secret reference (`env:NAME` / `file:/path`), resolved
    only inside the worker: the value never enters a playbook, the workflow history or a log."""

    secret_ref: str | None = Field(default=None, pattern=r"^(env|file):.+")


class DeleteParams(ActionParams):
    """Delete the object (a webhook, a deploy key). Cannot be undone."""

    state: Literal["deleted"] | None = None


class OrgMembershipParams(ActionParams):
    """Remove a person from the GitHub organization (resource `/orgs/{org}/memberships/{username}`)."""

    membership: Literal["absent"] | None = None


class CollaboratorParams(ActionParams):
    """A collaborator's role on a repository (resource `/repos/{owner}/{repo}/collaborators/{username}`);
    `none` removes the collaborator."""

    permission: Literal["read", "triage", "write", "maintain", "admin", "none"] | None = None


class ActionSpec(Frozen):
    """What a playbook may name in `respond.action`."""

    name: str
    resource_type: str
    reversible: bool
    params: type[ActionParams]
    summary: str
    restore_needs_acceptance: bool = False
    """The restore sends an invitation: the access is back only once the person accepts it."""


ACTIONS: dict[str, ActionSpec] = {
    spec.name: spec
    for spec in (
        ActionSpec(
            name="github.repo_hook.update_config",
            resource_type="github.repo_hook",
            reversible=True,
            params=HookConfigParams,
            summary="Set fields of a repository webhook's config (e.g. insecure_ssl '0' to verify TLS).",
        ),
        ActionSpec(
            name="github.org_hook.update_config",
            resource_type="github.org_hook",
            reversible=True,
            params=HookConfigParams,
            summary="Set fields of an organization webhook's config (e.g. insecure_ssl '0').",
        ),
        ActionSpec(
            name="github.repo.update_security",
            resource_type="github.repo",
            reversible=True,
            params=RepoSecurityParams,
            summary="Turn a repository's secret scanning / push protection on or off.",
        ),
        ActionSpec(
            name="github.repo.set_visibility",
            resource_type="github.repo",
            reversible=False,
            params=RepoVisibilityParams,
            summary="Make a public repository private or internal (irreversible: stars, watchers and forks are lost).",
        ),
        ActionSpec(
            name="github.org.update_settings",
            resource_type="github.org",
            reversible=True,
            params=OrgSettingsParams,
            summary="Change organization settings such as the base repository permission.",
        ),
        ActionSpec(
            name="okta.user.set_status",
            resource_type="okta.user",
            reversible=True,
            params=UserStatusParams,
            summary="Suspend (or unsuspend) an Okta user; group and app assignments are kept.",
        ),
        ActionSpec(
            name="okta.policy_rule.update",
            resource_type="okta.policy_rule",
            reversible=True,
            params=PolicyRuleParams,
            summary="Change session or factor settings of an Okta policy rule (PUT of the rule's own body).",
        ),
        ActionSpec(
            name="okta.policy.update_password",
            resource_type="okta.policy",
            reversible=True,
            params=PasswordPolicyParams,
            summary="Raise an Okta PASSWORD policy's complexity, age and lockout settings.",
        ),
        ActionSpec(
            name="okta.api_token.revoke",
            resource_type="okta.api_token",
            reversible=False,
            params=RevokeParams,
            summary="Revoke an Okta API token (irreversible: approval and a word to the owner first).",
        ),
        ActionSpec(
            name="okta.oauth_grant.revoke",
            resource_type="okta.oauth_grant",
            reversible=False,
            params=RevokeParams,
            summary="Revoke an OAuth app's scope grant (irreversible: the grant must be consented to again).",
        ),
        ActionSpec(
            name="github.repo_hook.set_active",
            resource_type="github.repo_hook",
            reversible=True,
            params=HookActiveParams,
            summary="Disable (active: false) or enable a repository webhook; its URL, events and secret are kept.",
        ),
        ActionSpec(
            name="github.org_hook.set_active",
            resource_type="github.org_hook",
            reversible=True,
            params=HookActiveParams,
            summary="Disable (active: false) or enable an organization webhook; its configuration is kept.",
        ),
        ActionSpec(
            name="github.repo_hook.rotate_secret",
            resource_type="github.repo_hook",
            reversible=False,
            params=HookSecretParams,
            summary="Set a repository webhook's secret to the one at secret_ref (irreversible: GitHub never shows "
            "the old one).",
        ),
        ActionSpec(
            name="github.org_hook.rotate_secret",
            resource_type="github.org_hook",
            reversible=False,
            params=HookSecretParams,
            summary="Set an organization webhook's secret to the one at secret_ref (irreversible).",
        ),
        ActionSpec(
            name="github.repo_hook.delete",
            resource_type="github.repo_hook",
            reversible=False,
            params=DeleteParams,
            summary="Delete a repository webhook (irreversible: its secret cannot be read back to re-create it).",
        ),
        ActionSpec(
            name="github.org_hook.delete",
            resource_type="github.org_hook",
            reversible=False,
            params=DeleteParams,
            summary="Delete an organization webhook (irreversible).",
        ),
        ActionSpec(
            name="github.deploy_key.delete",
            resource_type="github.deploy_key",
            reversible=False,
            params=DeleteParams,
            summary="Remove a repository deploy key (irreversible: re-adding it would bring back a leaked key).",
        ),
        ActionSpec(
            name="github.org_membership.remove",
            resource_type="github.org_membership",
            reversible=True,
            params=OrgMembershipParams,
            summary="Remove a member from the organization; the restore re-invites them with their role.",
            restore_needs_acceptance=True,
        ),
        ActionSpec(
            name="github.repo_collaborator.set_permission",
            resource_type="github.repo_collaborator",
            reversible=True,
            params=CollaboratorParams,
            summary="Change a repository collaborator's role, or remove them (none); the restore puts the role back "
            "(an invitation when they were removed).",
            restore_needs_acceptance=True,
        ),
        ActionSpec(
            name="okta.user.clear_sessions",
            resource_type="okta.user",
            reversible=False,
            params=SessionsParams,
            summary="End every sign-in session of an Okta user (irreversible; Okta offers no read of sessions).",
        ),
        ActionSpec(
            name="okta.user.revoke_grants",
            resource_type="okta.user",
            reversible=False,
            params=GrantsParams,
            summary="Revoke an Okta user's OAuth consent grants and refresh tokens (irreversible).",
        ),
        ActionSpec(
            name="okta.group_membership.set",
            resource_type="okta.group_membership",
            reversible=True,
            params=MembershipParams,
            summary="Remove a user from an Okta group (or add them); the restore puts the membership back.",
        ),
        ActionSpec(
            name="okta.role_assignment.unassign",
            resource_type="okta.role_assignment",
            reversible=True,
            params=RoleAssignmentParams,
            summary="Unassign an Okta admin role; the restore assigns the same role type again (new assignment id).",
        ),
        ActionSpec(
            name="okta.app.set_status",
            resource_type="okta.app",
            reversible=True,
            params=AppStatusParams,
            summary="Deactivate (or activate) an Okta app; its assignments and settings are kept.",
        ),
    )
}
