"""Which fields a condition may read on each resource type, so a misspelt field is refused when a playbook loads.

`resource.*` fields are the vendor's own: the properties of the object's schema in the vendor's API description
(for GitHub, `tests/specs/github-subset.json`; a test keeps the two equal). `related.*` facts are the connector's
contract (see playbooks/README.md). A field maps to None when what lies below it is free-form or a scalar (nothing
under it is checked), or to the fields of a closed object. Resource types missing here are not checked at all.

The check reads the condition's text with a small CEL tokenizer of its own, so it does not depend on how the rule
engine parses: it finds access chains that start at the variable `resource` or `related` (`resource.config.url`,
`related["repo"].visibility`) and stops at the first computed index, method call or free-form field.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Union

FieldTree = Mapping[str, Union["FieldTree", None]]


def _free(names: str) -> dict[str, FieldTree | None]:
    return dict.fromkeys(names.split())


@dataclass(frozen=True)
class TypeFields:
    """What a condition can read on one resource type."""

    resource: FieldTree
    related: FieldTree


_USER = _free(
    "avatar_url email events_url followers_url following_url gists_url gravatar_id html_url id login name node_id "
    "organizations_url received_events_url repos_url site_admin starred_at starred_url subscriptions_url type url "
    "user_view_type"
)
_PERMISSIONS = _free("admin maintain push triage pull")
_HOOK_CONFIG = _free("content_type insecure_ssl secret url")
_REPO_SUMMARY = _free("name private visibility archived")
_SECURITY_AND_ANALYSIS = _free(
    "advanced_security code_security dependabot_security_updates secret_scanning secret_scanning_ai_detection "
    "secret_scanning_delegated_alert_dismissal secret_scanning_delegated_bypass "
    "secret_scanning_delegated_bypass_options secret_scanning_non_provider_patterns secret_scanning_push_protection"
)
_REPO = {
    **_free(
        "allow_auto_merge allow_forking allow_merge_commit allow_rebase_merge allow_squash_merge allow_update_branch "
        "anonymous_access_enabled archive_url archived assignees_url blobs_url branches_url clone_url code_of_conduct "
        "collaborators_url comments_url commits_url compare_url contents_url contributors_url created_at "
        "custom_properties default_branch delete_branch_on_merge deployments_url description disabled downloads_url "
        "events_url fork forks forks_count forks_url full_name git_commits_url git_refs_url git_tags_url git_url "
        "has_discussions has_downloads has_issues has_pages has_projects has_pull_requests has_wiki homepage hooks_url "
        "html_url id is_template issue_comment_url issue_events_url issues_url keys_url labels_url language "
        "languages_url license master_branch merge_commit_message merge_commit_title merges_url milestones_url "
        "mirror_url name network_count node_id notifications_url open_issues open_issues_count organization owner "
        "parent private pull_request_creation_policy pulls_url pushed_at releases_url role_name size source "
        "squash_merge_commit_message squash_merge_commit_title ssh_url stargazers_count stargazers_url statuses_url "
        "subscribers_count subscribers_url subscription_url svn_url tags_url teams_url temp_clone_token "
        "template_repository topics trees_url updated_at url use_squash_pr_title_as_default visibility watchers "
        "watchers_count web_commit_signoff_required"
    ),
    "permissions": _PERMISSIONS,
    "security_and_analysis": _SECURITY_AND_ANALYSIS,
}
_ORG = _free(
    "advanced_security_enabled_for_new_repositories archived_at avatar_url billing_email blog collaborators company "
    "created_at default_repository_branch default_repository_permission dependabot_alerts_enabled_for_new_repositories "
    "dependabot_security_updates_enabled_for_new_repositories dependency_graph_enabled_for_new_repositories "
    "deploy_keys_enabled_for_repositories description disk_usage display_commenter_full_name_setting_enabled email "
    "events_url followers following has_organization_projects has_repository_projects hooks_url html_url id "
    "is_verified issues_url location login members_allowed_repository_creation_type "
    "members_can_change_repo_visibility members_can_create_internal_repositories members_can_create_pages "
    "members_can_create_private_pages members_can_create_private_repositories members_can_create_public_pages "
    "members_can_create_public_repositories members_can_create_repositories members_can_create_teams "
    "members_can_delete_issues members_can_delete_repositories members_can_fork_private_repositories "
    "members_can_invite_outside_collaborators members_can_view_dependency_insights members_url name node_id "
    "owned_private_repos plan private_gists public_gists public_members_url public_repos "
    "readers_can_create_discussions repos_url secret_scanning_enabled_for_new_repositories "
    "secret_scanning_push_protection_custom_link secret_scanning_push_protection_custom_link_enabled "
    "secret_scanning_push_protection_enabled_for_new_repositories total_private_repos twitter_username "
    "two_factor_requirement_enabled type updated_at url web_commit_signoff_required"
)
_ORG_HOOK = {
    **_free("active created_at deliveries_url events id name ping_url type updated_at url"),
    "config": _HOOK_CONFIG,
}
_REPO_HOOK = {**_ORG_HOOK, **_free("last_response test_url")}
_APP_PERMISSIONS = _free(
    "actions administration artifact_metadata attestations checks code_quality codespaces contents "
    "custom_properties_for_organizations dependabot_secrets deployments discussions email_addresses "
    "enterprise_custom_properties_for_organizations environments followers git_ssh_keys gpg_keys interaction_limits "
    "issues members merge_queues metadata organization_administration organization_announcement_banners "
    "organization_copilot_agent_settings organization_copilot_seat_management organization_custom_org_roles "
    "organization_custom_properties organization_custom_roles organization_events organization_hooks "
    "organization_packages organization_personal_access_token_requests organization_personal_access_tokens "
    "organization_plan organization_projects organization_secrets organization_self_hosted_runners "
    "organization_user_blocking packages pages profile pull_requests repository_custom_properties repository_hooks "
    "repository_projects secret_scanning_alerts secrets security_events single_file starring statuses "
    "vulnerability_alerts workflows"
)
_INSTALLATION = {
    **_free(
        "access_tokens_url account app_id app_slug client_id contact_email created_at events "
        "has_multiple_single_files html_url id repositories_url repository_selection single_file_name "
        "single_file_paths suspended_at suspended_by target_id target_type updated_at"
    ),
    "permissions": _APP_PERMISSIONS,
}

RESOURCE_FIELDS: dict[str, TypeFields] = {
    "github.org": TypeFields(resource=_ORG, related={}),
    "github.member": TypeFields(
        resource=_USER, related={"membership": _free("role state"), "two_factor_disabled": None}
    ),
    "github.outside_collaborator": TypeFields(resource=_USER, related=_free("two_factor_disabled")),
    "github.org_hook": TypeFields(resource=_ORG_HOOK, related={}),
    "github.repo": TypeFields(resource=_REPO, related=_free("default_branch_protection default_branch_rulesets")),
    "github.repo_hook": TypeFields(resource=_REPO_HOOK, related={"repo": _REPO_SUMMARY}),
    "github.deploy_key": TypeFields(
        resource=_free("added_by created_at enabled id key last_used read_only title url verified"),
        related={"repo": _REPO_SUMMARY},
    ),
    "github.collaborator": TypeFields(
        resource={
            **{k: v for k, v in _USER.items() if k != "starred_at"},
            "permissions": _PERMISSIONS,
            "role_name": None,
        },
        related={"outside": None, "repo": _REPO_SUMMARY},
    ),
    "github.app_installation": TypeFields(resource=_INSTALLATION, related={}),
}
"""Resource type → the fields conditions may read. Add an entry with each new resource type."""


@dataclass(frozen=True)
class FieldProblem:
    """A field a condition reads that the resource type does not have."""

    message: str
    offset: int
    """0-based character index of the field name inside the condition."""


def unknown_fields(condition: str, resource_type: str) -> list[FieldProblem]:
    """Every field of `resource.*` / `related.*` the condition reads that `resource_type` does not have."""
    catalogue = RESOURCE_FIELDS.get(resource_type)
    if catalogue is None:
        return []
    roots: dict[str, FieldTree] = {"resource": catalogue.resource, "related": catalogue.related}
    tokens = list(_tokens(condition))
    problems: list[FieldProblem] = []
    for index, token in enumerate(tokens):
        if token.kind != "ident" or token.text not in roots:
            continue
        if index > 0 and tokens[index - 1].text == ".":
            continue  # `x.resource` is a field of something else, not the variable
        problem = _walk(token.text, roots[token.text], tokens, index + 1, resource_type)
        if problem is not None:
            problems.append(problem)
    return problems


def _walk(path: str, level: FieldTree, tokens: list[_Token], at: int, resource_type: str) -> FieldProblem | None:
    while True:
        step = _step(tokens, at)
        if step is None:
            return None
        name, offset, at = step
        if name not in level:
            close = difflib.get_close_matches(name, list(level), n=1, cutoff=0.6)
            hint = close[0] if close else None
            suggestion = f" — did you mean '{path}.{hint}'?" if hint else ""
            known = f" (known: {', '.join(sorted(level))})" if 0 < len(level) <= 12 else ""
            nothing = " (it has none)" if not level else ""
            message = f"unknown field '{path}.{name}' for {resource_type}{suggestion}{known}{nothing}"
            return FieldProblem(message=message, offset=offset)
        below = level[name]
        if below is None:
            return None
        path, level = f"{path}.{name}", below


def _step(tokens: list[_Token], at: int) -> tuple[str, int, int] | None:
    """The field name the access at `at` reads, its offset and the next index; None when it is no field access."""
    if at + 1 < len(tokens) and tokens[at].text == "." and tokens[at + 1].kind == "ident":
        follows_call = at + 2 < len(tokens) and tokens[at + 2].text == "("
        return None if follows_call else (tokens[at + 1].text, tokens[at + 1].start, at + 2)
    if at + 2 < len(tokens) and tokens[at].text == "[" and tokens[at + 2].text == "]":
        key = tokens[at + 1]
        if key.kind == "string" and key.value is not None:
            return key.value, key.start + 1, at + 3
    return None


@dataclass(frozen=True)
class _Token:
    kind: str
    """`ident`, `string`, `number` or `punct`."""
    text: str
    start: int
    value: str | None = None
    """A string literal's value when it has no escapes."""


_IDENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_NUMBER = re.compile(r"0[xX][0-9a-fA-F]+[uU]?|\d+(\.\d*)?([eE][+-]?\d+)?[uU]?|\.\d+([eE][+-]?\d+)?")
_STRING_START = re.compile(r"([rRbB]{0,2})(\"\"\"|'''|\"|')")


def _tokens(source: str) -> Iterator[_Token]:
    position = 0
    while position < len(source):
        char = source[position]
        if char.isspace():
            position += 1
            continue
        if source.startswith("//", position):
            newline = source.find("\n", position)
            position = len(source) if newline == -1 else newline
            continue
        string = _STRING_START.match(source, position)
        if string is not None:
            end, value = _string_end(source, string.end(), string.group(2), raw="r" in string.group(1).lower())
            yield _Token("string", source[position:end], position, value)
            position = end
            continue
        number = _NUMBER.match(source, position)
        if number is not None and number.group(0):
            yield _Token("number", number.group(0), position)
            position = number.end()
            continue
        ident = _IDENT.match(source, position)
        if ident is not None:
            yield _Token("ident", ident.group(0), position)
            position = ident.end()
            continue
        yield _Token("punct", char, position)
        position += 1


def _string_end(source: str, start: int, quote: str, *, raw: bool) -> tuple[int, str | None]:
    """Index just past the closing quote, and the literal's value when it has no escapes."""
    position = start
    escaped = False
    while position < len(source):
        if not raw and source[position] == "\\":
            escaped = True
            position += 2
            continue
        if source.startswith(quote, position):
            body = source[start:position]
            return position + len(quote), None if escaped else body
        position += 1
    return len(source), None
