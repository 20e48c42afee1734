"""Validation reports every problem of a playbook and of its test-case file in one pass, not stage by stage."""

from __future__ import annotations

from pathlib import Path

from mendflow.playbooks.loader import load_playbooks

BROKEN_EVERYWHERE = """\
apiVersion: mendflow/v1
id: github.repo_hook.insecure_ssl
title: Repository webhooks must verify TLS certificates
title: twice
resource: github.repo_hook
detect:
  when: resource.config.insecure_ssl == "1" && resource.active == "true"
  severity: hihg
respond:
  mode: approval
  action: github.org_hook.update_config
  with: {insecure_ssl: "0"}
tests:
  - name: an id of another type
    resources: [{id: /orgs/acme/hooks/1, data: {config: {insecure_ssl: "1"}}}]
    expect: {findings: []}
"""

BESIDE = """\
tests:
  - name: a misspelt key
    resources: [{id: /repos/acme/api/hooks/1, data: {}}]
    expct: {findings: []}
"""


def test_every_problem_of_a_playbook_and_its_test_file_is_reported_together(tmp_path: Path) -> None:
    """Duplicate key, unknown severity, two type problems, a wrong action, a wrong case id and a test-file typo."""
    (tmp_path / "hook.yaml").write_text(BROKEN_EVERYWHERE, encoding="utf-8")
    (tmp_path / "hook.tests.yaml").write_text(BESIDE, encoding="utf-8")
    result = load_playbooks([tmp_path / "hook.yaml"])
    assert result.playbooks == []
    found = [(Path(e.path).name, e.line, e.column) for e in result.errors]
    assert found == [
        ("hook.yaml", 4, 1),  # duplicate key 'title'
        ("hook.yaml", 7, 41),  # insecure_ssl may be a number
        ("hook.yaml", 7, 67),  # active is a boolean
        ("hook.yaml", 8, 13),  # unknown severity
        ("hook.yaml", 11, 11),  # action for another resource type
        ("hook.yaml", 15, 22),  # test case id of another type
        ("hook.tests.yaml", 4, 5),  # unknown key in the test file
    ], [str(e) for e in result.errors]
    messages = [str(e) for e in result.errors]
    assert "duplicate key 'title'" in messages[0]
    assert "misses the number 1" in messages[1]
    assert "is a boolean in the GitHub schema" in messages[2]
    assert "acts on github.org_hook" in messages[4]
    assert "is not the id of a github.repo_hook" in messages[5]
    assert "unknown key 'expct'" in messages[6]


def test_a_broken_test_file_is_reported_even_when_the_playbook_is_fine(tmp_path: Path) -> None:
    """The playbook alone would load; its test file's problem still fails the file."""
    good = BROKEN_EVERYWHERE.replace("title: twice\n", "").replace("hihg", "high")
    good = good.replace('resource.config.insecure_ssl == "1" && resource.active == "true"', "resource.active == true")
    good = good.replace("github.org_hook.update_config", "github.repo_hook.update_config").split("tests:")[0]
    (tmp_path / "hook.yaml").write_text(good, encoding="utf-8")
    (tmp_path / "hook.tests.yaml").write_text(BESIDE, encoding="utf-8")
    result = load_playbooks([tmp_path / "hook.yaml"])
    assert [(Path(e.path).name, e.line) for e in result.errors] == [("hook.tests.yaml", 4)]
