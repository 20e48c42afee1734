"""The catalogue of remediation actions: names, the resource type each acts on, accepted parameters.

This is what playbooks are checked against; the implementations live with each connector
(`mendflow.connectors.github_actions`). An action is reversible when its `restore` can put back the captured
prior state exactly; only reversible actions may run in `auto` mode.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

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


class ActionSpec(Frozen):
    """What a playbook may name in `respond.action`."""

    name: str
    resource_type: str
    reversible: bool
    params: type[ActionParams]
    summary: str


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
            name="github.org.update_settings",
            resource_type="github.org",
            reversible=True,
            params=OrgSettingsParams,
            summary="Change organization settings such as the base repository permission.",
        ),
    )
}
