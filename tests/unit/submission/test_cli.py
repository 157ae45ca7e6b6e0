"""``grantflow call validate`` needs no service; the others answer 3 when it is down."""
from pathlib import Path

from grantflow.cli import main
from shared.calls.loader import DEFAULT_CALL_FILE

BROKEN = Path(__file__).resolve().parents[1] / "calls" / "fixtures" / "broken_call.yaml"


def test_validate_lists_every_problem_with_its_path_and_line(capsys):
    assert main(["call", "validate", str(BROKEN)]) == 2
    out = capsys.readouterr().out
    assert "15 problem(s)" in out
    assert "topics[2].budget: must be greater than 0 (line 21)" in out
    assert main(["call", "validate", str(DEFAULT_CALL_FILE)]) == 0
    assert "valid: call AMIF-2018-AG-INTE version 1" in capsys.readouterr().out


def test_a_service_that_does_not_answer_is_exit_code_3(capsys):
    assert main(["call", "list", "--url", "http://127.0.0.1:9"]) == 3
    assert main(["proposal", "submit", "P-1", "--url", "http://127.0.0.1:9"]) == 3
    assert "not reachable" in capsys.readouterr().err


def test_an_unreadable_input_file_is_exit_code_2(tmp_path, capsys):
    bad = tmp_path / "body.json"
    bad.write_text("[1, 2]")
    assert main(["proposal", "create", str(bad), "--url", "http://127.0.0.1:9"]) == 2
    assert main(["call", "load", str(tmp_path / "missing.yaml")]) == 2
