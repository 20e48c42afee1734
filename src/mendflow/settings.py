"""mendflow's config file (`mendflow.yaml`): RBAC, change windows, CLI identity, Slack and Jira. Tenants live in
their own file. Secrets appear only as references (`env:NAME`, `file:/path`), resolved by the worker and the API."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, PrivateAttr, ValidationError

from mendflow.auth.config import SecuritySettings
from mendflow.campaigns.windows import ChangePolicy
from mendflow.errors import InputError
from mendflow.findings.risk import CriticalityConfig
from mendflow.rbac import RbacConfig
from mendflow.scheduling.config import ScanSchedule, unique_tenants
from mendflow.secrets import SecretRef
from mendflow.telemetry.config import TelemetrySettings
from mendflow.userfiles import load_yaml_file, validation_problems
from mendflow.webhooks.config import WebhookSettings

SLACK_API = "https://slack.com/api/"


class SlackSettings(BaseModel):
    """The `slack:` section: where approval cards go and how clicks come back."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    bot_token: SecretRef
    """Bot token (`xoxb-…`, scope `chat:write`; `users:read`, `usergroups:read` for the directory)."""
    signing_secret: SecretRef
    """The app's signing secret: verifies `POST /slack/interactivity`."""
    base_url: str = SLACK_API
    """Slack Web API base URL (a simulator in the demo and tests)."""
    channel: str = "#sec-remediation"
    """Where approval cards go by default."""
    channels: dict[str, str] = Field(default_factory=dict)
    """playbook id → channel, overriding `channel`."""
    usergroups: dict[str, str] = Field(default_factory=dict)
    """Slack user group id (`S…`) → mendflow group its members belong to."""
    campaign_url: str = ""
    """Link shown on the card, with `{campaign_id}` filled in (e.g. the Temporal UI's workflow page)."""
    timeout: int = 10
    max_retries: int = 3
    """slack-sdk's own retries (429, 5xx, connection errors) inside one activity attempt."""

    def channel_for(self, playbook_id: str) -> str:
        return self.channels.get(playbook_id, self.channel)


class JiraSettings(BaseModel):
    """The `jira:` section: one ticket per approval/ticket-mode campaign (the playbook's `respond.ticket` decides
    project, type, labels and priority; these are the defaults)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    server: str
    user: str | None = None
    """Basic auth user (Jira Cloud: the account e-mail); unset: `token` is a Data Center personal access token."""
    token: SecretRef
    project: str = ""
    """Default project key when the playbook names none."""
    issue_type: str = "Task"
    labels: tuple[str, ...] = ("mendflow",)
    api_version: str = "2"
    timeout: float = 10.0
    done_transition: str = "Done"
    """Transition taken when the campaign completes."""
    reopened_transition: str = "Reopen"
    """Transition taken when the campaign is rolled back."""
    campaign_url: str = ""
    """Link put in the ticket, with `{campaign_id}` filled in."""

    def browse_url(self, key: str) -> str:
        return f"{self.server.rstrip('/')}/browse/{key}"


class Settings(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    rbac: RbacConfig = Field(default_factory=RbacConfig)
    changes: ChangePolicy = Field(default_factory=ChangePolicy)
    identity: str | None = None
    """Who the CLI acts as when `--as` is not given."""
    slack: SlackSettings | None = None
    """Approval cards and clicks (unset: no Slack)."""
    jira: JiraSettings | None = None
    """Campaign tickets (unset: no Jira)."""
    security: SecuritySettings = Field(default_factory=SecuritySettings)
    """Signing key (API), trusted keys (workers), OIDC issuer (API): see docs/security.md."""
    criticality: CriticalityConfig = Field(default_factory=CriticalityConfig)
    """Asset criticality for the risk score of findings scanned through Temporal (as `scan --criticality`)."""
    schedules: Annotated[tuple[ScanSchedule, ...], AfterValidator(unique_tenants)] = ()
    """Periodic full scans per tenant, created by `mendflow schedules apply` (and `mendflow up`)."""
    telemetry: TelemetrySettings = Field(default_factory=TelemetrySettings)
    """Traces (OTLP endpoint) and where workers serve metrics: see docs/operations.md."""
    webhooks: WebhookSettings | None = None
    """Vendor webhooks accepted by the API (`POST /webhooks/github`, `/webhooks/okta`) → targeted rescans."""
    policy: dict[str, dict[str, dict[str, Any]]] = Field(default_factory=dict)
    """Organisation policy: tenant key → playbook id → parameter → value (checked against the loaded playbooks'
    parameter schemas by `mendflow.playbooks.policy` when a worker starts)."""

    _source: Path | None = PrivateAttr(default=None)

    @property
    def source(self) -> Path | None:
        """The mendflow.yaml these settings were read from (problems found later are positioned in it)."""
        return self._source

    @classmethod
    def load(cls, path: Path | None) -> Settings:
        """Read `mendflow.yaml`; problems name the file and key but never quote a value (it may be a secret)."""
        if path is None:
            return cls()
        raw = load_yaml_file(path, what="mendflow config")
        try:
            settings = cls.model_validate(raw)
        except ValidationError as err:
            raise InputError(f"{path}: invalid config: {'; '.join(validation_problems(err))}") from None
        settings._source = path
        return settings
