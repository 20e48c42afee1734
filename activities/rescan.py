"""Targeted-rescan activity: read only the resources a webhook named, into the snapshot store.

Evaluation and reconciliation are the scan's own activities (`activities/scan.py`); this one differs from
`collect_inventory` only in what it reads and in reporting the scopes it covered, so the ledger resolves nothing
the rescan did not look at.
"""

from __future__ import annotations

from temporalio import activity

from mendflow.connectors.http import RequestBudgetExceeded, heartbeat_while_waiting
from mendflow.connectors.registry import open_session
from mendflow.connectors.targeted import collect_targets
from mendflow.errors import AuthError, InputError
from mendflow.rules import Demand
from mendflow.workflow_types import CollectResult, TargetedCollectInput

from .failures import cannot_retry
from .heartbeats import beat_while_waiting
from .scan import ScanActivities


def _beat_read(done: int) -> None:
    """One heartbeat with the targets read so far (the workflow gives collect_targets a heartbeat timeout)."""
    activity.heartbeat({"targets_read": done})


class RescanActivities(ScanActivities):
    @activity.defn(name="collect_targets")
    async def collect_targets(self, request: TargetedCollectInput) -> CollectResult:
        """Read each target once (`connectors.targeted`) into a snapshot; targets it may not read are reported as
        gaps (a path no reader knows, or one of another organization), never read."""
        connection = self._tenant(request.tenant_key)
        writer = self.ctx.snapshots.writer()
        try:
            async with open_session(connection) as session:
                # heartbeats after each batch of targets, and while a vendor's rate-limit window is waited out
                with heartbeat_while_waiting(beat_while_waiting):
                    read = await collect_targets(
                        connection.provider, session.collector, request.targets, progress=_beat_read,
                        demand=Demand(self.ctx.rules_for(request.tenant_key)),  # only what a loaded rule could use
                    )  # fmt: skip
                for resource in read.resources:
                    writer.write(resource.model_dump(mode="json"))
                requests = session.http.requests_made
                gaps = [f"{gap.endpoint}: {gap.reason}" for gap in session.collector.gaps]
                coverage = session.collector.coverage
        except (AuthError, InputError, RequestBudgetExceeded) as err:
            writer.discard()
            raise cannot_retry(err) from None
        except BaseException:
            writer.discard()
            raise
        if read.refused:
            activity.logger.warning("targets refused: %s", ", ".join(read.refused[:20]))
        digest = writer.close()
        return CollectResult(
            snapshot=digest,
            resources=writer.count,
            requests=requests,
            gaps=gaps + [f"{target}: not a target of tenant {request.tenant_key}" for target in read.refused],
            collections_expected=coverage.expected,
            collections_read=coverage.read,
            coverage=coverage.fraction,
            covered=read.covered,
        )


__all__ = ["RescanActivities"]
