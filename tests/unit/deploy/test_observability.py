"""Prometheus scrape configs, alert rules and the Grafana dashboard against the code: every
service scraped on its port at /metrics, every metric name the rules and panels use exposed
by the services (or by RabbitMQ/Prometheus themselves), datasources and mounts consistent.
promtool (installed by `make test`) checks the configs and each alert's expression is evaluated
on sample series (it must fire on the bad case and stay quiet on the good one)."""
from __future__ import annotations

import json
import subprocess

import pytest
import yaml

from grantflow.validators import require
from shared.config import HTTP_PORTS, SERVICE_CLASSES
from shared.messaging.topology import DEAD_LETTER_QUEUE
from tests.support.deploy_files import (
    DEPLOY, ROOT, bind_mounts, compose_services, defined_metric_names, grafana_panels,
    k8s_objects, promql_metric_names)

PROMETHEUS = DEPLOY / "prometheus"
GRAFANA = DEPLOY / "grafana"
# series that RabbitMQ's rabbitmq_prometheus plugin (per-object mode) and Prometheus itself
# expose; everything else must be defined by Grantflow's code
EXTERNAL_METRICS = {"up", "rabbitmq_queue_messages", "rabbitmq_queue_messages_ready",
                    "rabbitmq_queue_messages_unacked", "rabbitmq_queue_consumers"}


def _alert_rules() -> dict[str, dict]:
    groups = yaml.safe_load((PROMETHEUS / "alerts.yml").read_text())["groups"]
    return {rule["alert"]: rule for group in groups for rule in group["rules"]}


def _dashboard() -> dict:
    return json.loads((GRAFANA / "dashboards" / "grantflow.json").read_text())


@pytest.fixture(scope="module")
def defined_metrics() -> set[str]:
    return defined_metric_names()


def test_compose_prometheus_scrapes_every_service_on_its_port():
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    grantflow = jobs["grantflow"]
    assert grantflow.get("metrics_path", "/metrics") == "/metrics"
    targets = {target: static.get("labels", {}).get("app")
               for static in grantflow["static_configs"] for target in static["targets"]}
    assert targets == {f"{name}:{port}": name for name, port in HTTP_PORTS.items()}
    assert set(HTTP_PORTS) == set(SERVICE_CLASSES)
    (rabbitmq,) = [t for s in jobs["rabbitmq"]["static_configs"] for t in s["targets"]]
    assert rabbitmq == "rabbitmq:15692"


def test_rule_files_and_configs_are_mounted_where_prometheus_reads_them():
    prometheus = compose_services()["prometheus"]
    mounts = {target: source for source, target in bind_mounts(prometheus)}
    config_flag = next(a for a in prometheus["command"] if a.startswith("--config.file="))
    config_path = config_flag.split("=", 1)[1]
    assert (ROOT / mounts[config_path]).resolve() == PROMETHEUS / "prometheus.yml"
    for config_file in ("prometheus.yml", "prometheus-k8s.yml"):
        config = yaml.safe_load((PROMETHEUS / config_file).read_text())
        for rule_file in config["rule_files"]:
            assert (ROOT / mounts[rule_file]).resolve() == PROMETHEUS / "alerts.yml"
    k8s_config = k8s_objects("ConfigMap")["prometheus-config"]["data"]
    assert k8s_config["prometheus.yml"] == (PROMETHEUS / "prometheus-k8s.yml").read_text()
    assert k8s_config["alerts.yml"] == (PROMETHEUS / "alerts.yml").read_text()


def test_kubernetes_prometheus_follows_the_pod_annotations():
    config = yaml.safe_load((PROMETHEUS / "prometheus-k8s.yml").read_text())
    (pods,) = [job for job in config["scrape_configs"] if job["job_name"] == "pods"]
    relabels = {tuple(r.get("source_labels", ())): r for r in pods["relabel_configs"]}
    for annotation in ("scrape", "path", "job"):
        assert (f"__meta_kubernetes_pod_annotation_prometheus_io_{annotation}",) in relabels
    assert ("__address__", "__meta_kubernetes_pod_annotation_prometheus_io_port") in relabels


def test_alert_rules_cover_the_issue():
    rules = _alert_rules()
    used = {name: promql_metric_names(rule["expr"]) for name, rule in rules.items()}
    wanted = {
        "dead letters in the queue": "rabbitmq_queue_messages",
        "dead-lettered counter": "grantflow_dead_lettered_total",
        "outbox age": "grantflow_outbox_oldest_age_seconds",
        "outbox backlog": "grantflow_outbox_backlog",
        "TTI/TTG breaches": "grantflow_time_target_breaches_total",
        "service down": "up",
        "handler errors": "grantflow_events_consumed_total",
        "mail possibly sent twice": "notifications_possible_duplicates_total",
    }
    for what, metric in wanted.items():
        assert any(metric in names for names in used.values()), f"no alert on {what}"
    assert f'queue="{DEAD_LETTER_QUEUE}"' in rules["GrantflowDeadLetters"]["expr"]
    for name, rule in rules.items():
        assert rule["labels"]["severity"] in ("critical", "warning"), name
        assert rule["annotations"]["summary"], name


def test_every_metric_in_the_alert_rules_is_exposed(defined_metrics):
    for name, rule in _alert_rules().items():
        unknown = promql_metric_names(rule["expr"]) - defined_metrics - EXTERNAL_METRICS
        assert not unknown, f"alert {name} uses {unknown}, which nothing exposes"


def test_every_metric_on_the_dashboard_is_exposed(defined_metrics):
    queries = [(panel["title"], target["expr"]) for panel in grafana_panels(_dashboard())
               for target in panel.get("targets", [])]
    assert len(queries) >= 15
    for title, expr in queries:
        unknown = promql_metric_names(expr) - defined_metrics - EXTERNAL_METRICS
        assert not unknown, f"panel {title!r} uses {unknown}, which nothing exposes"


def test_dashboard_shows_the_issue_s_measures():
    used = set().union(*(promql_metric_names(t["expr"]) for p in grafana_panels(_dashboard())
                         for t in p.get("targets", [])))
    for metric in ("grantflow_time_to_inform_days_bucket", "grantflow_time_to_grant_days_bucket",
                   "grantflow_time_target_breaches_total", "grantflow_outbox_backlog",
                   "grantflow_events_consumed_total", "rabbitmq_queue_messages"):
        assert metric in used


def test_dashboard_panels_use_the_provisioned_datasource():
    provisioned = yaml.safe_load(
        (GRAFANA / "provisioning" / "datasources" / "prometheus.yml").read_text())
    (datasource,) = provisioned["datasources"]
    assert datasource["url"] == "http://prometheus:9090"
    assert "prometheus" in compose_services() and "prometheus" in k8s_objects("Service")
    dashboard = _dashboard()
    ids = [panel["id"] for panel in grafana_panels(dashboard)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in grafana_panels(dashboard):
        for target in panel.get("targets", []):
            assert target["datasource"]["uid"] == datasource["uid"], panel["title"]


def test_grafana_loads_the_dashboard_from_where_it_is_mounted():
    providers = yaml.safe_load(
        (GRAFANA / "provisioning" / "dashboards" / "grantflow.yml").read_text())["providers"]
    (path,) = [p["options"]["path"] for p in providers]
    grafana = compose_services()["grafana"]
    mounts = {target: source for source, target in bind_mounts(grafana)}
    assert (ROOT / mounts[path]).resolve() == GRAFANA / "dashboards"
    k8s_grafana = k8s_objects("Deployment")["grafana"]["spec"]["template"]["spec"]
    (container,) = k8s_grafana["containers"]
    volumes = {v["name"]: v for v in k8s_grafana["volumes"]}
    (mount,) = [m for m in container["volumeMounts"] if m["mountPath"] == path]
    dashboards = k8s_objects("ConfigMap")[volumes[mount["name"]]["configMap"]["name"]]["data"]
    assert json.loads(dashboards["grantflow.json"]) == _dashboard()


# --- with promtool ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def promtool() -> str:
    """Never skipped: ``make test`` installs it (grantflow.validators); missing, it fails
    with the command that installs it."""
    return require("promtool")


def test_promtool_accepts_the_rules_and_the_compose_config(tmp_path, promtool):
    (tmp_path / "alerts.yml").write_text((PROMETHEUS / "alerts.yml").read_text())
    config = (PROMETHEUS / "prometheus.yml").read_text().replace("/etc/prometheus/", "")
    (tmp_path / "prometheus.yml").write_text(config)
    for args in (["check", "rules", "alerts.yml"], ["check", "config", "prometheus.yml"]):
        done = subprocess.run([promtool, *args], cwd=tmp_path, capture_output=True, text=True,
                              timeout=60)
        assert done.returncode == 0, done.stdout + done.stderr


# (alert, input series, minute to evaluate at, whether the expression returns something)
ALERT_CASES = [
    ("GrantflowTimeTargetBreached",
     ['grantflow_time_target_breaches_total{service="grants",call_id="C",measure="tti"}',
      "_x30 1x90"], 40, True),   # a series that first appears at 1: the first breach
    ("GrantflowTimeTargetBreached",
     ['grantflow_time_target_breaches_total{service="grants",call_id="C",measure="tti"}',
      "1x30 2x90"], 40, True),
    ("GrantflowTimeTargetBreached",
     ['grantflow_time_target_breaches_total{service="grants",call_id="C",measure="tti"}',
      "1x200"], 180, False),     # an old breach, nothing new
    ("GrantflowMessagesDeadLettered",
     ['grantflow_dead_lettered_total{service="grants",event_type="x"}', "_x30 1x30"], 35, True),
    ("GrantflowMessagesDeadLettered",
     ['grantflow_dead_lettered_total{service="grants",event_type="x"}', "1x60"], 50, False),
    ("GrantflowDeadLetters",
     [f'rabbitmq_queue_messages{{queue="{DEAD_LETTER_QUEUE}",vhost="/"}}', "0x10 2x10"], 15,
     True),
    ("GrantflowDeadLetters",
     [f'rabbitmq_queue_messages{{queue="{DEAD_LETTER_QUEUE}",vhost="/"}}', "0x20"], 15, False),
    ("GrantflowOutboxStuck",
     ['grantflow_outbox_oldest_age_seconds{service="submission"}', "0x5 120x10"], 10, True),
    ("GrantflowOutboxStuck",
     ['grantflow_outbox_oldest_age_seconds{service="submission"}', "30x15"], 10, False),
    ("NotificationsPossibleDuplicates",
     ['notifications_possible_duplicates_total{service="notifications",template="t"}',
      "_x30 1x30"], 35, True),  # the first resend of the process
    ("NotificationsPossibleDuplicates",
     ['notifications_possible_duplicates_total{service="notifications",template="t"}',
      "1x90"], 80, False),
    ("GrantflowServiceDown", ['up{job="grantflow",app="grants"}', "1x5 0x5"], 8, True),
    ("GrantflowServiceDown", ['up{job="grantflow",app="grants"}', "1x10"], 8, False),
    ("GrantflowHandlerFailureRate",
     ['grantflow_events_consumed_total{service="s",event_type="e",outcome="processed"}',
      "0+10x30",
      'grantflow_events_consumed_total{service="s",event_type="e",outcome="retried"}',
      "0+5x30"], 20, True),
    ("GrantflowHandlerFailureRate",
     ['grantflow_events_consumed_total{service="s",event_type="e",outcome="processed"}',
      "0+10x30"], 20, False),
]


@pytest.mark.parametrize("alert,series,minute,fires", ALERT_CASES)
def test_alert_expression_on_sample_series(tmp_path, promtool, alert, series, minute, fires):
    """promtool evaluates the alert's expression at ``minute``; we expect no sample, so
    promtool passes when the expression stays quiet and lists what it got when it fires."""
    (tmp_path / "empty_rules.yml").write_text("groups: []\n")
    (tmp_path / "test.yml").write_text(yaml.safe_dump({
        "rule_files": ["empty_rules.yml"],
        "evaluation_interval": "1m",
        "tests": [{
            "interval": "1m",
            "input_series": [{"series": series[i], "values": series[i + 1]}
                             for i in range(0, len(series), 2)],
            "promql_expr_test": [{"expr": _alert_rules()[alert]["expr"],
                                  "eval_time": f"{minute}m", "exp_samples": []}],
        }],
    }))
    done = subprocess.run([promtool, "test", "rules", "test.yml"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=60)
    output = done.stdout + done.stderr
    if done.returncode == 0:
        assert not fires, f"{alert} stays quiet on {series}"
    else:
        assert "got:" in output, output  # a failed comparison, not a broken test file
        assert fires, f"{alert} fires on {series}:\n{output}"
