"""Playbooks (format `mendflow/v1`): which resources to look at, what counts as a finding, how to respond.

```yaml
apiVersion: mendflow/v1
id: github.repo_hook.insecure_ssl
title: Repository webhooks must verify TLS certificates
resource: github.repo_hook
detect:
  when: resource.config.insecure_ssl == "1"
  severity: high
  compliance: ["SOC2:CC6.7", "NIST-CSF:PR.DS-02", "ISO27001:A.8.24"]
respond:                      # optional: without it the playbook only detects
  mode: auto                  # auto | approval | ticket | notify
  action: github.repo_hook.update_config
  with: {insecure_ssl: "0"}
  verify: rescan
tests:                        # optional: test cases (or beside the file in NAME.tests.yaml)
  - name: a hook that skips TLS verification is set to verify
    resources: [{id: /repos/acme/api/hooks/11, data: {config: {url: "https://ci.example", insecure_ssl: "1"}}}]
    expect:
      findings: [/repos/acme/api/hooks/11]
      plan: {/repos/acme/api/hooks/11: {before: {insecure_ssl: "1"}, after: {insecure_ssl: "0"}}}
```

Mistakes are refused by the models themselves, with a message that names the key or value and suggests the
likely intended spelling, so playbooks built in code are checked exactly like loaded ones. Each error carries a
stable `type` and a `loc`; the loader turns the loc into file:line:column (see ERRORS_AT_KEY).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import timedelta
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, Self

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BeforeValidator,
    Field,
    PlainSerializer,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    ValidatorFunctionWrapHandler,
    WithJsonSchema,
    WrapValidator,
    field_validator,
    model_validator,
)
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError

from mendflow import providers
from mendflow.actions import ACTIONS, ActionParams, ActionSpec
from mendflow.models import Severity
from mendflow.playbooks import TYPE_PROBLEMS, check_condition
from mendflow.playbooks import params as policy_params
from mendflow.playbooks.base import (
    Part,
    custom_error,
    did_you_mean,
    yaml_kind,
)
from mendflow.playbooks.resource_fields import unknown_fields
from mendflow.rules import ConditionError, compile_condition

API_VERSION = "mendflow/v1"

RESOURCE_TYPES = providers.RESOURCE_TYPES
"""Resource types a playbook may name → the shape of their ids (the contract with the connectors): the
registered providers' `resource_types`, one table kept by `mendflow.providers`."""

_ID = re.compile(r"[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+")
_COMPLIANCE_REF = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*:\S+")
_PRINCIPAL = re.compile(r"(user|group):[A-Za-z0-9][A-Za-z0-9_.@-]*")


class Mode(StrEnum):
    """How findings of a playbook are answered."""

    auto = "auto"
    """Apply the action without asking (reversible actions only), canary first, verify, roll back on failure."""
    approval = "approval"
    """Apply the action once an authorised person approves the campaign."""
    ticket = "ticket"
    """Open a ticket for the campaign and let people decide through it; nothing runs unattended."""
    notify = "notify"
    """Report only; a named action is shown as the suggested fix but never run."""


GATED_MODES = frozenset({Mode.approval, Mode.ticket})
"""Modes whose campaigns wait for a person's decision (a Slack card or a Jira ticket) before anything runs."""


class Verify(StrEnum):
    """How a change is proven to have worked."""

    rescan = "rescan"
    """Read the resource again and re-evaluate the condition: the finding must be gone."""


def _choice(value: Any, choices: type[StrEnum], what: str) -> Any:
    """Refuse an unknown enum value with the valid ones and the closest spelling."""
    allowed = [member.value for member in choices]
    if isinstance(value, str) and value not in allowed:
        hint = did_you_mean(value, allowed)
        raise PydanticCustomError("invalid_choice", f"unknown {what} {value!r}{hint} (one of: {', '.join(allowed)})")
    return value


def _compliance_ref(value: str) -> str:
    if not _COMPLIANCE_REF.fullmatch(value):
        raise PydanticCustomError(
            "invalid_compliance_ref",
            f"compliance reference {value!r} must look like FRAMEWORK:CONTROL, e.g. 'SOC2:CC6.7'",
        )
    return value


ComplianceRef = Annotated[
    str,
    AfterValidator(_compliance_ref),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^[A-Za-z0-9][A-Za-z0-9_.-]*:\S+$",
            "examples": ["SOC2:CC6.7", "ISO27001:A.8.24"],
        }
    ),
]


class Detect(Part):
    """When a resource is a finding, and how bad it is."""

    when: str
    """CEL condition over `resource` (the vendor's object), `related` (facts from other endpoints) and `now` (the
    scan's as-of time); true means the resource is a finding."""
    severity: Severity
    """How bad a finding is: info, low, medium, high or critical."""
    compliance: tuple[ComplianceRef, ...] = ()
    """Controls this rule evidences, `FRAMEWORK:CONTROL`: SOC2, NIST-CSF (2.0), ISO27001 (2022 Annex A), CIS-v8."""

    @field_validator("when")
    @classmethod
    def _condition_compiles(cls, value: str) -> str:
        try:  # `params.NAME` is checked against the declared parameters by Playbook; a placeholder here
            compile_condition(policy_params.bind(value, {}).text)
        except ConditionError as err:
            raise PydanticCustomError("cel_syntax", err.message, {"offset": err.offset}) from None
        return value

    @field_validator("severity", mode="before")
    @classmethod
    def _known_severity(cls, value: Any) -> Any:
        return _choice(value, Severity, "severity")


_DURATION = re.compile(r"(\d+)\s*(s|m|h|d)")
_UNIT_SECONDS = {"d": 86400, "h": 3600, "m": 60, "s": 1}
_HUMAN_DURATION = r"^(\d+[dhms])+$"
_ISO_DURATION = r"^P(\d+D)?(T(\d+H)?(\d+M)?(\d+(\.\d+)?S)?)?$"


def _duration(value: Any, handler: ValidatorFunctionWrapHandler) -> timedelta:
    """`30s`, `10m`, `4h`, `7d`, `1d12h` (or ISO 8601 `PT4H`, or seconds) → timedelta; never negative."""
    if isinstance(value, str):
        parts = _DURATION.findall(value.strip())
        if parts and "".join(f"{n}{u}" for n, u in parts) == value.strip().replace(" ", ""):
            value = timedelta(seconds=sum(int(n) * _UNIT_SECONDS[u] for n, u in parts))
    try:
        parsed: timedelta = handler(value)
    except ValidationError:
        raise PydanticCustomError(
            "invalid_duration", f"duration {value!r} must look like 30s, 10m, 4h, 7d or 1d12h"
        ) from None
    if parsed < timedelta(0):
        raise PydanticCustomError("invalid_duration", f"duration {value!r} must not be negative")
    return parsed


def format_duration(value: timedelta) -> str:
    """The people's form of a duration: `1d12h`, `30m`, `0s` (ISO 8601 when it has fractions of a second)."""
    if value.microseconds:
        return f"PT{value.total_seconds()}S"
    rest = int(value.total_seconds())
    out = ""
    for unit, seconds in _UNIT_SECONDS.items():
        count, rest = divmod(rest, seconds)
        out += f"{count}{unit}" if count else ""
    return out or "0s"


Duration = Annotated[
    timedelta,
    WrapValidator(_duration),
    PlainSerializer(format_duration, return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "pattern": _HUMAN_DURATION, "examples": ["30m", "4h", "1d12h"]},
                {"type": "string", "pattern": _ISO_DURATION},
                {"type": "integer", "minimum": 0, "description": "seconds"},
            ]
        }
    ),
]
"""A duration written for people: `30m`, `4h`, `1d12h`."""


def _batch(value: Any) -> Any:
    if isinstance(value, str) and value.endswith("%"):
        number = value[:-1].strip()
        if not number.isdigit() or not 0 < int(number) <= 100:
            raise PydanticCustomError("invalid_batch", f"batch {value!r} must be a percentage from 1% to 100%")
    elif isinstance(value, str):
        raise PydanticCustomError(
            "invalid_batch", f"batch {value!r} must be a share of the resources ('10%') or a number of them (5)"
        )
    elif isinstance(value, int) and not isinstance(value, bool) and value < 1:
        raise PydanticCustomError("invalid_batch", f"batch {value!r} must be at least 1 resource")
    return value


Batch = Annotated[
    int | str,
    BeforeValidator(_batch),
    WithJsonSchema(
        {"anyOf": [{"type": "integer", "minimum": 1}, {"type": "string", "pattern": r"^([1-9][0-9]?|100)%$"}]}
    ),
]


def _principal(value: str) -> str:
    if not _PRINCIPAL.fullmatch(value):
        raise PydanticCustomError(
            "invalid_principal", f"approver {value!r} must be 'user:NAME' or 'group:NAME', e.g. 'group:secops-oncall'"
        )
    return value


Principal = Annotated[
    str,
    AfterValidator(_principal),
    WithJsonSchema({"type": "string", "pattern": r"^(user|group):\S+$", "examples": ["group:secops-oncall"]}),
]


class ApprovalPolicy(Part):
    """Who may approve a campaign, how many must, and what happens when nobody does."""

    approvers: tuple[Principal, ...] = ()
    """`user:NAME` or `group:NAME`; empty = the approvers the RBAC config gives this playbook's risk tier."""
    required: int = Field(default=1, ge=1)
    """Distinct approvers needed (N-of-M for critical changes)."""
    timeout: Duration = timedelta(hours=24)
    """Without enough approvals by then the campaign expires: nothing changes, the findings stay open."""
    escalate_after: Duration | None = None
    """Notify the escalation contact when still undecided after this long (must be shorter than timeout)."""
    escalate_to: str | None = None
    """Who is told on escalation (`user:NAME`, `group:NAME` or a channel)."""

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        problems: list[InitErrorDetails] = []
        if self.timeout <= timedelta(0):
            problems.append(
                custom_error("invalid_duration", "timeout must be longer than 0s", ("timeout",), self.timeout)
            )
        if self.escalate_after is not None and self.escalate_after >= self.timeout:
            message = (
                f"escalate_after ({format_duration(self.escalate_after)}) must be shorter than timeout "
                f"({format_duration(self.timeout)}), or nobody is ever told"
            )
            problems.append(custom_error("escalation_too_late", message, ("escalate_after",), self.escalate_after))
        users = {a for a in self.approvers if a.startswith("user:")}
        if self.approvers and len(users) == len(self.approvers) and self.required > len(users):
            message = f"required {self.required} approvals, but only {len(users)} named approver(s) can give one"
            problems.append(custom_error("unreachable_approval", message, ("required",), self.required))
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        return self


class RolloutPolicy(Part):
    """How a change spreads over a campaign's resources: canary first, then batches, verifying after each."""

    canary: int = Field(default=1, ge=1)
    """Resources changed (and verified) before anything else."""
    batches: tuple[Batch, ...] = ("100%",)
    """After the canary: cumulative share of the remaining resources (`10%`, `50%`, `100%`), or a number of
    resources per batch; whatever is left after the last one forms a final batch."""
    bake: Duration = timedelta(0)
    """Wait after each verified batch before the next one."""
    max_failures: int = Field(default=0, ge=0)
    """More failed resources than this stops the rollout and rolls back everything changed so far."""

    @model_validator(mode="after")
    def _growing_batches(self) -> Self:
        previous: int | None = None
        for index, batch in enumerate(self.batches):
            message = ""
            if previous == 100:
                message = f"batch {batch!r} comes after '100%', when nothing is left to change"
            elif isinstance(batch, str):
                share = int(batch[:-1])
                if previous is not None and share <= previous:
                    message = f"batch shares are cumulative and must grow: {batch!r} after '{previous}%'"
                previous = share
            if message:
                problem = custom_error("invalid_batches", message, ("batches", index), batch)
                raise ValidationError.from_exception_data(type(self).__name__, [problem])
        return self


class TicketPolicy(Part):
    """Where the campaign's ticket goes (Jira)."""

    project: str
    """Jira project key, e.g. `SEC`."""
    type: str = "Task"
    """Jira issue type."""
    labels: tuple[str, ...] = ()
    """Labels put on the ticket."""
    priority: str | None = None
    """Default: derived from the severity."""


class Respond(Part):
    """What to do about findings: the action, its parameters, and how much a human is involved."""

    mode: Mode
    """auto: fix without asking (reversible actions only); approval: fix once approved; ticket: decide through a
    ticket; notify: report only (the action is shown as the suggested fix)."""
    action: str
    """An action of the catalogue (`mendflow.actions.ACTIONS`) acting on the playbook's resource type."""
    params: dict[str, Any] = Field(default_factory=dict, alias="with")
    """The action's parameters (`with:`); see action_params() for the typed form."""
    verify: Verify = Verify.rescan
    """How a change is proven: `rescan` reads the resource again; the finding must be gone."""
    approval: ApprovalPolicy = ApprovalPolicy()
    """Used in `approval` and `ticket` modes."""
    rollout: RolloutPolicy = RolloutPolicy()
    """Canary, batches, bake time and failure budget of the change."""
    ticket: TicketPolicy | None = None
    """The campaign's Jira ticket (approval and ticket modes)."""

    @field_validator("mode", mode="before")
    @classmethod
    def _known_mode(cls, value: Any) -> Any:
        return _choice(value, Mode, "mode")

    @field_validator("verify", mode="before")
    @classmethod
    def _known_verify(cls, value: Any) -> Any:
        return _choice(value, Verify, "verify method")

    def action_spec(self) -> ActionSpec:
        """The catalogue entry of `action` (a validated Playbook guarantees it exists and fits its resource)."""
        return ACTIONS[self.action]

    def action_params(self) -> ActionParams:
        """`with` validated against the action's parameter model."""
        return self.action_spec().params.model_validate(self.params)


def _response_problems(respond: Respond, resource: str) -> list[InitErrorDetails]:
    """Check `respond` against the action catalogue; it needs the playbook's resource, so Playbook calls it."""
    spec = ACTIONS.get(respond.action)
    if spec is None:
        fitting = [name for name, candidate in ACTIONS.items() if candidate.resource_type == resource]
        hint = did_you_mean(respond.action, fitting, cutoff=0.4) or did_you_mean(respond.action, ACTIONS, cutoff=0.5)
        message = f"unknown action {respond.action!r}{hint} (known: {', '.join(sorted(ACTIONS))})"
        return [custom_error("unknown_action", message, ("respond", "action"), respond.action)]
    if spec.resource_type != resource:
        message = f"action {spec.name!r} acts on {spec.resource_type}, but this playbook's resource is {resource}"
        return [custom_error("action_resource_mismatch", message, ("respond", "action"), spec.name)]
    problems = _param_problems(spec, respond.params)
    if not respond.params:
        accepted = ", ".join(spec.params.model_fields)
        message = f"action {spec.name!r} needs at least one setting under 'with' (it accepts: {accepted})"
        problems.append(custom_error("missing_params", message, ("respond", "action"), spec.name))
    if respond.mode is Mode.auto and not spec.reversible:
        message = f"action {spec.name!r} cannot be undone, so it cannot run in mode 'auto'; use 'approval' or 'ticket'"
        problems.append(custom_error("irreversible_auto", message, ("respond", "mode"), respond.mode.value))
    return problems


def _param_problems(spec: ActionSpec, params: dict[str, Any]) -> list[InitErrorDetails]:
    try:
        spec.params.model_validate(params)
    except ValidationError as err:
        accepted = list(spec.params.model_fields)
        problems: list[InitErrorDetails] = []
        for item in err.errors():
            loc = ("respond", "with", *item["loc"])
            if item["type"] == "extra_forbidden" and len(item["loc"]) == 1:
                name = str(item["loc"][0])
                message = (
                    f"action {spec.name!r} does not accept parameter {name!r}{did_you_mean(name, accepted)}"
                    f" (it accepts: {', '.join(accepted)})"
                )
                problems.append(custom_error("unknown_parameter", message, loc, item["input"]))
            else:
                message = item["msg"]
                if item["type"] in ("literal_error", "string_type") and not isinstance(item["input"], str):
                    message += f' (got {yaml_kind(item["input"])}: quote it in YAML, e.g. "0")'
                problems.append(custom_error("invalid_parameter", message, loc, item["input"]))
        return problems
    return []


class FragmentResource(Part):
    """One resource of a test case, written as the condition sees it (the connector's `Resource`)."""

    id: str
    """The resource's canonical API path, e.g. `/repos/acme/api/hooks/11` (it names the tenant and parents)."""
    data: dict[str, Any] = Field(default_factory=dict)
    """The vendor's object; fields that address it (id, name, login, full_name) are filled in from `id`."""
    related: dict[str, Any] = Field(default_factory=dict)
    """Facts the connector reads from other endpoints (e.g. `default_branch_protection`, `two_factor_disabled`)."""


class ExpectedChange(Part):
    """The change a plan should show for one resource."""

    before: dict[str, Any]
    """The fields the action writes, as they are now."""
    after: dict[str, Any]
    """The same fields after the action."""


class Expectation(Part):
    """What a test case must produce."""

    findings: tuple[str, ...]
    """Ids of the resources that must be findings (all others must not be)."""
    errors: tuple[str, ...] = ()
    """Ids of the resources the condition cannot decide (an evaluation error, never a finding)."""
    plan: dict[str, ExpectedChange] | None = None
    """Resource id → before/after of the planned change; omitted: the plan is not checked."""


class PlaybookTest(Part):
    """A test case: a small tenant, and the findings and plan the playbook must produce on it."""

    name: str
    """What the case shows, in a sentence."""
    resources: tuple[FragmentResource, ...] = ()
    """Resources of the playbook's type; a tenant is built around them (the org and parent repositories)."""
    tenant_file: str | None = None
    """Instead of `resources`: a mendflow.tenant/v1 file, relative to the file holding the case."""
    as_of: AwareDatetime | None = None
    """The evaluation's `now` (default: the tenant file's `taken_at`, else the current time)."""
    params: dict[str, Any] = Field(default_factory=dict)
    """Parameter values for this case, as a tenant's `policy:` in `mendflow.yaml` would set them."""
    expect: Expectation
    """The findings (and, optionally, the plan and evaluation errors) the case must produce."""

    _source: Path | None = PrivateAttr(default=None)

    @model_validator(mode="after")
    def _one_tenant(self, info: ValidationInfo) -> Self:
        if bool(self.resources) == (self.tenant_file is not None):
            message = "a test case needs either 'resources' or 'tenant_file' (exactly one of them)"
            raise ValidationError.from_exception_data(
                type(self).__name__, [custom_error("tenant_missing", message, ("name",), self.name)]
            )
        if info.context and info.context.get("source") is not None:
            self._source = Path(info.context["source"])
        return self

    @property
    def source(self) -> Path | None:
        """The file the case was read from (relative `tenant_file` paths start there)."""
        return self._source


class PlaybookTests(Part):
    """A `NAME.tests.yaml` file beside a playbook: more test cases for it."""

    tests: tuple[PlaybookTest, ...]


CHECK_FIELDS = "check_fields"
"""Validation context key: when true, fields a condition reads are checked against the resource type's catalogue.

The loader sets it, so every file (validate, test, plan, scan, workers) is checked; a Playbook built in code is
not, so code can still build conditions on fields the catalogue does not know (e.g. to test evaluation errors)."""


def _checks_fields(info: ValidationInfo) -> bool:
    return bool(info.context and info.context.get(CHECK_FIELDS))


def _field_problems(when: str, resource: str, params: Mapping[str, Any] | None) -> list[InitErrorDetails]:
    """Unknown fields (the field catalogue) and comparisons that do not fit the vendor's schema (the type checker);
    a field both report is reported once. `params.NAME` must name a declared parameter; the checks run on the
    condition with the parameters' defaults bound in (their types are then literals the checker sees). `params`
    None: the declarations are broken (reported already), so references to them are not checked."""
    declared = params or {}
    found = [
        ("unknown_param", _reference_problem(ref.name, declared), ref.offset)
        for ref in policy_params.references(when)
        if params is not None and ref.name not in declared
    ]
    bound = policy_params.bind(when, {name: spec.get("default") for name, spec in declared.items()})
    fields = [("unknown_field", p.message, bound.original(p.offset)) for p in unknown_fields(bound.text, resource)]
    seen = {offset for _, _, offset in fields}
    found += fields
    found += [
        (problem.kind, problem.message, bound.original(problem.offset))
        for problem in check_condition(bound.text, resource)
        if not (problem.kind == "unknown_field" and bound.original(problem.offset) in seen)
    ]
    return [
        custom_error(kind, message, ("detect", "when"), when, offset=offset)
        for kind, message, offset in sorted(found, key=lambda item: item[2])
    ]


def _reference_problem(name: str, declared: Mapping[str, Any]) -> str:
    known = ", ".join(sorted(declared)) or "none: declare them under 'params'"
    if not name:
        return f"read a parameter as params.NAME (declared parameters: {known})"
    return f"unknown parameter params.{name}{did_you_mean(name, declared)} (declared parameters: {known})"


def _param_specs(value: Any) -> Any:
    """Each parameter is a JSON Schema with a `type` and a `default`; its name is a CEL identifier."""
    if not isinstance(value, dict):
        return value
    problems: list[InitErrorDetails] = []
    for name, spec in value.items():
        if not isinstance(name, str) or not _PARAM_NAME.fullmatch(name):
            message = f"parameter name {name!r} must be a lower-case identifier, e.g. 'allowed_hosts'"
            problems.append(custom_error("invalid_param_schema", message, (str(name),), name))
        elif not isinstance(spec, dict):
            message = f"parameter {name!r} is a JSON Schema mapping (type, default, description), not {yaml_kind(spec)}"
            problems.append(custom_error("invalid_param_schema", message, (name,), spec))
        else:
            problems += [
                custom_error("invalid_param_schema", f"parameter {name!r}: {text}", (name,), spec)
                for text in policy_params.schema_problems(spec)
            ]
    if problems:
        raise ValidationError.from_exception_data("params", problems)
    return value


_PARAM_NAME = re.compile(r"[a-z][a-z0-9_]*")

ParamSpecs = Annotated[
    dict[str, dict[str, Any]],
    AfterValidator(_param_specs),
    WithJsonSchema(
        {
            "type": "object",
            "propertyNames": {"pattern": "^[a-z][a-z0-9_]*$"},
            "additionalProperties": {
                "type": "object",
                "required": ["type", "default"],
                "properties": {
                    "type": {"enum": list(policy_params.TYPES)},
                    "description": {"type": "string"},
                    "default": {},
                },
            },
        }
    ),
]
"""Parameters by name, each a JSON Schema with a `type`, a `default` and a `description`."""


class ParamError(ValueError):
    """Parameter values that do not fit a playbook: one message per problem, each naming the parameter."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{name}: {message}" for name, message in problems))
        self.problems = problems
        """(parameter name, what is wrong), the name with the path inside the value (`allowed[2]`)."""


def _id_pattern(resource: str) -> re.Pattern[str]:
    shape = re.escape(RESOURCE_TYPES[resource])
    return re.compile(re.sub(r"\\\{[a-z_]+\\\}", "[^/]+", shape))


def case_problems(
    tests: Iterable[PlaybookTest], resource: str, respond: Respond | None, params: Mapping[str, Any] | None = None
) -> list[InitErrorDetails]:
    """What a playbook's test cases ask that cannot fit it: ids of another type, a plan without an action,
    parameter values the playbook does not declare or that do not fit their schema."""
    problems: list[InitErrorDetails] = []
    pattern = _id_pattern(resource) if resource in RESOURCE_TYPES else None
    declared = params or {}
    for index, case in enumerate(tests):
        for name, value in case.params.items() if params is not None else ():
            loc = ("tests", index, "params", name)
            if name not in declared:
                known = ", ".join(sorted(declared)) or "none"
                message = f"unknown parameter {name!r}{did_you_mean(name, declared)} (declared: {known})"
                problems.append(custom_error("unknown_key", message, loc, value))
            else:
                problems += [
                    custom_error("invalid_param", f"{name}{where}: {text}", loc, value)
                    for where, text in policy_params.value_problems(declared[name], value)
                ]
        for number, item in enumerate(case.resources):
            if pattern is not None and not pattern.fullmatch(item.id):
                message = f"{item.id!r} is not the id of a {resource} (expected {RESOURCE_TYPES[resource]})"
                problems.append(
                    custom_error("wrong_resource_id", message, ("tests", index, "resources", number, "id"), item.id)
                )
        if case.expect.plan and respond is None:
            message = "this playbook has no action, so there is no plan: leave 'plan' out (findings are reported only)"
            problems.append(custom_error("no_plan", message, ("tests", index, "expect", "plan"), case.expect.plan))
    return problems


_CROSS_CHECKS = frozenset(
    {
        "unknown_field",
        "unknown_param",
        *TYPE_PROBLEMS,
        "unknown_action",
        "action_resource_mismatch",
        "missing_params",
        "irreversible_auto",
        "unknown_parameter",
        "invalid_parameter",
        "wrong_resource_id",
        "no_plan",
        "invalid_param",
    }
)
"""Error types of the checks that need the resource type (Playbook._parts_fit)."""

_CASES: TypeAdapter[tuple[PlaybookTest, ...]] = TypeAdapter(tuple[PlaybookTest, ...])


def _cross_problems(data: dict[str, Any], failed: list[ErrorDetails], info: ValidationInfo) -> list[InitErrorDetails]:
    """_parts_fit's checks for the parts of raw `data` that are valid on their own (others failed already)."""
    broken = {item["loc"][0] for item in failed if item["loc"]}
    resource = data.get("resource")
    if "resource" in broken or not isinstance(resource, str) or resource not in RESOURCE_TYPES:
        return []
    problems: list[InitErrorDetails] = []
    detect = data.get("detect")
    when = detect.get("when") if isinstance(detect, dict) else None
    condition_broken = any(tuple(item["loc"][:2]) == ("detect", "when") for item in failed)
    declared = data.get("params") if "params" not in broken and isinstance(data.get("params"), dict) else None
    if _checks_fields(info) and isinstance(when, str) and not condition_broken:
        problems += _field_problems(when, resource, declared)
    try:  # each part alone; a part that fails here already failed above, so it is only skipped
        respond = Respond.model_validate(data["respond"]) if data.get("respond") is not None else None
    except ValidationError:
        return problems  # the test cases' plan check needs to know whether there is an action
    if respond is not None:
        problems += _response_problems(respond, resource)
    if "tests" not in broken and data.get("tests"):
        try:
            cases = _CASES.validate_python(data["tests"], context=info.context)
        except ValidationError:
            return problems
        problems += case_problems(cases, resource, respond, declared)
    return problems


class Playbook(Part):
    """One rule and its response. Load YAML files with `mendflow.playbooks.loader`."""

    api_version: str = Field(alias="apiVersion", json_schema_extra={"const": API_VERSION})
    """The format version: `mendflow/v1`."""
    id: str = Field(json_schema_extra={"pattern": "^" + _ID.pattern + "$"})
    """Stable rule id, dotted lower-case words (`github.repo_hook.insecure_ssl`); findings carry it."""
    title: str
    """One line a person reads in a finding, a ticket or a Slack card."""
    description: str = ""
    """Why it matters and what the fix does."""
    resource: str
    """The resource type the condition is evaluated on, e.g. `github.repo_hook`."""
    params: ParamSpecs = Field(default_factory=dict)
    """Organisation policy the condition reads as `params.NAME`: each a JSON Schema with a `type` and a `default`;
    a tenant overrides the value in `mendflow.yaml` (`policy:`)."""
    detect: Detect
    """When a resource is a finding."""
    respond: Respond | None = None
    """What to do about findings; absent: detect only (the same as mode `notify`)."""
    tests: tuple[PlaybookTest, ...] = ()
    """Test cases run by `mendflow playbooks test` (more may sit beside the file in `NAME.tests.yaml`)."""

    _source: Path | None = PrivateAttr(default=None)
    _overrides: dict[str, Any] = PrivateAttr(default_factory=dict)

    @field_validator("api_version", mode="before")
    @classmethod
    def _supported_version(cls, value: Any) -> Any:
        if value != API_VERSION:
            raise PydanticCustomError(
                "api_version", f"unsupported apiVersion {value!r}: this mendflow reads {API_VERSION!r}"
            )
        return value

    @field_validator("id")
    @classmethod
    def _dotted_id(cls, value: str) -> str:
        if not _ID.fullmatch(value):
            raise PydanticCustomError(
                "invalid_id", f"id {value!r} must be dotted lower-case words, e.g. 'github.repo_hook.insecure_ssl'"
            )
        return value

    @field_validator("title")
    @classmethod
    def _has_title(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("empty_title", "title must not be empty")
        return value

    @field_validator("resource")
    @classmethod
    def _known_resource(cls, value: str) -> str:
        if value not in RESOURCE_TYPES:
            hint = did_you_mean(value, RESOURCE_TYPES)
            raise PydanticCustomError(
                "unknown_resource_type",
                f"unknown resource type {value!r}{hint} (known: {', '.join(sorted(RESOURCE_TYPES))})",
            )
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _cross_checks_even_when_other_parts_fail(
        cls, data: Any, handler: ValidatorFunctionWrapHandler, info: ValidationInfo
    ) -> Any:
        """Report every problem of a file in one pass: the checks that need the resource type (fields and types in
        the condition, the action, the test cases) run on each part that is valid on its own, even when another
        part is broken, instead of only once everything else is fixed."""
        try:
            return handler(data)
        except ValidationError as err:
            found = err.errors()
            if not isinstance(data, dict) or any(item["type"] in _CROSS_CHECKS for item in found):
                raise  # _parts_fit ran (every part was valid), so its problems are all there already
            extra = _cross_problems(data, found, info)
            if not extra:
                raise
            details = [
                custom_error(i["type"], i["msg"], tuple(i["loc"]), i["input"], **(i.get("ctx") or {})) for i in found
            ]
            raise ValidationError.from_exception_data(cls.__name__, details + extra) from None

    @model_validator(mode="after")
    def _parts_fit(self, info: ValidationInfo) -> Self:
        """Checks that need the resource type: the condition's fields, the action, the test cases."""
        if _checks_fields(info):
            problems = _field_problems(self.detect.when, self.resource, self.params)
        else:
            problems = [
                custom_error(
                    "unknown_param",
                    _reference_problem(ref.name, self.params),
                    ("detect", "when"),
                    self.detect.when,
                    offset=ref.offset,
                )
                for ref in policy_params.references(self.detect.when)
                if ref.name not in self.params
            ]
        if self.respond is not None:
            problems += _response_problems(self.respond, self.resource)
        problems += case_problems(self.tests, self.resource, self.respond, self.params)
        if problems:
            raise ValidationError.from_exception_data(type(self).__name__, problems)
        if info.context and info.context.get("source") is not None:
            self._source = Path(info.context["source"])
        return self

    @property
    def source(self) -> Path | None:
        """The file this playbook was loaded from (None when built in code or received over the wire)."""
        return self._source

    @property
    def mode(self) -> Mode:
        """The response mode; `notify` when the playbook has no `respond` block."""
        return self.respond.mode if self.respond is not None else Mode.notify

    def is_auto(self) -> bool:
        """True when findings are fixed without asking anyone."""
        return self.mode is Mode.auto

    def param_values(self) -> dict[str, Any]:
        """The value of every parameter: a tenant's override (`with_params`), else the declared default."""
        return {name: self._overrides.get(name, spec["default"]) for name, spec in self.params.items()}

    def condition(self) -> str:
        """`detect.when` with the parameter values bound in as literals: the condition that is evaluated."""
        return policy_params.bind(self.detect.when, self.param_values()).text

    def params_evidence(self) -> dict[str, Any]:
        """`params.NAME` → value for each parameter the condition reads: the policy a verdict was made under."""
        values = self.param_values()
        names = dict.fromkeys(ref.name for ref in policy_params.references(self.detect.when) if ref.name in values)
        return {f"params.{name}": values[name] for name in names}

    def with_params(self, overrides: Mapping[str, Any]) -> Playbook:
        """This playbook with a tenant's parameter values; ParamError names every unknown or ill-typed one."""
        problems: list[tuple[str, str]] = []
        for name, value in overrides.items():
            if name not in self.params:
                known = ", ".join(sorted(self.params)) or "none"
                hint = did_you_mean(name, self.params)
                problems.append((name, f"{self.id} has no parameter {name!r}{hint} (its parameters: {known})"))
                continue
            problems += [
                (name + where, message) for where, message in policy_params.value_problems(self.params[name], value)
            ]
        if problems:
            raise ParamError(problems)
        bound = self.model_copy()
        bound._source = self._source
        bound._overrides = {**self._overrides, **overrides}
        return bound

    def __eq__(self, other: object) -> bool:
        # Where a playbook was read from is not part of what it says; the parameter values bound in are.
        if not isinstance(other, Playbook):
            return NotImplemented
        return self.model_dump() == other.model_dump() and self.param_values() == other.param_values()
