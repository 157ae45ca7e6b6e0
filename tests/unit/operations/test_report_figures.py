"""Counts and budget lines of a call (domain.report)."""
from decimal import Decimal as D

from services.operations.domain.lifecycle import ProposalView
from services.operations.domain.report import CallFigures, TopicInfo, notification_figures


def test_counts_include_every_state_with_zeros():
    found = CallFigures().add([
        ProposalView("A", state="grant_signed", final_state="grant_signed"),
        ProposalView("B", state="frozen")]).counts()
    assert found["proposals"] == 2 and found["final"] == 1
    assert found["by_state"]["frozen"] == 1 and found["by_state"]["rejected"] == 0
    assert list(found["by_final_state"]) == ["withdrawn", "inadmissible", "ineligible",
                                             "rejected", "reserve", "declined", "grant_signed"]


def test_topic_line_counts_signed_grants_against_the_budget():
    views = [ProposalView("A", state="grant_signed", topic_id="T", list="main",
                          grant_amount=D("100.00"), signed=True),
             ProposalView("B", state="grant_preparation", topic_id="T", list="reserve",
                          promoted=True, grant_amount=D("50.00")),
             ProposalView("C", state="rejected", topic_id="T", list="rejected")]
    line, = CallFigures().add(views).topic_lines(
        [TopicInfo("T", "Topic", D("500.00"), True, D("150.00"))])
    assert (line["signed_total"], line["remaining"], line["in_preparation_total"]) == \
        (D("100.00"), D("400.00"), D("50.00"))
    assert (line["main"], line["reserve"], line["rejected"], line["promoted"]) == (1, 1, 1, 1)


def test_letters_are_delivered_result_letters_only():
    figures = notification_figures({("result_letter", "delivered"): 3,
                                    ("result_letter", "failed"): 1,
                                    ("submission_receipt", "delivered"): 5})
    assert (figures["letters_sent"], figures["delivered"], figures["failed"]) == (3, 8, 1)
    assert figures["by_template"]["result_letter"] == {"delivered": 3, "failed": 1,
                                                       "retrying": 0}


def test_messages_deferred_and_not_delivered_since_are_retrying_not_failed():
    """Issue 13: while the SMTP server is down operations see the messages waiting."""
    figures = notification_figures({("result_letter", "deferred"): 5,
                                    ("result_letter", "recovered"): 2,
                                    ("result_letter", "delivered"): 2,
                                    ("submission_receipt", "deferred"): 1})
    assert (figures["retrying"], figures["failed"], figures["delivered"]) == (4, 0, 2)
    assert figures["by_template"]["result_letter"]["retrying"] == 3
