"""Every template renders, for every outcome, from contexts the domain really builds."""
import re
from datetime import date, timedelta
from decimal import Decimal

import pytest

from services.notifications.adapters.sign_in_links import with_sign_in_links
from services.notifications.adapters.rendering import (RenderError, make_environment, render,
                                                       template_names)
from services.notifications.domain import notification as n
from services.notifications.domain.digest import build_digest, digest_notifications
from services.notifications.domain.letters import result_letters, update_facts
from services.notifications.domain.reminders import Assignment, due_reminders
from services.notifications.domain.routing import route

from shared.pages.settings import PageSettings

from . import factories as f


def first(notes):
    assert notes, "the domain produced no notification"
    return notes[0]


PAGES = PageSettings(secret="notifications-unit-test-secret-32b!",
                     urls={"submission": "http://127.0.0.1:8101",
                           "evaluation": "http://127.0.0.1:8102"})


def routed(event, role=None):
    notes = with_sign_in_links(route(event, f.make_call(), f.OPS), PAGES)
    return first([x for x in notes if role is None or x.role == role])


def letter(*events):
    known = {}
    for event in events:
        known.update(update_facts(known, event))
    return first(result_letters(known.values(), f.make_call(), f.RELEASE_AT, f.stage()))


def reminder():
    assignment = Assignment.from_event(f.assigned())
    now = assignment.due_at - timedelta(days=2)
    return first(due_reminders([assignment], f.make_call(), now)).notification


def digest():
    built = build_digest(date(2019, 6, 30), "Europe/Brussels", [f.breached()], [])
    return first(digest_notifications(built, f.CALL_ID, f.OPS))


LOW_RELEVANCE = {**f.SCORES, "relevance": Decimal("18")}

# values as the submission service's eligibility checks send them (money as decimal text,
# instants as ISO UTC, entities as dicts)
RAW_RULES = [
    {"rule": "participating_country", "kind": "eligibility",
     "message": "Not established in a country taking part in the call.",
     "values": {"entities": [{"role": "co_applicant", "legal_name": "Aarhus Kommune",
                              "organisation_id": "DK-1", "country": "DK"}],
                "evaluated_at": "2019-01-31T16:00:00.000000+00:00"}},
    {"rule": "cofinancing", "kind": "eligibility", "message": "Too much EU money asked.",
     "values": {"requested_grant": "950000.00", "total_eligible_costs": "1000000.000",
                "max_rate": "0.9", "max_grant": "900000.000"}},
]
RAW = re.compile(r"\{'|Decimal\(|\d{4}-\d{2}-\d{2}T\d{2}:|\d{5,}\.\d|datetime\.")

# (case name, notification factory, facts that must appear in the body)
CASES = [
    ("receipt", lambda: routed(f.submitted()),
     ["CITYNET", "P-0042", "Version:         3", "sha256:9f86d0",
      "31 January 2019, 16:59:58 CET (Europe/Brussels)", "31 January 2019, 15:59:58 UTC",
      "31 January 2019, 17:00:00 CET",
      "http://127.0.0.1:8101/apply/sign-in/link?token="]),
    ("call amended", lambda: routed(f.call_published(2)),
     ["version 2", "Submission deadline moved to 31 January 2019"]),
    ("screening eligible", lambda: routed(f.screened()),
     ["your proposal passed to evaluation"]),
    ("screening eligible with warning", lambda: routed(f.screened(warnings=[
        {"rule": "composition", "kind": "eligibility", "values": {},
         "message": "Most partners should be local or regional authorities."}])),
     ["passed to evaluation", "Most partners should be local or regional authorities."]),
    ("screening ineligible", lambda: routed(f.screened(eligible=False, failed=f.FAILED_RULES)),
     ["not eligible", "The partnership has 2 entities; at least 3 are required.",
      "entities: 2; minimum: 3",
      "No applicant or co-applicant may be established in Denmark. (countries: DK)",
      "All entities are established in one Member State (IT); at least 2 are required.",
      "member states: IT"]),
    ("screening inadmissible", lambda: routed(f.screened(admissible=False,
                                                         failed=f.MISSING_PART)),
     ["not admissible", "The detailed budget (part 'budget') is missing.",
      "missing: budget"]),
    ("withdrawal", lambda: routed(f.withdrawn()),
     ["withdrawn", "2 March 2019, 11:30:00 CET", "Consortium partner left"]),
    ("evaluator assigned", lambda: routed(f.assigned()),
     ["Dr. Maria Schmidt", "CITYNET", "3 March 2019, 17:00:00 CET",
      "you are one of the evaluators", "http://127.0.0.1:8102/review/sign-in/link?token="]),
    ("evaluator assigned as extra", lambda: routed(f.assigned("extra")),
     ["scores differ widely"]),
    ("evaluator released", lambda: routed(f.released()),
     ["P-0042", "you declared a conflict of interest"]),
    ("reminder", reminder, ["CITYNET", "2 days", "3 March 2019, 17:00:00 CET"]),
    ("letter selected", lambda: letter(f.screened(), f.completed(), f.ranking("main")),
     ["SELECTED FOR FUNDING", "EVALUATION SUMMARY REPORT", "Relevance: 26 / 30 (threshold 21)",
      "Addresses the priority convincingly.", "Total: 84.5 / 100 (threshold 70)",
      "within 30 days", "no later than 31 July 2019"]),
    ("letter reserve", lambda: letter(f.screened(), f.completed(),
                                      f.ranking("reserve", rank=7)),
     ["RESERVE LIST, RANK 7", "ranked 7", "Quality of the project: 17.5 / 20",
      "Staff costs are high for WP3.", "Total: 84.5 / 100", "31 July 2019"]),
    ("letter rejected below threshold",
     lambda: letter(f.screened(), f.completed(passed=False, scores=LOW_RELEVANCE,
                                              failed_thresholds=["relevance"]),
                    f.ranking("rejected")),
     ["NOT SELECTED", "Relevance: 18 points, below the threshold of 21",
      "Relevance: 18 / 30", "Expected results and impact: 16 / 20",
      "Sustainability plan is credible.", "Total: 76.5 / 100", "within 30 days"]),
    ("letter rejected beyond the lists", lambda: letter(f.screened(), f.completed(),
                                                        f.ranking("rejected")),
     ["NOT SELECTED", "beyond the main and reserve lists", "Total: 84.5 / 100"]),
    ("letter inadmissible", lambda: letter(f.screened(admissible=False, failed=f.MISSING_PART)),
     ["NOT ADMISSIBLE", "The detailed budget (part 'budget') is missing.", "within 30 days",
      "31 July 2019"]),
    ("letter ineligible", lambda: letter(f.screened(eligible=False, failed=f.FAILED_RULES)),
     ["NOT ELIGIBLE", "The partnership has 2 entities; at least 3 are required.",
      "No applicant or co-applicant may be established in Denmark.",
      "All entities are established in one Member State (IT)", "within 30 days"]),
    ("letter ineligible with the screening's raw values",  # issue 13: no repr, no ISO
     lambda: letter(f.screened(eligible=False, failed=RAW_RULES)),
     ["Aarhus Kommune (DK-1, DK, co applicant)",
      "evaluated at: 31 January 2019, 17:00:00 CET (Europe/Brussels)",
      "max grant: EUR 900,000.00", "max rate: 90 %", "requested grant: EUR 950,000.00"]),
    ("invitation to coordinator", lambda: routed(f.preparation_started(), n.COORDINATOR),
     ["As coordinator", "EUR 900,000.00", "EUR 950,000.00", "EUR 1,000,000.00",
      "90 % of the total eligible costs", "1 November 2019", "36 months",
      "30 August 2019, 09:00:00 CEST", "29 October 2019, 09:00:00 CET"]),
    ("invitation to other contacts", lambda: routed(f.preparation_started(),
                                                    n.APPLICANT_CONTACT),
     ["The coordinator (coord@comune.example.it) must confirm"]),
    ("invitation after promotion", lambda: routed(f.preparation_started(promoted=True,
                                                                        max_grant="950000")),
     ["was on the reserve list", "EUR 950,000.00"]),
    ("signature request coordinator", lambda: routed(f.signature_requested("coordinator")),
     ["Please sign", "29 October 2019, 09:00:00 CET", "GRANT-P-0042"]),
    ("signature request authority", lambda: routed(f.signature_requested("authority")),
     ["authority's signature", "GRANT-P-0042", "29 October 2019"]),
    ("grant signed", lambda: routed(f.signed()),
     ["EUR 900,000.00", "EUR 360,000.00", "2 October 2019, 15:00:00 CEST"]),
    ("grant declined", lambda: routed(f.declined()),
     ["the grant data was not confirmed by the preparation deadline", "EUR 900,000.00"]),
    ("grant declined by coordinator", lambda: routed(f.declined("declined")),
     ["the coordinator declined the grant"]),
    ("reserve promoted", lambda: routed(f.promoted()), ["rank 7", "selected for funding"]),
    ("breach tti", lambda: routed(f.breached("tti")),
     ["time to inform (TTI)", "5 months", "149 days", "P-0042", "not been informed"]),
    ("breach ttg", lambda: routed(f.breached("ttg")),
     ["time to grant (TTG)", "8 months", "not signed"]),
    ("daily digest", digest, ["TIME TARGET BREACHES: 1", "time to inform 149 days"]),
    ("answer published", lambda: routed(f.answer_published()),
     ["Can a city take part as both coordinator and partner?", "No: one role per proposal.",
      "5 November 2018, 14:30:00 CET", "Q-0007", "Local and regional integration networks"]),
    ("applicant sign-in link", lambda: routed(f.applicant_sign_in()),
     ["sign in to the applicants pages", "http://127.0.0.1:8101/apply/sign-in/link?token=",
      "works once, within 30 minutes"]),
    ("evaluator sign-in link", lambda: routed(f.evaluator_sign_in()),
     ["sign in to the evaluators pages", "http://127.0.0.1:8102/review/sign-in/link?token="]),
]


@pytest.mark.parametrize("name,make,facts", CASES, ids=[c[0] for c in CASES])
def test_template_renders_with_the_key_facts(name, make, facts):
    note = make()
    rendered = render(note.template, note.context)
    flat = " ".join(rendered.body.split())  # facts may wrap across lines
    for fact in facts:
        assert " ".join(fact.split()) in flat, f"{fact!r} missing from {name}:\n{rendered.body}"
    assert rendered.subject and "\n" not in rendered.subject and "\r" not in rendered.subject
    assert f.CALL_ID in rendered.subject
    assert "None" not in rendered.body and "{{" not in rendered.body
    # nothing a person cannot read: a repr, a raw ISO timestamp, an amount like 900000.000
    assert not RAW.search(rendered.body), RAW.search(rendered.body)
    assert rendered.body.endswith("automatically. Please do not reply to it; quote the "
                                  "reference\nnumbers above when you contact us.\n")


def test_every_template_is_exercised_and_exists():
    covered = {case[1]().template for case in CASES}
    assert covered == set(n.TEMPLATES) == set(template_names())


@pytest.mark.parametrize("outcome,subject_end", [
    ("selected", "selected for funding"), ("reserve", "on the reserve list"),
    ("rejected", "not selected"), ("inadmissible", "not admissible"),
    ("ineligible", "not eligible")])
def test_result_letter_subject_names_the_outcome(outcome, subject_end):
    note = letter(f.screened(), f.completed(), f.ranking("main"))
    rendered = render(note.template, {**note.context, "outcome": outcome,
                                      "rank": 3, "below_threshold": False})
    assert rendered.subject == ("[AMIF-2018-AG-INTE] Result for proposal CITYNET (P-0042): "
                                + subject_end)


def test_subject_cannot_inject_a_mail_header():
    note = routed(f.submitted(acronym="EVIL\r\nBcc: victim@example.org\n\nbody"))
    rendered = render(note.template, note.context)
    assert "\r" not in rendered.subject and "\n" not in rendered.subject
    assert rendered.subject.startswith("[AMIF-2018-AG-INTE] Receipt for proposal EVIL Bcc:")


def test_missing_variable_is_a_clear_error_not_a_blank():
    note = routed(f.submitted())
    context = {k: v for k, v in note.context.items() if k != "content_hash"}
    with pytest.raises(RenderError, match="submission_receipt.*content_hash"):
        render(note.template, context)


def test_missing_variable_in_the_subject_is_an_error_too():
    note = routed(f.submitted())
    context = {k: v for k, v in note.context.items() if k != "acronym"}
    with pytest.raises(RenderError, match="acronym"):
        render(note.template, context)


def test_unknown_template_is_a_clear_error():
    with pytest.raises(RenderError, match="no template named 'nope'"):
        render("nope", {})


def test_template_without_subject_is_refused(tmp_path):
    (tmp_path / "bare.txt.j2").write_text("hello {{ name }}\n")
    with pytest.raises(RenderError, match="no subject block"):
        render("bare", {"name": "x"}, env=make_environment(tmp_path))


def test_autoescape_is_off_for_text_bodies():
    note = routed(f.submitted(title='Cities & "Towns" <together>'))
    assert 'Cities & "Towns" <together>' in render(note.template, note.context).body
