"""``grant_rules.reserve_signature_after_period``: off unless the call file says so."""
import pytest

from shared.calls.loader import DEFAULT_CALL_FILE, load_call_text
from shared.calls.schema import InvalidCall

TEXT = DEFAULT_CALL_FILE.read_text()
ANCHOR = "grant_rules:\n"


def test_off_by_default_and_on_only_when_the_file_says_so():
    assert load_call_text(TEXT).grants.reserve_signature_after_period is False
    allowed = TEXT.replace(ANCHOR, ANCHOR + "  reserve_signature_after_period: true\n")
    assert load_call_text(allowed).grants.reserve_signature_after_period is True


def test_anything_but_a_boolean_is_refused_with_its_path():
    wrong = TEXT.replace(ANCHOR, ANCHOR + "  reserve_signature_after_period: sometimes\n")
    with pytest.raises(InvalidCall) as invalid:
        load_call_text(wrong)
    assert any(p.path == "grant_rules.reserve_signature_after_period"
               for p in invalid.value.problems)
