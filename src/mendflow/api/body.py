"""Reading a request body no further than a limit, for every endpoint of the API."""

from __future__ import annotations

from starlette.requests import Request


async def read_bounded(request: Request, limit: int) -> bytes | None:
    """The body, read no further than `limit` bytes (None past it, declared or streamed).

    A client that hangs up mid-body raises starlette's `ClientDisconnect`; each caller decides what that means.
    """
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


__all__ = ["read_bounded"]
