"""What an activity reports while the HTTP layer waits for a vendor's rate-limit window (so it is not timed out)."""

from __future__ import annotations

from temporalio import activity


def beat_while_waiting(seconds_left: float) -> None:
    """One heartbeat with the seconds still to wait; pass to `connectors.http.heartbeat_while_waiting`."""
    activity.heartbeat({"waiting_s": round(seconds_left, 1)})
