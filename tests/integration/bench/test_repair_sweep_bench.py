"""The repair-sweep benchmark on the real PostgreSQL at a small size: the service's
statement and the form it replaced list the same short proposals."""
import json

import pytest

from bench import repair_sweep
from tests.support.infra import PG_URL

pytestmark = [pytest.mark.integration]


def test_the_sweep_bench_finds_the_released_proposals_with_both_forms(monkeypatch, capsys):
    monkeypatch.setattr(repair_sweep, "PG_URL", PG_URL)
    assert repair_sweep.main(["--proposals", "1200", "--ticks", "1"]) == 0
    figures = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    # one proposal in 500 lost an evaluator: P-000000, P-000500, P-001000
    assert (figures["proposals"], figures["short"], figures["same_list"]) == (1200, 3, True)
    assert figures["ms_per_tick"] > 0 and figures["replaced_ms_per_tick"] > 0
