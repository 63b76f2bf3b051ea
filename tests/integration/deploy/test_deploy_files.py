"""deploy/ checked by the tools' own validators where they install here, and against our own code otherwise.

- dagster.yaml and workspace.yaml: Dagster's config schemas (and a misspelt key must fail them).
- docker-compose.yml: the compose-spec JSON schema (vendored by check-jsonschema), plus its topology.
- helm/values.yaml: the chart's schema is not on any registry here, so its daemon settings are rendered the way
  the chart renders them and validated with Dagster's instance schema; the chart keys we rely on are asserted.
- prometheus/: ``promtool check config``, ``check rules`` and ``test rules`` (promtool installed with apt if missing).
- Grafana dashboards and alert rules: every metric they name is one the service exports.
- Dockerfiles: built only where a container engine answers; otherwise skipped, saying so.
"""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from dagster._core.errors import DagsterInvalidConfigError
from dagster._core.instance.config import dagster_instance_config
from dagster._core.workspace.config_schema import ensure_workspace_config
from prometheus_client.parser import text_string_to_metric_families

from mca_resources.forecasting.metrics import ServiceMetrics
from mca_serving.calibration_metrics import CalibrationCollector
from tests.conftest import REPO

DEPLOY = REPO / "deploy"
SERVICES = {"postgres", "user_code", "webserver", "daemon", "api", "prometheus", "grafana"}


def load(name: str) -> Any:
    return yaml.safe_load((DEPLOY / name).read_text())


def validate_instance(config: dict[str, Any], tmp_path: Path) -> None:
    (tmp_path / "dagster.yaml").write_text(yaml.safe_dump(config))
    dagster_instance_config(str(tmp_path), "dagster.yaml")


def test_dagster_yaml_passes_dagsters_schema_and_a_typo_fails_it(tmp_path: Path) -> None:
    config = load("dagster.yaml")
    validate_instance(config, tmp_path)
    assert config["concurrency"]["runs"]["tag_concurrency_limits"][0] == {"key": "dagster/backfill", "limit": 2}
    assert config["telemetry"] == {"enabled": False}
    assert set(config["storage"]) == {"postgres"}
    broken = copy.deepcopy(config)
    broken["run_monitoring"]["poll_interval_secs"] = 60
    with pytest.raises(DagsterInvalidConfigError):
        validate_instance(broken, tmp_path)


def test_workspace_points_at_the_code_server_of_the_compose_file() -> None:
    workspace = load("workspace.yaml")
    ensure_workspace_config(workspace, str(DEPLOY / "workspace.yaml"))
    server = workspace["load_from"][0]["grpc_server"]
    compose = load("docker-compose.yml")
    assert server["host"] in compose["services"]
    assert str(server["port"]) in compose["services"][server["host"]]["command"]
    with pytest.raises(DagsterInvalidConfigError):
        ensure_workspace_config({"load_from": [{"grpc_srv": server}]}, "x.yaml")


def compose_schema() -> dict[str, Any]:
    path = resources.files("check_jsonschema.builtin_schemas.vendor").joinpath("compose-spec.json")
    return json.loads(path.read_text())


def test_compose_file_follows_the_compose_spec_and_holds_the_topology() -> None:
    compose = load("docker-compose.yml")
    schema = compose_schema()
    jsonschema.validate(compose, schema)
    assert set(compose["services"]) == SERVICES
    broken = copy.deepcopy(compose)
    broken["services"]["api"]["portz"] = ["8000:8000"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    # every bind mount of the repository exists; every password is a reference to the environment
    for name, service in compose["services"].items():
        for volume in service.get("volumes", []):
            source = volume.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
        environment = service.get("environment", {})
        for key, value in environment.items():
            if "PASSWORD" in key:
                assert str(value).startswith("${"), (name, key)
    text = (DEPLOY / "docker-compose.yml").read_text()
    assert "MCA_WAREHOUSE" in text
    assert (DEPLOY / ".env.example").is_file()


def snake_case(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def render_daemon_settings(daemon: dict[str, Any], top: dict[str, Any]) -> dict[str, Any]:
    """The dagster.yaml the dagster/dagster chart renders from its daemon values (camelCase -> snake_case)."""
    queued = daemon["runCoordinator"]["config"]["queuedRunCoordinator"]
    retries = daemon["runRetries"]
    return {
        "run_coordinator": {
            "module": "dagster.core.run_coordinator",
            "class": "QueuedRunCoordinator",
            "config": {
                "max_concurrent_runs": queued["maxConcurrentRuns"],
                "tag_concurrency_limits": queued["tagConcurrencyLimits"],
            },
        },
        "run_monitoring": {snake_case(k): v for k, v in daemon["runMonitoring"].items()},
        "run_retries": {
            "enabled": retries["enabled"],
            "max_retries": retries["maxRetries"],
            "retry_on_asset_or_op_failure": retries["retryOnAssetOrOpFailure"],
        },
        **{
            name: {"use_threads": daemon[name]["useThreads"], "num_workers": daemon[name]["numWorkers"]}
            for name in ("sensors", "schedules", "backfills")
        },
        "retention": {
            "schedule": {"purge_after_days": top["retention"]["schedule"]["purgeAfterDays"]},
            "sensor": {"purge_after_days": top["retention"]["sensor"]["purgeAfterDays"]},
        },
        "telemetry": {"enabled": top["telemetry"]["enabled"]},
    }


def test_helm_values_render_a_valid_instance_with_the_k8s_launcher_and_external_postgres(tmp_path: Path) -> None:
    values = load("helm/values.yaml")
    validate_instance(render_daemon_settings(values["dagsterDaemon"], values), tmp_path)
    assert values["runLauncher"]["type"] == "K8sRunLauncher"
    assert values["postgresql"]["enabled"] is False
    assert values["postgresql"]["postgresqlHost"]
    assert values["generatePostgresqlPasswordSecret"] is False
    assert values["global"]["postgresqlSecretName"]
    deployment = values["dagster-user-deployments"]["deployments"][0]
    assert deployment["dagsterApiGrpcArgs"] == ["-m", "mca_assets.definitions"]
    assert {"name": "mca-env"} in values["runLauncher"]["config"]["k8sRunLauncher"]["envSecrets"]
    limits = values["dagsterDaemon"]["runCoordinator"]["config"]["queuedRunCoordinator"]["tagConcurrencyLimits"]
    assert {"key": "dagster/backfill", "limit": 16} in limits
    text = (DEPLOY / "helm" / "values.yaml").read_text().lower()
    assert "password:" not in text  # secrets come from Secrets, never from values


def ensure_promtool() -> str:
    """promtool on PATH, or installed from Debian's ``prometheus`` package when we are root with apt-get."""
    found = shutil.which("promtool")
    if found:
        return found
    if os.geteuid() == 0 and shutil.which("apt-get"):
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        install = ["apt-get", "install", "-y", "--no-install-recommends", "prometheus"]
        if subprocess.run(install, env=env, capture_output=True, timeout=900).returncode != 0:
            subprocess.run(["apt-get", "update"], env=env, capture_output=True, timeout=600)
            subprocess.run(install, env=env, capture_output=True, timeout=900)
    found = shutil.which("promtool")
    if not found:
        pytest.fail("promtool not found and not installable (apt-get install prometheus needs root on Debian)")
    return found


def test_prometheus_config_rules_and_rule_tests_pass_promtool() -> None:
    promtool = ensure_promtool()
    for argv in (
        ["check", "config", "prometheus/prometheus.yml"],
        ["check", "rules", "prometheus/alerts.yml"],
        ["test", "rules", "prometheus/alerts_test.yml"],
    ):
        done = subprocess.run([promtool, *argv], cwd=DEPLOY, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, (argv, done.stdout, done.stderr)
        assert "SUCCESS" in done.stdout + done.stderr


def exported_metric_names() -> set[str]:
    """Every sample name the service's /metrics can show: its own registry and the calibration gauges."""
    metrics = ServiceMetrics()
    names = {s.name for f in text_string_to_metric_families(_exposition(metrics)) for s in f.samples}
    names |= {f.name for f in metrics.registry.collect()}
    names |= {f.name for f in CalibrationCollector(lambda sql, params: None).collect()}
    return names | {"up"}


def _exposition(metrics: ServiceMetrics) -> str:
    from prometheus_client import generate_latest

    return generate_latest(metrics.registry).decode()


def named_metrics(expr: str) -> set[str]:
    return set(re.findall(r"\b((?:tsfm|mca)_[a-z0-9_]+|up)\b(?=\s*[{\[)=<>!*/+-]|\s*$)", expr))


def test_dashboards_and_rules_name_only_metrics_the_service_exports() -> None:
    exported = exported_metric_names()
    families = exported | {n + suffix for n in exported for suffix in ("_total", "_bucket", "_count", "_sum")}
    exprs: list[tuple[str, str]] = []
    for path in sorted((DEPLOY / "grafana" / "dashboards").glob("*.json")):
        board = json.loads(path.read_text())
        assert board["uid"].startswith("mca-")
        assert board["panels"]
        for panel in board["panels"]:
            assert panel["datasource"]["uid"] == "mca-prometheus"
            exprs += [(f"{path.name}: {panel['title']}", t["expr"]) for t in panel["targets"]]
    assert {p.stem for p in (DEPLOY / "grafana" / "dashboards").glob("*.json")} == {
        "service", "pipeline", "calibration_quality"
    }  # fmt: skip
    for group in load("prometheus/alerts.yml")["groups"]:
        exprs += [(rule["alert"], str(rule["expr"])) for rule in group["rules"]]
    assert len(exprs) >= 20
    for where, expr in exprs:
        names = named_metrics(expr)
        assert names, (where, expr)
        assert names <= families, (where, names - families)


def container_engine() -> str | None:
    docker = shutil.which("docker") or shutil.which("podman")
    if docker is None:
        return None
    try:
        ok = subprocess.run([docker, "info"], capture_output=True, timeout=30).returncode == 0
    except subprocess.TimeoutExpired:
        ok = False
    return docker if ok else None


@pytest.mark.parametrize("dockerfile", ["Dockerfile", "Dockerfile.dagster"])
def test_dockerfiles_build_where_a_container_engine_runs(dockerfile: str) -> None:
    engine = container_engine()
    if engine is None:
        pytest.skip("no container engine answers here (docker/podman info fails): the image build is not tested")
    done = subprocess.run(
        [engine, "build", "-f", f"deploy/{dockerfile}", "-t", f"mca-test-{dockerfile.lower()}", "."],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=1800,
    )
    assert done.returncode == 0, done.stderr[-3000:]
