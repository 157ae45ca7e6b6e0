"""``grantflow deploy``: the container entrypoint execs nameko with the right class and a
config built from the environment; ``prepare`` declares the topology and creates the shared
clock once; ``rabbitmq-definitions`` writes the topology the services declare. No broker:
the exec and the broker calls are replaced."""
from __future__ import annotations

import json
import os
import stat
import sys
import tempfile
from datetime import datetime, timezone

import pytest
import yaml
from kombu.exceptions import OperationalError

import grantflow.topology
from grantflow.cli import main
from grantflow.topology import service_class, subscriptions
from shared.clock import SimulatedClock
from shared.config import HTTP_PORTS, SERVICE_CLASSES, service_config
from shared.messaging import topology as t


class Exec(Exception):
    pass


@pytest.fixture
def env(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("GRANTFLOW_"):
            monkeypatch.delenv(name)
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    values = {"GRANTFLOW_HOST": "0.0.0.0", "GRANTFLOW_DATABASE": "postgresql",
              "GRANTFLOW_PG_URL": "postgresql://postgres:pw@postgres:5432",
              "GRANTFLOW_AMQP_URI": "amqp://u:secret@rabbitmq:5672//",
              "GRANTFLOW_VAR": str(tmp_path / "var"), "GRANTFLOW_AUTH_SECRET": "s3cret"}
    for name, value in values.items():
        monkeypatch.setenv(name, value)
    return monkeypatch


@pytest.fixture
def execs(env):
    calls = []

    def fake_execv(path, argv):
        calls.append(argv)
        raise Exec()

    env.setattr(os, "execv", fake_execv)
    return calls


@pytest.mark.parametrize("name", sorted(SERVICE_CLASSES))
def test_run_execs_nameko_with_the_service_class_and_the_config_from_the_env(execs, name):
    with pytest.raises(Exec):
        main(["deploy", "run", name])
    (argv,) = execs
    assert argv[:3] == [sys.executable, "-m", "grantflow.launch"]
    assert argv[3] == "--config" and argv[5] == SERVICE_CLASSES[name]
    config = yaml.safe_load(open(argv[4]).read())
    assert config == service_config(name)
    assert config["WEB_SERVER_ADDRESS"] == f"0.0.0.0:{HTTP_PORTS[name]}"
    assert config["DATABASE_URL"] == f"postgresql://postgres:pw@postgres:5432/grantflow_{name}"
    assert service_class(name).name == name


def test_replicas_sharing_a_directory_get_their_own_config_file(execs):
    for _ in range(2):
        with pytest.raises(Exec):
            main(["deploy", "run", "grants"])
    assert execs[0][4] != execs[1][4]


def test_run_refuses_a_malformed_variable_without_starting(execs, env, capsys):
    env.setenv("GRANTFLOW_SMTP_PORT", "twenty-five")
    assert main(["deploy", "run", "notifications"]) == 2
    assert execs == []
    assert "GRANTFLOW_" in capsys.readouterr().err


def test_run_refuses_an_unknown_service(execs):
    with pytest.raises(SystemExit) as exited:
        main(["deploy", "run", "billing"])
    assert exited.value.code == 2 and execs == []


def test_config_prints_the_config_with_secrets_masked(env, capsys):
    assert main(["deploy", "config", "submission"]) == 0
    printed = capsys.readouterr().out
    config = yaml.safe_load(printed)
    assert config["AUTH_SECRET"] == "***"
    assert config["AMQP_URI"] == "amqp://u:***@rabbitmq:5672//"
    assert "secret" not in printed and ":pw@" not in printed
    assert config["WEB_SERVER_ADDRESS"] == "0.0.0.0:8101"


@pytest.fixture
def declared(env):
    calls = []

    def fake_declare_all(amqp_uri, services=None, queue_type="classic", retry_delays_ms=()):
        calls.append((amqp_uri, queue_type, list(retry_delays_ms)))
        return 7

    env.setattr(grantflow.topology, "declare_all", fake_declare_all)
    return calls


def test_prepare_declares_with_the_deployment_settings(env, declared, capsys):
    env.setenv("GRANTFLOW_QUEUE_TYPE", "quorum")
    env.setenv("GRANTFLOW_RETRY_DELAYS_MS", "100,200")
    assert main(["deploy", "prepare", "--wait", "0"]) == 0
    assert declared == [("amqp://u:secret@rabbitmq:5672//", "quorum", [100, 200])]
    assert "declared 7 queues" in capsys.readouterr().out


def test_prepare_creates_the_simulated_clock_once_readable_by_all(env, declared, tmp_path):
    env.setenv("GRANTFLOW_CLOCK", "simulated")
    path = tmp_path / "var" / "clock.json"
    assert main(["deploy", "prepare", "--wait", "0"]) == 0
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert SimulatedClock(path).state().rate == 1.0
    demo_time = datetime(2019, 1, 15, 10, tzinfo=timezone.utc)
    SimulatedClock(path).set(demo_time)
    assert main(["deploy", "prepare", "--wait", "0"]) == 0
    assert SimulatedClock(path).now() == demo_time, "a second prepare keeps the clock"


def test_prepare_leaves_the_wall_clock_alone(env, declared, tmp_path):
    assert main(["deploy", "prepare", "--wait", "0"]) == 0
    assert not (tmp_path / "var").exists()


def test_prepare_reports_a_broker_that_never_answers(env, capsys):
    def refused(*args, **kwargs):
        raise OperationalError("[Errno 111] Connection refused")

    env.setattr(grantflow.topology, "declare_all", refused)
    assert main(["deploy", "prepare", "--wait", "0"]) == 3
    err = capsys.readouterr().err
    assert "RabbitMQ does not answer at amqp://u:***@rabbitmq:5672//" in err
    assert "secret" not in err


def test_prepare_retries_while_the_broker_starts(env):
    from grantflow.commands.deploy import declare_topology

    attempts = []

    def flaky(*args, **kwargs):
        attempts.append(1)
        if len(attempts) < 3:
            raise ConnectionRefusedError()
        return 5

    env.setattr(grantflow.topology, "declare_all", flaky)
    clock = iter(range(100))
    assert declare_topology(30, sleep=lambda s: None, monotonic=lambda: next(clock)) == 5
    assert len(attempts) == 3


@pytest.fixture(scope="module")
def definitions(tmp_path_factory):
    path = tmp_path_factory.mktemp("definitions") / "definitions.json"
    assert main(["deploy", "rabbitmq-definitions", "--output", str(path)]) == 0
    return json.loads(path.read_text())


def test_definitions_hold_every_consumer_queue_as_a_quorum_queue(definitions):
    queues = {q["name"]: q for q in definitions["queues"]}
    bindings = {(b["source"], b["destination"], b["routing_key"])
                for b in definitions["bindings"]}
    expected = 0
    for name in SERVICE_CLASSES:
        cls = service_class(name)
        for producer, event_type, method in subscriptions(cls):
            expected += 1
            queue = t.consumer_queue_name(producer, event_type, cls.name, method)
            assert queues[queue]["arguments"] == {"x-queue-type": "quorum"}
            assert queues[queue]["durable"] and not queues[queue]["auto_delete"]
            key = "#" if event_type == t.ALL_EVENTS else event_type
            assert (f"{producer}.events", queue, key) in bindings
            assert (t.REQUEUE_EXCHANGE, queue, queue) in bindings
    assert expected > 0
    assert len([q for q in queues if q.startswith("evt-")]) == expected


def test_definitions_hold_the_retry_and_dead_letter_infrastructure(definitions):
    queues = {q["name"]: q for q in definitions["queues"]}
    exchanges = {e["name"]: e for e in definitions["exchanges"]}
    for delay in service_config("operations")["EVENT_RETRY"]["delays_ms"]:
        queue = queues[f"grantflow.delay.{delay}ms"]
        assert queue["arguments"]["x-message-ttl"] == delay
        assert queue["arguments"]["x-dead-letter-exchange"] == t.REQUEUE_EXCHANGE
    assert queues[t.DEAD_LETTER_QUEUE]["arguments"] == {"x-queue-type": "quorum"}
    assert exchanges[t.DEAD_LETTER_EXCHANGE]["type"] == "fanout"
    assert exchanges[t.REQUEUE_EXCHANGE]["type"] == "direct"
    for name, exchange in exchanges.items():
        assert exchange["durable"], name
        if name.endswith(".events"):
            assert exchange["type"] == "topic"
    assert {b["source"] for b in definitions["bindings"]} <= set(exchanges)


def test_definitions_can_be_classic_and_go_to_stdout(capsys):
    assert main(["deploy", "rabbitmq-definitions", "--queue-type", "classic"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert all("x-queue-type" not in q["arguments"] for q in printed["queues"])


def test_definitions_report_an_unwritable_output(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("")
    assert main(["deploy", "rabbitmq-definitions", "--output", str(blocker / "d.json")]) == 1
    assert "cannot write" in capsys.readouterr().err
