"""`mendflow doctor`: can each tenant be reached, does its credential work, and does it hold exactly what the loaded
playbooks need — no less (a missing read is a blind spot, a missing write a failed fix), no more (excess).

Needs come from each provider's permissions table (`Provider.permissions`, `connectors/permissions.py`): every
read of a scan, plus the write permission of each action a playbook may run (modes auto, approval, ticket; `notify`
never writes). What is granted is asked of the vendor (`Permissions.granted`, `read_probes`):

    GitHub App      the installation token's `permissions` (narrowed ones if the tenant narrows them)
    Okta service    the declared `scopes`, else each known scope is requested once; Okta grants it or says invalid_scope
    long-lived      not listable (a PAT's permissions, an SSWS token's admin roles): one small read per read
                    permission is tried (403: missing); writes stay `unverified` (trying one would change the tenant)

Each row: capability → needed → granted → ok / missing / excess / unverified. The worker runs it at start and logs
the result; it never stops the worker (a missing read is reported again as a coverage gap by every scan).
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum

from pydantic import BaseModel, ConfigDict

from mendflow import providers
from mendflow.config import TenantConnection
from mendflow.connectors.http import VendorHttp
from mendflow.connectors.permissions import action_needs, needs_of, permissions_of, satisfied, scan_needs
from mendflow.connectors.registry import credential_for, open_session
from mendflow.credential_age import CredentialAge, assess, record
from mendflow.errors import ConnectionProblem, MendflowError, MissingPermission, VendorError
from mendflow.playbooks.model import Mode, Playbook
from mendflow.telemetry import get_logger

log = get_logger(__name__)


class Status(StrEnum):
    ok = "ok"
    missing = "missing"
    excess = "excess"
    unverified = "unverified"


class PermissionRow(BaseModel):
    model_config = ConfigDict(frozen=True)

    capability: str
    needed: str | None
    """None for an excess grant nothing needs."""
    granted: str | None
    """What covers it (GitHub `members:write` covers `members:read`); None: not granted or not knowable."""
    status: Status
    used_by: tuple[str, ...] = ()
    """`scan`, or the ids of the playbooks whose action needs it."""


class TenantCheck(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenant: str
    provider: str
    auth: str
    """`github_app`, `okta_service_app` or `token`."""
    reachable: bool
    authenticated: bool
    problem: str | None = None
    rows: tuple[PermissionRow, ...] = ()
    credential_age: CredentialAge | None = None

    @property
    def ok(self) -> bool:
        return self.reachable and self.authenticated and not any(r.status is Status.missing for r in self.rows)


class DoctorReport(BaseModel):
    model_config = ConfigDict(frozen=True)

    tenants: tuple[TenantCheck, ...]

    @property
    def ok(self) -> bool:
        return all(t.ok for t in self.tenants)


def playbook_needs(provider: str, playbooks: list[Playbook]) -> dict[str, tuple[str, tuple[str, ...]]]:
    """Permission → (capability, who needs it) for this provider's loaded playbooks."""
    mine = [p for p in playbooks if p.resource.startswith(f"{provider}.")]
    out: dict[str, tuple[str, tuple[str, ...]]] = {}
    if mine:
        for need in scan_needs(provider):
            out.setdefault(need.permission, (need.capability, ("scan",)))
    capability = {n.permission: n.capability for n in needs_of(provider)}
    actions = action_needs()
    for playbook in mine:
        if playbook.respond is None or playbook.respond.mode is Mode.notify:
            continue
        permission = actions.get(playbook.respond.action)
        if permission is None:
            continue  # a provider without permission data: nothing to check
        label, users = out.get(permission, (capability.get(permission, playbook.respond.action), ()))
        out[permission] = (label, (*users, playbook.id))
    return out


def _rows(
    provider: str,
    needs: dict[str, tuple[str, tuple[str, ...]]],
    granted: frozenset[str] | None,
    reads: dict[str, bool] | None = None,
) -> list[PermissionRow]:
    rows = []
    for permission, (capability, users) in sorted(needs.items()):
        if granted is None:
            works = (reads or {}).get(permission)
            status = Status.unverified if works is None else Status.ok if works else Status.missing
            shown = READ_WORKS if works else None
            rows.append(PermissionRow(capability=capability, needed=permission, granted=shown,
                                      status=status, used_by=users))  # fmt: skip
            continue
        cover = next((g for g in sorted(granted) if satisfied(provider, permission, [g])), None)
        status = Status.ok if cover is not None else Status.missing
        rows.append(
            PermissionRow(capability=capability, needed=permission, granted=cover, status=status, used_by=users)
        )
    declared = permissions_of(provider)
    for extra in sorted(granted or ()):
        if extra in needs:
            continue
        label = "no loaded playbook uses it"
        if declared is not None and declared.implied(extra) in needs:
            label = "write granted, only read needed"
        rows.append(PermissionRow(capability=label, needed=None, granted=extra, status=Status.excess))
    return rows


async def _probe(http: VendorHttp, connection: TenantConnection) -> str | None:
    """One cheap read through the normal path (`Provider.probe`); the token-expiry header if the vendor sent one.
    A refused read (MissingPermission) still proves reachability and authentication, so it is not an error here."""
    provider = providers.get(connection.provider)
    try:
        response = await http.request("GET", provider.probe.format(tenant=connection.tenant))
    except MissingPermission:
        return None
    expiry: str | None = response.headers.get(provider.expiry_header) if provider.expiry_header else None
    return expiry


READ_WORKS = "(a read answered)"


async def _try_reads(http: VendorHttp, connection: TenantConnection) -> dict[str, bool]:
    """Permission → does one read needing it answer (False: 403); absent when it could not be tried."""
    found: dict[str, bool] = {}
    declared = permissions_of(connection.provider)
    if declared is None:
        return found
    values = {"org": connection.tenant}
    if declared.probe_values is not None:
        values |= await declared.probe_values(http, connection.tenant)
    for permission, template in declared.read_probes.items():
        try:
            path = template.format(**values)
        except KeyError:
            continue  # a placeholder with nothing to fill it (an org without repositories)
        try:
            await http.request("GET", path)
            found[permission] = True
        except VendorError as err:
            if err.status == 403:
                found[permission] = False
    return found


async def _granted(connection: TenantConnection) -> frozenset[str] | None:
    """What the vendor granted this credential; None for long-lived tokens (not listable)."""
    declared = permissions_of(connection.provider)
    if declared is None or connection.auth is None:
        return None
    return await declared.granted(connection, credential_for(connection))


async def check_tenant(connection: TenantConnection, playbooks: list[Playbook]) -> TenantCheck:
    """Reachability, authentication, permissions and credential age of one tenant; never raises for the vendor."""
    mode = connection.auth.kind if connection.auth is not None else "token"
    base = {"tenant": connection.key, "provider": connection.provider, "auth": mode}
    try:
        async with open_session(connection) as session:  # one client (and token) for the probe and the reads
            expiry = await _probe(session.http, connection)
            granted = await _granted(connection)
            reads = await _try_reads(session.http, connection) if granted is None else None
    except ConnectionProblem as err:
        return TenantCheck(**base, reachable=False, authenticated=False, problem=str(err))
    except MendflowError as err:  # AuthError (wrong key, client, token), InputError (unreadable key)
        return TenantCheck(**base, reachable=True, authenticated=False, problem=str(err))
    age = assess(connection, today=datetime.now(UTC).date(), expiry_header=expiry)
    record(connection.key, age)
    problem = None
    declared = permissions_of(connection.provider)
    if mode == "token" and declared is not None:
        problem = declared.long_lived_warning
    rows = tuple(_rows(connection.provider, playbook_needs(connection.provider, playbooks), granted, reads))
    return TenantCheck(**base, reachable=True, authenticated=True, problem=problem, rows=rows, credential_age=age)


async def doctor(connections: list[TenantConnection], playbooks: list[Playbook]) -> DoctorReport:
    """Check every tenant, one after another (each is a handful of requests)."""
    return DoctorReport(tenants=tuple([await check_tenant(c, playbooks) for c in connections]))


async def log_checkup(connections: list[TenantConnection], playbooks: list[Playbook]) -> DoctorReport:
    """The worker's start-up check: one log line per tenant (a warning when something is missing or excess)."""
    report = await doctor(connections, playbooks)
    for check in report.tenants:
        missing = [r.needed for r in check.rows if r.status is Status.missing]
        excess = [r.granted for r in check.rows if r.status is Status.excess]
        emit = log.info if check.ok and not excess else log.warning
        emit(
            "doctor",
            tenant=check.tenant,
            auth=check.auth,
            reachable=check.reachable,
            authenticated=check.authenticated,
            missing=missing,
            excess=excess,
            problem=check.problem,
        )
    return report


def render(report: DoctorReport) -> str:
    """The human-readable table."""
    lines: list[str] = []
    for check in report.tenants:
        state = "ok" if check.ok else "NOT OK"
        reach = "reachable" if check.reachable else "unreachable"
        auth = "authenticated" if check.authenticated else "not authenticated"
        lines.append(f"{check.tenant} ({check.provider}, {check.auth}): {reach}, {auth} — {state}")
        if check.problem:
            lines.append(f"  ! {check.problem}")
        if check.rows:
            lines.append(f"  {'capability':<34} {'needed':<36} {'granted':<36} status")
        for row in check.rows:
            lines.append(f"  {row.capability:<34} {row.needed or '-':<36} {row.granted or '-':<36} {row.status.value}")
        age = check.credential_age
        if age is not None:
            known = f"{age.age_days} days old" if age.age_days is not None else "age unknown"
            flag = " — ROTATE" if age.due else ""
            extra = f" ({age.note})" if age.note else ""
            what = f"{age.credential} {age.reference}"
            lines.append(f"  credential: {what}: {known}, rotation every {age.rotation_days} days{flag}{extra}")
    return "\n".join(lines)
