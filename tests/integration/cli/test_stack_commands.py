"""``grantflow reset``, ``grantflow topology prune`` and ``grantflow scenario run`` on a
private stack, through the real broker (management API), PostgreSQL and processes."""
from __future__ import annotations

import json
import os
import uuid
from pathlib import Path

import pytest
import requests
from kombu import Connection

from grantflow.cli import main
from grantflow.topology import declare_all
from shared.config import SERVICES
from shared.db.engine import drop_postgres_databases, ensure_postgres_database, normalise_url
from shared.messaging import topology as t
from tests.support.infra import PG_URL, RABBIT_API, Vhost, free_port, postgres_databases

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def own_stack(tmp_path, monkeypatch, vhost):
    """The environment of a stack of this test's own: vhost, database prefix, directory."""
    prefix = f"gft_{uuid.uuid4().hex[:10]}"
    var = tmp_path / "var"
    for key, value in {"GRANTFLOW_AMQP_URI": vhost.amqp_uri, "GRANTFLOW_DATABASE": "postgresql",
                       "GRANTFLOW_PG_URL": PG_URL, "GRANTFLOW_DB_PREFIX": prefix,
                       "GRANTFLOW_VAR": str(var), "GRANTFLOW_HOST": "127.0.0.1"}.items():
        monkeypatch.setenv(key, value)
    for name in SERVICES:
        monkeypatch.setenv(f"GRANTFLOW_{name.upper()}_PORT", str(free_port()))
    yield vhost, prefix, var
    drop_postgres_databases(PG_URL, prefix.replace("_", "\\_") + "%")


def test_reset_removes_exactly_the_stacks_vhost_databases_and_files(own_stack, capsys):
    vhost, prefix, var = own_stack
    declare_all(vhost.amqp_uri)
    for name in SERVICES:
        ensure_postgres_database(normalise_url(f"{PG_URL}/{prefix}_{name}"))
    # another stack whose prefix starts with this one's, and its directory inside var/
    ensure_postgres_database(normalise_url(f"{PG_URL}/{prefix}_demo_submission"))
    (var / "demo").mkdir(parents=True)
    (var / "demo" / "clock.json").write_text("{}")
    for entry in ("config", "log", "run", "mail"):
        (var / entry).mkdir()
        (var / entry / "x").write_text("x")
    (var / "clock.json").write_text("{}")
    (var / "demo-report.json").write_text("{}")  # not a stack's file: kept

    assert main(["reset"]) == 2  # no terminal, no --yes: refused, nothing removed
    assert "add --yes" in capsys.readouterr().err
    assert len(postgres_databases(prefix)) == 6 and (var / "config").is_dir()

    assert main(["reset", "--yes"]) == 0

    out = capsys.readouterr().out
    assert f"RabbitMQ vhost {vhost.name!r}" in out
    gone = requests.get(f"{RABBIT_API}/vhosts/{vhost.name}", timeout=10)
    assert gone.status_code == 404
    assert postgres_databases(prefix) == {f"{prefix}_demo_submission"}
    assert sorted(p.name for p in var.iterdir()) == ["demo", "demo-report.json"]
    assert (var / "demo" / "clock.json").exists()


def _declare(vhost: Vhost, name: str, message: bool = False) -> None:
    with Connection(vhost.amqp_uri) as conn:
        channel = conn.default_channel
        channel.queue_declare(name, durable=True)
        if message:
            channel.basic_publish(channel.prepare_message(b"{}"), exchange="", routing_key=name)


def test_topology_prune_deletes_only_grantflows_queues_of_handlers_that_are_gone(
        own_stack, capsys):
    vhost, _, _ = own_stack
    declare_all(vhost.amqp_uri)
    current = {q["name"] for q in vhost.queues()}
    gone = t.consumer_queue_name("submission", "proposal_submitted", "notifications",
                                 "on_old_handler")
    holding = t.consumer_queue_name("evaluation", "ranking_published", "grants", "on_renamed")
    foreign = ["evt-submission-proposal_submitted--someone_else.handler", "reports-queue"]
    _declare(vhost, gone)
    _declare(vhost, holding, message=True)
    _declare(vhost, "grantflow.delay.999ms")
    for name in foreign:
        _declare(vhost, name)

    assert main(["topology", "prune", "--dry-run"]) == 1  # one stale queue holds a message
    out = capsys.readouterr().out
    assert f"would delete {gone} (0 message(s))" in out
    assert "would delete grantflow.delay.999ms" in out
    assert f"kept    {holding} (1 message(s); --force deletes them)" in out
    assert {gone, holding, "grantflow.delay.999ms"} <= {q["name"] for q in vhost.queues()}

    assert main(["topology", "prune", "--force"]) == 0
    out = capsys.readouterr().out
    assert f"deleted {gone}" in out and f"deleted {holding} (1 message(s))" in out
    assert {q["name"] for q in vhost.queues()} == current | set(foreign)


def test_scenario_run_on_a_private_stack_then_csv_exports_from_the_services(
        own_stack, monkeypatch, capsys, tmp_path):
    """One stack for both (lean): the scenario run resets and starts a stack of its own;
    kept running, it answers the CSV exports of the rankings, assignments and mail."""
    vhost, prefix, var = own_stack
    monkeypatch.setenv("GRANTFLOW_SMTP_PORT", str(free_port()))
    monkeypatch.setenv("GRANTFLOW_CLOCK", "simulated")
    (var / "log").mkdir(parents=True)
    (var / "log" / "stale.log").write_text("from an earlier run")  # reset first
    scenario = tmp_path / "happy.yaml"  # an acronym a spreadsheet would run as a formula
    scenario.write_text((ROOT / "scenarios" / "happy-path.yaml").read_text()
                        .replace("acronym: CARE-A", 'acronym: "=CARE-A"'))
    try:
        assert main(["scenario", "run", str(scenario), "--keep-running",
                     "--json", str(tmp_path / "report.json")]) == 0
        out = capsys.readouterr().out
        assert out.startswith("reset: ") and "local SMTP server on 127.0.0.1:" in out
        assert not (var / "log" / "stale.log").exists()
        assert sorted(postgres_databases(prefix)) == sorted(f"{prefix}_{name}" for name in SERVICES)
        assert list((var / "mail").iterdir())  # the applicants' mail went to its own server
        _check_exports(tmp_path, capsys)
    finally:
        assert main(["down"]) == 0
        from grantflow.stack import stop_mail_server
        stop_mail_server()
    assert not list((var / "run").glob("*.pid"))


def _rows(path: Path) -> list[dict]:
    import csv
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _check_exports(tmp_path, capsys):
    report = json.loads((tmp_path / "report.json").read_text())
    call_id = "AMIF-2018-AG-INTE"
    assert main(["export", "rankings", call_id, "-o", str(tmp_path / "r.csv")]) == 0
    rankings = _rows(tmp_path / "r.csv")
    ranked = {p["id"]: p for p in report["proposals"] if p.get("rank")}
    assert {r["proposal_id"] for r in rankings if r["list"] != "rejected"} <= set(ranked)
    formula = [r for r in rankings if r["acronym"].endswith("CARE-A")]
    assert formula and formula[0]["acronym"] == "'=CARE-A"  # inert in a spreadsheet
    main_list = [r for r in rankings if r["list"] == "main"]
    assert [int(r["position"]) for r in main_list] == list(range(1, len(main_list) + 1))

    assert main(["export", "rankings", call_id, "--topic", "NO-SUCH-TOPIC"]) == 1
    assert "unknown topic" in capsys.readouterr().err

    assert main(["export", "assignments", "-o", str(tmp_path / "a.csv")]) == 0
    assignments = _rows(tmp_path / "a.csv")
    assert list(assignments[0]) == ["proposal_id", "expert_id", "topic_id", "reason",
                                    "assigned_at", "due_at"]

    assert main(["export", "deliveries", "-o", str(tmp_path / "d.csv")]) == 0
    deliveries = _rows(tmp_path / "d.csv")
    from grantflow.devsmtp import read_messages
    received = read_messages(Path(os.environ["GRANTFLOW_VAR"]) / "mail")
    assert len([d for d in deliveries if d["status"] == "sent"]) == len(received) > 0
    assert main(["export", "deliveries", "--status", "nonsense"]) == 2
