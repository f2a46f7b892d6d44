"""The Helm chart agrees with the application: its metadata, its values, the environment variable
names it sets, and how the API pods are probed and started."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from lms.config import PROJECT_ROOT

CHART = PROJECT_ROOT / "helm"
TEMPLATES = CHART / "templates"

# Names a Kubernetes object gives an environment variable: `- name: X` (env), `key: X`
# (secretKeyRef) and upper-case mapping keys (ConfigMap and Secret data, exposed through envFrom).
ENV_NAME_PATTERNS = (
    re.compile(r"-\s+name:\s+([A-Z][A-Z0-9_]*)\s*$", re.MULTILINE),
    re.compile(r"\bkey:\s+([A-Z][A-Z0-9_]*)\s*$", re.MULTILINE),
    re.compile(r"^\s*([A-Z][A-Z0-9_]*):\s", re.MULTILINE),
)

SECRET_SETTINGS = {"DATABASE_URL", "DATABASE_APP_URL", "DATABASE_OPERATOR_URL", "DATABASE_ROLE_PASSWORD", "REDIS_URL"}
PLAIN_SETTINGS = {"PUBLIC_BASE_DOMAIN", "STORAGE_URL", "LOG_LEVEL", "CELERY_QUEUE"}


def settings_read_from_environment() -> set[str]:
    source = (PROJECT_ROOT / "src" / "lms" / "config.py").read_text()
    return set(re.findall(r'_env\(\s*"([A-Z][A-Z0-9_]*)"', source))


def env_names_in(text: str) -> set[str]:
    return {name for pattern in ENV_NAME_PATTERNS for name in pattern.findall(text)}


def template_skeleton(name: str) -> list[dict[str, Any]]:
    """A template's YAML with its template actions removed: whole-line actions dropped, inline ones
    replaced by a placeholder. Enough to check the structure the chart always renders."""
    text = re.sub(r"\{\{-?\s*/\*.*?\*/\s*-?\}\}", "", (TEMPLATES / name).read_text(), flags=re.DOTALL)
    lines = [
        re.sub(r"\{\{.*?\}\}", "TEMPLATED", line)
        for line in text.splitlines()
        if not re.fullmatch(r"\s*\{\{.*\}\}\s*", line)
    ]
    return [doc for doc in yaml.safe_load_all("\n".join(lines)) if doc]


def only_container(doc: dict[str, Any]) -> dict[str, Any]:
    containers = doc["spec"]["template"]["spec"]["containers"]
    assert len(containers) == 1
    container: dict[str, Any] = containers[0]
    return container


def key_paths(tree: Any, prefix: tuple[str, ...] = ()) -> set[tuple[str, ...]]:
    if not isinstance(tree, dict):
        return set()
    paths = set()
    for key, value in tree.items():
        paths.add((*prefix, key))
        paths |= key_paths(value, (*prefix, key))
    return paths


def lookup(tree: dict[str, Any], path: tuple[str, ...]) -> Any:
    for key in path:
        tree = tree[key]
    return tree


@pytest.fixture(scope="module")
def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def test_chart_metadata_names_the_lms_chart_at_the_project_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())
    project = tomllib.loads((PROJECT_ROOT / "pyproject.toml").read_text())["project"]

    assert chart["apiVersion"] == "v2"
    assert chart["name"] == "lms"
    assert chart["type"] == "application"
    assert re.fullmatch(r"\d+\.\d+\.\d+", chart["version"])
    assert chart["appVersion"] == project["version"]


def test_values_define_the_domains_secrets_and_components(values: dict[str, Any]) -> None:
    assert isinstance(values["publicBaseDomain"], str)
    assert values["publicBaseDomain"]
    assert values["customDomains"] == []
    assert values["secrets"]["existingSecret"] == ""
    assert values["stripe"]["existingSecret"] == ""
    for component in ("api", "worker"):
        assert values[component]["autoscaling"]["minReplicas"] <= values[component]["autoscaling"]["maxReplicas"]
        assert values[component]["resources"]["requests"]
    assert values["securityContext"]["readOnlyRootFilesystem"] is True
    assert values["podSecurityContext"]["runAsNonRoot"] is True


def test_example_values_only_set_keys_the_chart_defines(values: dict[str, Any]) -> None:
    examples = sorted((CHART / "ci").glob("*-values.yaml"))
    assert examples
    for example in examples:
        for path in key_paths(yaml.safe_load(example.read_text())):
            parent = lookup(values, path[:-1])
            # An empty map or list by default is free-form (annotations, stripe.env, extraEnv).
            free_form = isinstance(parent, dict | list) and not parent
            assert free_form or path[-1] in parent, f"{example.name}: {'.'.join(path)} is not a chart value"


def test_every_environment_variable_the_chart_sets_is_a_setting(values: dict[str, Any]) -> None:
    known = settings_read_from_environment()
    templates = sorted(TEMPLATES.glob("*.yaml")) + sorted(TEMPLATES.glob("*.tpl"))
    named = set().union(*(env_names_in(path.read_text()) for path in templates))

    assert known >= SECRET_SETTINGS | PLAIN_SETTINGS  # the settings this test relies on still exist
    assert named >= SECRET_SETTINGS | PLAIN_SETTINGS, "the chart must wire every database, Redis and plain setting"
    assert named <= known, f"not read by lms.config: {sorted(named - known)}"
    assert values["database"]["workloadUrlKey"] in known


def test_the_config_map_holds_no_credentials() -> None:
    names = env_names_in((TEMPLATES / "configmap.yaml").read_text())

    assert names >= PLAIN_SETTINGS
    assert not names & SECRET_SETTINGS


def test_api_pods_serve_on_all_interfaces_without_worker_or_migrations() -> None:
    (deployment,) = template_skeleton("api-deployment.yaml")
    container = only_container(deployment)
    env = {item["name"]: item.get("value") for item in container["env"]}

    assert deployment["kind"] == "Deployment"
    assert container["command"] == ["lms", "serve", "--no-worker", "--no-migrate"]
    # Not the default loopback address: the kubelet and the Service reach the pod from outside.
    assert env["HOST"] == "0.0.0.0"  # noqa: S104
    assert container["ports"][0]["name"] == "http"
    # The server's process count and keep-alive come from values.
    assert {"API_PROCESSES", "KEEP_ALIVE_SECONDS"} <= env.keys()


def test_api_liveness_uses_health_and_readiness_uses_ready() -> None:
    (deployment,) = template_skeleton("api-deployment.yaml")
    container = only_container(deployment)

    assert container["livenessProbe"]["httpGet"] == {"path": "/health", "port": "http"}
    assert container["readinessProbe"]["httpGet"] == {"path": "/ready", "port": "http"}
    assert container["startupProbe"]["httpGet"]["path"] == "/health"


def test_api_pods_are_scraped_on_the_internal_metrics_port_only() -> None:
    text = (TEMPLATES / "api-deployment.yaml").read_text()
    (deployment,) = template_skeleton("api-deployment.yaml")
    container = only_container(deployment)
    env = {item["name"]: item.get("value") for item in container["env"] if isinstance(item, dict)}
    values = yaml.safe_load((CHART / "values.yaml").read_text())

    assert 'prometheus.io/scrape: "true"' in text
    assert "prometheus.io/path: /metrics" in text
    assert "prometheus.io/port: {{ .Values.metrics.port | quote }}" in text
    assert [p["name"] for p in container["ports"]] == ["http", "metrics"]
    assert "{{ .Values.metrics.port }}" in text
    assert values["metrics"]["port"] != values["api"]["port"]
    assert env["METRICS_HOST"] == "0.0.0.0"  # noqa: S104 - Prometheus scrapes the pod's address
    assert "METRICS_PORT" in env
    # The Service (and so the ingress) carries the public port only.
    (service,) = template_skeleton("service.yaml")
    assert [p["name"] for p in service["spec"]["ports"]] == ["http"]


def test_worker_and_scheduler_commands() -> None:
    (worker,) = template_skeleton("worker-deployment.yaml")
    (beat,) = template_skeleton("beat-deployment.yaml")

    assert only_container(worker)["command"][:2] == ["lms", "worker"]
    assert only_container(beat)["command"][:2] == ["lms", "beat"]
    # One scheduler, never two at once: each would send every periodic job.
    assert beat["spec"]["replicas"] == 1
    assert beat["spec"]["strategy"]["type"] == "Recreate"


def test_migrations_run_as_a_pre_install_and_pre_upgrade_hook_with_the_admin_url() -> None:
    jobs = [doc for doc in template_skeleton("migrate-job.yaml") if doc["kind"] == "Job"]
    (job,) = jobs
    container = only_container(job)
    database_url = next(item for item in container["env"] if item["name"] == "DATABASE_URL")

    assert set(job["metadata"]["annotations"]["helm.sh/hook"].split(",")) == {"pre-install", "pre-upgrade"}
    assert container["command"] == ["lms", "migrate"]
    assert database_url["valueFrom"]["secretKeyRef"]["key"] == "DATABASE_URL"


def test_ingress_routes_the_wildcard_and_custom_domains_to_the_api_service() -> None:
    text = (TEMPLATES / "ingress.yaml").read_text()

    assert 'printf "*.%s" $domain' in text
    assert "range .Values.customDomains" in text
    assert "cert-manager.io" in (TEMPLATES / "_helpers.tpl").read_text()


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.yaml")))
def test_template_skeletons_parse_as_kubernetes_objects(template: str) -> None:
    for doc in template_skeleton(template):
        assert {"apiVersion", "kind", "metadata"} <= doc.keys()


def test_readme_explains_how_tenant_hosts_reach_the_app() -> None:
    readme = (CHART / "README.md").read_text()

    assert "Host" in readme
    assert "customDomains" in readme


def chart_files() -> list[Path]:
    return [CHART / "Chart.yaml", CHART / "values.yaml", *sorted((CHART / "ci").glob("*.yaml"))]


@pytest.mark.parametrize("path", chart_files(), ids=lambda p: p.name)
def test_plain_chart_files_are_valid_yaml(path: Path) -> None:
    assert isinstance(yaml.safe_load(path.read_text()), dict)
