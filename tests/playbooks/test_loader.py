"""Playbook loading: the model's fields, and every error at the exact file:line:column it is about."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path

import pytest

from mendflow.actions import ACTIONS, ActionSpec, HookConfigParams
from mendflow.errors import PlaybookError
from mendflow.models import Severity
from mendflow.playbooks.loader import bundled_playbook_dir, load_playbook_file, load_playbooks
from mendflow.playbooks.model import Mode, Playbook, Verify

GOOD = """\
apiVersion: mendflow/v1
id: github.repo_hook.insecure_ssl
title: Repository webhooks must verify TLS certificates
resource: github.repo_hook
detect:
  when: string(resource.config.insecure_ssl) == "1"
  severity: high
  compliance: ["SOC2:CC6.7", "ISO27001:A.8.24"]
respond:
  mode: auto
  action: github.repo_hook.update_config
  with: {insecure_ssl: "0"}
  verify: rescan
"""


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def only_error(path: Path) -> PlaybookError:
    result = load_playbooks([path])
    assert result.playbooks == []
    (error,) = result.errors
    assert error.path == str(path)
    return error


def where(error: PlaybookError) -> tuple[int, int]:
    return error.line, error.column


def test_valid_playbook_exposes_its_fields(tmp_path: Path) -> None:
    """A valid file loads into a frozen Playbook with typed detect/respond parts and its source."""
    path = write(tmp_path, "hook.yaml", GOOD)
    playbook = load_playbook_file(path)
    assert playbook.id == "github.repo_hook.insecure_ssl"
    assert playbook.title == "Repository webhooks must verify TLS certificates"
    assert playbook.resource == "github.repo_hook"
    assert playbook.detect.when == 'string(resource.config.insecure_ssl) == "1"'
    assert playbook.detect.severity is Severity.high
    assert playbook.detect.compliance == ("SOC2:CC6.7", "ISO27001:A.8.24")
    assert playbook.respond is not None
    assert playbook.respond.mode is Mode.auto
    assert playbook.respond.action == "github.repo_hook.update_config"
    assert playbook.respond.params == {"insecure_ssl": "0"}
    assert playbook.respond.action_params() == HookConfigParams(insecure_ssl="0")
    assert playbook.respond.verify is Verify.rescan
    assert playbook.source == path
    assert playbook.is_auto()
    with pytest.raises(ValueError, match="frozen"):
        playbook.title = "changed"  # type: ignore[misc]


def test_playbook_without_respond_only_detects(tmp_path: Path) -> None:
    """No respond block means mode notify and never automatic."""
    playbook = load_playbook_file(write(tmp_path, "p.yaml", GOOD.split("respond:")[0]))
    assert playbook.respond is None
    assert playbook.mode is Mode.notify
    assert not playbook.is_auto()


def test_where_a_playbook_came_from_is_not_part_of_equality(tmp_path: Path) -> None:
    """The same playbook read from two files compares equal."""
    first = load_playbook_file(write(tmp_path, "a.yaml", GOOD))
    second = load_playbook_file(write(tmp_path, "b.yaml", GOOD))
    assert first.source != second.source
    assert first == second


def test_yaml_syntax_error_is_reported_where_the_parser_stopped(tmp_path: Path) -> None:
    """Broken YAML gives the parser's problem and position."""
    error = only_error(write(tmp_path, "p.yaml", GOOD.replace("severity: high", "severity: [high")))
    assert where(error) == (8, 13)
    assert "invalid YAML: expected ',' or ']', but got ':'" in str(error)
    assert str(error).startswith(f"{tmp_path / 'p.yaml'}:8:13: ")


def test_document_that_is_not_a_mapping_is_refused(tmp_path: Path) -> None:
    """A list at the top is not a playbook."""
    error = only_error(write(tmp_path, "p.yaml", "\n- id: x\n- id: y\n"))
    assert where(error) == (2, 1)
    assert "must be a mapping" in str(error)


def test_empty_file_is_refused(tmp_path: Path) -> None:
    """An empty file is an error at its start, not a crash."""
    error = only_error(write(tmp_path, "p.yaml", "# nothing yet\n"))
    assert where(error) == (1, 1)
    assert "empty" in str(error)


def test_wrong_api_version_points_at_its_value(tmp_path: Path) -> None:
    """An unsupported apiVersion names the supported one."""
    error = only_error(write(tmp_path, "p.yaml", GOOD.replace("mendflow/v1", "mendflow/v2")))
    assert where(error) == (1, 13)
    assert "unsupported apiVersion 'mendflow/v2'" in str(error)
    assert "'mendflow/v1'" in str(error)


def test_unknown_key_points_at_the_key_and_suggests_the_intended_one(tmp_path: Path) -> None:
    """A misspelt key is reported once, at the key, with a did-you-mean (not also as a missing key)."""
    error = only_error(write(tmp_path, "p.yaml", GOOD.replace("  when:", "  whn:")))
    assert where(error) == (6, 3)
    assert "unknown key 'whn' — did you mean 'when'?" in str(error)


def test_unknown_top_level_key_is_refused(tmp_path: Path) -> None:
    """Keys outside the format are refused at the top level too."""
    error = only_error(write(tmp_path, "p.yaml", GOOD + "owner: secops\n"))
    assert where(error) == (14, 1)
    assert "unknown key 'owner'" in str(error)


def test_missing_required_key_points_at_the_enclosing_mapping(tmp_path: Path) -> None:
    """A missing key is reported at the mapping that should hold it."""
    error = only_error(write(tmp_path, "p.yaml", GOOD.replace("  severity: high\n", "")))
    assert where(error) == (6, 3)
    assert "detect: missing required key 'severity'" in str(error)


def test_unknown_severity_suggests_a_valid_one(tmp_path: Path) -> None:
    """Enum values are checked with the list of valid ones."""
    error = only_error(write(tmp_path, "p.yaml", GOOD.replace("severity: high", "severity: hgh")))
    assert where(error) == (7, 13)
    assert "unknown severity 'hgh' — did you mean 'high'?" in str(error)


def test_unknown_resource_type_suggests_a_known_one(tmp_path: Path) -> None:
    """The resource type must be one the connectors produce."""
    error = only_error(
        write(tmp_path, "p.yaml", GOOD.replace("resource: github.repo_hook", "resource: github.rpo_hook"))
    )
    assert where(error) == (4, 11)
    assert "unknown resource type 'github.rpo_hook' — did you mean 'github.repo_hook'?" in str(error)


def test_unknown_action_suggests_the_closest_action_for_the_resource(tmp_path: Path) -> None:
    """An action missing from the catalogue is named with the closest one acting on the playbook's resource."""
    text = GOOD.replace("action: github.repo_hook.update_config", "action: github.hook.updat")
    error = only_error(write(tmp_path, "p.yaml", text))
    assert where(error) == (11, 11)
    assert "unknown action 'github.hook.updat' — did you mean 'github.repo_hook.update_config'?" in str(error)


def test_action_for_another_resource_type_is_refused(tmp_path: Path) -> None:
    """An org-hook action cannot answer findings on repository hooks."""
    text = GOOD.replace("action: github.repo_hook.update_config", "action: github.org_hook.update_config")
    error = only_error(write(tmp_path, "p.yaml", text))
    assert where(error) == (11, 11)
    assert "acts on github.org_hook, but this playbook's resource is github.repo_hook" in str(error)


def test_parameter_the_action_does_not_accept_is_named_with_a_suggestion(tmp_path: Path) -> None:
    """Each unknown key under `with` is reported at the key, with the accepted ones."""
    error = only_error(write(tmp_path, "p.yaml", GOOD.replace('{insecure_ssl: "0"}', '{insecure_sl: "0"}')))
    assert where(error) == (12, 10)
    message = str(error)
    assert "does not accept parameter 'insecure_sl' — did you mean 'insecure_ssl'?" in message
    assert "it accepts: insecure_ssl, content_type" in message


def test_parameter_with_a_value_the_action_refuses_points_at_the_value(tmp_path: Path) -> None:
    """`insecure_ssl` is a string "0"/"1"; an unquoted 0 (a number) is refused."""
    error = only_error(write(tmp_path, "p.yaml", GOOD.replace('{insecure_ssl: "0"}', "{insecure_ssl: 0}")))
    assert where(error) == (12, 24)
    assert "respond.with.insecure_ssl" in str(error)


def test_action_without_parameters_is_refused(tmp_path: Path) -> None:
    """An action with nothing under `with` would change nothing."""
    error = only_error(write(tmp_path, "p.yaml", GOOD.replace('  with: {insecure_ssl: "0"}\n', "")))
    assert where(error) == (11, 11)
    assert "needs at least one setting under 'with'" in str(error)


def test_cel_syntax_error_points_inside_a_plain_expression(tmp_path: Path) -> None:
    """The column is the offending character inside the `when` value."""
    text = GOOD.replace('insecure_ssl) == "1"', 'insecure_ssl) = "1"')
    error = only_error(write(tmp_path, "p.yaml", text))
    assert where(error) == (6, 46)
    assert "CEL syntax error: unexpected character '='" in str(error)


def test_cel_syntax_error_points_inside_a_block_expression(tmp_path: Path) -> None:
    """In a `|` block the line and column are those of the file, not of the expression."""
    block = '  when: |\n    string(resource.config.insecure_ssl) == "1" &&\n      (resource.active == true\n'
    text = GOOD.replace('  when: string(resource.config.insecure_ssl) == "1"\n', block)
    error = only_error(write(tmp_path, "p.yaml", text))
    assert where(error) == (8, 31)  # just after the last character
    assert "ends too early" in str(error)


def test_cel_syntax_error_points_inside_a_quoted_expression(tmp_path: Path) -> None:
    """Quotes and escapes before the error do not shift the column."""
    text = GOOD.replace(
        '  when: string(resource.config.insecure_ssl) == "1"', '  when: "resource.config.insecure_ssl == \\"1\\" @ x"'
    )
    error = only_error(write(tmp_path, "p.yaml", text))
    assert where(error) == (6, 48)
    assert "unexpected character '@'" in str(error)


def test_unknown_variable_in_condition_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    """A misspelt variable would fail on every resource, so it is refused at load time."""
    text = GOOD.replace('when: string(resource.config.insecure_ssl) == "1"', 'when: resorce.config.insecure_ssl == "1"')
    error = only_error(write(tmp_path, "p.yaml", text))
    assert where(error) == (6, 9)
    assert "unknown variable 'resorce' — did you mean 'resource'?" in str(error)


def test_irreversible_action_cannot_run_in_auto_mode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An action that cannot be undone is refused in auto mode, at the mode."""
    spec = ActionSpec(
        name="github.repo_hook.delete",
        resource_type="github.repo_hook",
        reversible=False,
        params=HookConfigParams,
        summary="test only",
    )
    monkeypatch.setitem(ACTIONS, spec.name, spec)
    error = only_error(write(tmp_path, "p.yaml", GOOD.replace("github.repo_hook.update_config", spec.name)))
    assert where(error) == (10, 9)
    assert "cannot be undone, so it cannot run in mode 'auto'" in str(error)
    approval = GOOD.replace("github.repo_hook.update_config", spec.name).replace("mode: auto", "mode: approval")
    assert load_playbook_file(write(tmp_path, "q.yaml", approval)).mode is Mode.approval


def test_duplicate_key_in_a_file_is_refused(tmp_path: Path) -> None:
    """YAML would silently keep the last of two equal keys; the loader refuses the second."""
    error = only_error(
        write(tmp_path, "p.yaml", GOOD.replace("  severity: high\n", "  severity: high\n  severity: low\n"))
    )
    assert where(error) == (8, 3)
    assert "duplicate key 'severity' (first given on line 7)" in str(error)


def test_duplicate_id_across_files_names_the_first_file(tmp_path: Path) -> None:
    """The second playbook with an id is an error at its id that names the file defining it first."""
    first = write(tmp_path, "a.yaml", GOOD)
    second = write(tmp_path, "b.yaml", GOOD)
    result = load_playbooks([tmp_path])
    assert [p.source for p in result.playbooks] == [first]
    (error,) = result.errors
    assert (error.path, *where(error)) == (str(second), 2, 5)
    assert f"duplicate playbook id 'github.repo_hook.insecure_ssl': already defined in {first}" in str(error)


def test_broken_file_does_not_stop_the_good_ones(tmp_path: Path) -> None:
    """A folder with one broken and two good files loads the two and reports the one."""
    write(tmp_path, "a_good.yaml", GOOD)
    broken = write(tmp_path, "b_broken.yaml", GOOD.replace("  when:", "  whn:"))
    write(tmp_path, "nested/c_good.yml", GOOD.replace("github.repo_hook.insecure_ssl", "github.repo_hook.other"))
    write(tmp_path, "notes.txt", "not a playbook")
    result = load_playbooks([tmp_path])
    assert [p.id for p in result.playbooks] == ["github.repo_hook.insecure_ssl", "github.repo_hook.other"]
    assert [(e.path, e.line, e.column) for e in result.errors] == [(str(broken), 6, 3)]


def test_every_problem_in_a_file_is_reported_in_file_order(tmp_path: Path) -> None:
    """Several problems in one file are all reported, sorted by position."""
    text = GOOD.replace("  when:", "  whn:").replace("resource: github.repo_hook", "resource: github.nope")
    result = load_playbooks([write(tmp_path, "p.yaml", text)])
    assert [where(e) for e in result.errors] == [(4, 11), (6, 3)]


def test_load_playbook_file_raises_the_first_problem_and_counts_the_rest(tmp_path: Path) -> None:
    """The single-file API raises PlaybookError with the first problem's position."""
    text = GOOD.replace("  when:", "  whn:").replace("resource: github.repo_hook", "resource: github.nope")
    with pytest.raises(PlaybookError, match=r":4:11: resource: unknown resource type .* \(and 1 more problem") as info:
        load_playbook_file(write(tmp_path, "p.yaml", text))
    assert where(info.value) == (4, 11)


def test_missing_path_is_reported(tmp_path: Path) -> None:
    """A path that does not exist is an error, not an exception."""
    result = load_playbooks([tmp_path / "nowhere"])
    assert result.playbooks == []
    assert [e.path for e in result.errors] == [str(tmp_path / "nowhere")]


def test_every_shipped_playbook_loads_without_errors() -> None:
    """The bundled rule pack loads cleanly, has at least fifteen GitHub rules, each named after its file."""
    result = load_playbooks([bundled_playbook_dir()])
    assert result.errors == []
    github = [p for p in result.playbooks if p.resource.startswith("github.")]
    assert len(github) >= 15
    for playbook in result.playbooks:
        provider, rest = playbook.id.split(".", 1)
        assert playbook.source is not None
        assert playbook.source.parent.name == provider
        # github/ files drop the provider prefix (repo_hook_insecure_ssl.yaml); others may keep it.
        assert playbook.source.name in {rest.replace(".", "_") + ".yaml", playbook.id.replace(".", "_") + ".yaml"}
        assert playbook.description
        assert playbook.detect.compliance


def test_shipped_github_playbooks_cite_soc2_nist_csf_and_iso27001() -> None:
    """Each GitHub rule evidences a SOC 2 criterion, a NIST CSF 2.0 subcategory and an ISO 27001:2022 control."""
    for playbook in load_playbooks([bundled_playbook_dir()]).playbooks:
        if not playbook.id.startswith("github."):
            continue
        frameworks = {ref.split(":", 1)[0] for ref in playbook.detect.compliance}
        assert {"SOC2", "NIST-CSF", "ISO27001"} <= frameworks, playbook.id
        assert frameworks <= {"SOC2", "NIST-CSF", "ISO27001", "CIS-v8"}, playbook.id
        for ref in playbook.detect.compliance:
            framework, control = ref.split(":", 1)
            pattern = {
                "SOC2": r"CC\d\.\d+",
                "NIST-CSF": r"(GV|ID|PR|DE|RS|RC)\.[A-Z]{2}-\d{2}",
                "ISO27001": r"A\.[5-8]\.\d+",
                "CIS-v8": r"\d+\.\d+",
            }[framework]
            assert re.fullmatch(pattern, control), (playbook.id, ref)


def test_shipped_playbooks_respond_as_agreed() -> None:
    """Reversible fixes run in auto mode; org-wide setting changes need approval; the rest notify."""
    playbooks = {p.id: p for p in load_playbooks([bundled_playbook_dir()]).playbooks}
    modes = {pid: (p.mode, p.respond.action if p.respond else None) for pid, p in playbooks.items()}
    agreed = {
        "github.repo_hook.insecure_ssl": (Mode.auto, "github.repo_hook.update_config"),
        "github.org_hook.insecure_ssl": (Mode.auto, "github.org_hook.update_config"),
        "github.repo.secret_scanning_disabled": (Mode.auto, "github.repo.update_security"),
        "github.repo.push_protection_disabled": (Mode.auto, "github.repo.update_security"),
        "github.org.base_permission_not_strict": (Mode.approval, "github.org.update_settings"),
        "github.org.members_can_create_public_repos": (Mode.approval, "github.org.update_settings"),
        # going private cannot be undone (stars, watchers, forks), so a person approves each campaign
        "github.repo.public_not_allowed": (Mode.approval, "github.repo.set_visibility"),
        # disabling a hook to an unapproved host is reversible, but its integration stops: a person approves
        "github.repo_hook.host_not_allowed": (Mode.approval, "github.repo_hook.set_active"),
        "github.org_hook.host_not_allowed": (Mode.approval, "github.org_hook.set_active"),
    }
    assert {pid: modes[pid] for pid in agreed} == agreed
    base = playbooks["github.org.base_permission_not_strict"].respond
    assert base is not None
    assert base.action_params().as_body() == {"default_repository_permission": "read"}
    github_others = {pid for pid in set(modes) - set(agreed) if pid.startswith("github.")}
    assert {modes[pid] for pid in github_others} == {(Mode.notify, None)}


def test_bundled_playbook_dir_is_the_rulepacks_package() -> None:
    """The shipped rule packs are found through importlib.resources."""
    folder = bundled_playbook_dir()
    assert folder.is_dir()
    assert (folder / "github" / "repo_hook_insecure_ssl.yaml").is_file()


def test_playbooks_survive_serialization_with_or_without_aliases() -> None:
    """A playbook dumped to JSON (as workflows carry it, or as written in YAML) validates back to itself."""
    for playbook in load_playbooks([bundled_playbook_dir()]).playbooks:
        assert Playbook.model_validate(playbook.model_dump(mode="json")) == playbook
        assert Playbook.model_validate_json(playbook.model_dump_json(by_alias=True)) == playbook


def test_playbook_built_in_code_is_checked_like_a_file() -> None:
    """The model itself refuses bad input, so playbooks built in code are as safe as loaded ones."""
    with pytest.raises(ValueError, match="unknown action"):
        Playbook.model_validate(
            {
                "apiVersion": "mendflow/v1",
                "id": "x.y",
                "title": "t",
                "resource": "github.repo",
                "detect": {"when": "true", "severity": "low"},
                "respond": {"mode": "auto", "action": "github.repo.archive", "with": {"archived": True}},
            }
        )


def test_durations_read_as_people_write_them_and_are_written_back_so() -> None:
    """`1d12h`, ISO 8601 and seconds are accepted; a playbook dumped to JSON shows `1d12h`."""
    from mendflow.playbooks.model import ApprovalPolicy

    for written in ("1d12h", "36h", "PT36H", 129600):
        assert ApprovalPolicy.model_validate({"timeout": written}).timeout == timedelta(hours=36)
    assert ApprovalPolicy.model_validate({"timeout": "1d12h"}).model_dump(mode="json")["timeout"] == "1d12h"


def test_unknown_condition_fields_are_reported_together_with_other_problems(tmp_path: Path) -> None:
    """A misspelt field and a bad action are both reported in one pass, in file order."""
    text = GOOD.replace("resource.config.insecure_ssl", "resource.confg.insecure_ssl").replace(
        "action: github.repo_hook.update_config", "action: github.hook.updat"
    )
    result = load_playbooks([write(tmp_path, "p.yaml", text)])
    assert [(e.line, e.column) for e in result.errors] == [(6, 25), (11, 11)]
    assert "unknown field 'resource.confg'" in str(result.errors[0])
    assert "unknown action 'github.hook.updat'" in str(result.errors[1])


def test_misspelt_field_of_a_known_object_is_refused_but_free_form_fields_are_not(tmp_path: Path) -> None:
    """`related.default_branch_protection.*` is the vendor's protection object: any nested key may be read."""
    text = GOOD.replace("resource: github.repo_hook", "resource: github.repo").replace(
        'when: string(resource.config.insecure_ssl) == "1"',
        "when: related.default_branch_protection.lock_branch.enabled == true",
    )
    text = text.split("respond:")[0]
    assert load_playbook_file(write(tmp_path, "p.yaml", text)).resource == "github.repo"


def test_fields_are_checked_for_files_and_on_request_for_playbooks_built_in_code() -> None:
    """The loader checks condition fields; code may build a condition on an unknown field unless it asks."""
    from mendflow.playbooks.model import CHECK_FIELDS

    data = {
        "apiVersion": "mendflow/v1",
        "id": "x.y",
        "title": "t",
        "resource": "github.repo",
        "detect": {"when": 'resource.security.status == "disabled"', "severity": "low"},
    }
    assert Playbook.model_validate(data).detect.when.startswith("resource.security")
    with pytest.raises(ValueError, match=r"unknown field 'resource\.security' for github\.repo"):
        Playbook.model_validate(data, context={CHECK_FIELDS: True})
