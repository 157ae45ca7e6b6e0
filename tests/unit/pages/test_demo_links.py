"""The demo lists the pages' addresses and sign-in links that the signing services accept
(signed with the stack's secret, for the right audience and landing page)."""
from urllib.parse import parse_qs, urlsplit

from grantflow.pages import demo_pages
from grantflow.scenario.synthetic import synthetic_scenario
from shared.pages.audiences import APPLY, REVIEW
from shared.pages.settings import PageSettings
from shared.pages.signin import read_sign_in


def test_the_demo_lists_page_addresses_and_working_sign_in_links(monkeypatch):
    monkeypatch.setenv("GRANTFLOW_AUTH_SECRET", "demo-secret-of-at-least-thirty-two-bytes")
    monkeypatch.setenv("GRANTFLOW_SUBMISSION_URL", "http://127.0.0.16:8101")
    monkeypatch.setenv("GRANTFLOW_EVALUATION_URL", "http://127.0.0.16:8102")
    scenario = synthetic_scenario(proposals=6, experts=4, seed=7)
    report = {"proposals": [{"ref": scenario.proposals[4].ref, "final_state": "grant_signed"}]}
    printed = []
    pages = demo_pages(scenario, report, printed.append)

    assert pages["addresses"]["applicants"] == "http://127.0.0.16:8101/apply/"
    assert pages["addresses"]["evaluators"] == "http://127.0.0.16:8102/review/"
    secret = PageSettings(secret="demo-secret-of-at-least-thirty-two-bytes")
    applicants = [i for i in pages["sign_in_links"] if i["role"] == "applicant"]
    evaluators = [i for i in pages["sign_in_links"] if i["role"] == "evaluator"]
    assert len(applicants) == 3 and len(evaluators) == 3
    granted = scenario.proposals[4].content["coordinator"]["contact_email"].lower()
    assert applicants[0]["email"] == granted  # a signed grant to look at first
    for item, audience, prefix in ([(i, APPLY, "http://127.0.0.16:8101/apply/sign-in/link")
                                    for i in applicants]
                                   + [(i, REVIEW, "http://127.0.0.16:8102/review/sign-in/link")
                                      for i in evaluators]):
        assert item["link"].startswith(prefix + "?token=")
        token = parse_qs(urlsplit(item["link"]).query)["token"][0]
        assert read_sign_in(secret, token, audience).email == item["email"]
    assert any(item["link"] in line for line in printed for item in applicants)
