"""The two benchmarks of the submission service's deadline work run on the real
PostgreSQL at a small size and report what they measured: every proposal screened, and
the two reads of the call's project fields agreeing (each bench checks its own result)."""
import json

import pytest

from bench import deadline_screening, rivals_read, submission_db
from tests.support.infra import PG_URL

pytestmark = [pytest.mark.integration]


@pytest.fixture(autouse=True)
def test_server(monkeypatch):
    monkeypatch.setattr(submission_db, "PG_URL", PG_URL)


def last_json(capsys) -> dict:
    return json.loads(capsys.readouterr().out.strip().splitlines()[-1])


def test_the_deadline_bench_screens_every_proposal_of_its_call(capsys):
    assert deadline_screening.main(["--proposals", "60", "--tick-seconds", "0"]) == 0
    figures = last_json(capsys)
    assert (figures["proposals"], figures["topics"], figures["screened"]) == (60, 5, 60)
    assert figures["screening_ticks"] >= 1 and figures["closing_s"] >= 0


def test_the_rivals_bench_reads_the_same_rivals_both_ways(capsys):
    assert rivals_read.main(["--proposals", "40", "--repeat", "1"]) == 0
    figures = last_json(capsys)
    assert figures["proposals"] == 40
    assert figures["read_columns_s"] > 0 and figures["read_json_s"] > 0
