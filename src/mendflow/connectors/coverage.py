"""Coverage of a scan: which collections it expected to read, which it read, and why the others were not.

A 403/404 on one collection is a coverage gap — reported with the endpoint and the reason, never guessed around:
rules see `null` for what could not be read, and an undecidable condition is an evaluation error, not a finding.
Gaps are grouped by endpoint template, so 20,000 users without factor access are one line, not 20,000.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

from pydantic import BaseModel, ConfigDict

from mendflow.connectors.http import VendorHttp
from mendflow.errors import AuthError, MissingPermission, VendorError

GAP_STATUSES = (403, 404, 422)
"""Answers that mean "you may not (or can no longer) read this collection"; 401 fails the whole scan."""


class CoverageGap(BaseModel):
    """A collection we could not read (permission or availability): reported, never guessed."""

    model_config = ConfigDict(frozen=True)

    endpoint: str
    reason: str
    needs: str | None = None
    """The vendor permission or OAuth scope whose absence caused it (GitHub `members:read`, `okta.users.read`)."""


class Coverage:
    """Counts collections expected and read during one collection run, and groups the gaps."""

    def __init__(self) -> None:
        self.expected = 0
        self.read = 0
        self._gaps: Counter[tuple[str, str, str | None]] = Counter()

    def missed(self, endpoint: str, err: VendorError) -> None:
        needs = err.needs if isinstance(err, MissingPermission) else None
        reason = f"HTTP {err.status}" if needs is None else f"HTTP {err.status}, needs {needs}"
        self._gaps[(endpoint, reason, needs)] += 1

    @property
    def gaps(self) -> list[CoverageGap]:
        return [
            CoverageGap(endpoint=endpoint, reason=reason if n == 1 else f"{reason} ({n} collections)", needs=needs)
            for (endpoint, reason, needs), n in self._gaps.items()
        ]

    @property
    def fraction(self) -> float:
        """Collections read / collections expected (1.0 when nothing was expected)."""
        return 1.0 if self.expected == 0 else self.read / self.expected

    async def read_list(
        self,
        http: VendorHttp,
        path: str,
        *,
        template: str | None = None,
        params: dict[str, Any] | None = None,
        items: str | None = None,
    ) -> list[Any] | None:
        """Read a whole collection; None (and a gap under `template`) when it may not be read. `items` names the
        key of a list the vendor wraps in an object (`VendorHttp.pages`)."""
        self.expected += 1
        try:
            found = [item async for item in http.paginate(path, params=params, items=items)]
        except VendorError as err:
            if not is_gap(err):
                raise
            self.missed(template or path, err)
            return None
        self.read += 1
        return found

    async def read_pages(
        self, http: VendorHttp, path: str, *, params: dict[str, Any] | None = None
    ) -> AsyncIterator[list[dict[str, Any]]]:
        """A collection too big to hold, one page at a time; a forbidden listing ends it as a gap (pages already
        given stay given), counted as read only once every page came."""
        self.expected += 1
        try:
            async for page in http.pages(path, params=params):
                yield page
        except VendorError as err:
            if not is_gap(err):
                raise
            self.missed(path, err)
            return
        self.read += 1

    async def read_object(self, http: VendorHttp, path: str, *, template: str | None = None) -> Any | None:
        """GET one object that is read like a collection; None (and a gap) when it may not be read."""
        self.expected += 1
        try:
            found = await http.get_json(path)
        except VendorError as err:
            if not is_gap(err):
                raise
            self.missed(template or path, err)
            return None
        self.read += 1
        return found


class CoveredCollector:
    """What every provider's collector holds: the tenant's client, its name, and the coverage of what it read
    (`gaps` is what `connectors.registry.Collector` reports)."""

    def __init__(self, http: VendorHttp, org: str) -> None:
        self.http = http
        self.org = org
        self.coverage = Coverage()

    @property
    def gaps(self) -> list[CoverageGap]:
        return self.coverage.gaps


def is_gap(err: VendorError) -> bool:
    return err.status in GAP_STATUSES and not (isinstance(err, AuthError) and err.status == 401)
