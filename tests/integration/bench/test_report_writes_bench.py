"""The report-writing benchmark runs evaluation's report handler on the real PostgreSQL
at a small size: every proposal completed by its reports, each report reading the
proposal's assignments and reports once."""
import json

import pytest

from bench import report_writes
from tests.support.infra import PG_URL

pytestmark = [pytest.mark.integration]


def test_the_report_bench_completes_every_proposal_reading_each_thing_once(monkeypatch, capsys):
    monkeypatch.setattr(report_writes, "PG_URL", PG_URL)
    assert report_writes.main(["--proposals", "8"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert (figures["proposals"], figures["completed"]) == (8, 8)
    reports = figures["reports"]
    assert reports >= 8 * 2  # the harness's call asks two evaluators a proposal
    by_table = figures["selects_by_table"]
    assert by_table["assignments"] == by_table["reports"] == by_table["declarations"] == reports
    assert figures["cpu_ms_per_report"] > 0 and figures["wall_ms_per_report"] > 0
