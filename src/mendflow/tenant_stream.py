"""Tenant files of any size, read incrementally: checked in one streaming pass, then served in chunks.

A 17,000-repository GitHub org is a ~200 MB tenant file; decoding it whole costs over a gigabyte. Here the
file is read with ijson (the yajl2 C backend) through a reader that stops at the first NUL byte or invalid
UTF-8 sequence, so binary, non-UTF-8, truncated and absurdly nested files each end in one `TenantFileError`
naming the file and a JSON path or byte offset, after reading no more than they must.

`check` validates everything in one pass, keeping only the small part of the document (the envelope and the
org-level collections) and validating each item of the big list (the provider's `Provider.streamed` collection,
e.g. `github.repos`) on its own, then dropping it. `repo_chunks` reads the file again and yields the org with
`size` repositories at a time, so an offline scan needs memory for one chunk, not for the tenant. YAML tenant
files are small by nature and read whole (capped).
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import ijson
from ijson.common import ObjectBuilder
from pydantic import ValidationError

from mendflow import providers
from mendflow.errors import InputError, TenantFileError
from mendflow.tenant import TenantFile, parse_tenant
from mendflow.userfiles import json_path, parse_yaml, read_text, validation_problems

MAX_DEPTH = 64
"""Real tenant files nest about 10 deep; deeper input is refused before anything recursive sees it."""
MAX_YAML_BYTES = 8 * 1024 * 1024
"""YAML tenant files are hand-written and small (PyYAML needs ~30x a file's size); big tenants are JSON."""


def _streamed() -> dict[tuple[str | int, ...], providers.Streamed]:
    """(provider, collection) → the collection of each provider that grows with the tenant: validated and served
    item by item."""
    return {(p.name, p.streamed.collection): p.streamed for p in providers.providers() if p.streamed is not None}


BUFFER = 64 * 1024
MAX_VALUE = 16 * 1024 * 1024
"""Longest stretch between two `"` accepted (see `_CheckedReader._no_huge_value`)."""
RELOCATE_BYTES = 16 * 1024 * 1024
"""A syntax error in a file up to this size is located exactly (line:column) by re-reading it with `json`."""


class _CheckedReader:
    """A binary file as ijson reads it, refusing NUL bytes and invalid UTF-8 at their exact offset."""

    def __init__(self, handle: IO[bytes], path: Path) -> None:
        self.handle = handle
        self.path = path
        self.offset = 0
        """Bytes handed to the parser so far."""
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._since_quote = 0

    def read(self, size: int = -1) -> bytes:
        chunk = self.handle.read(BUFFER if size < 0 else size)
        nul = chunk.find(b"\x00")
        if nul >= 0:
            raise TenantFileError(f"{self.path}: byte offset {self.offset + nul}: binary data, not a JSON tenant file")
        try:
            self._utf8.decode(chunk, final=not chunk)
        except UnicodeDecodeError as err:
            where = self.offset + err.start
            raise TenantFileError(f"{self.path}: byte offset {where}: not UTF-8 text (invalid byte)") from None
        self._no_huge_value(chunk)
        self.offset += len(chunk)
        return chunk

    def _no_huge_value(self, chunk: bytes) -> None:
        """Refuse a stretch of MAX_VALUE bytes without a `"`: the parser would build it whole (a 200 MB string).

        Every key and string in a tenant file is quoted, so real files never come near; this bounds memory for
        the one shape incremental parsing cannot (a single gigantic value or filler).
        """
        first = chunk.find(b'"')
        run = self._since_quote + (len(chunk) if first < 0 else first)
        if run > MAX_VALUE:
            raise TenantFileError(
                f"{self.path}: byte offset {self.offset + len(chunk) if first < 0 else self.offset + first}: "
                f"{MAX_VALUE // (1024 * 1024)} MiB without a string delimiter; no tenant file holds a value that large"
            )
        self._since_quote = run if first < 0 else len(chunk) - chunk.rfind(b'"') - 1


class _Path:
    """Where the parser is, as a JSON path (`$.github.repos[3]._hooks[0]`), kept in step with ijson's events."""

    def __init__(self) -> None:
        self.parts: list[str | int] = []

    def enter(self, kind: str) -> None:
        self.parts.append(-1 if kind == "start_array" else "")

    def leave(self) -> None:
        self.parts.pop()

    def value(self) -> None:
        """A value (or a container opening) begins: inside an array that is the next index."""
        if self.parts and isinstance(self.parts[-1], int):
            self.parts[-1] += 1

    def key(self, name: str) -> None:
        self.parts[-1] = name

    def render(self, *, most: int = 12) -> str:
        """The path, without the index of an array not yet entered, shortened in the middle when deep."""
        parts = [p for p in self.parts if p != -1 and p != ""]
        if len(parts) <= most:
            return json_path(tuple(parts))
        return json_path(tuple(parts[: most // 2])) + "…" + json_path(tuple(parts[-most // 2 :]))[1:]


@dataclass(frozen=True)
class CheckedTenant:
    """A tenant file known to be valid: its small part in memory, its big list still on disk."""

    path: Path
    head: TenantFile
    """The document without the streamed collection (`github.repos` is empty here)."""
    streamed: int
    """How many items the streamed collection holds."""
    whole: bool
    """True when `head` is the entire document (YAML, or a provider without a streamed collection)."""


def _syntax_error(path: Path, reader: _CheckedReader, where: _Path, err: Exception) -> TenantFileError:
    """Name the place: line:column when the file is small enough to re-read, else the byte block and JSON path.

    yajl's own message quotes the text around the error (which may hold a secret), so only its first line is
    used; Python's json messages name the expectation, never the text.
    """
    text = str(err)
    if text[:2] in ("b'", 'b"'):
        text = text[2:]
    first = text.replace("\\n", "\n").strip().split("\n")[0].strip().rstrip(".") or type(err).__name__
    after = f" (after {where.render()})" if where.parts else ""
    if "premature EOF" in first or "Incomplete JSON content" in first:
        return TenantFileError(f"{path}: the file ends early, truncated at byte {reader.offset}{after}")
    if reader.offset <= RELOCATE_BYTES:
        try:
            json.loads(path.read_bytes())
        except json.JSONDecodeError as exact:
            return TenantFileError(f"{path}:{exact.lineno}:{exact.colno}: not valid JSON: {exact.msg}{after}")
        except (ValueError, RecursionError):
            pass
    block = f"in the block before byte {reader.offset}"
    return TenantFileError(f"{path}: not valid JSON ({block}): {first}{after}")


def _events(path: Path) -> Iterator[tuple[_Path, str, Any]]:
    """ijson's events with the JSON path of each, refusing deep nesting; every failure is a TenantFileError."""
    where = _Path()
    try:
        handle = path.open("rb")
    except OSError as err:
        raise TenantFileError(f"{path}: cannot read tenant file: {err.strerror or err}") from None
    with handle:
        reader = _CheckedReader(handle, path)
        try:
            # basic_parse, not parse: parse builds a prefix string per event, quadratic in the nesting depth.
            for event, value in ijson.basic_parse(reader, use_float=True):
                if event in ("start_map", "start_array"):
                    where.value()
                    yield where, event, value
                    where.enter(event)
                    if len(where.parts) > MAX_DEPTH:
                        raise TenantFileError(f"{path}: {where.render()}: nested deeper than {MAX_DEPTH} levels")
                elif event in ("end_map", "end_array"):
                    where.leave()
                    yield where, event, value
                elif event == "map_key":
                    where.key(value)
                    yield where, event, value
                else:
                    where.value()
                    yield where, event, value
        except ijson.JSONError as err:
            handle.seek(0)
            if not handle.read(BUFFER).strip():  # nothing but whitespace: say so, not "truncated at byte 0"
                raise TenantFileError(f"{path}: the file is empty; expected a mendflow.tenant/v1 JSON object") from None
            raise _syntax_error(path, reader, where, err) from None


def check(path: Path) -> CheckedTenant:
    """Validate a tenant file in one streaming pass (bounded memory); the small part is kept."""
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            text = read_text(path, what="YAML tenant file (big tenants belong in JSON)", limit=MAX_YAML_BYTES)
            document = parse_yaml(text, path=path, what="tenant")
        except InputError as err:
            raise TenantFileError(str(err)) from None
        return CheckedTenant(path, parse_tenant(document, source=str(path)), 0, whole=True)
    streamed = _streamed()
    head = ObjectBuilder()
    item: ObjectBuilder | None = None
    item_depth = 0
    count = 0
    for where, event, value in _events(path):
        depth = len(where.parts)
        if item is not None:
            item.event(event, value)
            if depth == item_depth and event in ("end_map", "end_array"):
                _check_item(path, where.parts[:2], streamed[tuple(where.parts[:2])], item.value, count)
                count += 1
                item = None
            continue
        if depth == 3 and tuple(where.parts[:2]) in streamed and event in ("start_map", "start_array"):
            item, item_depth = ObjectBuilder(), depth
            item.event(event, value)
            continue
        head.event(event, value)
    if not hasattr(head, "value"):
        raise TenantFileError(f"{path}: $: the file is empty; expected a mendflow.tenant/v1 JSON object")
    tenant = parse_tenant(head.value, source=str(path))
    return CheckedTenant(path, tenant, count, whole=providers.get(tenant.provider).streamed is None)


def _check_item(path: Path, where: list[str | int], streamed: providers.Streamed, item: Any, index: int) -> None:
    try:
        streamed.item().model_validate(item)
    except ValidationError as err:
        problems = "\n  ".join(validation_problems(err, prefix=(*where, index)))
        raise TenantFileError(f"{path}: not a valid mendflow.tenant/v1 tenant file:\n  {problems}") from None


def repo_chunks(checked: CheckedTenant, size: int) -> Iterator[TenantFile]:
    """The tenant with at most `size` repositories at a time (the org-level collections in every chunk)."""
    if checked.whole or checked.streamed == 0:
        yield checked.head
        return
    provider = checked.head.provider
    streamed = providers.get(provider).streamed
    assert streamed is not None  # else checked.whole
    section = dict(checked.head.section())
    batch: list[Any] = []
    with checked.path.open("rb") as handle:
        for item in ijson.items(handle, f"{provider}.{streamed.collection}.item", use_float=True):
            batch.append(item)
            if len(batch) == size:
                yield checked.head.model_copy(update={provider: {**section, streamed.collection: batch}})
                batch = []
    if batch:
        yield checked.head.model_copy(update={provider: {**section, streamed.collection: batch}})
