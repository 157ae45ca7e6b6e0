"""grantflow.stack: what a stack is made of, read from the GRANTFLOW_* environment, and
what a reset may touch (exactly its own), and who holds it."""
import os
import subprocess
import sys

import pytest

from grantflow import stack
from grantflow.cli import main


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


# --------------------------------------------------------------------------- who holds it
HOLD = ("import time\n"
        "from grantflow import stack\n"
        "with stack.held('grantflow demo'):\n"
        "    print('held', flush=True)\n"
        "    time.sleep(60)\n")


@pytest.fixture
def stack_dir(tmp_path, monkeypatch):
    """A stack of nobody's: a reset that got through would touch only names that exist
    nowhere (vhost, databases) and this directory."""
    var = tmp_path / "var"
    var.mkdir()
    (var / "clock.json").write_text("{}")
    for key, value in {"GRANTFLOW_VAR": str(var), "GRANTFLOW_DATABASE": "postgresql",
                       "GRANTFLOW_DB_PREFIX": "gft_nobody_held",
                       "GRANTFLOW_AMQP_URI": "amqp://guest:guest@127.0.0.1:5672/gft-nobody-held",
                       "GRANTFLOW_SMTP_PORT": "1"}.items():
        monkeypatch.setenv(key, value)
    return var


def test_a_stack_held_by_another_process_is_refused_at_once_naming_the_holder(stack_dir):
    holder = subprocess.Popen([sys.executable, "-c", HOLD], stdout=subprocess.PIPE,
                              text=True, env=os.environ)
    try:
        assert holder.stdout.readline() == "held\n"
        with pytest.raises(stack.StackBusy) as refused:
            with stack.held("grantflow reset"):
                pytest.fail("a second holder got in")
        assert f"(grantflow demo, pid {holder.pid}, since " in str(refused.value)
        assert str(stack_dir) in str(refused.value)
    finally:
        holder.kill()
        holder.wait()
    with stack.held("grantflow reset"):  # a holder that dies lets go
        assert "grantflow reset, pid" in (stack_dir / stack.LOCK_NAME).read_text()


def test_grantflow_reset_and_demo_on_a_held_stack_exit_3_and_touch_nothing(stack_dir, capsys):
    with stack.held("grantflow scenario run happy.yaml"):
        assert main(["reset", "--yes"]) == 3
        assert "is in use (grantflow scenario run happy.yaml, pid" in capsys.readouterr().err
        assert main(["demo", "--proposals", "1", "--experts", "1", "--json", ""]) == 3
        assert "is in use (grantflow scenario run happy.yaml" in capsys.readouterr().err
    assert (stack_dir / "clock.json").exists()


def test_a_reset_lets_go_without_leaving_its_lock_file(stack_dir):
    with stack.held("grantflow reset", release_file=True) as path:
        assert path.exists()
    assert not path.exists()
    with stack.held("again"):  # and the stack can be held again
        pass


def test_a_lock_file_replaced_while_locking_is_locked_anew(stack_dir, monkeypatch):
    """The holder of a reset removes the file as it lets go: whoever opened the old file
    just before must not hold a lock nobody else can see."""
    path, real_flock, calls = stack_dir / stack.LOCK_NAME, stack.fcntl.flock, []

    def flock_then_replaced(fd, operation):
        real_flock(fd, operation)
        if not calls:  # the first time: the file is removed and another one made
            path.unlink()
            path.write_text("")
        calls.append(fd)

    monkeypatch.setattr(stack.fcntl, "flock", flock_then_replaced)
    with stack.held("a replay"):
        assert len(calls) == 2
        with pytest.raises(stack.StackBusy):  # the lock now held is the file's at the path
            monkeypatch.setattr(stack.fcntl, "flock", real_flock)
            with stack.held("another"):
                pass


def test_a_directory_that_cannot_be_written_is_a_clear_stack_error(stack_dir, monkeypatch):
    (stack_dir / "file").write_text("")
    monkeypatch.setenv("GRANTFLOW_VAR", str(stack_dir / "file" / "var"))  # under a file
    with pytest.raises(stack.StackError) as refused:
        with stack.held("grantflow demo"):
            pytest.fail("held a stack that has no directory")
    assert f"cannot hold the stack in {stack_dir / 'file' / 'var'}: " in str(refused.value)
