"""shared.csvexport: proper CSV (quoting, line breaks) and no formula a spreadsheet runs."""
import csv
import io
from datetime import datetime, timezone
from decimal import Decimal

import pytest

from shared.csvexport import cell, csv_response, csv_text


@pytest.mark.parametrize("text", ["=1+1", "+31 20", "-2", "@SUM(A1)", "\tx", "\rx",
                                  "=HYPERLINK(\"http://x\")"])
def test_text_that_a_spreadsheet_would_evaluate_is_made_inert(text):
    assert cell(text) == "'" + text


def test_values_are_written_as_people_and_programs_expect():
    assert cell(None) == "" and cell(True) == "true" and cell(Decimal("-5.50")) == "-5.50"
    assert cell(datetime(2019, 1, 31, 16, tzinfo=timezone.utc)) == "2019-01-31T16:00:00+00:00"
    assert cell(["quality", "relevance"]) == "quality; relevance"
    assert cell("CARE-A") == "CARE-A"


def test_commas_quotes_and_line_breaks_survive_a_round_trip():
    rows = [{"a": 'say "hi", then\nleave', "b": 3}, {"a": "plain"}]
    text = csv_text(["a", "b"], rows)
    assert list(csv.DictReader(io.StringIO(text))) == [
        {"a": 'say "hi", then\nleave', "b": "3"}, {"a": "plain", "b": ""}]


def test_the_response_is_a_csv_download_with_a_safe_name():
    response = csv_response(["a"], [{"a": 1}], 'rankings "x"/../y.csv')
    assert response.content_type == "text/csv; charset=utf-8"
    assert response.headers["Content-Disposition"] == \
        'attachment; filename="rankings__x__.._y.csv"'
    assert response.get_data(as_text=True) == "a\r\n1\r\n"
