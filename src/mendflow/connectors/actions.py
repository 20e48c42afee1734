"""Field-setting actions, written once: capture → apply → verify → restore.

Every action here sets a few fields of one vendor object. It captures exactly those fields before writing
(`before`), writes only when the current value differs (so repeating it after a crash changes nothing), verifies
by re-reading, and restores by writing `before` back — again only if it differs.

Each step runs in a span (`prepare|apply|verify|restore <action>`) holding its vendor calls.

A campaign re-reads each target as a resource anyway (to re-evaluate its rule), so an action whose fields sit in
that object (`of_object`) captures and verifies from the re-read instead of a read of its own, and an action that
writes the fields alone (`blind_write`: a PATCH) makes its first write from a capture taken moments earlier in the
same campaign step; a retried write always reads first, so a write is never sent twice.

How the write goes out is the only thing vendors vary, so it is one overridable method (`send`):

    FieldAction        PATCH/PUT `body(fields)` to `write_path` (GitHub settings, hook configs)
    ReplaceAction      PUT the object's own current body with the fields changed, read-only keys stripped (Okta)
    TransitionAction   POST a lifecycle operation chosen by the current and wanted value (Okta users)
    RevokeAction       DELETE the object; cannot be restored (Okta API tokens)
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from mendflow.actions import ActionParams, ActionSpec
from mendflow.connectors.http import VendorHttp
from mendflow.errors import ActionError
from mendflow.telemetry.tracing import step_span

Fields = dict[str, Any]


def same_path(resource_id: str) -> str:
    return resource_id


@dataclass(frozen=True, kw_only=True)
class FieldAction:
    """One vendor's recipe for reading and writing a flat set of fields of a resource."""

    spec: ActionSpec
    read_path: Callable[[str], str] = same_path
    """Resource id → the path whose GET returns the fields."""
    read_fields: Callable[[Any, list[str]], Fields]
    """GET body, field names → {field: current value}."""
    write_path: Callable[[str], str] = same_path
    write_method: str = "PATCH"
    body: Callable[[Fields], Any] = dict
    """{field: value} → the vendor's request body."""
    of_object: Callable[[Any], Any] | None = None
    """The resource's own object (what re-reading the resource returns) → what `read_path` returns, when the one
    contains the other (a hook carries its `config`); None: the fields are read with a request of their own."""
    blind_write: bool = False
    """The write sends only the fields (`send` ignores the object), so it may go out without reading first when
    the fields were just captured as different (`write_captured`)."""

    async def read(self, http: VendorHttp, resource_id: str) -> Any:
        """The whole object as the vendor returns it."""
        return await http.get_json(self.read_path(resource_id))

    async def current(self, http: VendorHttp, resource_id: str, names: list[str]) -> Fields:
        return self.read_fields(await self.read(http, resource_id), names)

    async def capture(self, http: VendorHttp, resource_id: str, params: ActionParams) -> Fields:
        """The prior state of exactly the fields this action will write."""
        with step_span("prepare", self.spec.name):
            return await self.current(http, resource_id, list(params.as_body()))

    async def send(self, http: VendorHttp, resource_id: str, obj: Any, target: Fields) -> None:
        """Write `target`; `obj` is the object as just read."""
        await http.request(self.write_method, self.write_path(resource_id), json=self.body(target))

    async def write(self, http: VendorHttp, resource_id: str, target: Fields) -> bool:
        """Make the fields equal `target`; return False (and write nothing) when they already are."""
        with step_span("apply", self.spec.name):
            obj = await self.read(http, resource_id)
            if self.read_fields(obj, list(target)) == target:
                return False
            await self.send(http, resource_id, obj, target)
            return True

    def fields_in(self, obj: Any, names: list[str]) -> Fields | None:
        """The fields as they stand in the resource's own object `obj` (already read), or None when this action
        reads them elsewhere."""
        if self.of_object is None or obj is None:
            return None
        return self.read_fields(self.of_object(obj) or {}, names)

    async def write_captured(
        self, http: VendorHttp, resource_id: str, before: Fields | None, target: Fields, *, retry: bool
    ) -> bool:
        """`write`, sparing its read when this is the first attempt and `before` (captured in this campaign step)
        already says the fields differ. A retry reads first: an earlier attempt may have written."""
        if retry or not self.blind_write or before is None or before == target:
            return await self.write(http, resource_id, target)
        with step_span("apply", self.spec.name):
            await self.send(http, resource_id, None, target)
            return True

    async def apply(self, http: VendorHttp, resource_id: str, params: ActionParams) -> bool:
        return await self.write(http, resource_id, params.as_body())

    async def restore(self, http: VendorHttp, resource_id: str, before: Fields) -> bool:
        with step_span("restore", self.spec.name):
            return await self.write(http, resource_id, before)

    async def holds(self, http: VendorHttp, resource_id: str, target: Fields) -> bool:
        """Re-read and compare: does the resource now carry `target`?"""
        with step_span("verify", self.spec.name):
            return await self.current(http, resource_id, list(target)) == target


def read_paths(paths: Mapping[str, tuple[str, ...]]) -> Callable[[Any, list[str]], Fields]:
    """`read_fields` for parameters that live at nested paths of the object (None where a path is absent)."""

    def read(obj: Any, names: list[str]) -> Fields:
        out: Fields = {}
        for name in names:
            value = obj
            for key in paths[name]:
                value = value.get(key) if isinstance(value, dict) else None
            out[name] = value
        return out

    return read


@dataclass(frozen=True, kw_only=True)
class ReplaceAction(FieldAction):
    """Full-replace writes (Okta policies and rules): PUT the current body with the fields set at their paths.

    The object's other settings travel unchanged, so a replace never resets what the action does not own.
    """

    paths: Mapping[str, tuple[str, ...]]
    read_only: frozenset[str] = frozenset({"id", "created", "lastUpdated", "_links", "_embedded"})
    write_method: str = "PUT"

    async def send(self, http: VendorHttp, resource_id: str, obj: Any, target: Fields) -> None:
        body = {k: copy.deepcopy(v) for k, v in obj.items() if k not in self.read_only}
        for name, value in target.items():
            *parents, leaf = self.paths[name]
            holder: Any = body
            for key in parents:
                holder = holder.get(key)
                if not isinstance(holder, dict):
                    where = ".".join(self.paths[name][:-1])
                    raise ActionError(f"{resource_id} has no {where}: {name} does not apply to this object")
            holder[leaf] = value
        await http.request(self.write_method, self.write_path(resource_id), json=body)


@dataclass(frozen=True, kw_only=True)
class TransitionAction(FieldAction):
    """State machines written through operations (Okta user lifecycle): (current, wanted) → POST path suffix."""

    field: str
    transitions: Mapping[tuple[str, str], str]
    write_method: str = "POST"

    async def send(self, http: VendorHttp, resource_id: str, obj: Any, target: Fields) -> None:
        now, wanted = self.read_fields(obj, [self.field])[self.field], target[self.field]
        suffix = self.transitions.get((now, wanted))
        if suffix is None:
            raise ActionError(f"{resource_id}: cannot change {self.field} from {now} to {wanted} with this action")
        await http.request(self.write_method, f"{self.write_path(resource_id)}{suffix}")


@dataclass(frozen=True, kw_only=True)
class RevokeAction(FieldAction):
    """Deletion of a credential: `state` reads `active` while the object exists, `revoked` once it is gone."""

    write_method: str = "DELETE"

    async def read(self, http: VendorHttp, resource_id: str) -> Any:
        return await http.get_optional(self.read_path(resource_id))

    async def send(self, http: VendorHttp, resource_id: str, obj: Any, target: Fields) -> None:
        if target.get("state") != "revoked":
            raise ActionError(
                f"{resource_id} was revoked and cannot be restored: the secret cannot be issued again; "
                "ask its owner to create a new one"
            )
        await http.request(self.write_method, self.write_path(resource_id), allow_404=True)


def revocation_state(obj: Any, names: list[str]) -> Fields:
    return {name: ("active" if obj is not None else "revoked") for name in names}
