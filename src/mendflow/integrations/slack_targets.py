"""Where a Slack message addressed by a playbook goes: a person, a channel, or the playbook's card channel."""

from __future__ import annotations

from collections.abc import Mapping

from mendflow.rbac import Person
from mendflow.settings import SlackSettings


def slack_target(config: SlackSettings, people: Mapping[str, Person], address: str | None, playbook_id: str) -> str:
    """`user:NAME` → that person's Slack id (RBAC `people.NAME.slack`); `slack:X` / `channel:X` → X; `#channel` /
    `C…` / `U…` / `D…` / `G…` as given; anything else (a group, nobody, a person without a Slack id) → the
    playbook's card channel, so a message is never lost for want of an address."""
    if not address:
        return config.channel_for(playbook_id)
    kind, _, name = address.partition(":")
    if kind == "user" and name:
        person = people.get(name)
        if person is not None and person.slack:
            return person.slack
        return config.channel_for(playbook_id)
    if kind in ("slack", "channel") and name:
        return name
    if address.startswith(("#", "C", "U", "D", "G")) and ":" not in address:
        return address
    return config.channel_for(playbook_id)


__all__ = ["slack_target"]
