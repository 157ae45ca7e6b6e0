"""docker-compose.yml against the code: every service, built from the repository's Dockerfile,
on its configured port, with environment variables shared/config.py reads, and infrastructure
that starts in a sane order. No Docker needed."""
from __future__ import annotations

import re
from urllib.parse import urlparse

import pytest

from shared.config import HTTP_PORTS, SERVICE_CLASSES
from tests.support.deploy_files import (
    ROOT, bind_mounts, compose, compose_services, depends_on, environment,
    known_environment_variables, published_ports)

APP_SERVICES = sorted(SERVICE_CLASSES)
INFRASTRUCTURE = {  # compose service -> (image must contain, container ports it must publish)
    "rabbitmq": ("rabbitmq:", {5672, 15672, 15692}),
    "postgres": ("postgres:", {5432}),
    "mailpit": ("mailpit", {1025, 8025}),
    "prometheus": ("prometheus", {9090}),
    "grafana": ("grafana", {3000}),
}


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_service_runs_from_the_repository_image(name):
    service = compose_services()[name]
    build = service["build"]
    assert (ROOT / build["context"]).resolve() == ROOT
    assert (ROOT / build["context"] / build["dockerfile"]).is_file()
    assert build["dockerfile"] == "deploy/Dockerfile"
    assert service["command"] == ["deploy", "run", name]
    assert service["image"] == compose_services()["prepare"]["image"], \
        "one image for every service, built once"


@pytest.mark.parametrize("name", APP_SERVICES)
def test_every_service_listens_and_is_checked_on_its_configured_port(name):
    service = compose_services()[name]
    port = HTTP_PORTS[name]
    assert environment(service)["GRANTFLOW_HOST"] == "0.0.0.0"
    assert [(host, container) for _, host, container in published_ports(service)] == \
        [(port, port)]
    assert all(address == "127.0.0.1" for address, _, _ in published_ports(service))
    probe = " ".join(service["healthcheck"]["test"])
    assert f"127.0.0.1:{port}/health" in probe


def test_no_two_services_publish_the_same_host_port():
    seen = {}
    for name, service in compose_services().items():
        for _, host_port, _ in published_ports(service):
            assert host_port not in seen, f"{name} and {seen.get(host_port)} publish {host_port}"
            seen[host_port] = name


@pytest.mark.parametrize("name", sorted(INFRASTRUCTURE))
def test_infrastructure_is_present(name):
    fragment, ports = INFRASTRUCTURE[name]
    service = compose_services()[name]
    assert fragment in service["image"]
    assert ":" in service["image"] and not service["image"].endswith(":latest"), \
        "pin image versions"
    assert ports <= {container for _, _, container in published_ports(service)}


def test_rabbitmq_has_the_management_ui_and_the_prometheus_exporter():
    rabbitmq = compose_services()["rabbitmq"]
    assert "management" in rabbitmq["image"]
    plugins_mount = dict((t, s) for s, t in bind_mounts(rabbitmq))["/etc/rabbitmq/enabled_plugins"]
    plugins = (ROOT / plugins_mount).read_text()
    assert "rabbitmq_management" in plugins and "rabbitmq_prometheus" in plugins


def test_every_grantflow_variable_is_one_the_code_reads():
    known = known_environment_variables()
    for name, service in compose_services().items():
        for variable in environment(service):
            if variable.startswith("GRANTFLOW_"):
                assert variable in known, f"{name} sets {variable}, which nothing reads"


def test_environment_points_at_the_compose_services():
    services = compose_services()
    for name in APP_SERVICES + ["prepare"]:
        env = environment(services[name])
        amqp, pg = urlparse(env["GRANTFLOW_AMQP_URI"]), urlparse(env["GRANTFLOW_PG_URL"])
        assert (amqp.hostname, amqp.port) == ("rabbitmq", 5672)
        assert (pg.hostname, pg.port) == ("postgres", 5432)
        # the same variable of .env, required (":?") where PostgreSQL sets it
        assert pg.password == "${GRANTFLOW_POSTGRES_PASSWORD}"
        assert environment(services["postgres"])["POSTGRES_PASSWORD"].startswith(
            "${GRANTFLOW_POSTGRES_PASSWORD:?")
        assert env["GRANTFLOW_SMTP_HOST"] == "mailpit" and env["GRANTFLOW_SMTP_PORT"] == "1025"
        assert env["GRANTFLOW_DATABASE"] == "postgresql"


def test_services_share_the_simulated_clock_with_prepare():
    services = compose_services()
    volumes = {name: services[name]["volumes"] for name in APP_SERVICES + ["prepare"]}
    assert len({tuple(v) for v in volumes.values()}) == 1, "one shared clock directory"
    env = environment(services["prepare"])
    assert env["GRANTFLOW_CLOCK"] == "simulated"
    assert any(target == env["GRANTFLOW_VAR"] for _, target in bind_mounts(services["prepare"]))


def test_start_up_order_is_sane():
    services = compose_services()
    for name, service in services.items():
        for dependency, spec in depends_on(service).items():
            assert dependency in services, f"{name} depends on unknown {dependency}"
            condition = spec["condition"]
            if condition == "service_healthy":
                assert "healthcheck" in services[dependency], \
                    f"{name} waits for {dependency} to be healthy, which has no healthcheck"
            elif condition == "service_completed_successfully":
                assert services[dependency].get("restart", "no") == "no", \
                    f"{dependency} must be a one-shot container"
            else:
                assert condition == "service_started"
    for name in APP_SERVICES:
        deps = depends_on(services[name])
        assert deps["prepare"]["condition"] == "service_completed_successfully"
        assert deps["rabbitmq"]["condition"] == "service_healthy"
        assert deps["postgres"]["condition"] == "service_healthy"
    assert depends_on(services["notifications"])["mailpit"]["condition"] == "service_healthy"
    assert services["prepare"]["command"][:2] == ["deploy", "prepare"]
    assert depends_on(services["prepare"])["rabbitmq"]["condition"] == "service_healthy"
    _assert_acyclic({name: set(depends_on(s)) for name, s in services.items()})


def _assert_acyclic(graph: dict[str, set[str]]) -> None:
    done, active = set(), set()

    def visit(node, path):
        assert node not in active, f"dependency cycle: {' -> '.join(path + [node])}"
        if node in done:
            return
        active.add(node)
        for successor in graph.get(node, ()):
            visit(successor, path + [node])
        active.discard(node)
        done.add(node)

    for node in graph:
        visit(node, [])


def test_bind_mounted_files_exist_and_named_volumes_are_declared():
    declared = set(compose().get("volumes") or {})
    for name, service in compose_services().items():
        for entry in service.get("volumes") or []:
            source = str(entry).split(":")[0]
            if source.startswith("./var/"):
                continue  # created by the user (README: mkdir -p var/compose)
            if source.startswith("."):
                assert (ROOT / source).exists(), f"{name} mounts missing {source}"
            else:
                assert source in declared, f"{name} uses undeclared volume {source}"


def test_healthchecks_are_exec_form():
    for name, service in compose_services().items():
        if "healthcheck" in service:
            test = service["healthcheck"]["test"]
            assert isinstance(test, list) and test[0] in ("CMD", "CMD-SHELL"), name


def test_compose_header_names_the_uis():
    header = (ROOT / "docker-compose.yml").read_text().split("\nname:")[0]
    for port in ("15672", "8025", "9090", "3000"):
        assert re.search(rf"\b{port}\b", header)
