"""The caller/callee pair of workflow files the call-step tests write side by side (validation and `mendflow run`)."""

from __future__ import annotations

from pathlib import Path

CALLER = """apiVersion: mendflow/v1
kind: Workflow
id: test.caller
title: t
inputs: {type: object, properties: {user: {type: string}}}
steps:
  - {id: ok, kind: approve}
  - {id: contain, kind: call, playbook: test.callee, inputs: {user: inputs.user}}
"""
"""Approves, then calls `test.callee` with its `user` (the call is on line 8)."""


CALLEE_HEAD = """apiVersion: mendflow/v1
kind: Workflow
id: test.callee
title: t
inputs: {type: object, properties: {user: {type: string}}}
steps:
"""
CLEAR = '  - {id: clear, kind: action, action: okta.user.clear_sessions, target: "/api/v1/users/${{ inputs.user }}"}\n'


def callee(*, approved: bool) -> str:
    """`test.callee`: clears the user's sessions (irreversible; line 8 after its own approve step, or line 7 without
    one, which a caller's approval does not cover)."""
    return CALLEE_HEAD + ("  - {id: ok, kind: approve}\n" if approved else "") + CLEAR


def write_pair(folder: Path, *, caller: str = CALLER, approved: bool = True) -> Path:
    """Write `caller.yaml` and `callee.yaml` into `folder`; returns the caller's path."""
    (folder / "callee.yaml").write_text(callee(approved=approved))
    path = folder / "caller.yaml"
    path.write_text(caller)
    return path
