"""grantflow.stack: what a stack is made of, read from the GRANTFLOW_* environment, and
what a reset may touch (exactly its own)."""
from grantflow import stack


def test_the_vhost_comes_from_the_amqp_uri():
    assert stack.vhost_of("amqp://guest:guest@127.0.0.1:5672/grantflow-demo") == "grantflow-demo"
    assert stack.vhost_of("amqp://guest:guest@127.0.0.1:5672//") == "/"
    assert stack.vhost_of("amqp://guest:guest@127.0.0.1:5672") == "/"
    assert stack.vhost_of("amqp://g:g@h:5672/gf%2Fx") == "gf/x"


def test_in_the_shared_default_vhost_only_grantflows_own_queues_and_exchanges_go():
    for name in ("evt-submission-all--operations.record_submission_events",
                 "grantflow.dead-letters", "grantflow.delay.1000ms", "submission.events"):
        assert stack._own(name), name
    for name in ("amq.direct", "reports", "orders.events", "rpc-submission", ""):
        assert not stack._own(name), name


def test_the_plan_names_exactly_the_stacks_databases_and_files(tmp_path, monkeypatch):
    monkeypatch.setenv("GRANTFLOW_VAR", str(tmp_path))
    monkeypatch.setenv("GRANTFLOW_DATABASE", "postgresql")
    monkeypatch.setenv("GRANTFLOW_DB_PREFIX", "grantflow")
    monkeypatch.setenv("GRANTFLOW_AMQP_URI", "amqp://guest:guest@127.0.0.1:5672//")
    monkeypatch.delenv("GRANTFLOW_GRANTS_DATABASE_URL", raising=False)
    (tmp_path / "log").mkdir()
    (tmp_path / "demo").mkdir()  # another stack's directory inside this one's
    (tmp_path / "clock.json").write_text("{}")
    plan = stack.current_plan()
    assert plan.databases == ("grantflow_submission", "grantflow_evaluation", "grantflow_grants",
                              "grantflow_notifications", "grantflow_operations")
    assert [p.name for p in plan.entries] == ["log", "clock.json"]
    assert plan.lines()[0].startswith("Grantflow's queues and exchanges in the shared vhost '/'")


def test_a_private_stack_has_its_own_of_everything():
    demo, scenario = stack.private_environment("demo"), stack.private_environment("scenario")
    assert all(demo[k] != scenario[k] for k in ("GRANTFLOW_VAR", "GRANTFLOW_DB_PREFIX",
                                                "GRANTFLOW_AMQP_URI"))
