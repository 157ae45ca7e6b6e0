"""Evaluation Summary Report: the JSON-ready dict and its HTML rendering."""
import json
from datetime import datetime, timezone
from decimal import Decimal
from html.parser import HTMLParser

import pytest

from services.evaluation.adapters.summary_render import render_summary_html
from services.evaluation.domain.consensus import assess
from services.evaluation.domain.ranking import Candidate, rank_topic
from services.evaluation.domain.reports import Report
from services.evaluation.domain.summary import build_summary
from shared.calls.model import Criterion, EvaluationRules, GrantRules, Topic

AMIF = (("relevance", 30, 21, "Relevance"), ("quality", 20, None, "Quality of the project"),
        ("cost_effectiveness", 15, None, "Cost-effectiveness"),
        ("added_value", 15, None, "European added value"),
        ("results_impact", 20, None, "Expected results & impact"))
IDS = [a[0] for a in AMIF]
RULES = EvaluationRules(2, tuple(Criterion(i, t, Decimal(m), h and Decimal(h)) for i, m, h, t in AMIF),
                        Decimal(70), tuple(IDS))
GRANTS = GrantRules(Decimal("0.9"), 30, 60, Decimal("0.5"))
TOPIC = Topic("AMIF-2018-AG-INTE-1", "Local networks", Decimal(1_000_000))
T0 = datetime(2019, 3, 1, tzinfo=timezone.utc)
# evaluator identities that must never appear in a summary
EVALUATORS = {"EXP-ANNA-4711": ("Anna Zwicky", "anna.zwicky@experts.example")}
HOSTILE = '<script>alert("x")</script> & <b>bold</b>'


def result_for(pid, values, comment="Convincing and well argued."):
    reports = [Report(pid, expert, dict(zip(IDS, map(Decimal, values))),
                      {c: comment for c in IDS}, T0, "individual", True, T0)
               for expert in ("EXP-ANNA-4711", "EXP-BERT-0815")]
    return assess(pid, RULES, reports=reports,
                  assigned_expert_ids={"EXP-ANNA-4711", "EXP-BERT-0815"}).result


def candidate(result, grant):
    return Candidate.from_result(result, topic_id=TOPIC.id, received_at=T0,
                                 contact_emails=["c@example.org"], snapshot={
                                     "acronym": "ACR", "requested_grant": Decimal(grant),
                                     "total_eligible_costs": Decimal(grant) * 2,
                                     "duration_months": 36, "participants": []})


@pytest.fixture()
def ranked():
    results = {"P-1": result_for("P-1", (28, 18, 14, 14, 18)),
               "P-2": result_for("P-2", (26, 17, 13, 13, 17)),
               "P-3": result_for("P-3", (20, 12, 10, 10, 12))}
    pool = [candidate(results["P-1"], 600_000), candidate(results["P-2"], 600_000),
            candidate(results["P-3"], 600_000)]
    return results, rank_topic(TOPIC, pool, RULES, GRANTS)


def summary(result, ranking=None, **kw):
    return build_summary(result, RULES, call_id="AMIF-2018-AG-INTE", topic_id=TOPIC.id,
                         acronym=kw.pop("acronym", "ACR"), title="Networks", ranking=ranking, **kw)


def test_summary_lists_scores_maxima_thresholds_and_comments(ranked):
    results, ranking = ranked
    doc = summary(results["P-1"], ranking)
    assert json.loads(json.dumps(doc)) == doc  # JSON-ready as is
    assert doc["criteria"][0] == {"id": "relevance", "title": "Relevance", "score": "28.0",
                                  "max_points": "30.0", "threshold": "21.0", "passed": True,
                                  "comment": "Convincing and well argued.\n\nConvincing and well argued."}
    assert doc["criteria"][1]["threshold"] is None and doc["criteria"][1]["passed"] is None
    assert doc["total"] == {"score": "92.0", "max_points": "100.0", "threshold": "70.0", "passed": True}
    assert doc["outcome"] == {"status": "main_list", "rank": 1, "reserve_position": None, "reasons": []}


def test_reserve_outcome_has_rank_and_position(ranked):
    results, ranking = ranked
    assert summary(results["P-2"], ranking)["outcome"] == {
        "status": "reserve_list", "rank": 2, "reserve_position": 1, "reasons": []}


def test_rejected_outcome_gives_every_reason(ranked):
    results, ranking = ranked
    doc = summary(results["P-3"], ranking)
    assert doc["passed"] is False and doc["failed_thresholds"] == ["relevance", "overall"]
    assert doc["criteria"][0]["passed"] is False and doc["total"]["passed"] is False
    assert doc["outcome"] == {"status": "rejected", "rank": None, "reserve_position": None,
                              "reasons": ["relevance: 20.0 is below the threshold 21.0",
                                          "overall: total 64.0 is below the threshold 70.0"]}


def test_before_the_ranking_passing_is_pending_and_failing_is_rejected(ranked):
    results, _ = ranked
    assert summary(results["P-1"])["outcome"]["status"] == "pending"
    assert summary(results["P-3"])["outcome"]["status"] == "rejected"


def test_proposal_missing_from_the_ranking_is_an_error(ranked):
    _, ranking = ranked
    with pytest.raises(ValueError, match="not in the ranking"):
        summary(result_for("P-9", (28, 18, 14, 14, 18)), ranking)


def test_no_evaluator_identity_in_json_or_html(ranked):
    results, ranking = ranked
    doc = summary(results["P-1"], ranking)
    texts = [json.dumps(doc), render_summary_html(doc)]
    for expert_id, (name, email) in EVALUATORS.items():
        for text in texts:
            assert expert_id not in text and name not in text and email not in text
            assert "EXP-BERT-0815" not in text


class _Collector(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tags, self.text = [], []

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data):
        self.text.append(data)


def test_html_escapes_comments_acronym_and_title():
    result = result_for("P-1", (28, 18, 14, 14, 18), comment=HOSTILE)
    html = render_summary_html(summary(result, acronym='A&B "<i>"'))
    assert "<script>" not in html and "<b>bold</b>" not in html and "<i>" not in html
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in html
    parser = _Collector()
    parser.feed(html)
    assert not {t for t, _ in parser.tags} & {"script", "b", "i", "link", "img", "iframe"}
    assert HOSTILE in "".join(parser.text)  # the text survives, as text


def test_html_is_a_self_contained_readable_document(ranked):
    results, ranking = ranked
    html = render_summary_html(summary(results["P-2"], ranking))
    assert html.lstrip().startswith("<!DOCTYPE html>") and "<style>" in html
    assert "http://" not in html and "https://" not in html and " src=" not in html
    assert "Reserve list" in html and "Position 1 on the reserve list (rank 2" in html
    assert "Expected results &amp; impact" in html  # criterion titles are escaped too
    for value in ("26.0", "17.0", "86.0", "100.0", "21.0", "70.0"):
        assert value in html


def test_html_lists_rejection_reasons(ranked):
    results, ranking = ranked
    html = render_summary_html(summary(results["P-3"], ranking))
    assert "relevance: 20.0 is below the threshold 21.0" in html
    assert "below threshold" in html


def test_the_summary_report_as_pdf_reads_as_the_html_does(ranked):
    """The PDF route's rendering (services/evaluation/handlers/views.summary_pdf): the
    text extracted from the document is the report's."""
    import io

    import pypdf

    from shared.documents import html_to_pdf

    results, ranking = ranked
    doc = summary(results["P-1"], ranking, acronym=HOSTILE)
    pdf = html_to_pdf(render_summary_html(doc), title="Evaluation Summary Report")
    reader = pypdf.PdfReader(io.BytesIO(pdf))
    text = " ".join(" ".join(page.extract_text() for page in reader.pages).split())
    assert "Evaluation Summary Report" in text and "Selected for funding" in text
    assert "Relevance" in text and HOSTILE in text  # escaped markup shows as written
    assert "Convincing and well argued." in text
    assert reader.metadata.title == "Evaluation Summary Report"
    for expert_id, (name, email) in EVALUATORS.items():
        assert expert_id not in text and name not in text
