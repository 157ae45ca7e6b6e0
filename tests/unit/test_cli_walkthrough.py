"""The command line as the README's "Running it yourself" uses it: help texts that say
what to write, one convention for call ids, the subcommand's usage for a misplaced
argument, clock commands refused where they would change nothing, and an example proposal
that the submission service accepts for the README's own address."""
import json
from pathlib import Path

import pytest

from grantflow.cli import main, parse

ROOT = Path(__file__).resolve().parents[2]


def help_of(capsys, *argv) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return capsys.readouterr().out


def test_proposal_create_help_lists_the_form_and_the_example_file(capsys):
    text = help_of(capsys, "proposal", "create")
    for field in ("call_id", "topic_id", "acronym", "coordinator", "requested_grant",
                  "contact_email", "abstract (optional)", "examples/proposal.json",
                  "--part part_a=examples/parts/part_a.txt"):
        assert field in text


def test_experts_import_help_lists_the_csv_columns(capsys):
    text = help_of(capsys, "experts", "import")
    for column in ("  id\n", "  email\n", "  organisation_id\n", "  expertise_areas\n",
                   "  max_load\n", "  keywords (optional)", "separate items with ';'"):
        assert column in text


def test_reports_submit_help_lists_criteria_and_comment_length_without_a_service(
        capsys, monkeypatch):
    monkeypatch.setenv("GRANTFLOW_SUBMISSION_URL", "http://127.0.0.1:9")
    text = help_of(capsys, "reports", "submit")
    assert "Criteria of AMIF-2018-AG-INTE.yaml (no call loaded or the service is not running)" \
        in text
    assert "relevance                0 to 30 points in steps of 0.5, at least 21 to pass" in text
    assert "at least 10 characters" in text


def test_a_misplaced_argument_prints_the_subcommands_usage(capsys):
    with pytest.raises(SystemExit) as exited:
        main(["clock", "advance", "--by", "1d", "evaluation"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert err.startswith("usage: grantflow clock advance")
    assert "unrecognized arguments: evaluation" in err


@pytest.mark.parametrize("argv", [["grants", "timing"], ["grants", "list"], ["ops", "status"],
                                  ["ops", "loads"], ["proposal", "list"], ["call", "tick"]])
def test_a_call_id_is_positional_everywhere_and_the_old_call_option_still_works(argv):
    assert parse([*argv, "C-1"]).call_id == "C-1"
    assert parse([*argv, "--call", "C-1"]).call_id == "C-1"
    assert parse(argv).call_id is None


@pytest.mark.parametrize("argv", [["clock", "set", "--to", "2018-07-25T00:00:00+02:00"],
                                  ["clock", "advance", "--by", "1d"]])
def test_clock_commands_are_refused_with_the_wall_clock(argv, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("GRANTFLOW_CLOCK", "wall")
    monkeypatch.setenv("GRANTFLOW_VAR", str(tmp_path))
    assert main(argv) == 2
    assert "the services read the wall clock" in capsys.readouterr().err
    assert not (tmp_path / "clock.json").exists()  # nothing written that nobody reads


def test_clock_show_says_which_clock_and_where_the_time_comes_from(tmp_path, monkeypatch,
                                                                    capsys):
    monkeypatch.setenv("GRANTFLOW_CLOCK", "wall")
    monkeypatch.setenv("GRANTFLOW_VAR", str(tmp_path))
    for name in ("SUBMISSION", "EVALUATION", "GRANTS", "NOTIFICATIONS", "OPERATIONS"):
        monkeypatch.setenv(f"GRANTFLOW_{name}_URL", "http://127.0.0.1:9")
    assert main(["clock", "show"]) == 0
    assert capsys.readouterr().out.splitlines()[1] == "  wall clock; no service is running"


def test_the_example_proposal_is_a_valid_form_for_the_readmes_address():
    from services.submission.schemas import ProposalCreateSchema
    from shared.calls.loader import load_default_call

    form = ProposalCreateSchema().load(json.loads((ROOT / "examples/proposal.json").read_text()))
    readme = (ROOT / "README.md").read_text()
    assert f"--as {form['coordinator']['contact_email']}" in readme
    call = load_default_call()
    assert form["call_id"] == call.id and call.topic(form["topic_id"])
    members = [form["coordinator"], *form["co_applicants"]]
    assert len(members) >= 3 and len({m["country"] for m in members}) >= 2
    assert form["requested_grant"] <= form["total_eligible_costs"] * call.grants.cofinancing_cap
    for part in call.required_parts:
        assert f"--part {part}=examples/parts/{part}.txt" in readme
        assert (ROOT / "examples" / "parts" / f"{part}.txt").stat().st_size > 0


def test_reports_submit_and_assignments_proposal_print_a_readable_view(capsys):
    from grantflow.commands.evaluation import _print_evaluation, _print_report
    _print_report({"final": False, "finalised_at": None, "updated_at": "2019-02-03T10:00:00Z",
                   "total": "24.5", "criteria": {
                       "relevance": {"score": "24.5", "comment": "Clear needs analysis."},
                       "quality": {"score": None, "comment": None}}})
    _print_evaluation({
        "proposal_id": "P-1", "acronym": "CARE-A", "topic_id": "T-1", "outcome": None,
        "consensus_state": "awaiting_reports", "withdrawn_at": None, "target_evaluators": 2,
        "rapporteur_id": "EXP-1", "repair_diagnosis": None, "consensus": None,
        "assignments": [{"expert_id": "EXP-1", "status": "active", "reason": "initial",
                         "due_at": "2019-02-22T16:00:00Z", "released_at": None,
                         "release_reason": None}],
        "reports": [{"expert_id": "EXP-1", "kind": "individual", "total": "24.5",
                     "final": False}],
        "missing_reports": ["EXP-2"], "spread": None})
    out = capsys.readouterr().out
    assert "{" not in out  # not JSON
    assert "report saved: draft (not final yet); total 24.5 points" in out
    assert "  relevance                  24.5  Clear needs analysis." in out
    assert "  quality                       -  (no comment)" in out
    assert "P-1 CARE-A (T-1): awaiting_reports" in out
    assert "evaluators: 1 active of 2 wanted; rapporteur EXP-1" in out
    assert "reports missing from: EXP-2" in out
