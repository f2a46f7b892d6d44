"""The chart's values schema accepts the shipped values and refuses bad ones; workers expose their
metrics and scale on queue depth; the alert rules and the dashboard name metrics the code exports."""

from __future__ import annotations

import copy
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from lms.config import PROJECT_ROOT
from tests.unit.test_helm_chart import only_container, template_skeleton

CHART = PROJECT_ROOT / "helm"
SCHEMA = json.loads((CHART / "values.schema.json").read_text())


def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def merged(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """Helm's merge of a values file over the defaults."""
    result = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict) and result[key]:
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


def errors(candidate: dict[str, Any]) -> list[str]:
    validator = jsonschema.Draft7Validator(SCHEMA)
    return [".".join(str(p) for p in error.absolute_path) for error in validator.iter_errors(candidate)]


def test_the_schema_is_a_valid_draft_7_schema() -> None:
    jsonschema.Draft7Validator.check_schema(SCHEMA)


@pytest.mark.parametrize("path", sorted((CHART / "ci").glob("*.yaml")), ids=lambda p: p.name)
def test_shipped_values_and_examples_pass_the_schema(path: Path) -> None:
    assert errors(values()) == []
    assert errors(merged(values(), yaml.safe_load(path.read_text()))) == []


@pytest.mark.parametrize(
    ("override", "field"),
    [
        ({"api": {"replicas": "two"}}, "api.replicas"),
        ({"api": {"replicas": 0}}, "api.replicas"),
        ({"config": {"logLevel": "LOUD"}}, "config.logLevel"),
        ({"config": {"logFormat": "xml"}}, "config.logFormat"),
        ({"metrics": {"port": 70000}}, "metrics.port"),
        ({"metrics": {"workerPort": "9101"}}, "metrics.workerPort"),
        ({"image": {"pullPolicy": "Sometimes"}}, "image.pullPolicy"),
        ({"publicBaseDomain": "not a domain"}, "publicBaseDomain"),
        ({"customDomains": ["learn.acme.com", "https://x"]}, "customDomains.1"),
        ({"worker": {"concurrency": 0}}, "worker.concurrency"),
        ({"worker": {"keda": {"redisAddress": "redis://r:6379"}}}, "worker.keda.redisAddress"),
        ({"api": {"resources": {"requests": {"cpu": "a lot"}}}}, "api.resources.requests.cpu"),
        ({"database": {"workloadUrlKey": "PASSWORD"}}, "database.workloadUrlKey"),
        ({"redis": {"requiredAppendfsync": "no"}}, "redis.requiredAppendfsync"),
        ({"apii": {"replicas": 2}}, ""),  # a misspelt key is refused, not ignored
        ({"worker": {"concurency": 4}}, "worker"),
    ],
)
def test_the_schema_refuses_bad_values_naming_the_field(override: dict[str, Any], field: str) -> None:
    assert field in errors(merged(values(), override))


def test_workers_expose_metrics_on_their_own_port() -> None:
    (worker,) = template_skeleton("worker-deployment.yaml")
    container = only_container(worker)
    env = {item["name"]: item.get("value") for item in container["env"] if isinstance(item, dict)}
    text = (CHART / "templates" / "worker-deployment.yaml").read_text()

    assert [p["name"] for p in container["ports"]] == ["metrics"]
    assert "{{ .Values.metrics.workerPort }}" in text
    assert env["METRICS_HOST"] == "0.0.0.0"  # noqa: S104 - Prometheus scrapes the pod's address
    assert "WORKER_METRICS_PORT" in env
    assert values()["metrics"]["workerPort"] != values()["metrics"]["port"]


def test_keda_scales_workers_on_the_celery_queue_and_replaces_their_hpa() -> None:
    documents = template_skeleton("keda-scaledobject.yaml")
    scaled = next(doc for doc in documents if doc["kind"] == "ScaledObject")
    (trigger,) = scaled["spec"]["triggers"]
    text = (CHART / "templates" / "keda-scaledobject.yaml").read_text()

    assert trigger["type"] == "redis"
    assert "listName: {{ .Values.config.celeryQueue | quote }}" in text
    assert "$.Values.worker.keda.enabled" in (CHART / "templates" / "hpa.yaml").read_text()
    assert "$worker.keda.enabled" in (CHART / "templates" / "worker-deployment.yaml").read_text()


def test_service_monitor_scrapes_a_metrics_only_headless_service() -> None:
    documents = template_skeleton("servicemonitor.yaml")
    services = [doc for doc in documents if doc["kind"] == "Service"]
    (monitor,) = [doc for doc in documents if doc["kind"] == "ServiceMonitor"]

    assert all(service["spec"]["clusterIP"] == "None" for service in services)
    assert all([p["name"] for p in service["spec"]["ports"]] == ["metrics"] for service in services)
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"


def exported_metric_names() -> set[str]:
    names = set()
    for path in [*(PROJECT_ROOT / "src").rglob("*.py"), *(PROJECT_ROOT / "workers").rglob("*.py")]:
        names |= set(re.findall(r'"(lms_[a-z_]+)"', path.read_text()))
    # The request metrics (lms.lib.telemetry.request_metrics_middleware).
    return names | {"lms_requests_total", "lms_request_duration_seconds", "lms_requests_error_total"}


def metric_names_in(expression: str) -> set[str]:
    names = set(re.findall(r"\b(lms_[a-z_]+?)(?:_bucket|_count|_sum)?\b", expression))
    return {re.sub(r"_(bucket|count|sum)$", "", name) for name in names}


def test_alert_rules_cover_the_platform_and_name_exported_metrics() -> None:
    rules = yaml.safe_load((CHART / "files" / "prometheus-alerts.yaml").read_text())["groups"][0]["rules"]
    used = set().union(*(metric_names_in(rule["expr"]) for rule in rules))

    assert used <= exported_metric_names(), used - exported_metric_names()
    alerts = {rule["alert"] for rule in rules}
    for needed in ("5xx", "Fold", "Queue", "DeadLetters", "Certificate", "Pool"):
        assert any(needed in alert for alert in alerts), needed
    assert all({"summary", "description"} <= rule["annotations"].keys() for rule in rules)


def test_the_dashboard_is_grafana_json_over_exported_metrics() -> None:
    dashboard = json.loads((CHART / "files" / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]

    assert dashboard["uid"] == "lms-platform"
    assert set().union(*(metric_names_in(e) for e in expressions)) <= exported_metric_names()
    for needed in ("lms_queue_depth", "lms_fold_lag_seconds", "lms_progress_dead_letters", "lms_emails_total"):
        assert any(needed in e for e in expressions), needed
