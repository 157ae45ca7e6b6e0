"""The machine reference printed beside the benchmarks' figures (bench/reference.py): a
fixed Python workload and the smallest PostgreSQL transaction, on a throwaway database
that is dropped."""
import json
import uuid

import pytest

from bench import reference
from tests.support.infra import postgres_databases

pytestmark = [pytest.mark.integration]


def test_the_reference_measures_python_and_postgresql(capsys):
    assert reference.main(["--rounds", "2", "--transactions", "20"]) == 0
    out = capsys.readouterr().out.strip().splitlines()
    figures = json.loads(out[-1])
    assert out[0].startswith("machine reference: Python ")
    assert figures["python"]["wall_ms"] >= figures["python"]["cpu_ms"] * 0.5 > 0
    assert figures["postgresql"]["txn_wall_us"] > 0
    assert figures["postgresql"]["txn_backend_cpu_us"] >= 0  # /proc counts in 10 ms ticks


def test_the_reference_drops_its_database():
    # a name of its own: the rush bench's test measures the reference in another worker
    name = f"gf_reference_test_{uuid.uuid4().hex[:8]}"
    assert reference.postgresql_figures(1, 20, database=name)["txn_wall_us"] > 0
    assert postgres_databases(name) == set()


def test_the_python_workload_is_fixed():
    assert reference.python_work() == reference.python_work() > 0


def test_around_measures_before_and_after_the_work(monkeypatch, capsys):
    measured = iter([{"python": {"wall_ms": 1.0, "cpu_ms": 1.0},
                      "postgresql": {"txn_wall_us": 2.0, "txn_backend_cpu_us": 1.0}},
                     {"python": {"wall_ms": 3.0, "cpu_ms": 3.0},
                      "postgresql": {"txn_wall_us": 4.0, "txn_backend_cpu_us": 3.0}}])
    monkeypatch.setattr(reference, "measure", lambda: next(measured))
    order = []
    figures = reference.around(lambda: order.append("work") or {"seconds_total": 9})
    assert order == ["work"] and figures["seconds_total"] == 9
    assert figures["reference"]["before"]["python"]["wall_ms"] == 1.0
    assert figures["reference"]["after"]["python"]["wall_ms"] == 3.0
    out = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in out] == ["machine reference before",
                                                    "machine reference after"]
