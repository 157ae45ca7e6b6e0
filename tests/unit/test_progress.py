"""What ``clock advance`` says a stage did: counted from operations' overview (messages
delivered and failed, not delivery events) and grants' ended files."""
from collections import Counter

from grantflow import progress

URLS = {"operations": "http://ops", "grants": "http://grants"}


def test_a_stage_s_summary_counts_messages_not_delivery_events(monkeypatch):
    answers = {
        "http://ops/calls/C%2F1/overview": {
            "events": {"proposal_screened": 3, "notifications_delivered": 2,
                       "notification_delivered": 1},
            "totals": {"notifications": {"delivered": 7, "failed": 1}, "letters_sent": 4}},
        "http://grants/grants?call_id=C%2F1": {"grants": [
            {"end_reason": "signature_deadline_missed"}, {"end_reason": None}]},
    }
    monkeypatch.setattr(progress, "_get", lambda url, headers: answers.get(url))
    after = progress.snapshot(URLS, {}, ["C/1"])
    assert progress.summary(Counter(), after) == (
        "screened 3, notifications delivered 7, notifications failed 1, letters sent 4, "
        "grants expired 1")
    assert progress.summary(after, after) == "nothing else happened"


def test_an_answer_that_cannot_be_had_counts_nothing(monkeypatch):
    monkeypatch.setattr(progress, "_get", lambda url, headers: None)
    assert progress.snapshot(URLS, {}, ["C"]) == Counter()
